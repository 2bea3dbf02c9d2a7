"""The service-point desk: in-person verification and certificates; the public certificate check."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.http import RateLimitUnavailable, client_ip_key, over_rate_limit
from accounts.permissions import staff_any_permission_required, staff_permission_required
from accounts.services.lines import ERR_CODE_UNKNOWN
from reviews import certificates, selectors, services
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


@staff_permission_required(VERIFY_IN_PERSON)
@require_POST
def desk_lookup(request):
    form = DeskLookupForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the activation code."))
        return redirect("reviews:desk")
    code = form.cleaned_data["activation_code"]
    line = account_selectors.line_by_activation_code(activation_code=code)
    if line is None:
        messages.error(request, str(ERR_CODE_UNKNOWN))
        return redirect("reviews:desk")
    if line.status != line.Status.INACTIVE or (line.owner and line.owner.is_real_name_verified):
        messages.error(request, str(services.ERR_CODE_ALREADY_VERIFIED))
        return redirect("reviews:desk")
    initial = {"activation_code": code}
    if line.owner and line.owner.phone:
        initial["customer_phone"] = line.owner.phone
    form = InPersonVerificationForm(initial=initial)
    return render(request, "reviews/desk_verify.html", {"form": form, "line": line})


@staff_permission_required(VERIFY_IN_PERSON)
@require_http_methods(["POST"])
def desk_verify(request):
    form = InPersonVerificationForm(request.POST, request.FILES)
    line = account_selectors.line_by_activation_code(activation_code=request.POST.get("activation_code", ""))
    if line is None:
        messages.error(request, str(ERR_CODE_UNKNOWN))
        return redirect("reviews:desk")
    if form.is_valid():
        data = form.cleaned_data
        try:
            certificate = services.submission_verify_in_person(
                actor=request.user,
                activation_code=data["activation_code"],
                full_name=data["full_name"],
                id_number=data["id_number"],
                customer_phone=data["customer_phone"],
                photos=services.PhotoSet(
                    id_front=data.get("id_front"), id_back=data.get("id_back"), id_handheld=data.get("id_handheld")
                ),
            )
        except services.ReviewError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Verified. Certificate %(number)s issued.") % {"number": certificate.number})
            return redirect("reviews:desk_certificate", number=certificate.number)
    return render(request, "reviews/desk_verify.html", {"form": form, "line": line}, status=400)


def _certificate_for_staff(request, number):
    """Clerks see their own service point's certificates; staff who may view all see any."""
    certificate = selectors.certificate_by_number(number=number)
    if certificate is None:
        raise Http404
    user = request.user
    if not user.has_perm("reviews.view_certificate"):
        raise Http404
    if user.service_point_id and user.service_point_id != certificate.service_point_id and not user.is_superuser:
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
