"""Cancellation of a line: what blocks it, the request, withdrawing it."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts import selectors as account_selectors
from api.idempotency import idempotent
from api.pagination import CURSOR_PARAMETER, keyset_page, paged
from api.selectors import cancellations_of
from api.serializers import CancellationCheckSerializer, CancellationSerializer, FormSerializer
from api.views.base import ApiView
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.forms import BindingForm, CancellationForm
from customers.models import CancellationRequest


def cancellable_line(request, line_id: int):
    line = next((line for line in account_selectors.cancellable_lines(user=request.user) if line.pk == line_id), None)
    if line is None:
        raise Http404
    return line


class CancellationCheckView(ApiView):
    @extend_schema(operation_id="cancellation_check", responses={200: CancellationCheckSerializer})
    def get(self, request, line_id: int):
        """What still blocks cancelling this line, and the open request if there is one."""
        line = cancellable_line(request, line_id)
        existing = next(
            (item for item in customer_selectors.open_cancellations(user=request.user) if item.line_id == line.pk), None
        )
        blockers = customer_services.cancellation_blockers(user=request.user, line=line)
        body = {
            "line": line.pk,
            "blockers": [{"code": b.code, "message": b.message} for b in blockers],
            "open_request": existing,
        }
        return Response(CancellationCheckSerializer(body).data)


class BindingSerializer(FormSerializer):
    form_class = BindingForm
    name = serializers.CharField(max_length=80)
    unbound = serializers.BooleanField(help_text="You have unbound the service from the number.")


class CancellationRequestSerializer(FormSerializer):
    form_class = CancellationForm
    line = serializers.IntegerField(min_value=1)
    full_name = serializers.CharField(max_length=60)
    phone = serializers.CharField(max_length=32)
    reason = serializers.ChoiceField(choices=CancellationRequest.Reason.choices)
    reason_detail = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    bindings = BindingSerializer(many=True, required=False, help_text="Third-party services bound to the number.")

    def form_data(self, attrs):
        return {name: attrs.get(name, "") for name in ("full_name", "phone", "reason", "reason_detail")}

    def validate(self, attrs):
        cleaned = super().validate(attrs)
        bindings = [
            {"name": row["name"].strip(), "unbound": bool(row.get("unbound"))}
            for row in attrs.get("bindings", [])
            if row.get("name", "").strip()
        ]
        return {**cleaned, "line": attrs["line"], "bindings": bindings}


class CancellationsView(ApiView):
    @extend_schema(
        operation_id="cancellations", parameters=[CURSOR_PARAMETER], responses={200: paged(CancellationSerializer)}
    )
    def get(self, request):
        """Your cancellation requests, newest first."""
        page, next_cursor = keyset_page(cancellations_of(user=request.user), request)
        return Response({"results": CancellationSerializer(page, many=True).data, "next": next_cursor})

    @extend_schema(
        operation_id="cancellation_request",
        request=CancellationRequestSerializer,
        responses={201: CancellationSerializer, 200: CancellationSerializer},
    )
    @idempotent
    def post(self, request):
        """Ask to cancel a line (200 with the existing request when one is open already)."""
        serializer = CancellationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        line = cancellable_line(request, data["line"])
        cancellation, created = customer_services.cancellation_request_submit(
            actor=request.user,
            line_id=line.pk,
            full_name=data["full_name"],
            phone=data["phone"],
            reason=data["reason"],
            reason_detail=data["reason_detail"],
            bindings=data["bindings"],
        )
        return Response(
            CancellationSerializer(cancellation).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class CancellationWithdrawView(ApiView):
    @extend_schema(operation_id="cancellation_withdraw", request=None, responses={200: CancellationSerializer})
    def post(self, request, request_id: int):
        """Withdraw your open request; the line stays in service."""
        if not customer_selectors.cancellation_exists_for_owner(request_id=request_id, user=request.user):
            raise Http404
        cancellation = customer_services.cancellation_request_withdraw(request_id=request_id, actor=request.user)
        return Response(CancellationSerializer(cancellation).data)
