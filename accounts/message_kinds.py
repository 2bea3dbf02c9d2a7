"""Every kind of message the product sends to a person, by key.

A message is stored as its kind's key and its parameters (JSON), never as finished
text: the inbox renders it in the reader's language when it is read, and the outbox
renders an SMS or email in the recipient's chosen language when it is queued. An SMS
provider that only sends pre-approved templates (Alibaba Cloud, Tencent Cloud) gets the
kind's template id from settings (``SMS_TEMPLATES``) and the parameters named in
``sms_params``, in that order.

Parameters are plain JSON values, or one of the tagged values made by the helpers below
(a date shown in Asia/Shanghai, a msgid translated at render time, a text given in each
language). The texts are gettext msgids; the Chinese is in locale/.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class MessageKind:
    key: str
    subject: object
    body: object
    # (parameter, text): each text is appended to the body, after a space, when its parameter is present.
    extras: tuple[tuple[str, object], ...] = ()
    # The parameters an SMS template of this kind takes, in the order Tencent Cloud numbers them.
    sms_params: tuple[str, ...] = ()
    # Parameters that hold a secret (a one-time code): never stored, put in as the message leaves.
    secret_params: frozenset[str] = field(default_factory=frozenset)
    # Whether it is ever sent by SMS (then a provider needs an approved template for it).
    sms: bool = True
    # Whether the text of its SMS starts with the subject (not for codes: the body says it all).
    sms_subject: bool = True

    def __str__(self):
        return self.key


KINDS: dict[str, MessageKind] = {}


def register(kind: MessageKind) -> MessageKind:
    if kind.key in KINDS:
        raise ValueError(f"message kind {kind.key!r} registered twice")
    KINDS[kind.key] = kind
    return kind


# ---- tagged parameters -------------------------------------------------------------------------


def date_param(value: dt.datetime) -> dict:
    """A moment shown as its date in the site's time zone (``2026-12-02``)."""
    return {"$date": value.isoformat()}


def datetime_param(value: dt.datetime) -> dict:
    """A moment shown as date and time in the site's time zone (``2026-12-02 18:30``)."""
    return {"$datetime": value.isoformat()}


def msgid_param(msgid: str) -> dict:
    """A msgid (marked with gettext_noop where it is defined), translated when rendered."""
    return {"$t": str(msgid)}


def texts_param(*texts_by_language: dict) -> dict:
    """Texts written by people in each language (e.g. reason codes), joined in the reader's language."""
    return {"$texts": list(texts_by_language)}


def encode_params(params: dict | None) -> dict:
    """JSON-safe parameters: money as its string, moments as date parameters."""
    encoded = {}
    for name, value in (params or {}).items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dt.datetime):
            value = datetime_param(value)
        encoded[name] = value
    return encoded


def _pick(texts: dict, language: str) -> str:
    return texts.get(language) or texts.get(settings.LANGUAGE_CODE) or next(iter(texts.values()), "")


def _resolve(value, language: str):
    if not isinstance(value, dict):
        return value
    if "$date" in value:
        return timezone.localtime(parse_datetime(value["$date"])).strftime("%Y-%m-%d")
    if "$datetime" in value:
        return timezone.localtime(parse_datetime(value["$datetime"])).strftime("%Y-%m-%d %H:%M")
    if "$t" in value:
        return gettext(value["$t"])
    if "$texts" in value:
        # Translators: joins several reasons in one sentence.
        return gettext("; ").join(_pick(texts, language) for texts in value["$texts"])
    return value


def resolved_params(params: dict, language: str) -> dict:
    return {name: _resolve(value, language) for name, value in params.items()}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def render(key: str, params: dict | None, *, language: str | None = None) -> Rendered | None:
    """The message in ``language`` (default: the active one), or None for an unknown kind."""
    kind = KINDS.get(key)
    if kind is None:
        return None
    active = translation.get_language()
    language = language or active or settings.LANGUAGE_CODE
    params = params or {}
    # Switching languages costs more than the rendering itself: only when it is another one.
    with translation.override(language) if language != active else nullcontext():
        values = resolved_params(params, language)
        subject = str(kind.subject) % values
        body = str(kind.body % values)
        for name, text in kind.extras:
            if values.get(name) not in (None, ""):
                body = f"{body} {text % values}"
        note = values.get("note")
        if note:
            body = f"{body}\n{note}"
    return Rendered(subject=subject, body=body)


def sms_template_params(key: str, params: dict, *, language: str) -> tuple[tuple[str, str], ...]:
    """The kind's SMS template parameters, in order, as text in ``language``."""
    kind = KINDS.get(key)
    if kind is None:
        return ()
    with translation.override(language):
        values = resolved_params(params, language)
    return tuple((name, str(values.get(name, ""))) for name in kind.sms_params)


def sms_text(kind: MessageKind, rendered: Rendered, *, language: str) -> str:
    """The text of an SMS: the sign, the subject and the body, as text-only backends send it."""
    with translation.override(language):
        if not kind.sms_subject:
            return gettext("[Heyon] %(body)s") % {"body": rendered.body}
        return gettext("[Heyon] %(subject)s: %(body)s") % {"subject": rendered.subject, "body": rendered.body}


# ---- the kinds -------------------------------------------------------------------------------
# Accounts: codes, lines, the account itself.

ONE_TIME_CODE = register(
    MessageKind(
        key="code.one_time",
        subject=_("Your Heyon code"),
        body=ngettext_lazy(
            "Your Heyon code is %(code)s (%(purpose)s). It expires in %(minutes)s minute. Never share it with anyone.",
            "Your Heyon code is %(code)s (%(purpose)s). It expires in %(minutes)s minutes. Never share it with anyone.",
            "minutes",
        ),
        sms_params=("code", "minutes"),
        secret_params=frozenset({"code"}),
        sms_subject=False,
    )
)
LINE_ACTIVATION_CODE = register(
    MessageKind(
        key="line.activation_code",
        subject=_("Your Heyon activation code"),
        body=_(
            "Thank you for buying Heyon line %(number)s. Your activation code is %(code)s. "
            "Add the line at /account/lines/add/ or show the code at a service point with your ID card."
        ),
        sms_params=("number", "code"),
        sms_subject=False,
    )
)
LINE_ADDED = register(
    MessageKind(
        key="line.added",
        subject=_("Line %(number)s added"),
        body=_("Verify your real name to activate it. Until then the line cannot make calls or use data."),
        sms_params=("number",),
        sms=False,
    )
)
LINES_ACTIVE = register(
    MessageKind(
        key="line.active",
        subject=_("Your line is active"),
        body=ngettext_lazy(
            "Line %(numbers)s is now active and valid for one year.",
            "Lines %(numbers)s are now active and valid for one year.",
            "count",
        ),
        sms_params=("numbers",),
    )
)
WELCOME = register(
    MessageKind(
        key="account.welcome",
        subject=_("Welcome to Heyon"),
        body=_(
            "Your account is ready. Add your eSIM line with its activation code, "
            "then verify your real name to start using it."
        ),
        sms=False,
    )
)
PASSWORD_CHANGED = register(
    MessageKind(
        key="account.password_changed",
        subject=_("Your password was changed"),
        body=_("If this was not you, call the support hotline at once."),
    )
)
REGISTRATION_ATTEMPTED = register(
    MessageKind(
        key="account.registration_attempted",
        subject=_("Someone tried to register with your number"),
        body=_(
            "Someone tried to register a new Heyon account with this number, which already has one. "
            "If it was you, sign in, or reset your password if you forgot it. If not, you need do nothing: "
            "no code was sent and your account is unchanged."
        ),
        sms_subject=False,
    )
)
EMAIL_CHANGED = register(
    MessageKind(
        key="account.email_changed",
        subject=_("Your email was changed"),
        body=_("Your Heyon account's email is now %(email)s. If this was not you, call the support hotline at once."),
        sms_params=("email",),
    )
)
EMAIL_REMOVED = register(
    MessageKind(
        key="account.email_removed",
        subject=_("Email removed from your account"),
        body=_(
            "%(email)s was confirmed by its owner on another Heyon account and is no longer your account's email. "
            "Sign in with your mobile number; you can add another email in your account."
        ),
        sms_params=("email",),
    )
)

# Real-name verification.

VERIFICATION_APPROVED = register(
    MessageKind(
        key="verification.approved",
        subject=_("Real-name verification approved"),
        body=_("Your real name is verified. Your lines are active."),
    )
)
VERIFICATION_APPROVED_IN_PERSON = register(
    MessageKind(
        key="verification.approved_in_person",
        subject=_("Real-name verification approved"),
        body=_("You were verified in person at %(point)s. Certificate number: %(number)s."),
        sms_params=("point", "number"),
    )
)
VERIFICATION_REJECTED = register(
    MessageKind(
        key="verification.rejected",
        subject=_("Real-name verification not approved"),
        body=_("Reason: %(reasons)s. %(follow_up)s"),
        sms_params=("reasons",),
    )
)
VERIFICATION_REVOKED = register(
    MessageKind(
        key="verification.revoked",
        subject=_("Real-name verification withdrawn"),
        body=_(
            "Your real-name verification was withdrawn after a further check: %(reasons)s. Your lines are suspended "
            "until you verify again."
        ),
        sms_params=("reasons",),
    )
)
VERIFICATION_UNBLOCKED = register(
    MessageKind(
        key="verification.unblocked",
        subject=_("You can verify your real name again"),
        body=_("Support has reviewed your case. You can submit your ID photos again."),
    )
)
# What a rejected customer should do next (the ``follow_up`` of VERIFICATION_REJECTED).
FOLLOW_UP_FINAL = translation.gettext_noop(
    "Please contact customer support or visit a service point with your ID card."
)
FOLLOW_UP_RETRY = translation.gettext_noop("Please take new photos and submit again.")

# Billing.

RENEWAL_PAID = register(
    MessageKind(
        key="order.renewal_paid",
        subject=_("Renewal paid"),
        body=_("Line %(number)s is renewed until %(end)s. ¥%(amount)s paid."),
        sms_params=("number", "end", "amount"),
    )
)
WALLET_TOPPED_UP = register(
    MessageKind(
        key="order.topped_up",
        subject=_("Wallet topped up"),
        body=_("¥%(amount)s was added to your wallet."),
        sms_params=("amount",),
    )
)
PAYMENT_REFUNDED_EXTRA = register(
    MessageKind(
        key="payment.refunded_extra",
        subject=_("Payment refunded"),
        body=_("Order %(number)s was already paid or closed, so the extra ¥%(amount)s was refunded."),
        sms_params=("number", "amount"),
    )
)
PAYMENT_REFUNDED_NOT_RENEWABLE = register(
    MessageKind(
        key="payment.refunded_not_renewable",
        subject=_("Payment refunded"),
        body=_(
            "Order %(number)s could not be paid because the line can no longer be renewed: ¥%(amount)s was refunded."
        ),
        sms_params=("number", "amount"),
    )
)
PAYMENT_REFUNDED_SERVICE_ENDED = register(
    MessageKind(
        key="payment.refunded_service_ended",
        subject=_("Payment refunded"),
        body=_(
            "Your service had ended (every line on your account is cancelled) when the payment of order "
            "%(number)s arrived, so ¥%(amount)s was refunded to your original payment method."
        ),
        sms_params=("number", "amount"),
    )
)
BALANCE_REFUNDED = register(
    MessageKind(
        key="wallet.refunded",
        subject=_("Balance refunded"),
        body=_("¥%(amount)s from your wallet will be returned to your original payment method within 7 days."),
        sms_params=("amount",),
    )
)
REFUND_FAILED_WALLET = register(
    MessageKind(
        key="refund.failed.wallet",
        subject=_("Refund not completed"),
        body=_(
            "The provider could not return ¥%(amount)s to your original payment method. "
            "The amount stays in your wallet; our staff will contact you."
        ),
        sms_params=("amount",),
    )
)
REFUND_FAILED_ORDER = register(
    MessageKind(
        key="refund.failed.order",
        subject=_("Refund not completed"),
        body=_("The provider could not return ¥%(amount)s for order %(number)s; our staff will contact you."),
        sms_params=("amount", "number"),
    )
)
AUTORENEW_FAILED = register(
    MessageKind(
        key="autorenew.failed",
        subject=_("Auto-renew failed"),
        body=_(
            "Auto-renew of line %(number)s could not be paid: the wallet holds ¥%(balance)s and the renewal costs "
            "¥%(amount)s. Top up before %(end)s to keep the line."
        ),
        extras=(("time", _("We will try again at %(time)s.")),),
        sms_params=("number", "balance", "amount", "end"),
    )
)
LINE_ENDS_SOON = register(
    MessageKind(
        key="line.ends_soon",
        subject=_("Your line ends soon"),
        body=_("Line %(number)s is valid until %(end)s. Renew now to keep your number."),
        sms_params=("number", "end"),
    )
)
LINE_EXPIRED = register(
    MessageKind(
        key="line.expired",
        subject=_("Your line has expired"),
        body=_("Line %(number)s has expired. Renew it to bring it back into service."),
        sms_params=("number",),
    )
)

# The customer portal: cancellation and support.

CANCELLATION_RECEIVED = register(
    MessageKind(
        key="cancellation.received",
        subject=_("Cancellation request received"),
        body=_("We received your request to cancel line %(number)s. Support will answer within 2 business days."),
        sms_params=("number",),
        sms=False,
    )
)
CANCELLATION_APPROVED = register(
    MessageKind(
        key="cancellation.approved",
        subject=_("Line cancelled"),
        body=_("Line %(number)s is cancelled as you asked. Thank you for using Heyon."),
        sms_params=("number",),
    )
)
CANCELLATION_REJECTED = register(
    MessageKind(
        key="cancellation.rejected",
        subject=_("Cancellation request not approved"),
        body=_("Your request to cancel line %(number)s was not approved: %(reason)s"),
        sms_params=("number",),
    )
)
SUPPORT_ANSWERED = register(
    MessageKind(
        key="support.answered",
        subject=_("Support answered your message"),
        body="%(text)s",  # the support agent's own words
    )
)
