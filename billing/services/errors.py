from django.utils.translation import gettext_lazy as _


class BillingError(Exception):
    """A billing action was refused; the message is for the person acting."""


class ServiceEnded(BillingError):
    """The customer's service has ended (every line cancelled): no money is taken for the account."""


class PaymentAmountMismatch(Exception):
    """The provider reports another amount or currency for a payment than the one it was asked for."""


ERR_NOT_VERIFIED = _("This line's owner has not verified their real name yet, so the line cannot be renewed.")
ERR_LINE_NOT_YOURS = _("This line is not on your account.")
ERR_LINE_NOT_RENEWABLE = _("This line cannot be renewed: it is cancelled or not activated yet.")
ERR_PLAN_UNAVAILABLE = _("This plan is no longer on sale. Choose another.")
ERR_TERM_INVALID = _("Choose a term of 1, 3, 6 or 12 months.")
ERR_IDEMPOTENCY_MISMATCH = _("This request was already used for a different order. Reload the page and start again.")
ERR_ORDER_EXPIRED = _("This order has expired. Start a new one; nothing was charged.")
ERR_ORDER_NOT_OPEN = _("This order cannot be paid any more.")
ERR_INSUFFICIENT_BALANCE = _("Your wallet balance is not enough. Top up, or pay with another method.")
ERR_METHOD_NOT_ALLOWED = _("This payment method cannot be used for this order.")
ERR_CARD_DECLINED = _("Your bank declined the card. Nothing was charged. Try another card or method.")
ERR_PROVIDER_FAILED = _("The payment did not go through. Nothing was charged. Try again or use another method.")
ERR_PROVIDER_TIMEOUT = _(
    "The payment provider did not answer in time. We are checking with them; do not pay again yet. "
    "Reload this page in a minute."
)
ERR_PAYMENT_IN_FLIGHT = _(
    "An earlier payment of this order is still being confirmed with the payment provider, so nothing more "
    "was charged. Reload this page in a minute."
)
ERR_TOP_UP_AMOUNT = _("Top up between ¥1 and ¥5000.")
ERR_NOT_A_STORE = _("Your account is not assigned to an authorised store, so you cannot take payments.")
ERR_ID_MISMATCH = _("The ID number does not match the line owner's verified identity.")
ERR_NO_SUCH_LINE = _("No line has this number.")
ERR_OWN_STORE_RENEWAL = _("This is your own line: another member of staff must renew it and take the payment.")
ERR_BALANCE_CHANGED = _(
    "Your balance changed since you confirmed: it is now ¥%(amount)s. Nothing was refunded; confirm the new amount."
)
ERR_SERVICE_ENDED = _(
    "Your service has ended: every line on your account is cancelled, so we take no payment for it. "
    "Add a line to use your account again."
)
