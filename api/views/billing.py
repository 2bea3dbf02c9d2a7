"""Plans, quotes, orders (renewal, top-up), paying, receipts, wallet refund."""

import hashlib

from django.conf import settings
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from api.idempotency import idempotent
from api.pagination import CURSOR_PARAMETER, keyset_page, paged
from api.renderers import PDF_RENDERERS
from api.selectors import orders_of
from api.serializers import (
    PAY_METHODS,
    FormSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    PayOutcomeSerializer,
    PlanSerializer,
    QuoteSerializer,
    TermMonthsField,
)
from api.views.base import ApiView
from billing import receipts
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.forms import PayForm, RenewalForm, TopUpForm
from billing.models import Order


def order_key(view, kind: str) -> str:
    """The billing order's own idempotency key: one order per use of an app's Idempotency-Key.

    A key used again after its 24 hours is a new use, so it names a new order.
    """
    record = view.idempotency_record
    raw = f"api:{record.pk}:{record.created_at.isoformat()}:{kind}"
    return hashlib.sha256(raw.encode()).hexdigest()


class PlansView(ApiView):
    @extend_schema(operation_id="plans", responses={200: PlanSerializer(many=True)})
    def get(self, request):
        """The plans on sale."""
        return Response(PlanSerializer(billing_selectors.plans_on_sale(), many=True).data)


class QuoteQuerySerializer(FormSerializer):
    form_class = RenewalForm
    line = serializers.IntegerField(min_value=1)
    plan = serializers.IntegerField(min_value=1)
    term_months = TermMonthsField()

    def form_data(self, attrs):
        return {**attrs, "idempotency_key": "quote"}


class QuoteView(ApiView):
    @extend_schema(
        operation_id="renewal_quote",
        parameters=[
            OpenApiParameter("line", int, required=True),
            OpenApiParameter("plan", int, required=True),
            OpenApiParameter("term_months", int, required=True, enum=list(settings.RENEWAL_TERMS_MONTHS)),
        ],
        responses={200: QuoteSerializer},
    )
    def get(self, request):
        """Price, allowances and new validity end of renewing a line on a plan for a term."""
        serializer = QuoteQuerySerializer(data=request.query_params, context={"form_kwargs": {"user": request.user}})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        quote = billing_selectors.renewal_quote(line=data["line"], plan=data["plan"], term_months=data["term_months"])
        return Response(QuoteSerializer(quote).data)


class RenewalOrderSerializer(QuoteQuerySerializer):
    pass


class RenewalOrdersView(ApiView):
    @extend_schema(
        operation_id="renewal_order_create", request=RenewalOrderSerializer, responses={201: OrderSerializer}
    )
    @idempotent
    def post(self, request):
        """Open a renewal order for one of your lines (pay it next)."""
        serializer = RenewalOrderSerializer(data=request.data, context={"form_kwargs": {"user": request.user}})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = billing_services.renewal_order_create(
            user=request.user,
            line_id=data["line"].pk,
            plan_id=data["plan"].pk,
            term_months=data["term_months"],
            idempotency_key=order_key(self, "renewal"),
            actor=request.user,
        )
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


class TopUpSerializer(FormSerializer):
    form_class = TopUpForm
    amount = serializers.DecimalField(max_digits=8, decimal_places=2, help_text="CNY, 1 to 5000.")

    def form_data(self, attrs):
        return {**attrs, "idempotency_key": "top-up"}


class TopUpOrdersView(ApiView):
    @extend_schema(operation_id="top_up_order_create", request=TopUpSerializer, responses={201: OrderSerializer})
    @idempotent
    def post(self, request):
        """Open a wallet top-up order (pay it by Alipay, WeChat Pay or card)."""
        serializer = TopUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = billing_services.topup_order_create(
            user=request.user,
            amount=serializer.validated_data["amount"],
            idempotency_key=order_key(self, "top-up"),
        )
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


class OrdersView(ApiView):
    @extend_schema(operation_id="orders", parameters=[CURSOR_PARAMETER], responses={200: paged(OrderSerializer)})
    def get(self, request):
        """Your orders, newest first."""
        page, next_cursor = keyset_page(orders_of(user=request.user), request)
        return Response({"results": OrderSerializer(page, many=True).data, "next": next_cursor})


def owned_order(request, number: str) -> Order:
    order = billing_selectors.order_for_owner(number=number, user=request.user)
    if order is None:
        raise Http404
    return order


class OrderView(ApiView):
    @extend_schema(operation_id="order", responses={200: OrderDetailSerializer})
    def get(self, request, number: str):
        """One of your orders, with its payment attempts."""
        return Response(OrderDetailSerializer(owned_order(request, number)).data)


class PaySerializer(FormSerializer):
    form_class = PayForm
    method = serializers.ChoiceField(choices=PAY_METHODS)
    card_number = serializers.CharField(required=False, allow_blank=True, max_length=23)
    card_expiry = serializers.CharField(required=False, allow_blank=True, max_length=5, help_text="MM/YY")
    card_cvc = serializers.CharField(required=False, allow_blank=True, max_length=4)
    save_card = serializers.BooleanField(required=False, default=False)


class OrderPayView(ApiView):
    @extend_schema(operation_id="order_pay", request=PaySerializer, responses={200: PayOutcomeSerializer})
    @idempotent
    def post(self, request, number: str):
        """Pay an open order. Alipay / WeChat Pay answer with the cashier's URL; a card or the wallet pays at once."""
        order = owned_order(request, number)
        serializer = PaySerializer(
            data=request.data, context={"form_kwargs": {"allow_wallet": order.kind == Order.Kind.RENEWAL}}
        )
        serializer.is_valid(raise_exception=True)
        outcome = billing_services.order_pay(
            order_id=order.pk,
            method=serializer.validated_data["method"],
            actor=request.user,
            card=serializer.form.card(),
        )
        body = {
            "order": OrderDetailSerializer(owned_order(request, number)).data,
            "redirect_url": outcome.redirect_url,
            "error": outcome.error,
        }
        return Response(body)


class ReceiptView(ApiView):
    renderer_classes = PDF_RENDERERS

    @extend_schema(
        operation_id="receipt_pdf",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The receipt, PDF.")},
    )
    def get(self, request, number: str):
        """A receipt of yours as a printable PDF."""
        receipt = billing_selectors.receipt_for_viewer(number=number, user=request.user)
        if receipt is None:
            raise Http404
        response = HttpResponse(receipts.render_pdf(receipt), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="receipt-{receipt.number}.pdf"'
        return response


class RefundSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)


class WalletRefundView(ApiView):
    @extend_schema(operation_id="wallet_refund", request=None, responses={200: RefundSerializer})
    @idempotent
    def post(self, request):
        """Return the whole wallet balance to the original payment method (before cancelling)."""
        amount = billing_services.wallet_refund_balance(
            user=request.user,
            actor=request.user,
            reference=f"api-refund:{order_key(self, 'refund')[:48]}",
        )
        return Response(RefundSerializer({"amount": amount}).data)
