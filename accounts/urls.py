from django.urls import path

from accounts import views, views_2fa

app_name = "accounts"

urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path("accounts/verify/", views.verify, name="verify"),
    path("accounts/login/", views.HeyonLoginView.as_view(), name="login"),
    path("accounts/login/code/", views.login_code_request, name="login_code_request"),
    path("accounts/login/code/verify/", views.login_code_verify, name="login_code_verify"),
    path("accounts/logout/", views.HeyonLogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views.password_reset_request, name="password_reset"),
    path("accounts/password-reset/confirm/", views.password_reset_confirm, name="password_reset_confirm"),
    path("account/lines/add/", views.line_add, name="line_add"),
    path("account/email/", views.email, name="email"),
    path("account/email/confirm/", views.email_confirm, name="email_confirm"),
    path("account/email/cancel/", views.email_cancel, name="email_cancel"),
    path("staff/2fa/", views_2fa.two_factor, name="two_factor"),
    path("service-points/", views.service_points, name="service_points"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/setlang/", views.language_set, name="language_set"),
]
