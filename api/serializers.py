"""Request and response shapes. Requests are checked by the web's own forms (FormSerializer)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Line, Notification, ServicePoint
from billing.models import LineService, Order, Payment, Plan, Refund, SavedCard
from customers.models import CancellationRequest, SupportMessage, SupportThread
from reviews.models import Submission, SubmissionPhoto


class FormSerializer(serializers.Serializer):
    """Declares the API's fields (for the schema) and validates them with the web's form.

    The form holds the rules (phone formats, password validators, ID checksums, photo
    limits…), so the app and the web refuse the same input with the same messages.
    """

    form_class = None

    def form_data(self, attrs) -> dict:
        return attrs

    def form_kwargs(self) -> dict:
        return self.context.get("form_kwargs", {})

    def validate(self, attrs):
        form = self.form_class(data=self.form_data(attrs), files=self.context.get("files"), **self.form_kwargs())
        if not form.is_valid():
            errors = {
                field if field != "__all__" else "non_field_errors": [item["message"] for item in items]
                for field, items in form.errors.get_json_data().items()
            }
            raise serializers.ValidationError(errors)
        self.form = form
        return form.cleaned_data


class TermMonthsField(serializers.IntegerField):
    """A renewal term in months: the schema lists RENEWAL_TERMS_MONTHS (api.schema), the form checks it."""


# --- responses ----------------------------------------------------------------------------


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token for the Authorization header; lives minutes.")
    refresh = serializers.CharField(help_text="Spend it at /auth/token/refresh/ for a new pair; works once.")


class AcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class RegistrationStartedSerializer(serializers.Serializer):
    registration = serializers.CharField(help_text="Send it back with the code at /auth/register/confirm/.")
    detail = serializers.CharField()


class PlanSerializer(serializers.ModelSerializer):
    name = serializers.CharField()

    class Meta:
        model = Plan
        fields = ["id", "code", "name", "monthly_price", "data_mb", "voice_minutes", "sms_count"]
        # Responses only: read-only fields carry no model limits, which depend on the database
        # (a positive integer's maximum on PostgreSQL is not SQLite's) and would make the
        # committed schema differ between them.
        read_only_fields = fields


class LineServiceSerializer(serializers.ModelSerializer):
    plan = PlanSerializer()

    class Meta:
        model = LineService
        fields = [
            "plan",
            "data_left_mb",
            "voice_left_minutes",
            "sms_left",
            "auto_renew",
            "auto_renew_method",
            "auto_renew_term_months",
        ]
        read_only_fields = fields  # a response only (see PlanSerializer)


class LineSerializer(serializers.ModelSerializer):
    msisdn = serializers.SerializerMethodField(help_text="E.164")
    service = serializers.SerializerMethodField()

    class Meta:
        model = Line
        fields = ["id", "msisdn", "status", "validity_end", "attached_at", "activated_at", "service"]

    def get_msisdn(self, line) -> str:
        return getattr(line.msisdn, "as_e164", None) or str(line.msisdn)

    def get_service(self, line) -> LineServiceSerializer(allow_null=True):  # type: ignore[valid-type]
        service = self.context.get("services", {}).get(line.pk)
        return LineServiceSerializer(service).data if service else None


class SavedCardSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(help_text='The card network as the provider named it ("visa"), or "".')
    expiry = serializers.CharField(help_text='MM/YY, or "" for a card saved before expiry dates were kept.')
    saved_at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = SavedCard
        fields = ["id", "brand", "last4", "expiry", "saved_at"]
        read_only_fields = fields  # a response only (see PlanSerializer); the token never leaves


class SavedCardRemovedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    lines_to_wallet = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Ids of the lines whose auto-renew now pays from the wallet alone (no card is left).",
    )


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField(source="customer_text")
    final = serializers.BooleanField(source="is_final")


class SubmissionSerializer(serializers.ModelSerializer):
    reasons = serializers.SerializerMethodField()
    photos = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id",
            "status",
            "channel",
            "attempt_number",
            "full_name",
            "id_number_masked",
            "submitted_at",
            "decided_at",
            "customer_message",
            "reasons",
            "photos",
        ]
        read_only_fields = fields  # a response only (see PlanSerializer)

    def get_reasons(self, submission) -> ReasonSerializer(many=True):  # type: ignore[valid-type]
        return ReasonSerializer(submission.reasons.all(), many=True).data

    def get_photos(self, submission) -> list[str]:
        return [photo.kind for photo in submission.photos.all()]


class VerificationSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    current = SubmissionSerializer(allow_null=True)
    expected_decision_from = serializers.DateField(allow_null=True)
    expected_decision_by = serializers.DateField(allow_null=True)
    can_submit = serializers.BooleanField()
    blocker = serializers.CharField(allow_null=True, help_text="Why a new submission is refused now, if it is.")
    earlier = SubmissionSerializer(many=True)


class AccountEmailSerializer(serializers.Serializer):
    email = serializers.EmailField(
        allow_null=True, help_text="The account's email: signs in, gets reset codes and mail."
    )
    email_confirmed = serializers.BooleanField(
        help_text="Whether its owner proved it (false for an email kept from before proofs existed)."
    )
    pending_email = serializers.EmailField(
        allow_null=True, help_text="An email waiting for the code mailed to it; not used for anything until then."
    )


class AccountSummarySerializer(AccountEmailSerializer):
    phone = serializers.CharField(allow_null=True)
    verification_status = serializers.CharField(
        help_text="none, pending, in_review, approved or rejected (the latest submission's)."
    )
    verified = serializers.BooleanField()
    wallet_balance = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    unread_notifications = serializers.IntegerField()
    lines = LineSerializer(many=True)


class PaymentSerializer(serializers.ModelSerializer):
    refund_status = serializers.SerializerMethodField(
        help_text="For a payment given back (`refunded`, said when the refund is asked for): how its refund "
        "stands at the provider; `failed` means the money was not returned. Null for any other payment."
    )

    class Meta:
        model = Payment
        fields = ["method", "status", "amount", "card_last4", "created_at", "refund_status"]

    @extend_schema_field(serializers.ChoiceField(choices=Refund.Status.choices, allow_null=True))
    def get_refund_status(self, payment) -> str | None:
        refund = payment.refund_given_back
        return refund.status if refund else None


class OrderSerializer(serializers.ModelSerializer):
    line = serializers.SerializerMethodField()
    plan = PlanSerializer(allow_null=True)
    receipt_number = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "number",
            "kind",
            "status",
            "line",
            "plan",
            "term_months",
            "amount",
            "currency",
            "new_validity_end",
            "created_at",
            "expires_at",
            "paid_at",
            "receipt_number",
        ]
        read_only_fields = fields  # a response only (see PlanSerializer)

    def get_line(self, order) -> int | None:
        return order.line_id

    def get_receipt_number(self, order) -> str | None:
        receipt = getattr(order, "receipt", None) if order.status == Order.Status.PAID else None
        return receipt.number if receipt else None


class OrderDetailSerializer(OrderSerializer):
    payments = PaymentSerializer(many=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "payments"]
        read_only_fields = fields


class PayOutcomeSerializer(serializers.Serializer):
    order = OrderDetailSerializer()
    redirect_url = serializers.CharField(allow_blank=True, help_text="Open it for Alipay / WeChat Pay's cashier.")
    error = serializers.CharField(allow_blank=True, help_text="Why the payment failed; the order stays open.")


class QuoteSerializer(serializers.Serializer):
    line = serializers.IntegerField(source="line.pk")
    plan = PlanSerializer()
    term_months = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    new_validity_end = serializers.DateTimeField()


class UsageMonthSerializer(serializers.Serializer):
    month = serializers.DateTimeField()
    data = serializers.DecimalField(max_digits=14, decimal_places=3, help_text="MB")
    voice = serializers.DecimalField(max_digits=14, decimal_places=3, help_text="minutes")
    sms = serializers.DecimalField(max_digits=14, decimal_places=3)
    spent = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="CNY paid that month")


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "subject", "body", "link", "created_at", "read_at"]


class BlockerSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class CancellationSerializer(serializers.ModelSerializer):
    class Meta:
        model = CancellationRequest
        fields = [
            "id",
            "line",
            "status",
            "reason",
            "reason_detail",
            "third_party_bindings",
            "created_at",
            "decided_at",
            "decision_note",
        ]


class CancellationCheckSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    blockers = BlockerSerializer(many=True)
    open_request = CancellationSerializer(allow_null=True)


class SupportMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportMessage
        fields = ["id", "from_staff", "body", "created_at"]


class SupportThreadSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportThread
        fields = ["id", "topic", "status", "created_at", "last_message_at"]


class SupportThreadDetailSerializer(SupportThreadSerializer):
    messages = SupportMessageSerializer(many=True)

    class Meta(SupportThreadSerializer.Meta):
        fields = [*SupportThreadSerializer.Meta.fields, "messages"]


class ServicePointSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServicePoint
        fields = ["code", "name", "kind", "city", "address", "opening_hours", "phone"]


class CertificateCheckResultSerializer(serializers.Serializer):
    genuine = serializers.BooleanField()
    number = serializers.CharField()
    holder_name_masked = serializers.CharField(allow_null=True)
    issued_on = serializers.DateField(allow_null=True)


class PhotoCheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())
    hints = serializers.DictField(child=serializers.JSONField())


PHOTO_KINDS = SubmissionPhoto.Kind.choices
PAY_METHODS = [choice for choice in Payment.Method.choices if choice[0] in ("wallet", "alipay", "wechat", "card")]
