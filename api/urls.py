"""/api/v1/: the official app's JSON API."""

from csp.decorators import csp_update
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.views import account, auth, billing, cancellation, public, support, verification
from api.views.base import not_found

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # Swagger UI adds <style> elements as it renders: this page alone (public, no customer
    # data) allows inline styles; its script is a file of its own (the "split" view).
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    # sign-in
    path("auth/register/", auth.RegisterView.as_view(), name="register"),
    path("auth/register/confirm/", auth.RegisterConfirmView.as_view(), name="register_confirm"),
    path("auth/register/resend/", auth.RegisterResendView.as_view(), name="register_resend"),
    path("auth/token/", auth.TokenView.as_view(), name="token"),
    path("auth/code/", auth.SignInCodeView.as_view(), name="sign_in_code"),
    path("auth/code/token/", auth.SignInCodeTokenView.as_view(), name="sign_in_code_token"),
    path("auth/token/refresh/", auth.TokenRefreshView.as_view(), name="token_refresh"),
    path("auth/token/revoke/", auth.TokenRevokeView.as_view(), name="token_revoke"),
    path("auth/sign-out-everywhere/", auth.SignOutEverywhereView.as_view(), name="sign_out_everywhere"),
    path("auth/password-reset/", auth.PasswordResetRequestView.as_view(), name="password_reset"),
    path("auth/password-reset/confirm/", auth.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    # the account
    path("account/", account.AccountSummaryView.as_view(), name="account"),
    path("account/export/", account.ExportView.as_view(), name="export"),
    path("account/email/", account.EmailView.as_view(), name="email"),
    path("account/email/confirm/", account.EmailConfirmView.as_view(), name="email_confirm"),
    path("account/saved-cards/", account.SavedCardsView.as_view(), name="saved_cards"),
    path("account/saved-cards/<int:card_id>/", account.SavedCardView.as_view(), name="saved_card"),
    path("lines/", account.LinesView.as_view(), name="lines"),
    path("lines/<int:line_id>/auto-renew/", account.AutoRenewView.as_view(), name="auto_renew"),
    path("lines/<int:line_id>/cancellation/", cancellation.CancellationCheckView.as_view(), name="cancellation_check"),
    path("usage/", account.UsageView.as_view(), name="usage"),
    path("notifications/", account.NotificationsView.as_view(), name="notifications"),
    path("notifications/read/", account.NotificationsReadView.as_view(), name="notifications_read"),
    # verification
    path("verification/", verification.VerificationView.as_view(), name="verification"),
    path("verification/submissions/", verification.SubmissionsView.as_view(), name="submissions"),
    path("verification/photo-check/", verification.PhotoCheckView.as_view(), name="photo_check"),
    # billing
    path("plans/", billing.PlansView.as_view(), name="plans"),
    path("quotes/renewal/", billing.QuoteView.as_view(), name="quote"),
    path("orders/", billing.OrdersView.as_view(), name="orders"),
    path("orders/renewal/", billing.RenewalOrdersView.as_view(), name="renewal_orders"),
    path("orders/top-up/", billing.TopUpOrdersView.as_view(), name="top_up_orders"),
    path("orders/<str:number>/", billing.OrderView.as_view(), name="order"),
    path("orders/<str:number>/pay/", billing.OrderPayView.as_view(), name="order_pay"),
    path("receipts/<str:number>/", billing.ReceiptView.as_view(), name="receipt"),
    path("wallet/refund/", billing.WalletRefundView.as_view(), name="wallet_refund"),
    # cancellation
    path("cancellations/", cancellation.CancellationsView.as_view(), name="cancellations"),
    path(
        "cancellations/<int:request_id>/withdraw/",
        cancellation.CancellationWithdrawView.as_view(),
        name="cancellation_withdraw",
    ),
    # support
    path("support/threads/", support.SupportThreadsView.as_view(), name="support_threads"),
    path("support/threads/<int:thread_id>/", support.SupportThreadView.as_view(), name="support_thread"),
    path("support/threads/<int:thread_id>/messages/", support.SupportMessagesView.as_view(), name="support_messages"),
    # public
    path("service-points/", public.ServicePointsView.as_view(), name="service_points"),
    path("certificates/<str:number>/", public.CertificateCheckView.as_view(), name="certificate"),
    re_path(r"^.*$", not_found, name="not_found"),
]
