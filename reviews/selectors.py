"""Reads for the verification pages: the queue, the review screen, the customer's history."""

import logging
import statistics
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from accounts.models import Line, User
from accounts.phones import parse_phone, phone_display
from heyon_site.security import is_store_staff
from reviews import pii
from reviews.business_days import add_business_days
from reviews.models import (
    Certificate,
    DraftPhoto,
    MachineCheck,
    QualitySample,
    ReasonCode,
    Submission,
    SubmissionEvent,
    SubmissionPhoto,
)

logger = logging.getLogger(__name__)

QUEUE_PAGE_SIZE = 50
# The queue's counts stop here: past it the page says "5000+" rather than count every row.
QUEUE_COUNT_CAP = 5000
QUEUE_SEARCH_MAX_LENGTH = 60

# Each sort is a key the keyset pagination walks; the primary key breaks ties. "waiting" is
# longest-waiting first, "attempt" most attempts first (then oldest due).
QUEUE_SORTS = {
    "due": ("due_at", "pk"),
    "waiting": ("submitted_at", "pk"),
    "attempt": ("-attempt_number", "due_at", "pk"),
}
QUEUE_SORT_DEFAULT = "due"

# How late an open submission is, by degree: only the worst are red (see ``queue_urgency``).
DUE_SOON = timedelta(hours=4)
LATE_DAY = timedelta(days=1)
LATE_DAYS = timedelta(days=3)


@dataclass(frozen=True)
class QueueSearch:
    """What a queue search term was read as (``kind``) and the condition it becomes."""

    kind: str
    condition: Q


QUEUE_SEARCH_KINDS = {
    "number": _("submission number"),
    "id_number": _("ID number (whole)"),
    "phone": _("mobile number"),
    "name": _("full name (whole, exactly)"),
}


def queue_search(term: str | None) -> QueueSearch | None:
    """Read a search term as a submission number, a whole ID number, a mobile number or a whole name.

    ID numbers and names are found through their blind indexes (keyed hashes of the normalised
    value), so only a whole value matches: a part of a name or of an ID number finds nothing.
    """
    term = (term or "").strip()
    if not term:
        return None
    number = term.removeprefix("#")
    if number.isdigit() and (term.startswith("#") or len(number) <= 9):
        return QueueSearch("number", Q(pk=int(number)) if len(number) <= 18 else Q(pk__in=[]))
    id_number = pii.normalize_id_number(term)
    if pii.ID_NUMBER_SHAPE.fullmatch(id_number):
        return QueueSearch("id_number", Q(id_number_index=pii.id_number_blind_index(id_number)))
    phone = parse_phone(term)
    if phone:
        return QueueSearch("phone", Q(user__phone=phone) | Q(contact_phone=phone))
    return QueueSearch("name", Q(full_name_index=pii.name_blind_index(term)))


def machine_check_problem() -> Q:
    """Submissions whose machine checks found something: the queue's "Found by machine checks" filter.

    What ``machine_check_suggested_reasons`` suggests a reason for, and any field read
    differently from what it is compared with (``mismatch_count``). Nothing the checks
    could not read or run counts: that says nothing about the customer.
    """
    done = Q(machine_check__status=MachineCheck.Status.DONE)
    found = (
        Q(machine_check__mismatch_count__gt=0)
        | Q(machine_check__face_band=MachineCheck.FaceBand.DIFFERENT)
        | Q(machine_check__face_note="no_face_in_handheld")
        | Q(machine_check__document_expiry=MachineCheck.DocumentExpiry.EXPIRED)
        | Q(machine_check__sides__front="looks_like_other_side")
        | Q(machine_check__sides__back="looks_like_other_side")
    )
    return Q(machine_check__is_underage=True) | (done & found)


def queue_condition(filters: dict, *, now: datetime) -> Q:
    """The filters and search of the queue page as one condition on submissions."""
    condition = Q()
    channel = filters.get("channel")
    if channel in Submission.Channel.values:
        condition &= Q(channel=channel)
    if filters.get("overdue"):
        condition &= Q(due_at__lt=now)
    if filters.get("resubmission"):
        condition &= Q(attempt_number__gt=1)
    if filters.get("flagged"):
        condition &= Q(is_flagged=True)
    if filters.get("hinted"):
        condition &= Q(has_photo_hints=True)
    if filters.get("escalated"):
        condition &= Q(escalated_at__isnull=False)
    if filters.get("check_problem"):
        condition &= machine_check_problem()
    if filters.get("hide_escalated"):
        # Reviewers who may not decide escalated submissions do not see them at all.
        condition &= Q(escalated_at__isnull=True)
    search = queue_search(filters.get("q"))
    if search is not None:
        condition &= search.condition
    return condition


def apply_queue_filters(queryset, filters: dict, *, now: datetime):
    return queryset.filter(queue_condition(filters, now=now))


def queue_order(filters: dict) -> tuple[str, ...]:
    return QUEUE_SORTS.get(filters.get("sort") or QUEUE_SORT_DEFAULT, QUEUE_SORTS[QUEUE_SORT_DEFAULT])


def claimable_submissions(*, filters: dict, now: datetime):
    """Submissions a reviewer may claim now (waiting, or claimed by someone whose lease ran out).

    Filtered, searched and sorted as the queue page with the same ``filters`` shows them, so
    that "Next" (and decide-and-next) hands out the first row the reviewer is looking at.
    """
    claimable = Submission.objects.filter(
        Q(status=Submission.Status.PENDING) | Q(status=Submission.Status.IN_REVIEW, claim_expires_at__lte=now)
    )
    return apply_queue_filters(claimable, filters, now=now).order_by(*queue_order(filters))


def claims_held(*, reviewer_id: int, now: datetime):
    """The reviewer's live claims, oldest due first."""
    return Submission.objects.filter(
        claimed_by_id=reviewer_id, status=Submission.Status.IN_REVIEW, claim_expires_at__gt=now
    ).order_by("due_at", "pk")


def line_limit_flag(*, user_id: int, id_number_index: str) -> dict | None:
    """The 一证五号 flag as things stand now, or None when approving would keep the ID within the limit.

    Counts what accounts' ``lines_activation_allow`` counts when the approval activates:
    the active lines of the other accounts verified with this ID, and this account's
    lines that are or would become active (active, waiting, suspended).
    """
    own = Q(owner_id=user_id, status__in=[Line.Status.ACTIVE, Line.Status.INACTIVE, Line.Status.SUSPENDED])
    elsewhere = Q(status=Line.Status.ACTIVE, owner__identity_index=id_number_index) & ~Q(owner_id=user_id)
    counts = Line.objects.filter(own | elsewhere).aggregate(
        own=Count("pk", filter=own), held=Count("pk", filter=elsewhere)
    )
    held, own = counts["held"], counts["own"]
    if held + own <= settings.MAX_LINES_PER_ID:
        return None
    return {"held_elsewhere": held, "this_account": own, "max": settings.MAX_LINES_PER_ID}


def with_current_line_limit(submission: Submission) -> Submission:
    """Replace an open submission's 一证五号 flag (computed when it was submitted) with today's, in memory.

    Lines attached or activated since the submission count: the review screen shows the
    flag the approval will check.
    """
    if submission.status not in Submission.OPEN_STATUSES:
        return submission
    current = line_limit_flag(user_id=submission.user_id, id_number_index=submission.id_number_index)
    return _with_line_limit_flag(submission, current)


def _with_line_limit_flag(submission: Submission, flag: dict | None) -> Submission:
    """The submission with its stored 一证五号 flag replaced by ``flag`` (dropped if None), in memory."""
    flags = {key: value for key, value in (submission.flags or {}).items() if key != "line_limit"}
    if flag is not None:
        flags["line_limit"] = flag
    submission.flags = flags
    submission.is_flagged = bool(flags)
    return submission


# The queue's state in a URL: the queue page, "Next", a row's "Open" and decide-and-next all read it.
QUEUE_FLAGS = ("overdue", "resubmission", "flagged", "hinted", "check_problem", "escalated")


def queue_filters_from(params) -> dict:
    sort = params.get("sort")
    return {
        "channel": params.get("channel", "") if params.get("channel") in Submission.Channel.values else "",
        **{name: params.get(name) == "1" for name in QUEUE_FLAGS},
        "q": " ".join((params.get("q") or "").split())[:QUEUE_SEARCH_MAX_LENGTH],
        "sort": sort if sort in QUEUE_SORTS and sort != QUEUE_SORT_DEFAULT else "",
    }


QUEUE_KEYS = ("channel", *QUEUE_FLAGS, "q", "sort")


def queue_query(filters: dict) -> dict:
    """The filters as query parameters, leaving out those not set (``{"flagged": "1", "q": "王小明"}``)."""
    return {key: "1" if value is True else value for key, value in filters.items() if value and key in QUEUE_KEYS}


@dataclass
class QueuePage:
    rows: list
    next_cursor: str | None
    now: datetime
    counts: dict | None = None
    search: QueueSearch | None = None


def _sort_fields(order) -> list[str]:
    return [field.lstrip("-") for field in order]


def encode_cursor(submission, sort: str = "") -> str:
    """The position after ``submission`` in the queue sorted by ``sort``: its sort key as text."""
    values = [getattr(submission, field) for field in _sort_fields(QUEUE_SORTS.get(sort or QUEUE_SORT_DEFAULT))]
    return "|".join(value.isoformat() if isinstance(value, datetime) else str(value) for value in values)


def decode_cursor(cursor: str | None, sort: str = ""):
    """The sort key a cursor holds, or None for a missing or malformed cursor (the first page)."""
    fields = _sort_fields(QUEUE_SORTS.get(sort or QUEUE_SORT_DEFAULT, QUEUE_SORTS[QUEUE_SORT_DEFAULT]))
    parts = (cursor or "").split("|")
    if len(parts) != len(fields):
        return None
    values = []
    for field, text in zip(fields, parts, strict=True):
        if field in ("pk", "attempt_number"):
            if not text.isdigit() or len(text) > 18:
                return None
            values.append(int(text))
        else:
            try:
                moment = parse_datetime(text)
            except ValueError:
                return None
            if moment is None:
                return None
            values.append(moment)
    return tuple(values)


def _after(order, values) -> Q:
    """Rows after the key ``values`` in ``order``: the row comparison ``(a, b) > (x, y)`` spelled with ORs.

    The leading bound on the first field alone lets the database walk the sort's index from
    the cursor (PostgreSQL and SQLite both do), instead of filtering the whole queue.
    """
    after, equal = Q(), Q()
    for field, value in zip(order, values, strict=True):
        name = field.lstrip("-")
        after |= equal & Q(**{f"{name}__{'lt' if field.startswith('-') else 'gt'}": value})
        equal &= Q(**{name: value})
    first = order[0]
    return Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]}) & after


def queue_urgency(submission, now: datetime) -> str:
    """How late an open submission is: "", "due_soon", "late" (< 1 day), "later" (< 3 days) or "critical"."""
    late_by = now - submission.due_at
    if late_by <= -DUE_SOON:
        return ""
    if late_by <= timedelta(0):
        return "due_soon"
    if late_by <= LATE_DAY:
        return "late"
    if late_by <= LATE_DAYS:
        return "later"
    return "critical"


def queue_page(*, filters: dict, cursor: str | None = None, size: int = QUEUE_PAGE_SIZE) -> QueuePage:
    """Return one page of open submissions in the chosen order, in two queries (rows, their photos' hints).

    Each row's machine check (``row.check``, None at a desk) comes in the rows' query, with
    ``row.check_problem`` from ``machine_check_problem``.

    Keyset pagination: the page after a cursor starts after the cursor's sort key, which the
    sort's partial index (``queue_due``, ``queue_waiting``, ``queue_attempt``) answers
    directly, so page 4,000 costs what page 1 costs. There is no COUNT(*) and no OFFSET.
    """
    now = timezone.now()
    order = queue_order(filters)
    rows = apply_queue_filters(Submission.objects.filter(status__in=Submission.OPEN_STATUSES), filters, now=now)
    position = decode_cursor(cursor, filters.get("sort") or "")
    if position is not None:
        rows = rows.filter(_after(order, position))
    page = list(
        rows.select_related("user", "claimed_by", "machine_check")
        .annotate(check_problem=ExpressionWrapper(machine_check_problem(), output_field=BooleanField()))
        .only(
            "pk",
            "status",
            "channel",
            "attempt_number",
            "full_name",
            "id_number_masked",
            "submitted_at",
            "due_at",
            "is_flagged",
            "flags",
            "escalated_at",
            "claim_expires_at",
            "user__phone",
            "claimed_by__username",
            "machine_check__status",
            "machine_check__is_underage",
            "machine_check__mismatch_count",
            "machine_check__sides",
            "machine_check__face_band",
            "machine_check__face_note",
            "machine_check__document_expiry",
        )
        .prefetch_related(Prefetch("photos", queryset=SubmissionPhoto.objects.only("pk", "submission_id", "hints")))
        .order_by(*order)[: size + 1]
    )
    next_cursor = encode_cursor(page[size - 1], filters.get("sort") or "") if len(page) > size else None
    page = page[:size]
    for row in page:
        row.urgency = queue_urgency(row, now)
        warnings = {code for photo in row.photos.all() for code in (photo.hints or {}).get("warnings", [])}
        row.hint_codes = sorted(warnings)
        row.check = getattr(row, "machine_check", None)
    return QueuePage(rows=page, next_cursor=next_cursor, now=now, search=queue_search(filters.get("q")))


def queue_counts(*, filters: dict, now: datetime) -> dict:
    """The queue's size, the rows matching ``filters`` and each filter's own count, in one bounded query.

    Counts stop at QUEUE_COUNT_CAP rows (read through the partial queue index): a queue of
    300 is counted exactly, one of 200,000 says "5000+" instead of counting every row on
    every view. ``capped`` says the figures are lower bounds.
    """
    visible = Submission.objects.filter(status__in=Submission.OPEN_STATUSES)
    if filters.get("hide_escalated"):
        visible = visible.filter(escalated_at__isnull=True)
    condition = queue_condition(filters, now=now)
    matches = ExpressionWrapper(condition, output_field=BooleanField()) if condition else Value(True)
    # Counted over the first QUEUE_COUNT_CAP rows as a subquery (SELECT COUNT … FROM (… LIMIT n)):
    # the database walks the queue index that far and no further.
    bounded = visible.annotate(
        matches=matches, found_by_checks=ExpressionWrapper(machine_check_problem(), output_field=BooleanField())
    ).order_by("due_at", "pk")[:QUEUE_COUNT_CAP]
    counts = bounded.aggregate(
        total=Count("pk"),
        matching=Count("pk", filter=Q(matches=True)),
        overdue=Count("pk", filter=Q(due_at__lt=now)),
        resubmission=Count("pk", filter=Q(attempt_number__gt=1)),
        flagged=Count("pk", filter=Q(is_flagged=True)),
        hinted=Count("pk", filter=Q(has_photo_hints=True)),
        escalated=Count("pk", filter=Q(escalated_at__isnull=False)),
        check_problem=Count("pk", filter=Q(found_by_checks=True)),
        online=Count("pk", filter=Q(channel=Submission.Channel.ONLINE)),
        offline=Count("pk", filter=Q(channel=Submission.Channel.OFFLINE)),
    )
    counts["capped"] = counts["total"] >= QUEUE_COUNT_CAP
    return counts


# Only senior reviewers open an escalated submission (its screen, its photos, its data);
# the services check this same permission before a claim or a decision.
ESCALATED_PERMISSION = "reviews.decide_escalated"


def may_open_submission(*, submission: Submission, viewer) -> bool:
    """Whether staff member ``viewer`` may open ``submission`` (permission to review assumed).

    An escalated submission is for senior reviewers; the reviewer who escalated it may
    open it again once it is decided, to see the outcome.
    """
    return (
        submission.escalated_at is None
        or viewer.has_perm(ESCALATED_PERMISSION)
        or (submission.escalated_by_id == viewer.pk and submission.status not in Submission.OPEN_STATUSES)
    )


def submissions_openable_by(*, viewer, queryset=None):
    """``queryset`` (all submissions by default) without those ``viewer`` may not open."""
    queryset = Submission.objects.all() if queryset is None else queryset
    if viewer.has_perm(ESCALATED_PERMISSION):
        return queryset
    return queryset.filter(
        Q(escalated_at__isnull=True) | (Q(escalated_by=viewer) & ~Q(status__in=Submission.OPEN_STATUSES))
    )


def submission_for_review(*, submission_id: int, viewer) -> Submission:
    """The submission with everything its review screen shows; DoesNotExist if ``viewer`` may not open it.

    An open submission's 一证五号 flag is today's (``with_current_line_limit``).
    """
    submission = (
        submissions_openable_by(viewer=viewer)
        .select_related(
            "user",
            "claimed_by",
            "decided_by",
            "escalated_by",
            "revoked_by",
            "service_point",
            "final_rejection_proposed_by",
            "machine_check",
        )
        .prefetch_related("photos", "reasons", "events__actor")
        .get(pk=submission_id)
    )
    return with_current_line_limit(submission)


def submission_for_decision(*, submission_id: int, viewer, approving: bool = False) -> Submission:
    """What the decision form checks before the service decides: the flags as they stand today.

    ``approving``: the 一证五号 count is left to the approval, which counts under the lock
    on the ID (the only count that decides; a count here would be the same query again),
    so the flag is dropped rather than counted. A rejection needs today's flag: over the
    limit it may only give LINE_LIMIT, and LINE_LIMIT then needs no confirmation.
    DoesNotExist if ``viewer`` may not open it.
    """
    submission = submissions_openable_by(viewer=viewer).get(pk=submission_id)
    if approving:
        return _with_line_limit_flag(submission, None)
    return with_current_line_limit(submission)


def submission_openable_exists(*, submission_id: int, viewer) -> bool:
    return submissions_openable_by(viewer=viewer).filter(pk=submission_id).exists()


def earlier_submissions(*, submission: Submission, viewer):
    return (
        submissions_openable_by(viewer=viewer)
        .filter(user_id=submission.user_id, attempt_number__lt=submission.attempt_number)
        .select_related("decided_by")
        .prefetch_related("reasons", "photos")
        .order_by("-attempt_number")
    )


# What a photo's quality hint suggests as a reason to reject (the reviewer may untick it).
HINT_REASONS = {
    "blurry": "IMG_BLURRY",
    "too_dark": "IMG_DARK",
    "glare": "IMG_GLARE",
    "too_bright": "IMG_GLARE",
    "black_and_white": "NOT_ORIGINAL",
    "unexpected_face": "SIDE_WRONG",
}
HANDHELD_HINT_REASONS = {"no_face": "HANDHELD_BAD", "faces_missing": "HANDHELD_BAD"}


def suggested_reason_codes(*, submission: Submission, extra=()) -> list[str]:
    """The reason codes the photos' quality hints and the flags suggest, for the picker to preselect.

    ``extra`` adds codes suggested elsewhere (the machine checks). An open submission over
    the line limit can only be rejected with LINE_LIMIT, so that is all it suggests.
    """
    if (submission.flags or {}).get("line_limit"):
        return ["LINE_LIMIT"]
    codes = []
    for photo in submission.photos.all():
        table = {**HINT_REASONS, **(HANDHELD_HINT_REASONS if photo.kind == SubmissionPhoto.Kind.ID_HANDHELD else {})}
        if photo.kind == SubmissionPhoto.Kind.ID_FRONT:
            table.pop("unexpected_face")
        codes += [table[warning] for warning in (photo.hints or {}).get("warnings", []) if warning in table]
    codes += list(extra)
    return list(dict.fromkeys(codes))


# Reason codes change only in the admin (and by migration) and are read by every review
# screen and decision: kept in the cache, forgotten when one is saved or deleted
# (reviews.apps), and at most REASON_CODES_CACHE_SECONDS old after a change no signal
# reports (a migration, a queryset update).
REASON_CODES_CACHE_KEY = "reviews:reason-codes"
REASON_CODES_CACHE_SECONDS = 300


def all_reason_codes() -> dict:
    """Every reason code, active or not, by code: the review screen names the reasons of old events too."""
    try:
        reasons = cache.get(REASON_CODES_CACHE_KEY)
    except Exception:  # noqa: BLE001 - a cache outage costs the query
        reasons = None
    if reasons is None:
        reasons = {reason.code: reason for reason in ReasonCode.objects.order_by("sort_order", "code")}
        try:
            cache.set(REASON_CODES_CACHE_KEY, reasons, REASON_CODES_CACHE_SECONDS)
        except Exception:  # noqa: BLE001, S110 - the next read asks the database again
            pass
    return reasons


def reason_codes_changed(**_signal):
    """Forget the cached reason codes now and again once the change commits.

    Again after the commit: a review screen read between the two would have cached the
    codes as they were before the change.
    """
    _reason_codes_forget()
    transaction.on_commit(_reason_codes_forget)


def _reason_codes_forget():
    try:
        cache.delete(REASON_CODES_CACHE_KEY)
    except Exception:  # the cached codes then expire on their own
        logger.exception("Reason codes changed but the cache could not be told")


@dataclass
class OtherAccount:
    """An account the duplicate flags point at, as the review screen's investigation panel shows it."""

    user: object
    submissions: list  # the account's submissions this viewer may open, newest first
    matching_photos: list  # (this submission's photo kind, the other account's photo) pairs

    @property
    def latest(self):
        return self.submissions[0] if self.submissions else None


def duplicate_accounts(*, submission: Submission, viewer, limit: int = 10) -> list[OtherAccount]:
    """The other accounts the duplicate-ID and duplicate-photo flags name, with what ``viewer`` may open.

    Three queries whatever the number of accounts: the accounts, their submissions (only
    those ``viewer`` may open) and those submissions' photos.
    """
    flags = submission.flags or {}
    account_ids = list(flags.get("duplicate_id", {}).get("accounts", []))
    photo_matches = flags.get("duplicate_photo", [])
    account_ids += [match.get("account") for match in photo_matches]
    account_ids = [pk for pk in dict.fromkeys(account_ids) if pk is not None and pk != submission.user_id][:limit]
    if not account_ids:
        return []
    users = {user.pk: user for user in User.objects.filter(pk__in=account_ids)}
    submissions_by_user = {}
    rows = (
        submissions_openable_by(viewer=viewer)
        .filter(user_id__in=users)
        .prefetch_related("photos")
        .order_by("user_id", "-attempt_number")
    )
    photos_by_submission = {}
    for row in rows:
        submissions_by_user.setdefault(row.user_id, []).append(row)
        photos_by_submission[row.pk] = {photo.kind: photo for photo in row.photos.all()}
    accounts = []
    for pk in account_ids:
        if pk not in users:
            continue  # erased since the flag was set
        matching = []
        for match in photo_matches:
            photo = photos_by_submission.get(match.get("submission"), {}).get(match.get("kind"))
            if match.get("account") == pk and photo is not None:
                matching.append((match.get("kind"), photo))
        accounts.append(
            OtherAccount(user=users[pk], submissions=submissions_by_user.get(pk, []), matching_photos=matching)
        )
    return accounts


def recent_escalations_by(*, reviewer, limit: int = 5):
    """The reviewer's latest escalations, with their outcome so far (the escalator follows them up)."""
    return (
        Submission.objects.filter(escalated_by=reviewer)
        .select_related("decided_by")
        .only("pk", "status", "escalated_at", "decided_by")
        .order_by("-escalated_at")[:limit]
    )


def customer_history(*, user):
    """The customer's submissions, newest first, with reasons and photos, in three queries."""
    return (
        Submission.objects.filter(user=user)
        .prefetch_related(
            "reasons", Prefetch("photos", queryset=SubmissionPhoto.objects.only("pk", "kind", "submission_id"))
        )
        .order_by("-attempt_number")
    )


def active_reason_codes():
    return ReasonCode.objects.filter(is_active=True).order_by("sort_order", "code")


def queue_depth() -> int:
    return Submission.objects.filter(status__in=Submission.OPEN_STATUSES).count()


def photo_for_viewer(*, photo_id: int, actor):
    """The photo if ``actor`` may see it, else None; and whether ``actor`` sees it as staff.

    Its owner may; staff allowed to view ID photos may, except an escalated submission's
    photos, which only senior reviewers open.
    """
    photo = SubmissionPhoto.objects.select_related("submission").filter(pk=photo_id).first()
    if photo is None:
        return None, False
    if photo.submission.user_id == actor.pk:
        return photo, False
    if (
        actor.is_staff
        and actor.has_perm("reviews.view_id_photos")
        and may_open_submission(submission=photo.submission, viewer=actor)
    ):
        return photo, True
    return None, False


def expected_decision_window(submission: Submission):
    """The customer-facing 'expect a decision between' dates: 1 to N business days."""
    return add_business_days(submission.submitted_at, 1).date(), timezone.localtime(submission.due_at).date()


def latest_submission(*, user):
    return Submission.objects.filter(user=user).order_by("-attempt_number").first()


def certificate_by_number(*, number: str):
    return (
        Certificate.objects.select_related("service_point", "line", "submission__user", "issued_by")
        .filter(number=number)
        .first()
    )


def certificate_for_staff(*, number: str, user):
    """The certificate ``user`` may open at the desk, or None (answered as if it did not exist).

    Staff with the view permission open any, except store staff (a clerk), who open only
    their own service point's, and none without one: as for receipts
    (``billing.selectors.receipt_for_viewer``).
    """
    if not (user.is_authenticated and user.is_staff and user.has_perm("reviews.view_certificate")):
        return None
    certificate = certificate_by_number(number=number)
    if certificate is None:
        return None
    if is_store_staff(user) and (
        user.service_point_id is None or certificate.service_point_id != user.service_point_id
    ):
        return None
    return certificate


def recent_certificates(*, service_point, limit: int = 20):
    return (
        Certificate.objects.filter(service_point=service_point)
        .select_related("line", "issued_by")
        .order_by("-issued_at")[:limit]
    )


def identity_matches(*, user, id_number: str) -> bool:
    """Whether this ID number is the one the user was verified with (compared by blind index)."""
    return Submission.objects.filter(
        user=user, status=Submission.Status.APPROVED, id_number_index=pii.id_number_blind_index(id_number)
    ).exists()


def verified_full_name(*, user) -> str | None:
    """The name the customer was verified with (latest approval), or None."""
    return (
        Submission.objects.filter(user=user, status=Submission.Status.APPROVED)
        .order_by("-decided_at")
        .values_list("full_name", flat=True)
        .first()
    )


DASHBOARD_CACHE_SECONDS = 600
# A revoked submission was approved by its reviewer: the later revocation does not undo
# that decision in the day's figures (its reasons count in the breakdown).
APPROVED_DECISIONS = (Submission.Status.APPROVED, Submission.Status.REVOKED)


def _span_figures(*, since: datetime, until: datetime) -> dict:
    """Submissions, decisions (by day and reviewer) and rejection reasons between two moments.

    Reads the submitted_at and decided_at indexes only: the counts are of indexed columns, not
    ids, so PostgreSQL answers from the index alone. Only rejections and revocations carry
    reasons; saying so lets the decided_at index skip the approvals.
    """
    submitted = dict(
        Submission.objects.filter(submitted_at__gte=since, submitted_at__lt=until)
        .annotate(day=TruncDate("submitted_at"))
        .values("day")
        .annotate(n=Count("*"))
        .values_list("day", "n")
    )
    decided = {
        (row["day"], row["decided_by"]): (row["approved"], row["rejected"])
        for row in Submission.objects.filter(
            decided_at__gte=since,
            decided_at__lt=until,
            status__in=[*APPROVED_DECISIONS, Submission.Status.REJECTED],
        )
        .annotate(day=TruncDate("decided_at"))
        .values("day", "decided_by")
        .annotate(
            approved=Count("decided_at", filter=Q(status__in=APPROVED_DECISIONS)),
            rejected=Count("decided_at", filter=Q(status=Submission.Status.REJECTED)),
        )
    }
    reasons = {
        (row["reasoncode__code"], row["reasoncode__label_zh"]): row["n"]
        for row in Submission.reasons.through.objects.filter(
            submission__decided_at__gte=since,
            submission__decided_at__lt=until,
            submission__status__in=[Submission.Status.REJECTED, Submission.Status.REVOKED],
        )
        .values("reasoncode__code", "reasoncode__label_zh")
        .annotate(n=Count("pk"))
    }
    return {"submitted": submitted, "decided": decided, "reasons": reasons}


def _closed_days_key(*, since: datetime, today_start: datetime) -> str:
    """The cache key of the days before today.

    It holds the latest submission and decision time before today, so rows added to or moved
    into those days are counted at once; a change that moves neither (a revocation, an
    erasure) shows at the next refresh, within DASHBOARD_CACHE_SECONDS.
    """
    latest = [
        Submission.objects.filter(**{f"{field}__lt": today_start})
        .order_by(f"-{field}")
        .values_list(field, flat=True)
        .first()
        for field in ("submitted_at", "decided_at")
    ]
    return "reviews:dashboard:" + ":".join(moment.isoformat() if moment else "-" for moment in [since, *latest])


def _closed_days_figures(*, since: datetime, today_start: datetime) -> dict:
    """``_span_figures`` of the days before today, cached: they hardly change once the day is over."""
    key = _closed_days_key(since=since, today_start=today_start)
    figures = cache.get(key)
    if figures is None:
        figures = _span_figures(since=since, until=today_start)
        cache.set(key, figures, DASHBOARD_CACHE_SECONDS)
    return figures


def _dashboard_span(*, now: datetime, days: int) -> tuple[datetime, datetime]:
    """The start of the dashboard's first day and of today, in the site's time zone."""
    today = timezone.localtime(now).date()
    start = timezone.make_aware(datetime.combine(today - timedelta(days=days - 1), time.min))
    return start, timezone.make_aware(datetime.combine(today, time.min))


def dashboard_cache_refresh(*, now: datetime | None = None, days: int = 30) -> str:
    """Re-count the days before today and store them, so that no staff request has to.

    Run by the scheduler more often than the cache expires (``reviews.tasks.refresh_dashboard``):
    with a shared cache (Redis) the dashboard then never counts a month of rows while someone
    waits for it. Without a scheduler the first view after expiry counts them, as before.
    """
    since, today_start = _dashboard_span(now=now or timezone.now(), days=days)
    key = _closed_days_key(since=since, today_start=today_start)
    cache.set(key, _span_figures(since=since, until=today_start), DASHBOARD_CACHE_SECONDS)
    reviewer_figures(now=now, days=days, refresh=True)
    return key


def _today_figures(*, today_start: datetime) -> dict:
    """Today's submissions and decisions in one query (a few thousand rows at most), and its reasons."""
    rows = (
        Submission.objects.filter(Q(submitted_at__gte=today_start) | Q(decided_at__gte=today_start))
        .values("decided_by")
        .annotate(
            submitted=Count("pk", filter=Q(submitted_at__gte=today_start)),
            approved=Count("pk", filter=Q(decided_at__gte=today_start, status__in=APPROVED_DECISIONS)),
            rejected=Count("pk", filter=Q(decided_at__gte=today_start, status=Submission.Status.REJECTED)),
        )
    )
    today = timezone.localtime(today_start).date()
    figures = {"submitted": {}, "decided": {}, "reasons": {}}
    for row in rows:
        if row["submitted"]:
            figures["submitted"][today] = figures["submitted"].get(today, 0) + row["submitted"]
        if row["approved"] or row["rejected"]:
            figures["decided"][(today, row["decided_by"])] = (row["approved"], row["rejected"])
    figures["reasons"] = {
        (row["reasoncode__code"], row["reasoncode__label_zh"]): row["n"]
        for row in Submission.reasons.through.objects.filter(
            submission__decided_at__gte=today_start,
            submission__status__in=[Submission.Status.REJECTED, Submission.Status.REVOKED],
        )
        .values("reasoncode__code", "reasoncode__label_zh")
        .annotate(n=Count("pk"))
    }
    return figures


def dashboard_figures(*, user, now=None, days: int = 30) -> dict:
    """Everything the staff dashboard shows, in a fixed number of queries whatever the table's size.

    Open-queue figures use the partial queue index and are always live, as are today's; the
    days before today come from a short-lived cache (see ``_closed_days_figures``), so a view
    does not re-count a month of decisions.
    """
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    start, today_start = _dashboard_span(now=now, days=days)
    open_rows = Submission.objects.filter(status__in=Submission.OPEN_STATUSES).aggregate(
        depth=Count("pk"), oldest=Min("submitted_at"), overdue=Count("pk", filter=Q(due_at__lt=now))
    )
    spans = [_closed_days_figures(since=start, today_start=today_start), _today_figures(today_start=today_start)]
    submitted, decided, reason_counts = {}, {}, {}
    for span in spans:
        for day, n in span["submitted"].items():
            submitted[day] = submitted.get(day, 0) + n
        for (day, decided_by), (approved, rejected) in span["decided"].items():
            row = decided.setdefault(day, {"approved": 0, "rejected": 0, "mine": 0, "mine_approved": 0})
            row["approved"] += approved
            row["rejected"] += rejected
            if decided_by == user.pk:
                row["mine"] += approved + rejected
                row["mine_approved"] += approved
        for (code, label), n in span["reasons"].items():
            reason_counts[(code, label)] = reason_counts.get((code, label), 0) + n
    reasons = [
        {"reasoncode__code": code, "reasoncode__label_zh": label, "n": n}
        for (code, label), n in sorted(reason_counts.items(), key=lambda item: (-item[1], item[0]))[:10]
    ]
    chart = []
    for offset in range(days):
        day = today - timedelta(days=days - 1 - offset)
        row = decided.get(day, {})
        chart.append(
            {
                "day": day,
                "submitted": submitted.get(day, 0),
                "approved": row.get("approved", 0),
                "rejected": row.get("rejected", 0),
            }
        )
    total_approved = sum(row["approved"] for row in decided.values())
    total_decided = total_approved + sum(row["rejected"] for row in decided.values())
    mine_today = decided.get(today, {})
    mine_total = sum(row["mine"] for row in decided.values())
    peak = max([max(row["submitted"], row["approved"] + row["rejected"]) for row in chart] + [1])
    return {
        "queue_depth": open_rows["depth"],
        "oldest_pending_hours": (now - open_rows["oldest"]).total_seconds() / 3600 if open_rows["oldest"] else None,
        "overdue": open_rows["overdue"],
        "decisions_today": mine_today.get("approved", 0) + mine_today.get("rejected", 0),
        "approval_rate": (total_approved / total_decided) if total_decided else None,
        "reasons": reasons,
        "chart": chart,
        "chart_peak": peak,
        "mine_today": mine_today.get("mine", 0),
        "mine_30_days": mine_total,
        "mine_approval_rate": (sum(row["mine_approved"] for row in decided.values()) / mine_total)
        if mine_total
        else None,
    }


def account_centre_state_sql(*, user_id: int) -> list[tuple[str, list]]:
    """The customer's latest submission as a row of text for the account centre's cache key.

    See ``billing.selectors.account_centre_state_sql``.
    """
    table = Submission._meta.db_table
    return [
        (
            f"SELECT 'submission', CAST(id AS TEXT), status, channel, NULL, NULL, NULL, NULL "  # noqa: S608
            f"FROM (SELECT id, status, channel FROM {table} WHERE user_id = %s ORDER BY attempt_number DESC LIMIT 1) s",
            [user_id],
        )
    ]


QUALITY_SAMPLE_PAGE_SIZE = 50


def quality_samples_pending(*, viewer, limit: int = QUALITY_SAMPLE_PAGE_SIZE) -> list:
    """Sampled decisions waiting for a check, oldest first, without the viewer's own decisions or verification."""
    pending = (
        QualitySample.objects.filter(status=QualitySample.Status.PENDING)
        .exclude(decided_by=viewer)
        .exclude(submission__user=viewer)
    )
    return list(
        pending.select_related("submission", "decided_by")
        .prefetch_related(Prefetch("submission__reasons", queryset=ReasonCode.objects.only("pk", "code")))
        .order_by("sampled_at", "pk")[:limit]
    )


def quality_samples_checked_recently(*, limit: int = 20) -> list:
    return list(
        QualitySample.objects.exclude(status=QualitySample.Status.PENDING)
        .select_related("submission", "decided_by", "checked_by")
        .order_by("-checked_at", "-pk")[:limit]
    )


def quality_sample_for_check(*, sample_id: int):
    return (
        QualitySample.objects.select_related("submission__user", "decided_by", "checked_by")
        .prefetch_related("submission__reasons")
        .filter(pk=sample_id)
        .first()
    )


# Decisions a reviewer makes in the queue (not a clerk's verification at a desk).
REVIEWED_DECISIONS = (*APPROVED_DECISIONS, Submission.Status.REJECTED)


def _reviewer_figures_key(*, since: datetime) -> str:
    return f"reviews:reviewer-figures:{since.isoformat()}"


def _count_reviewer_figures(*, since: datetime, until: datetime, days: list) -> list[dict]:
    """Each reviewer's decisions a day, median handling time and share overturned, from one query.

    Handling time runs from the reviewer's last claim of the submission (its ``claimed``
    event) to the decision. A decision counts as overturned when a senior overturned it as a
    quality sample or revoked the approval later.
    """
    claimed_at = (
        SubmissionEvent.objects.filter(
            submission=OuterRef("pk"),
            verb="claimed",
            actor=OuterRef("decided_by"),
            created_at__lte=OuterRef("decided_at"),
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    overturned_sample = QualitySample.objects.filter(submission=OuterRef("pk"), status=QualitySample.Status.OVERTURNED)
    rows = (
        Submission.objects.filter(
            decided_at__gte=since,
            decided_at__lt=until,
            status__in=REVIEWED_DECISIONS,
            channel=Submission.Channel.ONLINE,
        )
        .annotate(
            day=TruncDate("decided_at"),
            claimed_at=Subquery(claimed_at),
            overturned=ExpressionWrapper(
                Q(status=Submission.Status.REVOKED) | Q(Exists(overturned_sample)), output_field=BooleanField()
            ),
        )
        .values_list("decided_by", "decided_by__username", "day", "decided_at", "claimed_at", "overturned")
    )
    by_reviewer: dict[int, dict] = {}
    for reviewer_id, username, day, decided_at, claimed, overturned in rows.iterator(chunk_size=2000):
        figures = by_reviewer.setdefault(
            reviewer_id, {"id": reviewer_id, "username": username, "by_day": {}, "minutes": [], "overturned": 0}
        )
        figures["by_day"][day] = figures["by_day"].get(day, 0) + 1
        if claimed is not None and decided_at >= claimed:
            figures["minutes"].append((decided_at - claimed).total_seconds() / 60)
        figures["overturned"] += bool(overturned)
    result = []
    for figures in by_reviewer.values():
        total = sum(figures["by_day"].values())
        result.append(
            {
                "id": figures["id"],
                "username": figures["username"],
                "per_day": [figures["by_day"].get(day, 0) for day in days],
                "decisions": total,
                "per_active_day": total / len(figures["by_day"]),
                "median_minutes": statistics.median(figures["minutes"]) if figures["minutes"] else None,
                "overturned": figures["overturned"],
                "overturned_share": figures["overturned"] / total,
            }
        )
    return sorted(result, key=lambda row: (-row["decisions"], row["username"]))


def reviewer_figures(*, now: datetime | None = None, days: int = 30, refresh: bool = False) -> dict:
    """Per-reviewer figures of the last ``days`` days (today included), cached for DASHBOARD_CACHE_SECONDS.

    One query whatever the number of decisions, run at most once per cache period (or by
    ``dashboard_cache_refresh``): team figures a few minutes old are good enough to lead a team by.
    """
    now = now or timezone.now()
    since, today_start = _dashboard_span(now=now, days=days)
    day_list = [timezone.localtime(since).date() + timedelta(days=offset) for offset in range(days)]
    key = _reviewer_figures_key(since=since)
    reviewers = None if refresh else cache.get(key)
    if reviewers is None:
        reviewers = _count_reviewer_figures(since=since, until=today_start + timedelta(days=1), days=day_list)
        cache.set(key, reviewers, DASHBOARD_CACHE_SECONDS)
    return {"days": day_list, "reviewers": reviewers}


def machine_check_suggested_reasons(machine_check: MachineCheck | None) -> list[str]:
    """Reason codes the machine checks point to, for the reviewer's picker to preselect (they can untick).

    Only what a check found, never what it could not read: an unreadable field or a face
    not found says nothing about the customer. UNDERAGE is known as soon as the
    submission is, from the typed ID number; the rest once the run is done.
    """
    if not machine_check:
        return []
    codes = []
    if machine_check.is_underage:
        codes.append("UNDERAGE")
    if machine_check.status != MachineCheck.Status.DONE:
        return codes
    fields = machine_check.fields or {}
    if any(fields.get(key, {}).get("outcome") == "mismatch" for key in ("name", "id_number")):
        codes.append("INFO_MISMATCH")
    if machine_check.face_band == MachineCheck.FaceBand.DIFFERENT:
        codes.append("FACE_MISMATCH")
    elif machine_check.face_note == "no_face_in_handheld":
        codes.append("HANDHELD_BAD")
    if machine_check.document_expiry == MachineCheck.DocumentExpiry.EXPIRED:
        codes.append("DOC_EXPIRED")
    if machine_check.side_warnings:
        codes.append("SIDE_WRONG")
    return codes


# Reasons that concern particular photos: a resubmission asks again only for those. Any
# other reason (a blurry, cropped or covered card could be any of the three photos; a new
# card) asks for all three; INFO_MISMATCH for none, since the typing was wrong.
REASON_PHOTO_KINDS = {
    "HANDHELD_BAD": (SubmissionPhoto.Kind.ID_HANDHELD,),
    "SIDE_WRONG": (SubmissionPhoto.Kind.ID_FRONT, SubmissionPhoto.Kind.ID_BACK),
    "INFO_MISMATCH": (),
}
PHOTO_KINDS = tuple(SubmissionPhoto.Kind.values)


@dataclass
class FormPhoto:
    """What the verification form shows for one kind of photo."""

    kind: str
    label: str
    kept: object | None = None  # the DraftPhoto or SubmissionPhoto the form keeps, if any
    source: str = ""  # "draft" (chosen on this form before) or "previous" (the rejected attempt's)
    rejected: bool = False  # the reviewer asked for a new one


@dataclass
class SubmissionFormState:
    previous: Submission | None
    photos: dict[str, FormPhoto]

    @property
    def kept_kinds(self) -> set[str]:
        return {kind for kind, photo in self.photos.items() if photo.kept is not None}


def resubmission_base(*, user) -> Submission | None:
    """The customer's latest attempt if a resubmission starts from it (rejected or revoked), with reasons and photos."""
    last = (
        Submission.objects.filter(user=user).prefetch_related("reasons", "photos").order_by("-attempt_number").first()
    )
    if last is None or last.status not in (Submission.Status.REJECTED, Submission.Status.REVOKED):
        return None
    return last


def photos_to_replace(submission: Submission) -> set[str]:
    kinds: set[str] = set()
    for reason in submission.reasons.all():
        kinds.update(REASON_PHOTO_KINDS.get(reason.code, PHOTO_KINDS))
    return kinds


def submission_form_state(*, user, now: datetime | None = None) -> SubmissionFormState:
    """Which photo of each kind the verification form keeps: the draft one, else the rejected attempt's if allowed."""
    now = now or timezone.now()
    previous = resubmission_base(user=user)
    drafts = {draft.kind: draft for draft in DraftPhoto.objects.filter(user=user, expires_at__gt=now)}
    earlier = {photo.kind: photo for photo in previous.photos.all()} if previous else {}
    rejected = photos_to_replace(previous) if previous else set()
    photos = {}
    for kind, label in SubmissionPhoto.Kind.choices:
        photo = FormPhoto(kind=kind, label=label, rejected=kind in rejected)
        if kind in drafts:
            photo.kept, photo.source = drafts[kind], "draft"
        elif kind in earlier and kind not in rejected:
            photo.kept, photo.source = earlier[kind], "previous"
        photos[kind] = photo
    return SubmissionFormState(previous=previous, photos=photos)


def draft_photo_for_owner(*, user, kind: str, now: datetime | None = None):
    return DraftPhoto.objects.filter(user=user, kind=kind, expires_at__gt=now or timezone.now()).first()


def desk_form_state(*, clerk, line, now: datetime | None = None) -> SubmissionFormState:
    """Which photo of each kind the clerk's desk form for ``line`` keeps: this clerk's drafts for this line only."""
    drafts = {
        draft.kind: draft
        for draft in DraftPhoto.objects.filter(clerk=clerk, line=line, expires_at__gt=now or timezone.now())
    }
    photos = {}
    for kind, label in SubmissionPhoto.Kind.choices:
        photo = FormPhoto(kind=kind, label=label)
        if kind in drafts:
            photo.kept, photo.source = drafts[kind], "draft"
        photos[kind] = photo
    return SubmissionFormState(previous=None, photos=photos)


def desk_draft_photo_for_clerk(*, clerk, line_id: int, kind: str, now: datetime | None = None):
    """The photo ``clerk`` keeps for ``line_id``'s in-person form, or None: another clerk's is never found."""
    return (
        DraftPhoto.objects.select_related("line")
        .filter(clerk=clerk, line_id=line_id, kind=kind, expires_at__gt=now or timezone.now())
        .first()
    )


def submission_form_initial(*, user, previous: Submission | None) -> dict:
    """What the verification form starts with: the rejected attempt's typing, else the account's phone."""
    if previous is not None and previous.id_number_encrypted:
        return {
            "full_name": previous.full_name,
            "id_number": pii.decrypt(previous.id_number_encrypted),
            "contact_phone": phone_display(previous.contact_phone),
        }
    return {"contact_phone": phone_display(user.phone)} if user.phone else {}
