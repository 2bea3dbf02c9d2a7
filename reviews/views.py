"""Customer verification pages and the staff review queue. Thin: form → one service → redirect."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import RateLimitUnavailable, client_ip, client_ip_key, over_rate_limit
from accounts.permissions import staff_permission_required
from reviews import photos, pii, selectors, services
from reviews.forms import DecisionForm, EscalationForm, PrecheckForm, RevocationForm, SubmissionForm
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


@staff_permission_required(REVIEW)
@require_GET
def queue(request):
    filters = selectors.queue_filters_from(request.GET)
    query = {k: "1" if v is True else v for k, v in filters.items() if v}
    sees_escalated = request.user.has_perm(services.ESCALATED_PERMISSION)
    page = selectors.queue_page(
        filters={**filters, "hide_escalated": not sees_escalated}, cursor=request.GET.get("after")
    )
    context = {
        "page": page,
        "filters": filters,
        "query": query,
        "channels": Submission.Channel.choices,
        "sees_escalated": sees_escalated,
    }
    # One reverse() for the page instead of one per row: "/staff/reviews/" + pk + "/claim/".
    context["claim_prefix"], context["claim_suffix"] = reverse("reviews:claim", args=[0]).rsplit("0", 1)
    return render(request, "reviews/queue.html", context)


@staff_permission_required(REVIEW)
@require_POST
def claim_next(request):
    return _claim_next_and_open(request, filters=selectors.queue_filters_from(request.POST))


def _claim_next_and_open(request, filters):
    submission = services.submission_claim_next(actor=request.user, filters=filters)
    if submission is None:
        messages.info(request, _("The queue is empty. Well done!"))
        return redirect("reviews:queue")
    return redirect("reviews:review", submission_id=submission.pk)


@staff_permission_required(REVIEW)
@require_POST
def claim(request, submission_id: int):
    try:
        services.submission_claim(submission_id=_existing(request, submission_id), actor=request.user)
    except services.ReviewError as error:
        messages.error(request, str(error))
        return redirect("reviews:queue")
    return redirect("reviews:review", submission_id=submission_id)


@staff_permission_required(REVIEW)
@require_POST
def release(request, submission_id: int):
    try:
        services.submission_release(submission_id=_existing(request, submission_id), actor=request.user)
    except services.ReviewError as error:
        messages.error(request, str(error))
    return redirect("reviews:queue")


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
    return _render_review(request, submission, DecisionForm())


def _render_review(request, submission, form, status=200, escalation_form=None, revocation_form=None):
    full_id = services.submission_id_number_reveal(submission=submission, actor=request.user)
    id_number = full_id or submission.id_number_masked
    photos_by_kind = {photo.kind: photo for photo in submission.photos.all()}
    ordered_photos = [(kind, label, photos_by_kind.get(kind)) for kind, label in SubmissionPhoto.Kind.choices]
    age = None
    if full_id:
        age = age_on(full_id, submission.submitted_at.date())
    context = {
        "submission": submission,
        "id_number": id_number,
        "age": age,
        "photos": [
            (kind, label, photo, photos.staff_hint_messages(photo.hints) if photo else [])
            for kind, label, photo in ordered_photos
        ],
        "earlier": selectors.earlier_submissions(submission=submission, viewer=request.user),
        "form": form,
        "claimed_by_me": submission.claimed_by_id == request.user.pk and submission.claim_is_live(),
        "decide_url": reverse("reviews:decide", args=[submission.pk]),
        "escalation_form": escalation_form or EscalationForm(),
        "can_revoke": (
            submission.status == Submission.Status.APPROVED and request.user.has_perm(services.REVOKE_PERMISSION)
        ),
        "revocation_form": revocation_form or RevocationForm(),
    }
    return render(request, "reviews/review.html", context, status=status)


@staff_permission_required(REVIEW)
@require_POST
def decide(request, submission_id: int):
    form = DecisionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        messages_and_note = {"message": data["customer_message"], "note": data["note"]}
        try:
            if data["decision"] == "approve":
                services.submission_approve(submission_id=submission_id, actor=request.user, **messages_and_note)
            else:
                services.submission_reject(
                    submission_id=submission_id,
                    actor=request.user,
                    reason_codes=data["reason_codes"],
                    **messages_and_note,
                )
        except Submission.DoesNotExist as error:
            # The service's locking read is the existence check: no query of its own.
            raise Http404 from error
        except services.ReviewError as error:
            form.add_error(None, str(error))
        else:
            verb = _("Approved") if form.cleaned_data["decision"] == "approve" else _("Rejected")
            messages.success(request, _("%(verb)s submission #%(id)s.") % {"verb": verb, "id": submission_id})
            if form.cleaned_data["take_next"]:
                # Two services, two transactions: the decision stands even if no claim follows.
                return _claim_next_and_open(request, filters={})
            return redirect("reviews:queue")
    return _review_again(request, submission_id, form=form)


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


def _review_again(request, submission_id, form=None, **other_forms):
    """The review screen again with a refused form's errors: 409 if the service refused, else 400."""
    try:
        submission = selectors.submission_for_review(submission_id=submission_id, viewer=request.user)
    except Submission.DoesNotExist as error:
        raise Http404 from error
    form = form or DecisionForm()
    refused = any(bound.non_field_errors() for bound in [form, *other_forms.values()])
    return _render_review(request, submission, form, status=409 if refused else 400, **other_forms)
