"""Cancellation (注销) of a line: the customer asks, support decides.

Before a request can be made, what is still open must be cleared: a wallet balance
(refund or spend it), unpaid orders or payments still being confirmed, and third-party
services bound to the number. Approval checks again inside its transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts import message_kinds
from accounts.models import Line, User
from accounts.services import audit_record, customer_mark_service_ended, line_cancel, notify
from billing import selectors as billing_selectors
from billing import services as billing_services
from customers.models import CancellationRequest
from reviews import selectors as review_selectors

ERR_NOT_YOUR_LINE = gettext_lazy("This line is not on your account.")
ERR_ALREADY_CANCELLED = gettext_lazy("This line is already cancelled.")
ERR_NAME_MISMATCH = gettext_lazy("The name does not match the name your real-name verification was approved with.")
ERR_PHONE_MISMATCH = gettext_lazy("Enter the mobile number of your account or the number being cancelled.")
ERR_BINDINGS = gettext_lazy("Confirm that you have unbound every listed service from this number first.")
ERR_BALANCE = gettext_lazy("Your wallet still holds ¥%(amount)s. Ask for a refund of the balance, or spend it, first.")
ERR_OPEN_ORDERS = gettext_lazy("You have an unpaid order (%(numbers)s). Pay it or let it expire first.")
ERR_UNSETTLED = gettext_lazy("A payment is still being confirmed by the provider. Try again in a few minutes.")
ERR_REFUND_PENDING = gettext_lazy(
    "¥%(amount)s is on its way back to your original payment method. You can cancel once the provider confirms it."
)
ERR_NOT_OPEN = gettext_lazy("This request is no longer open (it was withdrawn or already decided).")
ERR_REASON_REQUIRED = gettext_lazy("Give the customer a reason for the rejection.")
ERR_CANCELLATION_REQUESTED = gettext_lazy(
    "You have asked for this line to be cancelled, so it is not renewed. To keep it, withdraw the request first."
)


@dataclass
class Blocker:
    """One thing in the way; ``field`` names the form field it is about, if any."""

    code: str
    message: str
    field: str | None = None


class CancellationError(Exception):
    """A cancellation action was refused. ``problems`` holds every reason at once, each with its field."""

    def __init__(self, message=None, *, problems: list[Blocker] | None = None):
        self.problems = problems or [Blocker("refused", str(message))]
        super().__init__(" ".join(problem.message for problem in self.problems))


def cancellation_blockers(*, user: User, line: Line, include_balance: bool = True) -> list[Blocker]:
    """What must be cleared before ``line`` can be cancelled, each with the customer's message."""
    open_items = billing_selectors.open_items_before_cancellation(user=user, line=line)
    blockers = []
    if include_balance and open_items["balance"] != 0:
        blockers.append(Blocker("balance", str(ERR_BALANCE) % {"amount": open_items["balance"]}))
    if open_items["open_orders"]:
        numbers = ", ".join(order.number for order in open_items["open_orders"])
        blockers.append(Blocker("open_orders", str(ERR_OPEN_ORDERS) % {"numbers": numbers}))
    if open_items["unsettled_payments"]:
        blockers.append(Blocker("unsettled_payments", str(ERR_UNSETTLED)))
    if open_items["refunding"]:
        blockers.append(Blocker("refund_pending", str(ERR_REFUND_PENDING) % {"amount": open_items["refunding"]}))
    return blockers


# What billing holds open: the page lists these in its checklist, where each is shown once.
CHECKLIST_CODES = frozenset({"balance", "open_orders", "unsettled_payments"})


def lines_with_cancellation_requested(line_ids: Sequence[int]) -> dict[int, str]:
    """The lines among ``line_ids`` with an open cancellation request: billing renews none of them.

    The message stays lazy: it is read in the language of whoever is refused (a request, the job).
    """
    requested = CancellationRequest.objects.filter(line_id__in=list(line_ids), status=CancellationRequest.Status.OPEN)
    return {line_id: ERR_CANCELLATION_REQUESTED for line_id in requested.values_list("line_id", flat=True)}


def cancellation_identity_problems(*, user: User, line: Line, full_name: str | None, phone) -> list[Blocker]:
    """Whether the typed name and number are the customer's; a value left out (None) is not checked."""
    problems = []
    verified = review_selectors.verified_full_name(user=user) if full_name is not None else None
    if verified and "".join(verified.split()) != "".join(full_name.split()):
        problems.append(Blocker("name_mismatch", str(ERR_NAME_MISMATCH), field="full_name"))
    allowed = {str(line.msisdn)} | ({str(user.phone)} if user.phone else set())
    if phone is not None and str(phone) not in allowed:
        problems.append(Blocker("phone_mismatch", str(ERR_PHONE_MISMATCH), field="phone"))
    return problems


def cancellation_request_submit(
    *, actor: User, line_id: int, full_name: str, phone, reason: str, reason_detail: str, bindings: list[dict]
) -> tuple[CancellationRequest, bool]:
    """File a request to cancel a line. Returns (request, created).

    A second submit for the same line returns the open request instead of a new one
    (the database allows one open request per line). The customer files it themselves.
    """
    user = actor
    # Someone else's line (or none) is refused before any lock: another customer's ids must
    # not hold up the auto-renew job on a line that is not theirs. Checked again under the lock.
    if not Line.objects.filter(pk=line_id, owner=user).exists():
        raise CancellationError(ERR_NOT_YOUR_LINE)
    with transaction.atomic():
        # The line's service row first, as every renewal takes it before it asks whether a
        # request is open: a renewal under way (the auto-renew job, a payment) finishes before
        # this request is made, and none starts until it is committed and seen.
        billing_services.line_renewals_lock(line_id=line_id)
        line = Line.objects.select_for_update().filter(pk=line_id).first()
        if line is None or line.owner_id != user.pk:
            raise CancellationError(ERR_NOT_YOUR_LINE)
        existing = CancellationRequest.objects.filter(line=line, status=CancellationRequest.Status.OPEN).first()
        if existing is not None:
            return existing, False
        if line.status == Line.Status.CANCELLED:
            raise CancellationError(ERR_ALREADY_CANCELLED)
        # Every problem at once, so that one submit tells the customer all there is to fix.
        problems = cancellation_identity_problems(user=user, line=line, full_name=full_name, phone=phone)
        if any(not binding.get("unbound") for binding in bindings):
            problems.append(Blocker("bindings", str(ERR_BINDINGS), field="bindings"))
        problems.extend(cancellation_blockers(user=user, line=line))
        if problems:
            raise CancellationError(problems=problems)
        try:
            with transaction.atomic():
                request = CancellationRequest.objects.create(
                    line=line,
                    user=user,
                    full_name=full_name,
                    phone=str(phone),
                    reason=reason,
                    reason_detail=reason_detail,
                    third_party_bindings=bindings,
                )
        except IntegrityError:
            return CancellationRequest.objects.get(line=line, status=CancellationRequest.Status.OPEN), False
        audit_record(actor=user, verb="cancellation.requested", target=request, subject_user=user)
        notify(
            user=user,
            kind=message_kinds.CANCELLATION_RECEIVED,
            params={"number": line.msisdn.as_national},
            link="/account/cancel/",
            sms_too=False,
        )
    return request, True


def cancellation_request_withdraw(*, request_id: int, actor: User) -> CancellationRequest:
    """Withdraw the customer's own open request."""
    user = actor
    with transaction.atomic():
        request = CancellationRequest.objects.select_for_update().filter(pk=request_id, user=user).first()
        if request is None or request.status != CancellationRequest.Status.OPEN:
            raise CancellationError(ERR_NOT_OPEN)
        request.status = CancellationRequest.Status.WITHDRAWN
        request.save(update_fields=["status"])
        audit_record(actor=user, verb="cancellation.withdrawn", target=request, subject_user=user)
    return request


def cancellation_request_approve(*, request_id: int, actor: User, note: str = "") -> CancellationRequest:
    """Cancel the line: re-check, refund the balance, stop auto-renew, quarantine the number, tell the customer."""
    now = timezone.now()
    with transaction.atomic():
        request = (
            CancellationRequest.objects.select_for_update(of=("self",))
            .select_related("line", "user")
            .get(pk=request_id)
        )
        if request.status != CancellationRequest.Status.OPEN:
            raise CancellationError(ERR_NOT_OPEN)
        line = request.line
        # Auto-renew off first: that locks the line's service row before the customer, the wallet
        # and the line, the order the auto-renew job takes them in (its orders and messages
        # reference the customer's row), so the two wait for each other instead of deadlocking.
        billing_services.line_billing_close(line=line, actor=actor)
        # No key update: the job's orders and messages, which only reference the customer, go ahead.
        user = User.objects.select_for_update(no_key=True).get(pk=request.user_id)
        blockers = cancellation_blockers(user=user, line=line, include_balance=False)
        if blockers:
            raise CancellationError(problems=blockers)
        refunded = billing_services.wallet_refund_balance(
            user=user, actor=actor, reference=f"cancellation:{request.pk}"
        )
        line_cancel(line_id=line.pk, actor=actor, quarantine_days=settings.NUMBER_QUARANTINE_DAYS)
        if not Line.objects.filter(owner=user).exclude(status=Line.Status.CANCELLED).exists():
            customer_mark_service_ended(user=user, at=now)
        request.status = CancellationRequest.Status.APPROVED
        request.decided_by = actor
        request.decided_at = now
        request.decision_note = note
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=actor,
            verb="cancellation.approved",
            target=request,
            subject_user=user,
            data={"refunded": str(refunded), "line": str(line.msisdn)},
        )
        notify(
            user=user,
            kind=message_kinds.CANCELLATION_APPROVED,
            params={"number": line.msisdn.as_national},
            link="/account/",
        )
    return request


def cancellation_request_reject(*, request_id: int, actor: User, note: str) -> CancellationRequest:
    if not note.strip():
        raise CancellationError(ERR_REASON_REQUIRED)
    with transaction.atomic():
        request = CancellationRequest.objects.select_for_update().select_related("line", "user").get(pk=request_id)
        if request.status != CancellationRequest.Status.OPEN:
            raise CancellationError(ERR_NOT_OPEN)
        request.status = CancellationRequest.Status.REJECTED
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.decision_note = note.strip()
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(actor=actor, verb="cancellation.rejected", target=request, subject_user=request.user)
        notify(
            user=request.user,
            kind=message_kinds.CANCELLATION_REJECTED,
            params={"number": request.line.msisdn.as_national, "reason": request.decision_note},
            link="/account/cancel/",
        )
    return request
