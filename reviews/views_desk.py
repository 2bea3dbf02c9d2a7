"""The service-point desk: in-person verification and certificates; the public certificate check."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts.http import RateLimitUnavailable, client_ip_key, over_rate_limit
from accounts.permissions import staff_any_permission_required, staff_permission_required
from accounts.services.lines import ERR_CODE_UNKNOWN
from reviews import certificates, photos, pii, selectors, services
from reviews.forms import CertificateCheckForm, DeskLookupForm, InPersonVerificationForm

VERIFY_IN_PERSON = "reviews.verify_in_person"
RENEW_AT_STORE = "billing.renew_at_store"


# Only the roles the header sends here: the desk is for in-person verification and store renewals.
@staff_any_permission_required(VERIFY_IN_PERSON, RENEW_AT_STORE)
@require_GET
def desk(request):
    """The clerk's home: look a line up by activation code; recent work of this service point."""
    point = request.user.service_point
    context = {
        "point": point,
        "lookup_form": DeskLookupForm(),
        "can_verify": request.user.has_perm(VERIFY_IN_PERSON),
        "recent": selectors.recent_certificates(service_point=point) if point else [],
    }
    return render(request, "reviews/desk.html", context)


def _line_to_verify(request, code: str):
    """The line the desk may verify by this activation code, or None after telling the clerk why not."""
    line = account_selectors.line_by_activation_code(activation_code=code)
    if line is None:
        messages.error(request, str(ERR_CODE_UNKNOWN))
        return None
    if line.status != line.Status.INACTIVE or (line.owner and line.owner.is_real_name_verified):
        messages.error(request, str(services.ERR_CODE_ALREADY_VERIFIED))
        return None
    return line


@staff_permission_required(VERIFY_IN_PERSON)
@require_POST
@never_cache  # the form shows what the clerk typed, the ID number included
def desk_lookup(request):
    form = DeskLookupForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the activation code."))
        return redirect("reviews:desk")
    code = form.cleaned_data["activation_code"]
    line = _line_to_verify(request, code)
    if line is None:
        return redirect("reviews:desk")
    initial = {"activation_code": code}
    if line.owner and line.owner.phone:
        initial["customer_phone"] = line.owner.phone
    # Photos this clerk kept for this line earlier (the form was sent back, then left) still count.
    state = selectors.desk_form_state(clerk=request.user, line=line)
    form = InPersonVerificationForm(initial=initial, kept=state.kept_kinds)
    return _desk_verify_page(request, form, line, state)


@staff_permission_required(VERIFY_IN_PERSON)
@require_POST
@never_cache
def desk_verify(request):
    line = _line_to_verify(request, request.POST.get("activation_code", ""))
    if line is None:
        return redirect("reviews:desk")
    state = selectors.desk_form_state(clerk=request.user, line=line)
    form = InPersonVerificationForm(request.POST, request.FILES, kept=state.kept_kinds)
    valid = form.is_valid()
    try:
        # Every photo that decoded is kept for this clerk and this line, whatever else is
        # wrong: the clerk fixes the typing and completes without taking the photos again.
        for kind, photo in form.decoded_photos().items():
            services.desk_draft_photo_keep(clerk=request.user, line=line, kind=kind, photo=photo)
    except services.PhotoStorageUnavailable as error:
        form.add_error(None, str(error))
        return _desk_verify_page(request, form, line, selectors.desk_form_state(clerk=request.user, line=line), 503)
    state = selectors.desk_form_state(clerk=request.user, line=line)
    form.mark_kept(state.kept_kinds)
    if valid:
        data = form.cleaned_data
        kept = {kind: photos.StoredPhoto.of(photo.kept) for kind, photo in state.photos.items() if photo.kept}
        try:
            certificate = services.submission_verify_in_person(
                actor=request.user,
                activation_code=data["activation_code"],
                full_name=data["full_name"],
                id_number=data["id_number"],
                customer_phone=data["customer_phone"],
                photos=services.PhotoSet(**kept),
            )
        except services.ReviewError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Verified. Certificate %(number)s issued.") % {"number": certificate.number})
            return redirect("reviews:desk_certificate", number=certificate.number)
    return _desk_verify_page(request, form, line, state, 400)


def _desk_verify_page(request, form, line, state, status=200):
    rows = [
        (form[name], state.photos[form.fields[name].kind], InPersonVerificationForm.KEPT_NAMES[form.fields[name].kind])
        for name in InPersonVerificationForm.PHOTO_FIELDS
    ]
    context = {"form": form, "line": line, "state": state, "photo_rows": rows}
    return render(request, "reviews/desk_verify.html", context, status=status)


@staff_permission_required(VERIFY_IN_PERSON)
@require_GET
def desk_draft_photo_file(request, line_id: int, kind: str):
    """The thumbnail of a photo the clerk's desk form keeps for a line: to that clerk only."""
    draft = selectors.desk_draft_photo_for_clerk(clerk=request.user, line_id=line_id, kind=kind)
    if draft is None:
        raise Http404
    services.desk_draft_photo_access_record(draft=draft, actor=request.user)
    return pii.serve_private_file(draft.thumbnail, download_name=f"{kind}-thumb.jpg")


def _certificate_for_staff(request, number):
    certificate = selectors.certificate_for_staff(number=number, user=request.user)
    if certificate is None:
        raise Http404
    return certificate


@staff_permission_required("reviews.view_certificate")
@require_GET
def desk_certificate(request, number: str):
    certificate = _certificate_for_staff(request, number)
    return render(request, "reviews/desk_certificate.html", {"certificate": certificate})


@staff_permission_required("reviews.view_certificate")
@require_GET
def desk_certificate_pdf(request, number: str):
    certificate = _certificate_for_staff(request, number)
    verify_url = request.build_absolute_uri(reverse("reviews:certificate_verify") + f"?number={certificate.number}")
    response = HttpResponse(certificates.render_pdf(certificate, verify_url=verify_url), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="certificate-{certificate.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def certificate_verify(request):
    """Public: is this certificate number genuine? Shows only a masked name and the date."""
    form = CertificateCheckForm(request.GET or None)
    result = None
    status = 200
    if form.is_bound and form.is_valid():
        try:
            limited = over_rate_limit(
                request,
                group="certificate-verify",
                key=client_ip_key,
                per_minute=settings.CERTIFICATE_VERIFY_RATE_PER_MINUTE,
            )
        except RateLimitUnavailable:
            # A public lookup that cannot be counted is not served: the limit is what keeps
            # certificate numbers from being tried by the thousand.
            form.add_error(None, _("Certificate checks are unavailable for a moment. Please try again shortly."))
            status = 503
        else:
            if limited:
                form.add_error(None, _("Too many checks from your network. Please wait a minute and try again."))
                status = 429
        if status == 200:
            number = certificates.normalize_number(form.cleaned_data["number"])
            certificate = (
                selectors.certificate_by_number(number=number) if certificates.signature_is_valid(number) else None
            )
            result = {"genuine": certificate is not None, "certificate": certificate, "number": number}
    return render(request, "reviews/certificate_verify.html", {"form": form, "result": result}, status=status)
