"""Real-name verification: status with reasons, submission (three photos), instant photo checks."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api.idempotency import idempotent
from api.limits import over_limits, too_many
from api.serializers import (
    PHOTO_KINDS,
    FormSerializer,
    PhotoCheckResultSerializer,
    SubmissionSerializer,
    VerificationSerializer,
)
from api.views.base import ApiView
from reviews import photos
from reviews import selectors as review_selectors
from reviews import services as review_services
from reviews.forms import PrecheckForm, SubmissionForm

ERR_TOO_MANY_SUBMISSIONS = _("Too many submissions in a minute. Please wait a minute and submit again.")
ERR_TOO_MANY_CHECKS = _("Too many photo checks in a minute. Please wait a moment; you can still submit.")


class VerificationView(ApiView):
    @extend_schema(operation_id="verification", responses={200: VerificationSerializer})
    def get(self, request):
        """Status of the latest submission, expected decision dates, reasons in plain words, history."""
        history = list(review_selectors.customer_history(user=request.user))
        current = history[0] if history else None
        window = review_selectors.expected_decision_window(current) if current and current.is_open else (None, None)
        blocker = review_services.submission_blocker(user=request.user)
        body = {
            "verified": request.user.real_name_verified_at is not None,
            "current": current,
            "expected_decision_from": window[0],
            "expected_decision_by": window[1],
            "can_submit": blocker is None,
            "blocker": str(blocker) if blocker else None,
            "earlier": history[1:],
        }
        return Response(VerificationSerializer(body).data)


class SubmissionRequestSerializer(FormSerializer):
    form_class = SubmissionForm
    full_name = serializers.CharField(max_length=60)
    id_number = serializers.CharField(max_length=22, help_text="18-digit PRC Resident ID number.")
    contact_phone = serializers.CharField(max_length=32)
    id_front = serializers.FileField(help_text="JPEG, PNG, WebP or HEIC, at most 10 MB.")
    id_back = serializers.FileField()
    id_handheld = serializers.FileField(help_text="You holding the ID card.")

    def form_data(self, attrs):
        return {name: attrs[name] for name in ("full_name", "id_number", "contact_phone")}


class SubmissionsView(ApiView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="verification_submit",
        request={"multipart/form-data": SubmissionRequestSerializer},
        responses={201: SubmissionSerializer},
    )
    @idempotent
    def post(self, request):
        """Submit the typed fields and three photos for review (the web's photo pipeline and limits)."""
        blocker = review_services.submission_blocker(user=request.user)
        if blocker:
            raise review_services.ReviewError(blocker)
        if over_limits(
            request,
            group="submission",
            per_account=settings.SUBMISSION_RATE_PER_MINUTE,
            per_address=settings.SUBMISSION_RATE_PER_ADDRESS_PER_MINUTE,
        ):
            raise too_many(ERR_TOO_MANY_SUBMISSIONS)
        serializer = SubmissionRequestSerializer(data=request.data, context={"files": request.FILES})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        submission = review_services.submission_create(
            user=request.user,
            full_name=data["full_name"],
            id_number=data["id_number"],
            contact_phone=data["contact_phone"].as_e164,
            photos=review_services.PhotoSet(
                id_front=data["id_front"], id_back=data["id_back"], id_handheld=data["id_handheld"]
            ),
            actor=request.user,
        )
        submission = next(iter(review_selectors.customer_history(user=request.user).filter(pk=submission.pk)))
        return Response(SubmissionSerializer(submission).data, status=status.HTTP_201_CREATED)


class PhotoCheckSerializer(FormSerializer):
    form_class = PrecheckForm
    kind = serializers.ChoiceField(choices=PHOTO_KINDS)
    photo = serializers.FileField(allow_empty_file=True)

    def form_data(self, attrs):
        return {"kind": attrs["kind"]}


class PhotoCheckView(ApiView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="verification_photo_check",
        request={"multipart/form-data": PhotoCheckSerializer},
        responses={200: PhotoCheckResultSerializer},
    )
    def post(self, request):
        """Check one photo before submitting (resolution, blur, light, glare, faces); stores nothing."""
        if over_limits(
            request,
            group="precheck",
            per_account=settings.PHOTO_PRECHECK_RATE_PER_MINUTE,
            per_address=settings.PHOTO_PRECHECK_RATE_PER_ADDRESS_PER_MINUTE,
        ):
            raise too_many(ERR_TOO_MANY_CHECKS)
        serializer = PhotoCheckSerializer(data=request.data, context={"files": request.FILES})
        serializer.is_valid(raise_exception=True)
        processed = photos.process_photo(serializer.validated_data["photo"], kind=serializer.validated_data["kind"])
        hints = processed.hints
        return Response({"ok": True, "warnings": [str(w) for w in photos.hint_messages(hints)], "hints": hints})
