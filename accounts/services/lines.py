"""eSIM lines: creation with an activation code, attaching to an account, activation."""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext_lazy

from accounts import message_kinds
from accounts.hashing import keyed_hash
from accounts.message_kinds import MessageKind
from accounts.models import AuditEvent, Identity, Line, NumberQuarantine, User
from heyon_site.bulk import rows_update

from .audit import audit_event, audit_record, audit_record_events, audit_record_many
from .messages import notify, notify_many, outbox_queue

ERR_CODE_UNKNOWN = gettext_lazy("No line has this activation code. Check the code in your purchase message.")
ERR_CODE_USED = gettext_lazy("This activation code has already been used.")
ERR_ACCOUNT_ERASED = gettext_lazy(
    "This account is closed: its personal data was erased after its service ended. "
    "Register again with your mobile number to add a line."
)

# Crockford's base32 without the look-alikes I, L, O and U: easy to read aloud.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 bits: not guessable, even at a million tries a second
LINE_VALIDITY = timedelta(days=365)


class LineError(Exception):
    pass


ERR_LINE_LIMIT = gettext_lazy(
    "This ID already holds the maximum number of active lines (一证五号). A line must be cancelled before "
    "another one can be activated."
)
ERR_OWNER_NOT_VERIFIED = gettext_lazy(
    "This line's owner is not verified (or the verification was withdrawn), so the line cannot be put back in service."
)


class LineLimitExceeded(LineError):
    """Activating would give one ID more active lines than ``MAX_LINES_PER_ID`` (一证五号)."""


def lines_activation_allow(
    *, adding: Mapping[int, int], identities: Mapping[int, str] | None = None, lock: bool = True
) -> None:
    """Refuse unless each owner's identity can take the lines about to be activated: ``adding`` maps owner id to count.

    Every service that makes a line active calls this, in its transaction, just before
    the UPDATE. It locks the identity row of each owner's ID (one at a time, in order) and
    counts the active lines of every account verified with that ID, so a second
    activation under the same ID waits for the first to commit and then counts its lines
    too. An account verified without a recorded ID (before the identity was kept, or a
    demo) counts on its own, under the lock of its user row. ``identities`` (owner id to
    identity index) saves reading owners the caller has locked. ``lock=False`` only counts:
    a check before something irreversible (a charge), never the one that decides.
    """
    adding = {owner_id: count for owner_id, count in adding.items() if count > 0}
    if not adding:
        return
    limit = settings.MAX_LINES_PER_ID
    owners = dict(identities or {})
    if set(adding) - set(owners):
        owners.update(User.objects.filter(pk__in=list(adding)).values_list("pk", "identity_index"))
    by_identity: dict[str, int] = {}
    alone: dict[int, int] = {}
    for owner_id, count in adding.items():
        index = owners.get(owner_id, "")
        if index:
            by_identity[index] = by_identity.get(index, 0) + count
        else:
            alone[owner_id] = count
    if by_identity:
        indexes = sorted(by_identity)
        if lock:
            _identities_locked(indexes)
        active = dict(
            Line.objects.filter(status=Line.Status.ACTIVE, owner__identity_index__in=indexes)
            .values_list("owner__identity_index")
            .annotate(n=Count("pk"))
            .values_list("owner__identity_index", "n")
        )
        if any(active.get(index, 0) + count > limit for index, count in by_identity.items()):
            raise LineLimitExceeded(ERR_LINE_LIMIT)
    if alone:
        if lock:
            list(User.objects.select_for_update().filter(pk__in=list(alone)).order_by("pk").values_list("pk"))
        active = dict(
            Line.objects.filter(status=Line.Status.ACTIVE, owner_id__in=list(alone))
            .values_list("owner_id")
            .annotate(n=Count("pk"))
            .values_list("owner_id", "n")
        )
        if any(active.get(owner_id, 0) + count > limit for owner_id, count in alone.items()):
            raise LineLimitExceeded(ERR_LINE_LIMIT)


def normalize_activation_code(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def format_activation_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def activation_code_hash(code: str) -> str:
    return keyed_hash("activation-code", normalize_activation_code(code))


ERR_SUPPLIER_CODE_WEAK = gettext_lazy("An activation code must have at least 12 letters or digits.")


def line_create(
    *,
    msisdn,
    iccid: str,
    actor=None,
    activation_code: str | None = None,
    buyer_phone: str | None = None,
    buyer_email: str | None = None,
    plan_code: str = "",
) -> tuple[Line, str]:
    """Create an unattached line and return it with its activation code (shown once).

    The code is the supplier's when given, else a new random one. When the buyer's
    phone or email is known the code is sent to them through the outbox, as at purchase.
    ``plan_code`` is the plan it was sold with (empty: the default plan, at activation).
    """
    code = normalize_activation_code(activation_code) if activation_code else None
    if code is not None and len(code) < 12:
        raise LineError(ERR_SUPPLIER_CODE_WEAK)
    code = code or get_random_string(CODE_LENGTH, CODE_ALPHABET)
    with transaction.atomic():
        quarantine = NumberQuarantine.objects.filter(msisdn=msisdn, until__gt=timezone.now()).first()
        if quarantine is not None:
            raise LineError(ERR_NUMBER_QUARANTINED % {"until": timezone.localtime(quarantine.until).date()})
        line = Line(
            msisdn=msisdn,
            iccid=iccid,
            activation_code_hash=activation_code_hash(code),
            activation_code_hint=code[-4:],
            plan_code=plan_code,
        )
        line.full_clean()
        line.save()
        audit_record(actor=actor, verb="line.created", target=line)
        shown = format_activation_code(code)
        # The buyer has no account yet: the message is in the site's language.
        params = {"number": line.msisdn.as_national, "code": shown}
        if buyer_phone:
            outbox_queue(
                channel="sms", recipient=str(buyer_phone), kind=message_kinds.LINE_ACTIVATION_CODE, params=params
            )
        if buyer_email:
            outbox_queue(channel="email", recipient=buyer_email, kind=message_kinds.LINE_ACTIVATION_CODE, params=params)
    return line, shown


def line_attach(*, actor: User, activation_code: str, owner: User | None = None) -> Line:
    """Attach the line with this activation code to the owner's account (the actor's own by default).

    The code is single-use. The line waits as inactive until the owner's real name is
    verified; if it already is, the line is activated at once, unless the owner's ID
    already holds the maximum of active lines (一证五号): then ``LineLimitExceeded`` and
    nothing is attached (the code stays unused). A clerk at a service point attaches a
    line for the customer in front of them by passing ``owner``. An account whose personal
    data was erased takes no line (``ERR_ACCOUNT_ERASED``).
    """
    owner = owner or actor
    with transaction.atomic():
        line = (
            Line.objects.select_for_update().filter(activation_code_hash=activation_code_hash(activation_code)).first()
        )
        if line is None:
            raise LineError(ERR_CODE_UNKNOWN)
        if line.activation_code_used_at is not None or line.owner_id is not None:
            raise LineError(ERR_CODE_USED)
        # The owner's row, after the line (as a desk verification takes them), before anything
        # is written. Whether they are verified is read under it: a revocation at this moment
        # either waits and then suspends this line with the others, or is seen here. The
        # personal-data purge holds it while it erases them: an account erased meanwhile is
        # refused here, and the purge skips a customer held here (coming back, not erased).
        owner = User.objects.select_for_update(no_key=True).get(pk=owner.pk)
        if owner.personal_data_erased_at is not None:
            raise LineError(ERR_ACCOUNT_ERASED)
        now = timezone.now()
        line.owner = owner
        line.attached_at = now
        line.activation_code_used_at = now
        line.full_clean()
        line.save(update_fields=["owner", "attached_at", "activation_code_used_at"])
        audit_record(actor=actor, verb="line.attached", target=line, subject_user=owner)
        if owner.is_real_name_verified:
            lines_activate_waiting(user=owner, actor=actor, locked=True)
        else:
            notify(
                user=owner,
                kind=message_kinds.LINE_ADDED,
                params={"number": line.msisdn.as_national},
                link="/verification/",
                sms_too=False,
            )
    return line


def customer_for_desk(*, phone, actor: User) -> User:
    """The account with this mobile number, or a new one for a customer met at a desk.

    A new account has no password: the customer signs in with a code by SMS.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().filter(phone=phone).first()
        if user is None:
            user = User(phone=phone, is_active=True)
            user.set_unusable_password()
            user.full_clean(exclude=["password"])
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError:
                # Another desk created this number's account a moment ago (its insert went
                # first and committed): it is the customer's, so use it.
                return User.objects.select_for_update().get(phone=phone)
            audit_record(actor=actor, verb="user.created_at_desk", target=user, subject_user=user)
        elif not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
    return user


# What a higher app does when lines start their first year, in the same transaction: billing
# registers its service at start-up (BillingConfig.ready) and gives each line its plan and
# allowances. accounts cannot import billing (layers), so billing hands its service in.
_first_activation_handlers: list[Callable[..., None]] = []


def lines_first_activation_handler_add(handler: Callable[..., None]) -> None:
    """Call ``handler(lines=[...], now=...)`` whenever never-activated lines become active."""
    if handler not in _first_activation_handlers:
        _first_activation_handlers.append(handler)


def lines_activate_waiting(*, user: User, actor, locked: bool = False) -> list[Line]:
    """Activate every line of the user that waits for real-name verification.

    Lines suspended because an earlier verification was revoked come back into service
    with the validity they had; lines never activated start their first year now. The
    user's row is locked first (``locked``: the caller already did, in this transaction), so
    their verified status cannot be revoked between the check and the activation.
    """
    # No savepoint: nobody catches an error from here and carries on in the same transaction.
    with transaction.atomic(savepoint=False):
        if not locked:
            user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        waiting, events = _activate_waiting(user=user, actor=actor)
        audit_record_events(events)
        if waiting:
            notify(user=user, kind=message_kinds.LINES_ACTIVE, params=_lines_active_params(waiting), link="/account/")
    return waiting


def _identities_locked(indexes: list[str]) -> None:
    """Lock the identity row of each index (sorted, so two callers lock in one order), creating it if new.

    One statement: INSERT … ON CONFLICT DO UPDATE writes the ID's first row or, when it
    exists, row-locks it as an UPDATE would (the "update" sets the index to itself). A
    concurrent first activation of the same ID waits for ours to commit, or we for its.
    """
    Identity.objects.bulk_create(
        [Identity(index=index) for index in sorted(indexes)],
        update_conflicts=True,
        unique_fields=["index"],
        update_fields=["index"],
    )


def _activate_waiting(*, user: User, actor) -> tuple[list[Line], list]:
    """Lock and activate the user's waiting lines; return them and their unsaved audit events.

    A new line starts its year now; a suspended one comes back with the validity it had.
    Refused (``LineLimitExceeded``) when the lines would take the owner's ID past 一证五号:
    then none of them is activated and they keep waiting.
    """
    waiting = list(
        Line.objects.select_for_update()
        .filter(owner=user, status__in=[Line.Status.INACTIVE, Line.Status.SUSPENDED])
        .order_by("pk")
    )
    if waiting and not user.is_real_name_verified:
        raise LineError(ERR_OWNER_NOT_VERIFIED)
    lines_activation_allow(adding={user.pk: len(waiting)}, identities={user.pk: user.identity_index})
    now = timezone.now()
    new = [line for line in waiting if line.status == Line.Status.INACTIVE]
    if new:
        Line.objects.filter(pk__in=[line.pk for line in new]).update(
            status=Line.Status.ACTIVE, activated_at=now, validity_end=now + LINE_VALIDITY
        )
    if len(new) < len(waiting):
        Line.objects.filter(pk__in=[line.pk for line in waiting if line not in new]).update(status=Line.Status.ACTIVE)
    if new:
        for line in new:
            line.activated_at, line.validity_end = now, now + LINE_VALIDITY
        # Every path that activates a new line (approval online, at a desk, adding a line
        # when already verified) comes here: the plan and its allowances start with the year.
        for handler in _first_activation_handlers:
            handler(lines=new, now=now)
    events = []
    for line in waiting:
        from_status = line.status
        if from_status == Line.Status.INACTIVE:
            line.activated_at = now
            line.validity_end = now + LINE_VALIDITY
        line.status = Line.Status.ACTIVE
        events.append(
            audit_event(
                actor=actor,
                verb="line.activated",
                target=line,
                subject_user=user,
                data={"from": from_status, "to": "active"},
            )
        )
    return waiting, events


def _lines_active_params(lines: list[Line]) -> dict:
    return {"numbers": ", ".join(line.msisdn.as_national for line in lines), "count": len(lines)}


def user_mark_real_name_verified(
    *,
    user: User,
    actor,
    channel: str,
    identity_index: str = "",
    locked: bool = False,
    message: tuple[MessageKind, dict, str] | None = None,
    audit: Sequence[AuditEvent] = (),
) -> User:
    """Record that the user's real name is verified with the ID ``identity_index`` and activate their waiting lines.

    ``identity_index`` is the blind index of the ID number verified: the lines of every
    account verified with it count together towards 一证五号. If the waiting lines would
    take that ID past the limit, ``LineLimitExceeded`` is raised and nothing is recorded.

    ``locked``: the caller has already read the user with ``select_for_update()`` in this
    transaction, so the row is not read again. ``message`` (kind, params, link) is a
    message to the customer about the verification, written and sent together with the
    "line active" one (two notifications and their SMS and email in one INSERT each).
    ``audit``: the caller's own unsaved audit events of the same change (the decision),
    written in the one INSERT of this change's events, before them.
    """
    # No savepoint: nobody catches an error from here and carries on in the same transaction.
    with transaction.atomic(savepoint=False):
        if not locked:
            user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        events = []
        changed = []
        if identity_index and user.identity_index != identity_index:
            user.identity_index = identity_index
            changed.append("identity_index")
        if user.real_name_verified_at is None:
            user.real_name_verified_at = timezone.now()
            changed.append("real_name_verified_at")
        if changed:
            user.save(update_fields=changed)
        if "real_name_verified_at" in changed:
            events.append(
                audit_event(
                    actor=actor,
                    verb="user.real_name_verified",
                    target=user,
                    subject_user=user,
                    data={"channel": channel},
                )
            )
        waiting, line_events = _activate_waiting(user=user, actor=actor)
        audit_record_events([*audit, *events, *line_events])
        messages = []
        if waiting:
            messages.append((user, message_kinds.LINES_ACTIVE, _lines_active_params(waiting), "/account/"))
        if message is not None:
            messages.append((user, *message))
        notify_many(messages)
    return user


def user_revoke_real_name_verification(*, user: User, actor, reason: str) -> list[Line]:
    """Withdraw the user's verified status and suspend their lines in service.

    Suspension is used only for this: the lines come back (``lines_activate_waiting``)
    when the customer is verified again, online or at a service point. Expired and
    cancelled lines stay as they are. Returns the suspended lines.
    """
    with transaction.atomic():
        # NO KEY UPDATE: it still waits for an activation holding the row, but not for the
        # key-share locks that rows referring to the customer take (a renewal's orders and
        # audit events, written while it holds a line this waits for below: a deadlock).
        user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        user.real_name_verified_at = None
        user.save(update_fields=["real_name_verified_at"])
        audit_record(
            actor=actor, verb="user.real_name_revoked", target=user, subject_user=user, data={"reason": reason}
        )
        # Expired lines are locked too, though they stay expired: a renewal bringing one back
        # at this moment then finishes first, and the line is suspended here with the others.
        lines = Line.objects.select_for_update().filter(
            owner=user, status__in=[Line.Status.ACTIVE, Line.Status.EXPIRED]
        )
        suspended = [line for line in lines.order_by("pk") if line.status == Line.Status.ACTIVE]
        for line in suspended:
            line.status = Line.Status.SUSPENDED
        Line.objects.bulk_update(suspended, ["status"])
        audit_record_many(
            actor=actor,
            verb="line.suspended",
            targets=suspended,
            subject_user_ids=[user.pk for _line in suspended],
            data={line.pk: {"from": "active", "to": "suspended", "reason": reason} for line in suspended},
        )
    return suspended


ERR_LINE_NOT_RENEWABLE = gettext_lazy("This line cannot be renewed: it is cancelled or not activated yet.")
RENEWABLE_STATUSES = (Line.Status.ACTIVE, Line.Status.EXPIRED, Line.Status.SUSPENDED)


def add_months(moment: datetime, months: int) -> datetime:
    """The same local day and time ``months`` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    return timezone.localtime(moment) + relativedelta(months=months)


def lines_extend(
    *, extensions: Mapping[int, int], actor: User | None, now: datetime | None = None
) -> dict[int, datetime]:
    """Extend many lines' validity at once: ``extensions`` maps a line id to the months it gains.

    Each line gains from its end, or from now if it has lapsed. An expired line comes
    back into service, only if its owner is verified (else ``LineError``) and its ID has
    room under 一证五号 (else ``LineLimitExceeded``); either refusal extends nothing. A
    suspended one stays suspended (its owner's real name was revoked: only a new
    verification brings it back, ``lines_activate_waiting``). Locks
    the lines; one UPDATE (and one for the lapsed) and one INSERT of their
    audit events. Returns the new validity ends. Every renewal path (online, store,
    auto-renew) comes here.
    """
    now = now or timezone.now()
    with transaction.atomic():
        lines = list(
            Line.objects.select_for_update()
            .filter(pk__in=list(extensions))
            .only("pk", "owner_id", "status", "validity_end")
            .order_by("pk")
        )
        if len(lines) != len(extensions) or any(line.status not in RENEWABLE_STATUSES for line in lines):
            raise LineError(ERR_LINE_NOT_RENEWABLE)
        lapsed = [line.pk for line in lines if line.status == Line.Status.EXPIRED]
        returning: dict[int, int] = {}
        for line in lines:
            if line.status == Line.Status.EXPIRED:
                returning[line.owner_id] = returning.get(line.owner_id, 0) + 1
        # Read after the lines are locked, in a statement of its own: a revocation locks its
        # owner's expired lines too, so it has either committed (and is seen here) or waits
        # for this transaction and then suspends the line made active here. A value joined
        # into the locking read could be the one from before a revocation it waited for.
        if returning and User.objects.filter(pk__in=list(returning), real_name_verified_at__isnull=True).exists():
            raise LineError(ERR_OWNER_NOT_VERIFIED)
        lines_activation_allow(adding=returning)
        for line in lines:
            line.validity_end = add_months(max(line.validity_end or now, now), extensions[line.pk])
        rows_update(Line, lines, ["validity_end"])
        if lapsed:
            Line.objects.filter(pk__in=lapsed).update(status=Line.Status.ACTIVE)
        audit_record_many(
            actor=actor,
            verb="line.renewed",
            targets=lines,
            subject_user_ids=[line.owner_id for line in lines],
            data={line.pk: {"validity_end": line.validity_end.isoformat()} for line in lines},
        )
    return {line.pk: line.validity_end for line in lines}


def lines_expire_lapsed(*, grace: timedelta, now: datetime | None = None, limit: int = 1000) -> list[Line]:
    """Move up to ``limit`` active lines whose validity ended more than ``grace`` ago to expired."""
    now = now or timezone.now()
    with transaction.atomic():
        lapsed = list(
            Line.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Line.Status.ACTIVE, validity_end__lt=now - grace)
            .select_related("owner")
            .order_by("pk")[:limit]
        )
        for line in lapsed:
            line.status = Line.Status.EXPIRED
        Line.objects.bulk_update(lapsed, ["status"])
        audit_record_many(
            actor=None, verb="line.expired", targets=lapsed, subject_user_ids=[line.owner_id for line in lapsed]
        )
    return lapsed


ERR_NUMBER_QUARANTINED = gettext_lazy("This number was cancelled recently and cannot be reissued before %(until)s.")


def line_cancel(*, line_id: int, actor, quarantine_days: int) -> Line:
    """Take a line out of service for good and quarantine its number."""
    now = timezone.now()
    with transaction.atomic():
        line = Line.objects.select_for_update().get(pk=line_id)
        from_status = line.status
        line.status = Line.Status.CANCELLED
        line.cancelled_at = now
        line.save(update_fields=["status", "cancelled_at"])
        NumberQuarantine.objects.update_or_create(
            msisdn=line.msisdn, defaults={"until": now + timedelta(days=quarantine_days), "created_at": now}
        )
        audit_record(
            actor=actor,
            verb="line.cancelled",
            target=line,
            subject_user=line.owner,
            data={"from": from_status, "quarantine_days": quarantine_days},
        )
    return line
