from django.urls import path

from customers import views, views_cancellation, views_staff, views_support

app_name = "customers"

urlpatterns = [
    path("account/", views.account_centre, name="account_centre"),
    path("account/cards/<int:card_id>/remove/", views.saved_card_remove, name="saved_card_remove"),
    path("account/cancel/", views_cancellation.cancel, name="cancel"),
    path("account/cancel/<int:request_id>/withdraw/", views_cancellation.cancel_withdraw, name="cancel_withdraw"),
    path("account/refund-balance/", views_cancellation.refund_balance, name="refund_balance"),
    path("account/export/", views_cancellation.export, name="export"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_mark_read, name="notifications_mark_read"),
    path("support/", views_support.support, name="support"),
    path("support/<int:thread_id>/", views_support.support_thread, name="support_thread"),
    path("staff/", views_staff.staff_home, name="staff_home"),
    path("staff/support/", views_support.staff_support_queue, name="staff_support"),
    path("staff/support/<int:thread_id>/", views_support.staff_support_thread, name="staff_support_thread"),
    path("staff/customers/", views_staff.staff_customer_search, name="staff_customers"),
    path("staff/customers/<int:user_id>/", views_staff.staff_customer, name="staff_customer"),
    path("staff/audit/", views_staff.staff_audit, name="staff_audit"),
    path("staff/cancellations/", views_cancellation.staff_queue, name="staff_cancellations"),
    path("staff/cancellations/<int:request_id>/", views_cancellation.staff_decide, name="staff_cancellation"),
]
