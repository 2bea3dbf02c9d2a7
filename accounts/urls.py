from django.contrib.auth.views import LogoutView
from django.urls import path

from accounts import views, views_2fa, views_cancellation, views_support

app_name = "accounts"

urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path("accounts/verify/", views.verify, name="verify"),
    path("accounts/login/", views.HeyonLoginView.as_view(), name="login"),
    path("accounts/login/code/", views.login_code_request, name="login_code_request"),
    path("accounts/login/code/verify/", views.login_code_verify, name="login_code_verify"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views.password_reset_request, name="password_reset"),
    path("accounts/password-reset/confirm/", views.password_reset_confirm, name="password_reset_confirm"),
    path("account/", views.account_centre, name="account_centre"),
    path("account/lines/add/", views.line_add, name="line_add"),
    path("account/cancel/", views_cancellation.cancel, name="cancel"),
    path("account/cancel/<int:request_id>/withdraw/", views_cancellation.cancel_withdraw, name="cancel_withdraw"),
    path("account/refund-balance/", views_cancellation.refund_balance, name="refund_balance"),
    path("account/export/", views_cancellation.export, name="export"),
    path("staff/2fa/", views_2fa.two_factor, name="two_factor"),
    path("support/", views_support.support, name="support"),
    path("support/<int:thread_id>/", views_support.support_thread, name="support_thread"),
    path("staff/support/", views_support.staff_support_queue, name="staff_support"),
    path("staff/support/<int:thread_id>/", views_support.staff_support_thread, name="staff_support_thread"),
    path("staff/customers/", views_support.staff_customer_search, name="staff_customers"),
    path("staff/customers/<int:user_id>/", views_support.staff_customer, name="staff_customer"),
    path("staff/audit/", views_support.staff_audit, name="staff_audit"),
    path("staff/cancellations/", views_cancellation.staff_queue, name="staff_cancellations"),
    path("staff/cancellations/<int:request_id>/", views_cancellation.staff_decide, name="staff_cancellation"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_mark_read, name="notifications_mark_read"),
    path("service-points/", views.service_points, name="service_points"),
    path("healthz", views.healthz, name="healthz"),
]
