"""The account: summary, lines, auto-renew, usage, notifications, data export."""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache as default_cache
from django.http import Http404, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.forms import CodeForm, EmailChangeForm, LineAddForm
from accounts.http import client_ip
from api.idempotency import idempotent
from api.pagination import CURSOR_PARAMETER, decode_cursor, encode_cursor, paged
from api.renderers import ZIP_RENDERERS
from api.serializers import (
    AcceptedSerializer,
    AccountEmailSerializer,
    AccountSummarySerializer,
    FormSerializer,
    LineSerializer,
    LineServiceSerializer,
    NotificationSerializer,
    SavedCardRemovedSerializer,
    SavedCardSerializer,
    TermMonthsField,
    UsageMonthSerializer,
)
from api.views.base import ApiView
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.forms import AutoRenewForm
from billing.models import LineService
from customers import selectors as customer_selectors
from customers.exports import build_export
from reviews import selectors as review_selectors

logger = logging.getLogger(__name__)


def _cached_quietly(call, *args):
    """A cache that does not answer (Redis down) costs the summary its shortcut, not the app its answer."""
    try:
        return call(*args)
    except Exception:
        logger.warning("Account summary cache unavailable", exc_info=True)
        return None


class AccountSummaryView(ApiView):
    @extend_schema(operation_id="account_summary", responses={200: AccountSummarySerializer})
    def get(self, request):
        """Lines (validity, plan, allowances left, auto-renew), wallet, verification, unread count.

        Cached per customer under the account centre's digest of the same rows
        (``customers.selectors.account_centre_state``, one query): any change shows at once.
        """
        user = request.user
        parts = [
            str(user.pk),
            str(user.phone),
            str(user.email),
            str(user.email_verified_at),
            user.pending_email,
            str(user.real_name_verified_at),
            translation.get_language(),
            customer_selectors.account_centre_state(user=user),
        ]
        key = "api-account-summary:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()
        body = _cached_quietly(default_cache.get, key)
        if body is None:
            body = self._summary(user)
            _cached_quietly(default_cache.set, key, body, settings.ACCOUNT_CENTRE_CACHE_SECONDS)
        return Response(body)

    @staticmethod
    def _summary(user) -> dict:
        lines = list(account_selectors.lines_for_account_centre(user=user))
        services = billing_selectors.services_by_line(line_ids=[line.pk for line in lines])
        submission = review_selectors.latest_submission(user=user)
        summary = {
            "phone": user.phone.as_e164 if user.phone else None,
            **_email_state(user),
            "verification_status": submission.status if submission else "none",
            "verified": user.real_name_verified_at is not None,
            "wallet_balance": billing_selectors.wallet_balance(user=user),
            "currency": "CNY",
            "unread_notifications": account_selectors.unread_notification_count(user=user),
            "lines": lines,
        }
        return AccountSummarySerializer(summary, context={"services": services}).data


def _email_state(user) -> dict:
    return {
        "email": user.email,
        "email_confirmed": user.email_verified_at is not None,
        "pending_email": user.pending_email or None,
    }


class EmailChangeSerializer(FormSerializer):
    form_class = EmailChangeForm
    email = serializers.EmailField(max_length=254)


class EmailConfirmSerializer(FormSerializer):
    form_class = CodeForm
    code = serializers.CharField(max_length=16, help_text="The 6 digits mailed to the email waiting.")


class EmailView(ApiView):
    @extend_schema(
        operation_id="email_change",
        request=EmailChangeSerializer,
        responses={202: AcceptedSerializer},
        summary="Mail a code to a new email; it becomes the account's once the code is sent back",
    )
    def post(self, request):
        """The account's email stays as it is until then; asking again mails a fresh code."""
        serializer = EmailChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        address = serializer.validated_data["email"]
        account_services.email_change_request(user=request.user, email=address, ip=client_ip(request))
        detail = _("We mailed a code to %(email)s. Type it here to confirm the address.") % {"email": address}
        return Response({"detail": str(detail)}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="email_change_cancel",
        request=None,
        responses={200: AccountEmailSerializer},
        summary="Cancel the email waiting for its code: the code stops working, the account's email stays",
    )
    def delete(self, request):
        """Refused (`email.no_email_waiting`) when no email is waiting."""
        user = account_services.email_change_cancel(user=request.user)
        return Response(AccountEmailSerializer(_email_state(user)).data)


class EmailConfirmView(ApiView):
    @extend_schema(
        operation_id="email_confirm",
        request=EmailConfirmSerializer,
        responses={200: AccountEmailSerializer},
        summary="Prove the email waiting with its code: it becomes the account's email",
    )
    def post(self, request):
        serializer = EmailConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = account_services.email_confirm(user=request.user, code=serializer.validated_data["code"])
        return Response(AccountEmailSerializer(_email_state(user)).data)


class LineAddSerializer(FormSerializer):
    form_class = LineAddForm
    activation_code = serializers.CharField(max_length=32, help_text="As printed, e.g. ABCD-EFGH-JKMN-PQRS.")


class LinesView(ApiView):
    @extend_schema(operation_id="line_add", request=LineAddSerializer, responses={201: LineSerializer})
    @idempotent
    def post(self, request):
        """Add a line to the account with its activation code (it waits for real-name verification)."""
        serializer = LineAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        line = account_services.line_attach(
            actor=request.user, activation_code=serializer.validated_data["activation_code"]
        )
        services = billing_selectors.services_by_line(line_ids=[line.pk])
        return Response(LineSerializer(line, context={"services": services}).data, status=status.HTTP_201_CREATED)


class AutoRenewSerializer(FormSerializer):
    form_class = AutoRenewForm
    enabled = serializers.BooleanField()
    method = serializers.ChoiceField(choices=LineService.AutoRenewMethod.choices)
    term_months = TermMonthsField()


class AutoRenewView(ApiView):
    @extend_schema(operation_id="line_auto_renew", request=AutoRenewSerializer, responses={200: LineServiceSerializer})
    def put(self, request, line_id: int):
        """Switch auto-renew on (with how it pays and for how long) or off."""
        if not billing_selectors.line_is_owned_by(line_id=line_id, user=request.user):
            raise Http404
        serializer = AutoRenewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        service = billing_services.autorenew_set(
            actor=request.user,
            line_id=line_id,
            enabled=data["enabled"],
            method=data["method"],
            term_months=data["term_months"],
        )
        service = billing_selectors.services_by_line(line_ids=[service.line_id])[service.line_id]
        return Response(LineServiceSerializer(service).data)


class SavedCardsView(ApiView):
    @extend_schema(operation_id="saved_cards", responses={200: SavedCardSerializer(many=True)})
    def get(self, request):
        """The cards kept for auto-renew ("wallet, then my saved card"), newest first: auto-renew charges the first."""
        cards = billing_selectors.saved_cards_of(user=request.user)
        return Response(SavedCardSerializer(cards, many=True).data)


class SavedCardView(ApiView):
    @extend_schema(operation_id="saved_card_remove", responses={200: SavedCardRemovedSerializer})
    def delete(self, request, card_id: int):
        """Stop keeping a card. With no card left, lines set to "wallet, then my saved card" renew from the wallet only.

        Someone else's card, or one already removed, is a 404.
        """
        removal = billing_services.saved_card_remove(actor=request.user, card_id=card_id)
        if removal.lines_to_wallet:
            detail = _("The card is removed. Auto-renew of those lines now pays from your wallet balance only.")
        else:
            detail = _("The card is removed.")
        body = {"detail": str(detail), "lines_to_wallet": [line.pk for line in removal.lines_to_wallet]}
        return Response(SavedCardRemovedSerializer(body).data)


class UsageView(ApiView):
    @extend_schema(operation_id="usage_by_month", responses={200: UsageMonthSerializer(many=True)})
    def get(self, request):
        """Usage (data MB, voice minutes, SMS) and money spent, per month, newest first (six months)."""
        return Response(UsageMonthSerializer(billing_selectors.usage_by_month(user=request.user), many=True).data)


class NotificationsView(ApiView):
    @extend_schema(
        operation_id="notifications",
        parameters=[CURSOR_PARAMETER],
        responses={200: paged(NotificationSerializer)},
    )
    def get(self, request):
        """The inbox, newest first."""
        page, next_before = account_selectors.notifications_page(user=request.user, before_id=decode_cursor(request))
        return Response({"results": NotificationSerializer(page, many=True).data, "next": encode_cursor(next_before)})


class NotificationsReadView(ApiView):
    @extend_schema(operation_id="notifications_mark_read", request=None, responses={204: None})
    def post(self, request):
        """Mark every message read."""
        account_services.notification_mark_all_read(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportView(ApiView):
    renderer_classes = ZIP_RENDERERS

    @extend_schema(
        operation_id="data_export",
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="A ZIP file.")},
    )
    def get(self, request):
        """Download your own records and ID photos (ZIP)."""
        response = HttpResponse(build_export(request.user), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="heyon-my-data-{timezone.localdate():%Y%m%d}.zip"'
        return response
