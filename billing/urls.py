from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("billing/renew/", views.renew, name="renew"),
    path("billing/top-up/", views.top_up, name="top_up"),
    path("billing/orders/<str:number>/", views.order_detail, name="order"),
    path("billing/orders/<str:number>/pay/", views.order_pay, name="order_pay"),
    path("billing/receipts/<str:number>/pdf/", views.receipt_pdf, name="receipt_pdf"),
    path("billing/lines/<int:line_id>/auto-renew/", views.auto_renew, name="auto_renew"),
    path("billing/sandbox/cashier/<str:out_trade_no>/", views.sandbox_cashier, name="sandbox_cashier"),
    path("billing/wechat/<str:out_trade_no>/", views.wechat_qr, name="wechat_qr"),
    path("billing/webhooks/<str:provider>/", views.provider_webhook, name="webhook"),
    path("staff/desk/renew/", views.store_renew, name="store_renew"),
    path("staff/desk/receipts/<str:number>/", views.store_receipt, name="store_receipt"),
]
