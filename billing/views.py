"""Billing pages: renew, pay, top up, receipts, auto-renew; the provider webhook; the store desk."""

import base64
import io
import logging

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.models import Line
from accounts.permissions import staff_permission_required
from billing import receipts, selectors, services
from billing.forms import AutoRenewForm, PayForm, RenewalForm, StoreLookupForm, StoreRenewalForm, TopUpForm
from billing.gateways import cashier_origins, gateway_named
from billing.models import Order, Payment, SandboxCharge
from billing.services.errors import ERR_SERVICE_ENDED
from billing.webhooks import NOTIFICATION_REFUSED, handle_provider_notification

logger = logging.getLogger(__name__)
RENEW_AT_STORE = "billing.renew_at_store"


@login_required
@require_http_methods(["GET", "POST"])
def renew(request):
    form = RenewalForm(request.POST or None, user=request.user, line_hint=request.GET.get("line"))
    if request.method == "POST" and form.is_valid():
        try:
            order = services.renewal_order_create(
                user=request.user,
                line_id=form.cleaned_data["line"].pk,
                plan_id=form.cleaned_data["plan"].pk,
                term_months=form.cleaned_data["term_months"],
                idempotency_key=form.cleaned_data["idempotency_key"],
                actor=request.user,
            )
        except services.BillingError as error:
            form.add_error(None, str(error))
        else:
            return redirect("billing:order", number=order.number)
    has_lines = form.fields["line"].queryset.exists()
    return render(request, "billing/renew.html", {"form": form, "has_lines": has_lines})


@login_required
@require_http_methods(["GET", "POST"])
def top_up(request):
    form = TopUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order = services.topup_order_create(
                user=request.user,
                amount=form.cleaned_data["amount"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except services.ServiceEnded as error:
            form.add_error(None, str(error))  # about the account, not the amount
        except services.BillingError as error:
            form.add_error("amount", str(error))
        else:
            return redirect("billing:order", number=order.number)
    context = {
        "form": form,
        "balance": selectors.wallet_balance(user=request.user),
        "quick_amounts": TopUpForm.QUICK_AMOUNTS,
        # An account with no service takes no money: the page says why instead of asking for an amount.
        "service_ended": ERR_SERVICE_ENDED if account_selectors.customer_service_has_ended(user=request.user) else "",
    }
    return render(request, "billing/top_up.html", context)


def _owned_order(request, number):
    order = selectors.order_for_owner(number=number, user=request.user)
    if order is None:
        raise Http404
    return order


@login_required
@require_GET
def order_detail(request, number: str):
    order = _owned_order(request, number)
    returned = request.GET.get("out_trade_no", "")
    if returned and order.status == Order.Status.OPEN:
        # Back from the provider's cashier: ask how that attempt ended rather than wait for
        # the callback (which may be late or lost). Only this order's own pending attempt.
        payment = order.payments.filter(out_trade_no=returned, status=Payment.Status.PENDING).first()
        if payment is not None:
            services.payment_settle_by_query(payment_id=payment.pk)
            order = _owned_order(request, number)
    quote = None
    if order.kind == Order.Kind.RENEWAL and order.status == Order.Status.OPEN:
        quote = selectors.renewal_quote(line=order.line, plan=order.plan, term_months=order.term_months)
    failed = [payment for payment in order.payments.all() if payment.status == Payment.Status.FAILED]
    # What the wallet can pay: its balance less what is held for refunds in progress.
    spendable = selectors.wallet_available(user=request.user)
    context = {
        "order": order,
        "quote": quote,
        "pay_form": PayForm(allow_wallet=order.kind == Order.Kind.RENEWAL, wallet_covers=spendable >= order.amount),
        "spendable": spendable,
        "last_failed": failed[-1] if failed else None,
        "in_flight": any(p.status in Payment.UNSETTLED for p in order.payments.all()),
    }
    response = render(request, "billing/order.html", context)
    # The pay form may send the customer on to a provider's cashier.
    response._csp_update = {"form-action": cashier_origins()}
    return response


@login_required
@require_POST
def order_pay(request, number: str):
    order = _owned_order(request, number)
    form = PayForm(request.POST, allow_wallet=order.kind == Order.Kind.RENEWAL)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("billing:order", number=order.number)
    try:
        outcome = services.order_pay(
            order_id=order.pk,
            method=form.cleaned_data["method"],
            actor=request.user,
            card=form.card(),
            device="phone" if "Mobi" in request.headers.get("User-Agent", "") else "web",
            client_ip=request.META.get("REMOTE_ADDR", ""),
        )
    except services.BillingError as error:
        messages.error(request, str(error))
        return redirect("billing:order", number=order.number)
    if outcome.redirect_url:
        return redirect(outcome.redirect_url)
    if outcome.error:
        messages.error(request, outcome.error)
    elif outcome.order.status == Order.Status.PAID:
        messages.success(request, _("Paid. Thank you!"))
    return redirect("billing:order", number=order.number)


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_cashier(request, out_trade_no: str):
    """The sandbox's stand-in for the Alipay / WeChat Pay cashier page."""
    payment = Payment.objects.select_related("order").filter(out_trade_no=out_trade_no).first()
    if payment is None or payment.order.user_id != request.user.pk:
        raise Http404
    charge = SandboxCharge.objects.filter(out_trade_no=out_trade_no).first()
    if request.method == "POST":
        outcome = request.POST.get("outcome")
        if outcome not in ("pay", "decline", "timeout") or charge is None:
            return HttpResponseBadRequest()
        gateway_named("sandbox").complete_at_cashier(out_trade_no=out_trade_no, outcome=outcome)
        return redirect("billing:order", number=payment.order.number)
    return render(request, "billing/sandbox_cashier.html", {"payment": payment, "charge": charge})


@login_required
@require_GET
def wechat_qr(request, out_trade_no: str):
    """WeChat Pay Native: the QR code the customer scans with WeChat, for their own pending attempt."""
    payment = Payment.objects.select_related("order").filter(out_trade_no=out_trade_no).first()
    if payment is None or payment.order.user_id != request.user.pk:
        raise Http404
    code_url = request.GET.get("code_url", "")
    if not code_url.startswith("weixin://"):
        return HttpResponseBadRequest()
    buffer = io.BytesIO()
    segno.make(code_url, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True)
    qr = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    return render(request, "billing/wechat_qr.html", {"payment": payment, "qr": qr})


@csrf_exempt  # a signed provider callback: the signature, not a cookie, proves who sent it
@require_POST
def provider_webhook(request, provider: str):
    try:
        handle_provider_notification(provider=provider, headers=request.headers, body=request.body)
    except KeyError as error:
        raise Http404 from error
    except NOTIFICATION_REFUSED as error:
        logger.warning("Rejected %s notification: %s", provider, error)
        return HttpResponse("invalid", status=400, content_type="text/plain")
    return HttpResponse("success", content_type="text/plain")


@login_required
@require_GET
def receipt_pdf(request, number: str):
    receipt = selectors.receipt_for_viewer(number=number, user=request.user)
    if receipt is None:
        raise Http404
    response = HttpResponse(receipts.render_pdf(receipt), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{receipt.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def auto_renew(request, line_id: int):
    # Someone else's line answers like a missing one: ids cannot be probed.
    if not selectors.line_is_owned_by(line_id=line_id, user=request.user):
        raise Http404
    form = AutoRenewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose how auto-renew should pay."))
        return redirect("customers:account_centre")
    try:
        services.autorenew_set(
            actor=request.user,
            line_id=line_id,
            enabled=form.cleaned_data["enabled"],
            method=form.cleaned_data["method"],
            term_months=form.cleaned_data["term_months"],
        )
    except services.BillingError as error:
        messages.error(request, str(error))
    except Line.DoesNotExist as error:
        raise Http404 from error
    else:
        if form.cleaned_data["enabled"]:
            messages.success(request, _("Auto-renew is on. We renew a few days before the line ends."))
        else:
            messages.success(request, _("Auto-renew is off."))
    return redirect("customers:account_centre")


# --- store desk -------------------------------------------------------------------------


@staff_permission_required(RENEW_AT_STORE)
@require_http_methods(["GET", "POST"])
def store_renew(request):
    """Step 1: the clerk looks the line up by its number; step 2: ID, plan, term, payment."""
    lookup = StoreLookupForm(request.POST if "lookup" in request.POST else None)
    renewal_form = None
    line = None
    if lookup.is_bound:
        if lookup.is_valid():
            line = selectors.line_by_number(msisdn=lookup.cleaned_data["msisdn"])
            if line is None:
                lookup.add_error("msisdn", str(services.errors.ERR_NO_SUCH_LINE))
            else:
                renewal_form = StoreRenewalForm(initial={"msisdn": line.msisdn.as_e164})
    elif request.method == "POST":
        renewal_form = StoreRenewalForm(request.POST)
        line = selectors.line_by_number(msisdn=request.POST.get("msisdn", ""))
        if renewal_form.is_valid() and line is not None:
            data = renewal_form.cleaned_data
            try:
                order = services.store_renewal(
                    actor=request.user,
                    msisdn=line.msisdn,
                    id_number=data["id_number"],
                    plan_id=data["plan"].pk,
                    term_months=data["term_months"],
                    method=data["method"],
                    idempotency_key=data["idempotency_key"],
                )
            except services.BillingError as error:
                renewal_form.add_error(None, str(error))
            else:
                messages.success(request, _("Renewed. Print the receipt for the customer."))
                return redirect("billing:store_receipt", number=order.receipt.number)
    services_map = selectors.services_by_line(line_ids=[line.pk]) if line else {}
    context = {
        "lookup": lookup if renewal_form is None else StoreLookupForm(),
        "form": renewal_form,
        "line": line,
        "service": services_map.get(line.pk) if line else None,
        "point": request.user.service_point,
    }
    return render(request, "billing/store_renew.html", context)


@staff_permission_required(RENEW_AT_STORE)
@require_GET
def store_receipt(request, number: str):
    # A clerk reprints only their own store's receipts (the selector decides; see receipt_for_viewer).
    receipt = selectors.receipt_for_viewer(number=number, user=request.user)
    if receipt is None:
        raise Http404
    return render(request, "billing/store_receipt.html", {"receipt": receipt})
