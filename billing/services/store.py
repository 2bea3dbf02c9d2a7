"""Renewal at an authorised store: the clerk checks the ID card and takes cash or a card."""

from accounts.models import ServicePoint, User
from billing.models import Order
from billing.selectors import line_by_number
from reviews.selectors import identity_matches

from .errors import ERR_ID_MISMATCH, ERR_NO_SUCH_LINE, ERR_NOT_A_STORE, ERR_OWN_STORE_RENEWAL, BillingError
from .orders import check_renewable, renewal_order_create
from .payments import payment_record_at_store


def store_renewal(
    *, actor: User, msisdn, id_number: str, plan_id: int, term_months: int, method: str, idempotency_key: str
) -> Order:
    """Renew a line at the counter and record the payment the clerk (``actor``) took there, in one go.

    A clerk's own line is refused: staff never process their own transactions (as with
    their own real-name verification), so a colleague renews it and takes the money.
    """
    point = actor.service_point
    if point is None or not point.is_active or point.kind == ServicePoint.Kind.VERIFICATION:
        raise BillingError(ERR_NOT_A_STORE)
    line = line_by_number(msisdn=msisdn)
    if line is None:
        raise BillingError(ERR_NO_SUCH_LINE)
    if line.owner_id == actor.pk:
        raise BillingError(ERR_OWN_STORE_RENEWAL)
    check_renewable(line=line)
    if not identity_matches(user=line.owner, id_number=id_number):
        raise BillingError(ERR_ID_MISMATCH)
    order = renewal_order_create(
        user=line.owner,
        line_id=line.pk,
        plan_id=plan_id,
        term_months=term_months,
        idempotency_key=idempotency_key,
        channel=Order.Channel.STORE,
        actor=actor,
        service_point=point,
    )
    return payment_record_at_store(order_id=order.pk, method=method, actor=actor).order
