"""Customer verification pages and the staff review queue. Thin: form → one service → redirect."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import RateLimitUnavailable, client_ip, client_ip_key, over_rate_limit
from accounts.permissions import staff_permission_required
from reviews import photos, pii, selectors, services
from reviews.forms import (
    MESSAGE_TEMPLATES,
    DecisionForm,
    EscalationForm,
    PrecheckForm,
    RevocationForm,
    SubmissionForm,
)
from reviews.models import Submission, SubmissionPhoto
from reviews.validators import age_on

REVIEW = "reviews.review_submission"
TYPED_FIELDS = ("full_name", "id_number", "contact_phone")


def _over_photo_limits(request, *, group: str, per_customer: int, per_address: int) -> bool:
    """Count a request that decodes photos, per customer and per client address.

    A signed-in customer's own request: served uncounted while the cache is down, as the
    pre-check always was (refusing would stop every verification with Redis).
    """
    try:
        by_customer = over_rate_limit(request, group=group, key="user", per_minute=per_customer)
        by_address = over_rate_limit(request, group=f"{group}-address", key=client_ip_key, per_minute=per_address)
    except RateLimitUnavailable:
        return False
    return by_customer or by_address


# --- customer ---------------------------------------------------------------------------


@login_required
@require_GET
def verification_status(request):
    history = list(selectors.customer_history(user=request.user))
    current = history[0] if history else None
    window = selectors.expected_decision_window(current) if current and current.is_open else None
    context = {
        "current": current,
        "earlier": history[1:],
        "window": window,
        # A date never breaks across lines on a phone ("2026-12-" / "03").
        "window_start": format_html('<span class="text-nowrap">{}</span>', window[0].isoformat()) if window else "",
        "window_end": format_html('<span class="text-nowrap">{}</span>', window[1].isoformat()) if window else "",
        "blocker": services.submission_blocker(user=request.user),
    }
    return render(request, "reviews/status.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # a resubmission's form carries the customer's full ID number
def verification_submit(request):
    blocker = services.submission_blocker(user=request.user)
    if blocker:
        messages.warning(request, blocker)
        return redirect("reviews:status")
    state = selectors.submission_form_state(user=request.user)
    if request.method == "POST" and _over_photo_limits(
        request,
        group="submission",
        per_customer=settings.SUBMISSION_RATE_PER_MINUTE,
        per_address=settings.SUBMISSION_RATE_PER_ADDRESS_PER_MINUTE,
    ):
        # Refused before any photo is read; the typed fields come back, the photos are chosen again.
        messages.error(request, _("Too many submissions in a minute. Please wait a minute and submit again."))
        form = SubmissionForm(
            initial={name: request.POST.get(name, "") for name in TYPED_FIELDS}, kept=state.kept_kinds
        )
        return _submission_page(request, form, state, status=429)
    form = SubmissionForm(request.POST or None, request.FILES or None, kept=state.kept_kinds)
    if request.method == "GET":
        form.initial.update(selectors.submission_form_initial(user=request.user, previous=state.previous))
        return _submission_page(request, form, state)
    valid = form.is_valid()
    try:
        # Every photo that decoded is kept, whatever else is wrong: the customer fixes the
        # typing and sends the form again without choosing the photos again.
        for kind, photo in form.decoded_photos().items():
            services.draft_photo_keep(user=request.user, kind=kind, photo=photo)
    except services.PhotoStorageUnavailable as error:
        form.add_error(None, str(error))
        return _submission_page(request, form, selectors.submission_form_state(user=request.user), status=503)
    state = selectors.submission_form_state(user=request.user)
    form.mark_kept(state.kept_kinds)
    for name in SubmissionForm.PHOTO_FIELDS:
        # A kept photo that expired while the form was open must be chosen again.
        if valid and form.fields[name].kind not in state.kept_kinds:
            form.add_error(name, form.fields[name].error_messages["required"])
            valid = False
    if not valid:
        return _submission_page(request, form, state)
    data = form.cleaned_data
    try:
        services.submission_create(
            user=request.user,
            full_name=data["full_name"],
            id_number=data["id_number"],
            contact_phone=data["contact_phone"].as_e164,
            photos=services.PhotoSet(
                **{kind: photos.StoredPhoto.of(photo.kept) for kind, photo in state.photos.items() if photo.kept}
            ),
            actor=request.user,
        )
    except services.ReviewError as error:
        messages.error(request, str(error))
        return redirect("reviews:status")
    messages.success(request, _("Thank you! Your photos are submitted for review."))
    return redirect("reviews:status")


def _submission_page(request, form, state, *, status=200):
    rows = [(form[name], state.photos[form.fields[name].kind]) for name in SubmissionForm.PHOTO_FIELDS]
    context = {"form": form, "state": state, "photo_rows": rows, "hint_messages": photos.HINT_MESSAGES}
    return render(request, "reviews/submit.html", context, status=status)


@login_required
@require_GET
def draft_photo_file(request, kind: str):
    """The thumbnail of a photo the customer's form keeps: to its owner only."""
    draft = selectors.draft_photo_for_owner(user=request.user, kind=kind)
    if draft is None:
        raise Http404
    return pii.serve_private_file(draft.thumbnail, download_name=f"{kind}-thumb.jpg")


@login_required
@require_POST
def photo_precheck(request):
    """Instant feedback on one photo before the customer submits; stores nothing."""
    # Each check decodes an image and looks for faces: bounded per account and per address
    # so that one account (or many from one address) cannot keep the app servers' CPUs busy.
    limited = _over_photo_limits(
        request,
        group="precheck",
        per_customer=settings.PHOTO_PRECHECK_RATE_PER_MINUTE,
        per_address=settings.PHOTO_PRECHECK_RATE_PER_ADDRESS_PER_MINUTE,
    )
    if limited:
        error = _("Too many photo checks in a minute. Please wait a moment; you can still submit.")
        return JsonResponse({"ok": False, "error": error}, status=429)
    form = PrecheckForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"ok": False, "error": _("Choose a photo.")}, status=400)
    try:
        processed = photos.process_photo(form.cleaned_data["photo"], kind=form.cleaned_data["kind"])
    except photos.PhotoRejected as error:
        return JsonResponse({"ok": False, "error": str(error)}, status=422)
    return JsonResponse({"ok": True, "warnings": photos.hint_messages(processed.hints), "hints": processed.hints})


@login_required
@require_GET
def photo_file(request, photo_id: int, variant: str):
    """Serve an ID photo to its owner or to staff allowed to review; log every staff view."""
    if variant not in ("full", "thumb"):
        raise Http404
    photo, as_staff = selectors.photo_for_viewer(photo_id=photo_id, actor=request.user)
    if photo is None:
        raise Http404
    if as_staff:
        services.photo_access_record(
            photo=photo, actor=request.user, variant=variant, ip_address=client_ip(request) or None
        )
    field = photo.image if variant == "full" else photo.thumbnail
    return pii.serve_private_file(field, download_name=f"{photo.kind}-{variant}.jpg")


# --- staff ------------------------------------------------------------------------------


def _queue_filters(request) -> dict:
    """The queue's filters, search and sort this request carries: in its query string, else in its form.

    The queue page passes them to "Next" and to a row's "Open"; the review screen carries them
    in its URL and its decision form's action, so decide-and-next stays in the same queue.
    """
    params = request.GET if any(key in request.GET for key in selectors.QUEUE_KEYS) else request.POST
    return selectors.queue_filters_from(params)


@staff_permission_required(REVIEW)
@require_GET
def queue(request):
    filters = selectors.queue_filters_from(request.GET)
    sees_escalated = request.user.has_perm(services.ESCALATED_PERMISSION)
    visible = {**filters, "hide_escalated": not sees_escalated}
    page = selectors.queue_page(filters=visible, cursor=request.GET.get("after"))
    for row in page.rows:
        row.hint_words = [QUEUE_HINT_LABELS.get(code, code) for code in row.hint_codes]
    query = selectors.queue_query(filters)
    context = {
        "page": page,
        "counts": selectors.queue_counts(filters=visible, now=page.now),
        "filters": filters,
        "query": query,
        "sorts": QUEUE_SORT_LABELS,
        "search_kind": selectors.QUEUE_SEARCH_KINDS[page.search.kind] if page.search else None,
        "channels": Submission.Channel.choices,
        "sees_escalated": sees_escalated,
    }
    # One reverse() for the page instead of one per row: "/staff/reviews/" + pk + "/claim/".
    context["claim_prefix"], context["claim_suffix"] = reverse("reviews:claim", args=[0]).rsplit("0", 1)
    return render(request, "reviews/queue.html", context)


# The queue's short words for the photo pre-check's warnings (the review screen shows the full hints).
QUEUE_HINT_LABELS = {
    "low_resolution": pgettext_lazy("photo hint", "low resolution"),
    "blurry": pgettext_lazy("photo hint", "blurry"),
    "too_dark": pgettext_lazy("photo hint", "dark"),
    "too_bright": pgettext_lazy("photo hint", "bright"),
    "glare": pgettext_lazy("photo hint", "glare"),
    "black_and_white": pgettext_lazy("photo hint", "black and white"),
    "no_face": pgettext_lazy("photo hint", "no face"),
    "unexpected_face": pgettext_lazy("photo hint", "unexpected face"),
    "faces_missing": pgettext_lazy("photo hint", "faces missing"),
}

QUEUE_SORT_LABELS = [
    ("", pgettext_lazy("queue sort", "Due first")),
    ("waiting", pgettext_lazy("queue sort", "Waiting longest")),
    ("attempt", pgettext_lazy("queue sort", "Most attempts")),
]


def queue_query_from(request) -> dict:
    """The queue's filters, search and sort this request carries, as query parameters for the next page."""
    return selectors.queue_query(_queue_filters(request))


def _review_url(submission_id: int, query: dict) -> str:
    return _with_query(reverse("reviews:review", args=[submission_id]), query)


def _with_query(url: str, query: dict) -> str:
    return f"{url}?{urlencode(query)}" if query else url


def _queue_url(query: dict) -> str:
    return _with_query(reverse("reviews:queue"), query)


@staff_permission_required(REVIEW)
@require_POST
def claim_next(request):
    return _claim_next_and_open(request, query=queue_query_from(request))


def _claim_next_and_open(request, query):
    """Claim the next submission the queue's filters (``query``) select and open it, keeping the filters."""
    submission = services.submission_claim_next(actor=request.user, filters=selectors.queue_filters_from(query))
    if submission is None:
        messages.info(request, _("The queue is empty. Well done!"))
        return redirect(_queue_url(query))
    return redirect(_review_url(submission.pk, query))


@staff_permission_required(REVIEW)
@require_POST
def claim(request, submission_id: int):
    query = queue_query_from(request)
    try:
        services.submission_claim(submission_id=_existing(request, submission_id), actor=request.user)
    except services.ReviewError as error:
        messages.error(request, str(error))
        return redirect(_queue_url(query))
    return redirect(_review_url(submission_id, query))


@staff_permission_required(REVIEW)
@require_POST
def claim_renew(request, submission_id: int):
    """Keep the reviewer's claim while they work: the review screen calls this every few minutes of activity."""
    try:
        submission = services.submission_claim_renew(
            submission_id=_existing(request, submission_id), actor=request.user
        )
    except services.ReviewError as error:
        return JsonResponse({"ok": False, "error": str(error)}, status=409)
    seconds_left = int((submission.claim_expires_at - timezone.now()).total_seconds())
    return JsonResponse(
        {"ok": True, "expires_at": submission.claim_expires_at.isoformat(), "seconds_left": seconds_left}
    )


@staff_permission_required(REVIEW)
@require_POST
def release(request, submission_id: int):
    try:
        services.submission_release(submission_id=_existing(request, submission_id), actor=request.user)
    except services.ReviewError as error:
        messages.error(request, str(error))
    return redirect(_queue_url(queue_query_from(request)))


def _existing(request, submission_id):
    """The id, if the submission exists and this reviewer may open it (escalated: seniors only); else 404."""
    if not selectors.submission_openable_exists(submission_id=submission_id, viewer=request.user):
        raise Http404
    return submission_id


@staff_permission_required(REVIEW)
@require_GET
def review(request, submission_id: int):
    try:
        submission = selectors.submission_for_review(submission_id=submission_id, viewer=request.user)
    except Submission.DoesNotExist as error:
        raise Http404 from error
    reasons = selectors.all_reason_codes()
    initial = {}
    if submission.has_final_rejection_proposal and submission.is_open:
        # The second senior reviewer starts from the proposal: confirming it is one click.
        proposal = submission.final_rejection_proposal
        initial = {
            "decision": "reject",
            "reason_codes": proposal.get("reason_codes", []),
            "customer_message": proposal.get("message", ""),
            "note": proposal.get("note", ""),
        }
    elif submission.is_open:
        machine_check = getattr(submission, "machine_check", None)
        initial = {
            "reason_codes": selectors.suggested_reason_codes(
                submission=submission, extra=selectors.machine_check_suggested_reasons(machine_check)
            )
        }
    form = DecisionForm(submission=submission, reasons=reasons, initial=initial)
    return _render_review(request, submission, form, reasons=reasons)


# The events that close a submission or change its outcome: the decided screen shows each
# under the person who did it, with what the customer was told and the internal note.
OUTCOME_VERBS = ("approved", "rejected", "verified_in_person", "withdrawn", "revoked", "final_block_lifted")


def _render_review(request, submission, form, status=200, escalation_form=None, revocation_form=None, reasons=None):
    reasons = reasons if reasons is not None else selectors.all_reason_codes()
    full_id = services.submission_id_number_reveal(submission=submission, actor=request.user)
    id_number = full_id or submission.id_number_masked
    photos_by_kind = {photo.kind: photo for photo in submission.photos.all()}
    ordered_photos = [(kind, label, photos_by_kind.get(kind)) for kind, label in SubmissionPhoto.Kind.choices]
    age = None
    if full_id:
        age = age_on(full_id, submission.submitted_at.date())
    query = queue_query_from(request)
    earlier = list(selectors.earlier_submissions(submission=submission, viewer=request.user))
    events = list(submission.events.all())
    claimed_by_me = submission.claimed_by_id == request.user.pk and submission.claim_is_live()
    context = {
        "submission": submission,
        "id_number": id_number,
        "age": age,
        "photos": [
            (kind, label, photo, photos.staff_hint_messages(photo.hints) if photo else [])
            for kind, label, photo in ordered_photos
        ],
        "earlier": earlier,
        "form": form,
        "reason_groups": _reason_groups(form, reasons),
        "message_templates": MESSAGE_TEMPLATES,
        "claimed_by_me": claimed_by_me,
        "claim_seconds_left": (
            int((submission.claim_expires_at - timezone.now()).total_seconds()) if claimed_by_me else None
        ),
        # A decision the server refused (the claim was lost) stays on screen with what was typed.
        "kept_decision": form.is_bound and not claimed_by_me and submission.is_open,
        # The query string as well as the form's hidden fields: a reload of the refused
        # decision's page keeps the queue's filters too.
        "decide_url": _with_query(reverse("reviews:decide", args=[submission.pk]), query),
        "queue_query": query,
        "queue_url": _queue_url(query),
        "escalation_form": escalation_form or EscalationForm(),
        "can_revoke": (
            submission.status == Submission.Status.APPROVED and request.user.has_perm(services.REVOKE_PERMISSION)
        ),
        "revocation_form": revocation_form or RevocationForm(),
        "outcome_events": [_outcome(event, reasons) for event in events if event.verb in OUTCOME_VERBS],
        "events": events,
        "proposal_reasons": [
            reasons.get(code) or code for code in (submission.final_rejection_proposal or {}).get("reason_codes", [])
        ],
        "duplicates": selectors.duplicate_accounts(submission=submission, viewer=request.user),
        "sees_photos": request.user.has_perm("reviews.view_id_photos"),
        "my_escalations": selectors.recent_escalations_by(reviewer=request.user),
    }
    return render(request, "reviews/review.html", context, status=status)


def _reason_groups(form, reasons: dict) -> list[dict]:
    """The active reasons in two groups, retryable then final, numbered for the number keys.

    Over the line limit only LINE_LIMIT is offered (the form refuses anything else too).
    """
    chosen = form["reason_codes"].value() or []
    active = [reason for reason in reasons.values() if reason.is_active]
    if form.line_limit:
        active = [reason for reason in active if reason.code == "LINE_LIMIT"]
    groups = [
        {"kind": "retry", "label": _("Can resubmit"), "reasons": [r for r in active if not r.is_final]},
        {"kind": "final", "label": _("Final (support must lift it)"), "reasons": [r for r in active if r.is_final]},
    ]
    number = 0
    for group in groups:
        rows = []
        for reason in group["reasons"]:
            number += 1
            rows.append({"number": number, "reason": reason, "checked": reason.code in chosen})
        group["reasons"] = rows
    return [group for group in groups if group["reasons"]]


def _outcome(event, reasons: dict) -> dict:
    return {
        "event": event,
        "reasons": [reasons.get(code) or code for code in event.reason_codes],
    }


@staff_permission_required(REVIEW)
@require_POST
def decide(request, submission_id: int):
    try:
        submission = selectors.submission_for_decision(
            submission_id=submission_id, viewer=request.user, approving=request.POST.get("decision") == "approve"
        )
    except Submission.DoesNotExist as error:
        raise Http404 from error
    reasons = selectors.all_reason_codes()
    form = DecisionForm(request.POST, submission=submission, reasons=reasons)
    query = queue_query_from(request)
    if form.is_valid():
        data = form.cleaned_data
        messages_and_note = {"message": data["customer_message"], "note": data["note"]}
        try:
            if data["decision"] == "approve":
                decided = services.submission_approve(
                    submission_id=submission_id, actor=request.user, **messages_and_note
                )
            else:
                decided = services.submission_reject(
                    submission_id=submission_id,
                    actor=request.user,
                    reason_codes=data["reason_codes"],
                    **messages_and_note,
                )
        except Submission.DoesNotExist as error:
            raise Http404 from error
        except services.ReviewError as error:
            form.add_error(None, str(error))
        else:
            if decided.is_open:
                messages.success(
                    request,
                    _("Your final rejection of submission #%(id)s waits for a second senior reviewer.")
                    % {"id": submission_id},
                )
            else:
                verb = _("Approved") if data["decision"] == "approve" else _("Rejected")
                messages.success(request, _("%(verb)s submission #%(id)s.") % {"verb": verb, "id": submission_id})
            if data["take_next"]:
                # Two services, two transactions: the decision stands even if no claim follows.
                return _claim_next_and_open(request, query=query)
            return redirect(_queue_url(query))
    return _review_again(request, submission_id, form=form, reasons=reasons)


@staff_permission_required(REVIEW)
@require_POST
def escalate(request, submission_id: int):
    form = EscalationForm(request.POST)
    if form.is_valid():
        try:
            services.submission_escalate(
                submission_id=_existing(request, submission_id), actor=request.user, note=form.cleaned_data["note"]
            )
        except services.ReviewError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, _("Submission #%(id)s is escalated to the senior reviewers.") % {"id": submission_id}
            )
            return redirect("reviews:queue")
    return _review_again(request, submission_id, escalation_form=form)


@staff_permission_required(services.REVOKE_PERMISSION)
@require_POST
def revoke(request, submission_id: int):
    form = RevocationForm(request.POST)
    if form.is_valid():
        try:
            services.submission_revoke_approval(
                submission_id=_existing(request, submission_id),
                actor=request.user,
                reason_codes=form.cleaned_data["reason_codes"],
                message=form.cleaned_data["customer_message"],
                note=form.cleaned_data["note"],
            )
        except services.ReviewError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The approval of submission #%(id)s is revoked.") % {"id": submission_id})
            return redirect("reviews:review", submission_id=submission_id)
    return _review_again(request, submission_id, revocation_form=form)


def _review_again(request, submission_id, form=None, reasons=None, **other_forms):
    """The review screen again with a refused form's errors: 409 if the service refused, else 400.

    A refused decision form keeps what the reviewer typed; the screen's flags are read again.
    """
    try:
        submission = selectors.submission_for_review(submission_id=submission_id, viewer=request.user)
    except Submission.DoesNotExist as error:
        raise Http404 from error
    reasons = reasons if reasons is not None else selectors.all_reason_codes()
    if form is None:
        form = DecisionForm(submission=submission, reasons=reasons)
    else:
        form.submission = submission
    refused = any(bound.non_field_errors() for bound in [form, *other_forms.values()])
    return _render_review(request, submission, form, status=409 if refused else 400, reasons=reasons, **other_forms)
