"""Public reads: service points and the certificate check."""

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.http import RateLimitUnavailable
from accounts.models import ServicePoint
from api.limits import over_limits, too_many
from api.problems import Problem
from api.serializers import CertificateCheckResultSerializer, ServicePointSerializer
from api.views.base import PublicApiView
from reviews import certificates
from reviews import selectors as review_selectors
from reviews.forms import CertificateCheckForm

ERR_CHECKS_UNAVAILABLE = _("Certificate checks are unavailable for a moment. Please try again shortly.")
ERR_TOO_MANY_CHECKS = _("Too many checks from your network. Please wait a minute and try again.")


class ServicePointsView(PublicApiView):
    @extend_schema(
        operation_id="service_points",
        parameters=[
            OpenApiParameter("city", str, required=False),
            OpenApiParameter("kind", str, required=False, enum=ServicePoint.Kind.values),
        ],
        responses={200: ServicePointSerializer(many=True)},
    )
    def get(self, request):
        """Verification points and authorised stores, by city."""
        kind = request.query_params.get("kind", "")
        if kind not in ServicePoint.Kind.values:
            kind = ""
        points = account_selectors.service_points_for_finder(city=request.query_params.get("city", ""), kind=kind)
        return Response(ServicePointSerializer(points, many=True).data)


class CertificateCheckView(PublicApiView):
    @extend_schema(operation_id="certificate_check", responses={200: CertificateCheckResultSerializer})
    def get(self, request, number: str):
        """Is this certificate number genuine? Only a masked name and the date are shown."""
        form = CertificateCheckForm(data={"number": number})
        if not form.is_valid():
            raise Problem(status_code=status.HTTP_404_NOT_FOUND, code="not_found", detail=_("Not found."))
        try:
            # Not served uncounted: the limit keeps certificate numbers from being tried by the thousand.
            limited = over_limits(
                request,
                group="certificate-verify",
                address_group="certificate-verify",
                per_account=None,
                per_address=settings.CERTIFICATE_VERIFY_RATE_PER_MINUTE,
                fail_open=False,
            )
        except RateLimitUnavailable as error:
            raise Problem(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE, code="unavailable", detail=ERR_CHECKS_UNAVAILABLE
            ) from error
        if limited:
            raise too_many(ERR_TOO_MANY_CHECKS)
        normalized = certificates.normalize_number(form.cleaned_data["number"])
        certificate = (
            review_selectors.certificate_by_number(number=normalized)
            if certificates.signature_is_valid(normalized)
            else None
        )
        body = {
            "genuine": certificate is not None,
            "number": normalized,
            "holder_name_masked": certificate.holder_name_masked if certificate else None,
            "issued_on": timezone.localtime(certificate.issued_at).date() if certificate else None,
        }
        return Response(CertificateCheckResultSerializer(body).data)
