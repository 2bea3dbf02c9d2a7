"""Reads for the verification pages: the queue, the review screen, the customer's history."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, Count, Min, Prefetch, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Line
from accounts.phones import phone_display
from reviews import pii
from reviews.business_days import add_business_days
from reviews.models import Certificate, DraftPhoto, ReasonCode, Submission, SubmissionPhoto

QUEUE_PAGE_SIZE = 50


def apply_queue_filters(queryset, filters: dict, *, now: datetime):
    channel = filters.get("channel")
    if channel in Submission.Channel.values:
        queryset = queryset.filter(channel=channel)
    if filters.get("overdue"):
        queryset = queryset.filter(due_at__lt=now)
    if filters.get("resubmission"):
        queryset = queryset.filter(attempt_number__gt=1)
    if filters.get("flagged"):
        queryset = queryset.filter(is_flagged=True)
    if filters.get("escalated"):
        queryset = queryset.filter(escalated_at__isnull=False)
    if filters.get("hide_escalated"):
        # Reviewers who may not decide escalated submissions do not see them at all.
        queryset = queryset.filter(escalated_at__isnull=True)
    return queryset


def claimable_submissions(*, filters: dict, now: datetime):
    """Submissions a reviewer may claim now (waiting, or claimed by someone whose lease ran out), oldest due first."""
    claimable = Submission.objects.filter(
        Q(status=Submission.Status.PENDING) | Q(status=Submission.Status.IN_REVIEW, claim_expires_at__lte=now)
    )
    return apply_queue_filters(claimable, filters, now=now).order_by("due_at", "pk")


def claims_held(*, reviewer_id: int, now: datetime):
    """The reviewer's live claims, oldest due first."""
    return Submission.objects.filter(
        claimed_by_id=reviewer_id, status=Submission.Status.IN_REVIEW, claim_expires_at__gt=now
    ).order_by("due_at", "pk")


def line_limit_flag(*, user, id_number_index: str) -> dict | None:
    """The 一证五号 flag as things stand now, or None when approving would keep the ID within the limit.

    Counts what accounts' ``lines_activation_allow`` counts when the approval activates:
    the active lines of the other accounts verified with this ID, and this account's
    lines that are or would become active (active, waiting, suspended).
    """
    own = Q(owner=user, status__in=[Line.Status.ACTIVE, Line.Status.INACTIVE, Line.Status.SUSPENDED])
    elsewhere = Q(status=Line.Status.ACTIVE, owner__identity_index=id_number_index) & ~Q(owner=user)
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
    flags = {key: value for key, value in (submission.flags or {}).items() if key != "line_limit"}
    current = line_limit_flag(user=submission.user, id_number_index=submission.id_number_index)
    if current is not None:
        flags["line_limit"] = current
    submission.flags = flags
    submission.is_flagged = bool(flags)
    return submission


def queue_filters_from(params) -> dict:
    return {
        "channel": params.get("channel", "") if params.get("channel") in Submission.Channel.values else "",
        "overdue": params.get("overdue") == "1",
        "resubmission": params.get("resubmission") == "1",
        "flagged": params.get("flagged") == "1",
        "escalated": params.get("escalated") == "1",
    }


@dataclass
class QueuePage:
    rows: list
    next_cursor: str | None
    now: datetime


def encode_cursor(submission) -> str:
    return f"{submission.due_at.isoformat()}|{submission.pk}"


def decode_cursor(cursor: str | None):
    if not cursor or "|" not in cursor:
        return None
    stamp, _sep, pk = cursor.rpartition("|")
    due = parse_datetime(stamp)
    if due is None or not pk.isdigit():
        return None
    return due, int(pk)


def queue_page(*, filters: dict, cursor: str | None = None, size: int = QUEUE_PAGE_SIZE) -> QueuePage:
    """Return one page of open submissions, oldest due first, in one query.

    Keyset pagination: the page after a cursor starts at ``(due_at, id) > (cursor)``, a
    row comparison the partial index ``queue_due`` answers directly, so page 4,000 costs
    what page 1 costs. There is no COUNT(*) and no OFFSET.
    """
    now = timezone.now()
    rows = Submission.objects.filter(status__in=Submission.OPEN_STATUSES)
    rows = apply_queue_filters(rows, filters, now=now)
    position = decode_cursor(cursor)
    if position is not None:
        # Django has no row-value comparison; the table name is ours and the values are parameters.
        table = Submission._meta.db_table
        # A raw parameter skips the field's conversion: SQLite stores datetimes as naive UTC text and
        # would compare it with '…+00:00' text, skipping every row due at the same moment as the cursor.
        due = connection.ops.adapt_datetimefield_value(position[0])
        condition = f'("{table}"."due_at", "{table}"."id") > (%s, %s)'
        after = RawSQL(condition, (due, position[1]), output_field=BooleanField())  # noqa: S611
        rows = rows.filter(after)
    page = list(
        rows.select_related("user", "claimed_by")
        .only(
            "pk",
            "status",
            "channel",
            "attempt_number",
            "id_number_masked",
            "submitted_at",
            "due_at",
            "is_flagged",
            "flags",
            "escalated_at",
            "claim_expires_at",
            "user__phone",
            "claimed_by__username",
        )
        .order_by("due_at", "pk")[: size + 1]
    )
    next_cursor = encode_cursor(page[size - 1]) if len(page) > size else None
    return QueuePage(rows=page[:size], next_cursor=next_cursor, now=now)


# Only senior reviewers open an escalated submission (its screen, its photos, its data);
# the services check this same permission before a claim or a decision.
ESCALATED_PERMISSION = "reviews.decide_escalated"


def may_open_submission(*, submission: Submission, viewer) -> bool:
    """Whether staff member ``viewer`` may open ``submission`` (permission to review assumed)."""
    return submission.escalated_at is None or viewer.has_perm(ESCALATED_PERMISSION)


def submissions_openable_by(*, viewer, queryset=None):
    """``queryset`` (all submissions by default) without those ``viewer`` may not open."""
    queryset = Submission.objects.all() if queryset is None else queryset
    if viewer.has_perm(ESCALATED_PERMISSION):
        return queryset
    return queryset.filter(escalated_at__isnull=True)


def submission_for_review(*, submission_id: int, viewer) -> Submission:
    """The submission with everything its review screen shows; DoesNotExist if ``viewer`` may not open it.

    An open submission's 一证五号 flag is today's (``with_current_line_limit``).
    """
    submission = (
        submissions_openable_by(viewer=viewer)
        .select_related("user", "claimed_by", "decided_by", "escalated_by", "revoked_by", "service_point")
        .prefetch_related("photos", "reasons", "events__actor")
        .get(pk=submission_id)
    )
    return with_current_line_limit(submission)


def submission_openable_exists(*, submission_id: int, viewer) -> bool:
    return submissions_openable_by(viewer=viewer).filter(pk=submission_id).exists()


def earlier_submissions(*, submission: Submission, viewer):
    return (
        submissions_openable_by(viewer=viewer)
        .filter(user_id=submission.user_id, attempt_number__lt=submission.attempt_number)
        .select_related("decided_by")
        .prefetch_related("reasons")
        .order_by("-attempt_number")
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


def submission_form_initial(*, user, previous: Submission | None) -> dict:
    """What the verification form starts with: the rejected attempt's typing, else the account's phone."""
    if previous is not None and previous.id_number_encrypted:
        return {
            "full_name": previous.full_name,
            "id_number": pii.decrypt(previous.id_number_encrypted),
            "contact_phone": phone_display(previous.contact_phone),
        }
    return {"contact_phone": phone_display(user.phone)} if user.phone else {}
