"""Plans, the line's service state, wallets and their ledger, orders, payments, receipts, usage."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


class Plan(models.Model):
    """One version of a plan. A price change publishes a new version; orders keep theirs."""

    code = models.SlugField(_("code"), max_length=32)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    name_zh = models.CharField(_("name (Chinese)"), max_length=40)
    name_en = models.CharField(_("name (English)"), max_length=40)
    monthly_price = models.DecimalField(_("price per month (CNY)"), **MONEY)
    data_mb = models.PositiveIntegerField(_("data per month (MB)"))
    voice_minutes = models.PositiveIntegerField(_("voice per month (minutes)"))
    sms_count = models.PositiveIntegerField(_("SMS per month"), default=100)
    is_current = models.BooleanField(_("current version"), default=True)
    is_active = models.BooleanField(_("on sale"), default=True)
    sort_order = models.PositiveSmallIntegerField(default=100, verbose_name=_("sort order"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["sort_order", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="plan_version_unique"),
            models.UniqueConstraint(fields=["code"], condition=Q(is_current=True), name="plan_one_current_version"),
            models.CheckConstraint(condition=Q(monthly_price__gt=0), name="plan_price_positive"),
        ]

    def __str__(self):
        return f"{self.name} ¥{self.monthly_price}/{_('month')} (v{self.version})"

    @property
    def name(self):
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh

    @property
    def data_gb(self):
        return Decimal(self.data_mb) / 1024


class LineService(models.Model):
    """A line's plan, what is left of its allowances, and its auto-renew choice."""

    class AutoRenewMethod(models.TextChoices):
        WALLET = "wallet", _("Wallet balance")
        WALLET_THEN_CARD = "wallet_then_card", _("Wallet balance, then my saved card")

    line = models.OneToOneField(
        "accounts.Line", on_delete=models.PROTECT, related_name="service", primary_key=True, verbose_name=_("line")
    )
    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="+")
    data_left_mb = models.BigIntegerField(_("data left (MB)"), default=0)
    voice_left_minutes = models.BigIntegerField(_("voice left (minutes)"), default=0)
    sms_left = models.BigIntegerField(_("SMS left"), default=0)
    auto_renew = models.BooleanField(_("auto-renew"), default=False)
    auto_renew_method = models.CharField(
        _("auto-renew pays with"), max_length=20, choices=AutoRenewMethod.choices, default=AutoRenewMethod.WALLET
    )
    auto_renew_term_months = models.PositiveSmallIntegerField(_("auto-renew term (months)"), default=1)
    auto_renew_next_attempt_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("next auto-renew attempt at")
    )
    auto_renew_failures = models.PositiveSmallIntegerField(default=0, verbose_name=_("auto-renew failures"))
    expiry_warning_sent_for = models.CharField(max_length=40, blank=True, verbose_name=_("expiry warning sent for"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("line service")
        verbose_name_plural = _("line services")
        indexes = [
            models.Index(fields=["auto_renew_next_attempt_at"], condition=Q(auto_renew=True), name="autorenew_due"),
        ]

    def __str__(self):
        return f"{self.line_id}: {self.plan}"


class Wallet(models.Model):
    """A customer's balance. Changed only by appending ledger entries (services.ledger_append)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet", verbose_name=_("user")
    )
    balance = models.DecimalField(_("balance"), default=ZERO, **MONEY)
    # Part of the balance on its way back through a provider (refunds not confirmed yet): it
    # cannot be spent, and leaves the balance only when the provider confirms the refund.
    held = models.DecimalField(_("held for refunds"), default=ZERO, **MONEY)
    currency = models.CharField(max_length=3, default="CNY", editable=False, verbose_name=_("currency"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_never_negative"),
            models.CheckConstraint(
                condition=Q(held__gte=0) & Q(held__lte=models.F("balance")), name="wallet_held_within_balance"
            ),
        ]

    def __str__(self):
        return f"{self.user} ¥{self.balance}"

    @property
    def available(self):
        return self.balance - self.held


class LedgerEntry(models.Model):
    """Append-only movement of a wallet. balance_after makes every entry checkable on its own."""

    class Kind(models.TextChoices):
        TOP_UP = "topup", _("Top-up")
        CHARGE = "charge", _("Charge")
        REFUND = "refund", _("Refund of the balance")
        ADJUSTMENT = "adjustment", _("Adjustment")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries", verbose_name=_("wallet"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), help_text=_("Positive adds, negative takes away."), **MONEY)
    balance_after = models.DecimalField(_("balance after"), **MONEY)
    reference = models.CharField(_("reference"), max_length=64, help_text=_("Order number or other source"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="ledger_once_per_kind_and_reference"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_never_negative"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(kind="topup", amount__gt=0)
                | Q(kind__in=["charge", "refund"], amount__lt=0)
                | Q(kind="adjustment"),
                name="ledger_sign_matches_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["wallet", "-created_at"]),
            # Admin's search by order number or other reference, of any kind.
            models.Index(fields=["reference"], name="ledger_reference"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} ({self.reference})"


class Order(models.Model):
    class Kind(models.TextChoices):
        RENEWAL = "renewal", _("Renewal")
        TOP_UP = "topup", _("Wallet top-up")

    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        STORE = "store", _("At a store")
        AUTO = "auto", _("Auto-renew")

    class Status(models.TextChoices):
        OPEN = "open", _("Awaiting payment")
        PAID = "paid", _("Paid")
        EXPIRED = "expired", pgettext_lazy("order status", "Expired")

    number = models.CharField(_("order number"), max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    line = models.ForeignKey(
        "accounts.Line", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("line")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("plan")
    )
    term_months = models.PositiveSmallIntegerField(_("term (months)"), null=True, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY", editable=False, verbose_name=_("currency"))
    idempotency_key = models.CharField(max_length=64, unique=True, verbose_name=_("idempotency key"))
    request_fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    # The validity end this renewal starts from: auto-renew charges once per period.
    renews_from = models.DateTimeField(null=True, blank=True, verbose_name=_("renews from"))
    new_validity_end = models.DateTimeField(_("new validity end"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("pay before"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    service_point = models.ForeignKey(
        "accounts.ServicePoint", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("service point")
    )
    last_failure = models.CharField(max_length=200, blank=True, verbose_name=_("last failure"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        permissions = [("renew_at_store", _("Can take renewal payments at an authorised store"))]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_amount_positive"),
            models.CheckConstraint(condition=~Q(status="paid") | Q(paid_at__isnull=False), name="order_paid_has_time"),
            models.CheckConstraint(
                condition=Q(kind="topup") | Q(line__isnull=False, plan__isnull=False, term_months__gte=1),
                name="order_renewal_names_line_plan_term",
            ),
            models.UniqueConstraint(
                fields=["line", "renews_from"], condition=Q(channel="auto"), name="one_auto_renewal_per_period"
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["status", "expires_at"])]

    def __str__(self):
        return self.number

    @property
    def is_payable(self):
        return self.status == self.Status.OPEN and self.expires_at > timezone.now()


class Payment(models.Model):
    """One attempt to pay an order with one method."""

    class Method(models.TextChoices):
        ALIPAY = "alipay", _("Alipay")
        WECHAT = "wechat", _("WeChat Pay")
        CARD = "card", _("Bank card")
        WALLET = "wallet", _("Wallet balance")
        STORE_CASH = "store_cash", _("Cash at the store")
        STORE_CARD = "store_card", _("Card at the store")

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Waiting for the provider")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown (provider did not answer)")
        REFUNDED = "refunded", _("Refunded")

    # The attempt may have reached the provider and its outcome is not recorded yet: it must be
    # settled by asking the provider before the order is paid again or closed.
    UNSETTLED = (Status.CREATED, Status.PENDING, Status.UNKNOWN)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", verbose_name=_("order"))
    method = models.CharField(_("method"), max_length=12, choices=Method.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CREATED)
    amount = models.DecimalField(_("amount"), **MONEY)
    out_trade_no = models.CharField(_("out-trade number"), max_length=40, unique=True)
    provider_transaction_id = models.CharField(_("provider transaction id"), max_length=64, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True, verbose_name=_("card last 4 digits"))
    # The provider reported a success after we had recorded this attempt as failed (a payment
    # that crossed our close of its trade): the money was taken after all.
    failure_overturned_at = models.DateTimeField(_("success reported after a failure at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(status="succeeded"), name="one_successful_payment"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            # Only a success overturns a failure: the payment then paid its order or went back.
            models.CheckConstraint(
                condition=Q(failure_overturned_at__isnull=True) | Q(status__in=["succeeded", "refunded"]),
                name="payment_overturned_failure_was_taken",
            ),
            # Money given back says why (order already paid or closed, line not renewable, service ended).
            models.CheckConstraint(
                condition=~Q(status="refunded") | ~Q(failure_reason=""), name="payment_refunded_says_why"
            ),
        ]
        indexes = [
            # Payments still in flight: settled by payments_settle, filtered in admin.
            models.Index(
                fields=["status"], condition=Q(status__in=["created", "pending", "unknown"]), name="payment_unsettled"
            ),
            # Admin's search by the provider's transaction id (reconciliation with a statement).
            models.Index(fields=["provider_transaction_id"], name="payment_provider_txn"),
        ]

    def __str__(self):
        return f"{self.out_trade_no} {self.get_method_display()} {self.get_status_display()}"

    @property
    def refund_given_back(self) -> "Refund | None":
        """The refund of a payment given back whole (status ``refunded``), else None.

        ``refunded`` is set when the refund is requested; the provider may still refuse it,
        so wherever the payment is shown its refund's own status is shown too. Reads
        ``refunds`` (prefetch it for a list).
        """
        if self.status != self.Status.REFUNDED:
            return None
        return next((r for r in self.refunds.all() if r.reason == Refund.Reason.DUPLICATE_PAYMENT), None)


class Refund(models.Model):
    """Money sent back through the provider that took it, under our refund number.

    The ledger entry of a wallet refund is written only when the provider confirms (until
    then its amount is held in the wallet); a refund of a late duplicate payment has none.
    """

    class Reason(models.TextChoices):
        WALLET_BALANCE = "wallet_balance", _("Wallet balance to the original method")
        DUPLICATE_PAYMENT = "duplicate_payment", _("Payment for an order already paid or closed")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested (not yet accepted by the provider)")
        PENDING = "pending", _("Accepted by the provider, not yet confirmed")
        SUCCEEDED = "succeeded", _("Confirmed by the provider")
        FAILED = "failed", _("Refused by the provider")

    OPEN = (Status.REQUESTED, Status.PENDING)

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("user")
    )
    out_refund_no = models.CharField(_("refund number"), max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    reference = models.CharField(
        _("reference"), max_length=64, help_text=_("What asked for it (a cancellation, the customer)")
    )
    provider_refund_id = models.CharField(_("provider refund id"), max_length=64, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("actor"),
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("confirmed at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(confirmed_at__isnull=False), name="refund_succeeded_has_time"
            ),
            # A late duplicate payment is refunded once, in full.
            models.UniqueConstraint(
                fields=["payment"], condition=Q(reason="duplicate_payment"), name="one_duplicate_refund_per_payment"
            ),
        ]
        indexes = [
            models.Index(fields=["status"], condition=Q(status__in=["requested", "pending"]), name="refund_open"),
        ]

    def __str__(self):
        return f"{self.out_refund_no} ¥{self.amount} {self.get_status_display()}"


class Reconciliation(models.Model):
    """One provider's statement of one day, matched against our payments and refunds."""

    provider = models.CharField(_("provider"), max_length=20)
    day = models.DateField(_("day"))
    source = models.CharField(_("source"), max_length=255, help_text=_("Downloaded from the provider, or a file name"))
    line_count = models.PositiveIntegerField(_("statement lines"), default=0)
    matched_count = models.PositiveIntegerField(_("matched"), default=0)
    ran_at = models.DateTimeField(_("ran at"), default=timezone.now)

    class Meta:
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        constraints = [models.UniqueConstraint(fields=["provider", "day"], name="one_reconciliation_per_provider_day")]

    def __str__(self):
        return f"{self.provider} {self.day}"


class Discrepancy(models.Model):
    """A statement line and our records disagree; open until staff resolve it."""

    class Kind(models.TextChoices):
        MISSING_AT_PROVIDER = "missing_at_provider", _("We recorded it; the provider's statement does not have it")
        UNKNOWN_TRADE = "unknown_trade", _("On the provider's statement; we have no record of it")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amounts differ")
        NOT_TAKEN_BY_US = (
            "not_taken_by_us",
            _("Paid on the provider's statement; we recorded it as not paid and the provider did not confirm it"),
        )

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="discrepancies", verbose_name=_("reconciliation")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    out_trade_no = models.CharField(_("out-trade number"), max_length=64, blank=True)
    out_refund_no = models.CharField(_("refund number"), max_length=64, blank=True)
    transaction_id = models.CharField(_("provider transaction id"), max_length=64, blank=True)
    our_amount = models.DecimalField(_("our amount"), null=True, blank=True, **MONEY)
    provider_amount = models.DecimalField(_("provider's amount"), null=True, blank=True, **MONEY)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("resolved by"),
    )  # fmt: skip
    resolution_note = models.CharField(_("resolution note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        indexes = [
            models.Index(fields=["reconciliation"], condition=Q(resolved_at__isnull=True), name="discrepancy_open")
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.out_refund_no or self.out_trade_no}"


CARD_BRAND_NAMES = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "unionpay": _("UnionPay"),
    "amex": "American Express",
    "jcb": "JCB",
}


class SavedCard(models.Model):
    """A card token the provider keeps for auto-renew (we never see the card number)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_cards", verbose_name=_("user")
    )
    provider = models.CharField(max_length=20, default="sandbox", verbose_name=_("provider"))
    token = models.CharField(max_length=64, unique=True, verbose_name=_("token"))
    last4 = models.CharField(max_length=4, verbose_name=_("last 4 digits"))
    # What the customer needs to recognise the card; blank/None for cards saved before these were kept.
    brand = models.CharField(max_length=20, blank=True, verbose_name=_("brand"))
    expiry_month = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("expiry month"))
    expiry_year = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("expiry year"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("saved card")
        verbose_name_plural = _("saved cards")
        constraints = [
            models.CheckConstraint(
                condition=(Q(expiry_month__isnull=True) & Q(expiry_year__isnull=True))
                | (Q(expiry_month__gte=1) & Q(expiry_month__lte=12) & Q(expiry_year__gte=2000)),
                name="saved_card_expiry_valid",
            )
        ]

    def __str__(self):
        return f"**** {self.last4}"

    @property
    def brand_display(self) -> str:
        """The card's network as people name it, or "" when the provider did not say."""
        return str(CARD_BRAND_NAMES.get(self.brand, self.brand))

    @property
    def expiry(self) -> str:
        """MM/YY as printed on the card, or "" when not kept."""
        if self.expiry_month is None or self.expiry_year is None:
            return ""
        return f"{self.expiry_month:02d}/{self.expiry_year % 100:02d}"


class ProviderNotification(models.Model):
    """Each provider callback, stored once by its event id, then processed."""

    provider = models.CharField(max_length=20, verbose_name=_("provider"))
    event_id = models.CharField(max_length=64, verbose_name=_("event ID"))
    out_trade_no = models.CharField(max_length=40, db_index=True, verbose_name=_("out-trade number"))
    payload = models.JSONField(verbose_name=_("payload"))
    received_at = models.DateTimeField(default=timezone.now, verbose_name=_("received at"))
    processed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("processed at"))

    class Meta:
        verbose_name = _("provider notification")
        verbose_name_plural = _("provider notifications")
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="notification_once")]

    def __str__(self):
        return f"{self.provider}:{self.event_id}"


class SandboxCharge(models.Model):
    """The built-in sandbox provider's own record of a charge (what the provider knows)."""

    out_trade_no = models.CharField(max_length=40, unique=True, verbose_name=_("out-trade number"))
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    status = models.CharField(max_length=10, verbose_name=_("status"))
    transaction_id = models.CharField(max_length=64, verbose_name=_("transaction ID"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("sandbox charge")
        verbose_name_plural = _("sandbox charges")

    def __str__(self):
        return f"{self.out_trade_no} {self.status}"


class ReceiptSequence(models.Model):
    """The last receipt number issued in a year: locked and bumped in the payment's transaction."""

    year = models.PositiveSmallIntegerField(primary_key=True, verbose_name=_("year"))
    last_number = models.PositiveIntegerField(default=0, verbose_name=_("last number"))

    class Meta:
        verbose_name = _("receipt sequence")

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class Receipt(models.Model):
    """A payment voucher. Kept after personal data is erased: amounts, dates and numbers only."""

    number = models.CharField(_("receipt number"), max_length=20, unique=True)
    year = models.PositiveSmallIntegerField(verbose_name=_("year"))
    sequence = models.PositiveIntegerField(verbose_name=_("sequence"))
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="receipt", verbose_name=_("order"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="receipts", verbose_name=_("user")
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY", verbose_name=_("currency"))
    description = models.CharField(_("description"), max_length=200)
    payment_method = models.CharField(_("paid with"), max_length=12, choices=Payment.Method.choices)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        constraints = [models.UniqueConstraint(fields=["year", "sequence"], name="receipt_sequence_unique")]
        indexes = [models.Index(fields=["user", "-issued_at"])]

    def __str__(self):
        return self.number


class UsageImport(models.Model):
    """One imported usage file from the network; a file is imported once (by content hash)."""

    file_name = models.CharField(max_length=255, verbose_name=_("file name"))
    sha256 = models.CharField(max_length=64, unique=True, verbose_name=_("SHA-256"))
    record_count = models.PositiveIntegerField(default=0, verbose_name=_("record count"))
    skipped_rows = models.JSONField(default=list, blank=True, verbose_name=_("skipped rows"))
    imported_at = models.DateTimeField(default=timezone.now, verbose_name=_("imported at"))

    class Meta:
        verbose_name = _("usage import")
        verbose_name_plural = _("usage imports")

    def __str__(self):
        return self.file_name


class UsageRecord(models.Model):
    """One usage record from the network: the largest table. Written only by services.usage_import.

    On PostgreSQL the table is partitioned by the month of ``occurred_at`` (local time,
    billing.services.usage_partitions): its primary key is (id, occurred_at), and the
    ``usage_record_once`` uniqueness is a unique index on each month's partition, which
    holds across partitions because a record's month is part of the record (its key comes
    with its time, or is a digest of it). No foreign keys in the database: the import joins
    each row to its line, lines are never deleted, and a key check per row would cost the
    bulk load more than the rest of it. SQLite keeps one plain table.
    """

    class Kind(models.TextChoices):
        DATA = "data", _("Data (MB)")
        VOICE = "voice", _("Voice (minutes)")
        SMS = "sms", _("SMS")

    line = models.ForeignKey(
        "accounts.Line",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("line"),
    )
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    occurred_at = models.DateTimeField(_("time"))
    record_key = models.CharField(max_length=64, verbose_name=_("record key"))
    source = models.ForeignKey(
        UsageImport,
        on_delete=models.PROTECT,
        related_name="records",
        db_constraint=False,
        db_index=False,
        verbose_name=_("source"),
    )

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        constraints = [models.UniqueConstraint(fields=["line", "record_key"], name="usage_record_once")]

    def __str__(self):
        return f"{self.line_id} {self.kind} {self.quantity}"


class UsageDaily(models.Model):
    """A line's usage totals for one local day, kept up to date by the import: what every page reads.

    Partitioned by month of ``day`` on PostgreSQL like the records, and kept longer
    (USAGE_ROLLUP_RETENTION_MONTHS): daily totals say how much, not when or with whom.
    """

    pk = models.CompositePrimaryKey("line", "day")
    line = models.ForeignKey(
        "accounts.Line",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("line"),
    )
    day = models.DateField(_("day"))
    data_mb = models.DecimalField(_("data (MB)"), max_digits=18, decimal_places=3, default=0)
    voice_minutes = models.DecimalField(_("voice (minutes)"), max_digits=18, decimal_places=3, default=0)
    sms_count = models.DecimalField(_("SMS"), max_digits=18, decimal_places=3, default=0)
    record_count = models.PositiveIntegerField(_("records"), default=0)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")

    def __str__(self):
        return f"{self.line_id} {self.day}"
