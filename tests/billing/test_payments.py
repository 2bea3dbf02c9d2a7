"""Paying orders: wallet, cards, the sandbox cashier; failures, timeouts, late successes; receipts."""

from datetime import timedelta
from decimal import Decimal

import pypdfium2
import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Notification
from billing import selectors, services
from billing.gateways.sandbox import SandboxGateway
from billing.models import LedgerEntry, LineService, Order, Payment, Receipt, ReceiptSequence, SandboxCharge, SavedCard
from billing.services.errors import (
    ERR_CARD_DECLINED,
    ERR_INSUFFICIENT_BALANCE,
    ERR_METHOD_NOT_ALLOWED,
    ERR_PROVIDER_TIMEOUT,
)
from tests.billing.conftest import (
    charges_total,
    fund,
    key,
    page_shows,
    renewal_order,
    verified_customer,
    wallet_balance,
)
from tests.factories import CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
TIMEOUT_CARD = "4000 0000 0000 0119"


def card(number=GOOD_CARD, save=False):
    return {"number": number, "save": save}


def card_form(number=GOOD_CARD, **extra):
    return {"method": "card", "card_number": number, "card_expiry": "12/30", "card_cvc": "123", **extra}


class Boom(Exception):
    pass


# --- wallet -----------------------------------------------------------------------------


def test_a_wallet_payment_charges_once_and_renews_the_line_at_once(customer_line, plans):
    user, line = customer_line
    fund(user, "200")
    old_end = line.validity_end
    order = renewal_order(user, line, plans["standard"], term_months=3)

    outcome = services.order_pay(order_id=order.pk, method="wallet", actor=user)

    assert outcome.error == ""
    assert outcome.order.status == Order.Status.PAID
    assert outcome.payment.method == Payment.Method.WALLET
    assert outcome.payment.status == Payment.Status.SUCCEEDED
    assert wallet_balance(user) == Decimal("20.00")
    assert LedgerEntry.objects.get(kind="charge").reference == order.number
    line.refresh_from_db()
    assert (
        line.validity_end
        == selectors.renewal_quote(
            line=type(line)(validity_end=old_end), plan=plans["standard"], term_months=3
        ).new_validity_end
    )
    assert line.validity_end == Order.objects.get(pk=order.pk).new_validity_end
    service = LineService.objects.get(line=line)
    assert service.plan == plans["standard"]
    # The month the line started with on its first plan (basic), and the renewal's three.
    assert service.data_left_mb == plans["basic"].data_mb + 3 * plans["standard"].data_mb
    assert service.voice_left_minutes == plans["basic"].voice_minutes + 3 * plans["standard"].voice_minutes
    assert service.sms_left == plans["basic"].sms_count + 3 * plans["standard"].sms_count
    assert Receipt.objects.get(order=order).amount == Decimal("180.00")
    assert Notification.objects.filter(user=user, link=f"/billing/orders/{order.number}/").count() == 1


def test_paying_twice_by_wallet_charges_once(customer_line, plans):
    user, line = customer_line
    fund(user, "100")
    order = renewal_order(user, line, plans["basic"])

    first = services.order_pay(order_id=order.pk, method="wallet", actor=user)
    second = services.order_pay(order_id=order.pk, method="wallet", actor=user)

    assert first.payment.pk == second.payment.pk
    assert second.order.status == Order.Status.PAID
    assert charges_total(user) == Decimal("-30.00")
    assert Payment.objects.count() == 1
    assert Receipt.objects.count() == 1


def test_a_wallet_payment_is_all_or_nothing(customer_line, plans, monkeypatch):
    """Charge, validity, allowances and receipt are one transaction: a failure late in it undoes the charge."""
    user, line = customer_line
    fund(user, "100")
    old_end = line.validity_end
    started = LineService.objects.filter(line=line).values_list("data_left_mb", "voice_left_minutes").get()
    order = renewal_order(user, line, plans["basic"])

    def fail(**kwargs):
        raise Boom

    monkeypatch.setattr("billing.services.orders.receipts_allocate", fail)
    with pytest.raises(Boom):
        services.order_pay(order_id=order.pk, method="wallet", actor=user)

    assert wallet_balance(user) == Decimal("100.00")
    assert not LedgerEntry.objects.filter(kind="charge").exists()
    assert not Payment.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    line.refresh_from_db()
    assert line.validity_end == old_end
    # What the line started with at activation, nothing of the renewal.
    assert LineService.objects.filter(line=line).values_list("data_left_mb", "voice_left_minutes").get() == started


def test_a_wallet_too_small_is_refused_and_the_order_stays_open(customer_line, plans):
    user, line = customer_line
    fund(user, "29.99")
    order = renewal_order(user, line, plans["basic"])

    with pytest.raises(services.BillingError) as refused:
        services.order_pay(order_id=order.pk, method="wallet", actor=user)

    assert str(refused.value) == str(ERR_INSUFFICIENT_BALANCE)
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert wallet_balance(user) == Decimal("29.99")
    assert not Payment.objects.exists()


def test_a_top_up_cannot_be_paid_from_the_wallet():
    user = CustomerFactory()
    fund(user, "100")
    order = services.topup_order_create(user=user, amount=Decimal("50"), idempotency_key=key())

    with pytest.raises(services.BillingError) as refused:
        services.order_pay(order_id=order.pk, method="wallet", actor=user)
    with pytest.raises(services.BillingError) as unknown:
        services.order_pay(order_id=order.pk, method="bitcoin", actor=user)

    assert str(refused.value) == str(unknown.value) == str(ERR_METHOD_NOT_ALLOWED)
    assert wallet_balance(user) == Decimal("100.00")


# --- cards and the cashier --------------------------------------------------------------


def test_a_card_payment_succeeds_and_can_save_the_card(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])

    outcome = services.order_pay(order_id=order.pk, method="card", actor=user, card=card(save=True))

    assert outcome.error == ""
    assert outcome.order.status == Order.Status.PAID
    assert outcome.payment.card_last4 == "4242"
    assert SandboxCharge.objects.get().status == "succeeded"
    assert SavedCard.objects.get(user=user).last4 == "4242"
    assert not LedgerEntry.objects.exists()


def test_a_card_payment_without_saving_keeps_no_card(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])

    services.order_pay(order_id=order.pk, method="card", actor=user, card=card())

    assert not SavedCard.objects.exists()


def test_declined_card_leaves_the_order_open_then_alipay_at_the_cashier_pays_it(english, customer_line, plans):
    user, line = customer_line
    english.force_login(user)
    order = renewal_order(user, line, plans["standard"], term_months=3)
    pay_url = f"/billing/orders/{order.number}/pay/"

    declined = english.post(pay_url, card_form(DECLINED_CARD), follow=True)

    assert page_shows(declined, ERR_CARD_DECLINED)
    assert declined.context["order"].status == Order.Status.OPEN
    assert declined.context["last_failed"].status == Payment.Status.FAILED
    assert Order.objects.get(pk=order.pk).last_failure == "card_declined"
    assert SandboxCharge.objects.get().status == "failed"

    to_cashier = english.post(pay_url, {"method": "alipay"})
    assert to_cashier.status_code == 302
    assert to_cashier["Location"].startswith("/billing/sandbox/cashier/P")
    cashier = english.get(to_cashier["Location"])
    assert cashier.status_code == 200
    assert cashier.context["charge"].status == "waiting"
    back = english.post(to_cashier["Location"], {"outcome": "pay"})

    assert back["Location"] == f"/billing/orders/{order.number}/"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert list(order.payments.order_by("pk").values_list("method", "status")) == [
        ("card", "failed"),
        ("alipay", "succeeded"),
    ]
    assert order.receipt.payment_method == "alipay"
    page = english.get(f"/billing/orders/{order.number}/")
    assert page_shows(page, f"Download receipt {order.receipt.number} (PDF)")


def test_declining_at_the_cashier_fails_the_payment_and_keeps_the_order_open(client, customer_line, plans):
    user, line = customer_line
    client.force_login(user)
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="wechat", actor=user)

    client.post(outcome.redirect_url, {"outcome": "decline"})

    payment = Payment.objects.get()
    assert payment.status == Payment.Status.FAILED
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert not Receipt.objects.exists()


def test_the_cashier_page_of_another_customers_payment_is_not_found(client, customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    stranger, _line = verified_customer()
    client.force_login(stranger)

    assert client.get(outcome.redirect_url).status_code == 404
    assert client.post(outcome.redirect_url, {"outcome": "pay"}).status_code == 404
    assert SandboxCharge.objects.get().status == "waiting"


def test_the_cashier_refuses_an_unknown_outcome(client, customer_line, plans):
    user, line = customer_line
    client.force_login(user)
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user)

    assert client.post(outcome.redirect_url, {"outcome": "steal"}).status_code == 400
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN


def test_a_card_form_without_card_details_is_refused_before_any_charge(english, customer_line, plans):
    user, line = customer_line
    english.force_login(user)
    order = renewal_order(user, line, plans["basic"])

    response = english.post(f"/billing/orders/{order.number}/pay/", {"method": "card"}, follow=True)

    assert page_shows(response, "Enter the card number (12 to 19 digits).")
    assert not Payment.objects.exists()


# --- timeouts: charged at the provider, answer lost -------------------------------------


def test_a_timed_out_card_is_settled_by_query_before_the_next_attempt_and_not_charged_again(
    english, customer_line, plans
):
    user, line = customer_line
    english.force_login(user)
    fund(user, "100")
    order = renewal_order(user, line, plans["basic"])

    timed_out = services.order_pay(order_id=order.pk, method="card", actor=user, card=card(TIMEOUT_CARD))

    assert timed_out.error == str(ERR_PROVIDER_TIMEOUT)
    assert timed_out.payment.status == Payment.Status.UNKNOWN
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert SandboxCharge.objects.get().status == "succeeded"  # the provider did charge
    page = english.get(f"/billing/orders/{order.number}/")
    assert page.context["in_flight"] is True

    retry = services.order_pay(order_id=order.pk, method="wallet", actor=user)

    assert retry.order.status == Order.Status.PAID
    assert retry.payment.pk == timed_out.payment.pk
    assert Payment.objects.get().status == Payment.Status.SUCCEEDED
    assert SandboxCharge.objects.filter(status="succeeded").count() == 1
    assert wallet_balance(user) == Decimal("100.00")  # the wallet was not charged as well
    assert Receipt.objects.get(order=order).payment_method == "card"


def test_a_timed_out_card_retried_with_a_card_is_not_charged_twice(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=order.pk, method="card", actor=user, card=card(TIMEOUT_CARD))

    retry = services.order_pay(order_id=order.pk, method="card", actor=user, card=card())

    assert retry.order.status == Order.Status.PAID
    assert Payment.objects.count() == 1
    assert SandboxCharge.objects.count() == 1


def test_the_scheduler_settles_unknown_payments(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=order.pk, method="card", actor=user, card=card(TIMEOUT_CARD))

    assert services.payments_settle() == {"checked": 1, "settled": 1}

    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert services.payments_settle() == {"checked": 0, "settled": 0}


def test_an_attempt_the_provider_never_received_is_settled_as_failed_and_a_new_one_is_made(
    customer_line, plans, monkeypatch
):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    real_create = SandboxGateway.create

    def lost(self, **kwargs):
        raise ConnectionError("network down")

    monkeypatch.setattr(SandboxGateway, "create", lost)
    first = services.order_pay(order_id=order.pk, method="card", actor=user, card=card())
    assert first.error == str(ERR_PROVIDER_TIMEOUT)
    first.payment.refresh_from_db()
    assert first.payment.status == Payment.Status.UNKNOWN
    monkeypatch.setattr(SandboxGateway, "create", real_create)

    second = services.order_pay(order_id=order.pk, method="card", actor=user, card=card())

    assert second.order.status == Order.Status.PAID
    assert list(order.payments.order_by("pk").values_list("status", flat=True)) == ["failed", "succeeded"]
    assert SandboxCharge.objects.filter(status="succeeded").count() == 1


def test_a_timeout_at_the_cashier_is_settled_on_the_next_attempt(client, customer_line, plans):
    user, line = customer_line
    client.force_login(user)
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user)

    client.post(outcome.redirect_url, {"outcome": "timeout"})
    assert Payment.objects.get().status == Payment.Status.PENDING
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN

    retry = services.order_pay(order_id=order.pk, method="wechat", actor=user)

    assert retry.order.status == Order.Status.PAID
    assert Payment.objects.count() == 1
    assert SandboxCharge.objects.count() == 1


# --- a success for an order that is already paid ----------------------------------------


def test_a_late_success_for_an_already_paid_order_is_refunded_and_the_customer_told(
    client, customer_line, plans, django_capture_on_commit_callbacks
):
    user, line = customer_line
    client.force_login(user)
    fund(user, "100")
    order = renewal_order(user, line, plans["basic"])
    alipay = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    services.order_pay(order_id=order.pk, method="wallet", actor=user)  # pays while Alipay is pending
    old_end = Order.objects.get(pk=order.pk).new_validity_end

    with django_capture_on_commit_callbacks(execute=True):  # the refund leaves after the commit
        client.post(alipay.redirect_url, {"outcome": "pay"})  # the customer also pays at the cashier

    late = Payment.objects.get(pk=alipay.payment.pk)
    assert late.status == Payment.Status.REFUNDED
    assert late.failure_reason == "order_already_closed"
    assert SandboxCharge.objects.get(out_trade_no=late.out_trade_no).status == "refunded"
    assert order.payments.filter(status=Payment.Status.SUCCEEDED).get().method == "wallet"
    assert Receipt.objects.filter(order=order).count() == 1
    assert charges_total(user) == Decimal("-30.00")
    line.refresh_from_db()
    assert line.validity_end == old_end  # not extended twice
    assert Notification.objects.filter(user=user, params__number=order.number).count() == 1


def test_a_success_for_an_expired_order_is_refunded(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    alipay = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.EXPIRED)

    SandboxGateway().complete_at_cashier(out_trade_no=alipay.payment.out_trade_no, outcome="pay")

    assert Payment.objects.get().status == Payment.Status.REFUNDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED
    assert not Receipt.objects.exists()


def test_a_recorded_failure_is_final_against_anything_but_a_success(customer_line, plans):
    # A success after it is the provider taking the money after all: tests/billing/test_late_success.py.
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="card", actor=user, card=card(DECLINED_CARD))

    for status in ("failed", "pending", "unknown"):
        again = services.payment_record_result(
            out_trade_no=outcome.payment.out_trade_no, status=status, failure_reason="timeout"
        )
        assert (again.status, again.failure_reason) == (Payment.Status.FAILED, "card_declined")
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN


def test_a_recorded_success_is_final(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="card", actor=user, card=card())

    for status in ("failed", "pending", "unknown", "succeeded"):
        again = services.payment_record_result(out_trade_no=outcome.payment.out_trade_no, status=status)
        assert again.status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert Receipt.objects.filter(order=order).count() == 1


# --- receipts ---------------------------------------------------------------------------


def test_receipt_numbers_are_sequential_without_gaps(plans):
    year = timezone.localtime().year
    numbers = []
    for _ in range(3):
        user, line = verified_customer()
        fund(user, "30")
        order = renewal_order(user, line, plans["basic"])
        services.order_pay(order_id=order.pk, method="wallet", actor=user)
        numbers.append(Receipt.objects.get(order=order).number)
    top_up = services.topup_order_create(user=user, amount=Decimal("10"), idempotency_key=key())
    services.order_pay(order_id=top_up.pk, method="card", actor=user, card=card())
    numbers.append(Receipt.objects.get(order=top_up).number)

    assert numbers == [f"HY{year}-{n:08d}" for n in (1, 2, 3, 4)]
    assert ReceiptSequence.objects.get(year=year).last_number == 4


def test_a_rolled_back_payment_does_not_use_up_a_receipt_number(customer_line, plans):
    user, line = customer_line
    year = timezone.localtime().year
    fund(user, "100")
    first = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=first.pk, method="wallet", actor=user)
    doomed = renewal_order(user, line, plans["basic"])

    with pytest.raises(Boom), transaction.atomic():
        services.order_pay(order_id=doomed.pk, method="wallet", actor=user)
        assert Receipt.objects.get(order=doomed).number == f"HY{year}-00000002"
        raise Boom

    third = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=third.pk, method="wallet", actor=user)

    assert Receipt.objects.get(order=third).number == f"HY{year}-00000002"
    assert not Receipt.objects.filter(order=doomed).exists()
    assert Order.objects.get(pk=doomed.pk).status == Order.Status.OPEN
    assert wallet_balance(user) == Decimal("40.00")


@pytest.fixture
def paid_order(customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=order.pk, method="card", actor=user, card=card())
    return Order.objects.select_related("receipt").get(pk=order.pk)


def pdf_text(content: bytes) -> str:
    document = pypdfium2.PdfDocument(content)
    return "".join(page.get_textpage().get_text_range() for page in document)


def test_the_owner_downloads_the_receipt_pdf(client, paid_order):
    client.force_login(paid_order.user)

    response = client.get(f"/billing/receipts/{paid_order.receipt.number}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    text = pdf_text(response.content)
    assert paid_order.receipt.number in text
    assert paid_order.number in text
    assert "30.00" in text


def test_another_customer_cannot_download_the_receipt(client, paid_order):
    stranger, _line = verified_customer()
    client.force_login(stranger)

    assert client.get(f"/billing/receipts/{paid_order.receipt.number}/pdf/").status_code == 404


def test_an_anonymous_visitor_is_sent_to_sign_in_for_a_receipt(client, paid_order):
    response = client.get(f"/billing/receipts/{paid_order.receipt.number}/pdf/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_staff_who_may_view_receipts_can_download_one(client, paid_order):
    client.force_login(make_staff("support"))

    response = client.get(f"/billing/receipts/{paid_order.receipt.number}/pdf/")

    assert response.status_code == 200
    assert paid_order.receipt.number in pdf_text(response.content)


def test_staff_without_the_receipt_permission_cannot_download_one(client, paid_order):
    client.force_login(make_staff("reviewer"))

    assert client.get(f"/billing/receipts/{paid_order.receipt.number}/pdf/").status_code == 404


def test_an_unknown_receipt_number_is_not_found(client, paid_order):
    client.force_login(paid_order.user)

    assert client.get("/billing/receipts/HY2000-00000999/pdf/").status_code == 404


def test_an_order_left_unpaid_past_its_time_shows_as_expired(english, customer_line, plans):
    user, line = customer_line
    english.force_login(user)
    order = renewal_order(user, line, plans["basic"])
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    response = english.post(f"/billing/orders/{order.number}/pay/", {"method": "alipay"}, follow=True)

    assert response.context["order"].status == Order.Status.EXPIRED
    assert page_shows(response, "This order has expired; nothing was charged.")
    assert not Payment.objects.exists()
