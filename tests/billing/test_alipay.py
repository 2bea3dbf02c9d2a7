"""Alipay through python-alipay-sdk against the local fake: cashier, notification, query, close, refund."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from billing import services
from billing.models import LedgerEntry, Order, Payment, ProviderNotification, Refund, Wallet
from tests.billing.conftest import key, renewal_order, verified_customer
from tests.billing.fake_providers.crypto import key_pair

pytestmark = pytest.mark.django_db
WEBHOOK = "/billing/webhooks/alipay/"


def start(order, user, device="phone"):
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user, device=device)
    payment = Payment.objects.get(pk=outcome.payment.pk)
    assert payment.status == Payment.Status.PENDING
    return outcome.redirect_url, payment


def post(client, body):
    return client.post(WEBHOOK, data=body, content_type="application/x-www-form-urlencoded")


def test_a_renewal_paid_at_the_phone_cashier_is_paid_by_the_signed_notification(alipay_fake, plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    redirect_url, payment = start(order, user)

    assert redirect_url.startswith(alipay_fake.base_url + "/gateway.do?")
    page = alipay_fake.open_cashier(redirect_url)  # the fake verified the SDK's RSA2 signature
    assert "fake-alipay-pay" in page
    trade = alipay_fake.trades[payment.out_trade_no]
    assert trade["product_code"] == "QUICK_WAP_PAY"
    assert trade["total_amount"] == f"{order.amount:.2f}"
    assert trade["time_expire"]  # Alipay stops taking it at the order's pay-before time
    assert trade["notify_url"] == "http://testserver/billing/webhooks/alipay/"

    alipay_fake.pay(payment.out_trade_no)

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.provider_transaction_id == trade["trade_no"]


def test_the_web_gets_the_page_cashier(alipay_fake, plans):
    user, line = verified_customer()
    redirect_url, payment = start(renewal_order(user, line, plans["basic"]), user, device="web")
    alipay_fake.open_cashier(redirect_url)
    assert alipay_fake.trades[payment.out_trade_no]["product_code"] == "FAST_INSTANT_TRADE_PAY"


def test_a_customer_who_leaves_the_cashier_unpaid_fails_once_the_trade_is_closed(alipay_fake, plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    redirect_url, payment = start(order, user)
    alipay_fake.open_cashier(redirect_url)

    # Before the order's time the trade is still payable: nothing is decided.
    assert services.payment_settle_by_query(payment_id=payment.pk).status == Payment.Status.PENDING

    later = order.expires_at + timedelta(minutes=1)
    assert services.payments_settle(now=later) == {"checked": 1, "settled": 1}
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert alipay_fake.trades[payment.out_trade_no]["status"] == "TRADE_CLOSED"
    assert "alipay.trade.close" in alipay_fake.requests
    assert services.orders_expire_stale(now=later) == 1


def test_a_cashier_never_opened_is_pending_not_failed(alipay_fake, plans):
    # Alipay does not know a trade until its cashier opens: "not found" must not fail it,
    # or a customer who pays later in that tab would pay for nothing.
    user, line = verified_customer()
    _redirect, payment = start(renewal_order(user, line, plans["basic"]), user)
    assert services.payment_settle_by_query(payment_id=payment.pk).status == Payment.Status.PENDING


def test_a_lost_notification_is_settled_by_query_when_the_customer_returns(alipay_fake, plans, client):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    redirect_url, payment = start(order, user)
    alipay_fake.open_cashier(redirect_url)
    alipay_fake.drop_notifications = True
    alipay_fake.pay(payment.out_trade_no)
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN

    client.force_login(user)
    response = client.get(f"/billing/orders/{order.number}/", {"out_trade_no": payment.out_trade_no})

    assert response.status_code == 200
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert "alipay.trade.query" in alipay_fake.requests


def test_a_query_without_answer_leaves_the_payment_for_the_next_run(alipay_fake, plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    redirect_url, payment = start(order, user)
    alipay_fake.open_cashier(redirect_url)
    alipay_fake.drop_notifications = True
    alipay_fake.pay(payment.out_trade_no)
    later = order.expires_at + timedelta(minutes=1)

    alipay_fake.no_answer_to = {"alipay.trade.query"}
    assert services.payments_settle(now=later)["settled"] == 0
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    assert services.orders_expire_stale(now=later) == 0  # an unsettled payment keeps the order open

    alipay_fake.no_answer_to = set()
    assert services.payments_settle(now=later)["settled"] == 1
    # Paid at the cashier before its time: the payment stands (a late success for an open order).
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED


@pytest.fixture
def paid_at_cashier(alipay_fake, plans):
    """An Alipay attempt waiting at the cashier, and its signed success notification (not yet delivered)."""
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    redirect_url, payment = start(order, user)
    alipay_fake.open_cashier(redirect_url)
    alipay_fake.drop_notifications = True
    body = alipay_fake.pay(payment.out_trade_no)
    return order, payment, body


def test_a_forged_notification_is_refused(paid_at_cashier, alipay_fake, client):
    _order, payment, _body = paid_at_cashier
    forged = alipay_fake.notification(payment.out_trade_no, keys=key_pair("someone-else"))
    assert post(client, forged).status_code == 400
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    assert not ProviderNotification.objects.exists()


def test_a_tampered_amount_is_refused(paid_at_cashier, client):
    _order, payment, body = paid_at_cashier
    fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    tampered = body.decode().replace(f"total_amount={fields['total_amount']}", "total_amount=0.01").encode()
    assert tampered != body
    assert post(client, tampered).status_code == 400
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING


def test_a_signed_notification_for_another_amount_is_refused(paid_at_cashier, alipay_fake, client):
    _order, payment, _body = paid_at_cashier
    other = alipay_fake.notification(payment.out_trade_no, total_amount="0.01")
    assert post(client, other).status_code == 400
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING


def test_a_notification_for_another_app_or_too_old_is_refused(paid_at_cashier, alipay_fake, client):
    _order, payment, _body = paid_at_cashier
    assert post(client, alipay_fake.notification(payment.out_trade_no, app_id="2021999999999999")).status_code == 400
    stale = alipay_fake.notification(payment.out_trade_no, notify_time="2026-01-01 00:00:00")
    assert post(client, stale).status_code == 400
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING


def test_a_replayed_notification_is_applied_once(paid_at_cashier, client):
    order, payment, body = paid_at_cashier
    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200  # Alipay retries until it reads "success"
    assert ProviderNotification.objects.filter(out_trade_no=payment.out_trade_no).count() == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_a_notification_out_of_order_does_not_undo_a_success(paid_at_cashier, alipay_fake, client):
    order, payment, body = paid_at_cashier
    earlier = alipay_fake.notification(payment.out_trade_no, trade_status="WAIT_BUYER_PAY")
    closed = alipay_fake.notification(payment.out_trade_no, trade_status="TRADE_CLOSED")
    assert post(client, body).status_code == 200
    assert post(client, earlier).status_code == 200
    assert post(client, closed).status_code == 200
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def top_up_by_alipay(fake, user, amount):
    order = services.topup_order_create(user=user, amount=Decimal(amount), idempotency_key=key())
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    fake.open_cashier(outcome.redirect_url)
    fake.pay(outcome.payment.out_trade_no)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    return outcome.payment


def test_a_wallet_refund_goes_back_through_alipay(alipay_fake, sent):
    user, _line = verified_customer()
    payment = top_up_by_alipay(alipay_fake, user, "80.00")

    with sent():
        assert services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1") == Decimal("80.00")

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.payment == payment
    assert alipay_fake.refunds[refund.out_refund_no]["amount"] == "80.00"
    entry = LedgerEntry.objects.get(kind="refund")
    assert entry.amount == Decimal("-80.00") and entry.reference == refund.out_refund_no
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("0.00"), Decimal("0.00"))


def test_a_refund_confirmed_later_writes_the_ledger_only_then(alipay_fake, sent, plans):
    user, line = verified_customer()
    top_up_by_alipay(alipay_fake, user, "80.00")
    alipay_fake.confirm_refunds_later = True

    with sent():
        services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("80.00"), Decimal("80.00"))
    # The held money cannot be spent meanwhile, nor refunded a second time.
    order = renewal_order(user, line, plans["basic"])
    with pytest.raises(services.BillingError):
        services.order_pay(order_id=order.pk, method="wallet", actor=user)
    assert services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:2") == Decimal("0.00")

    assert services.refunds_settle()["settled"] == 0  # still processing at Alipay
    alipay_fake.confirm_refunds()
    assert services.refunds_settle() == {"checked": 1, "settled": 1}

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.confirmed_at is not None
    assert LedgerEntry.objects.get(kind="refund").amount == Decimal("-80.00")
    wallet.refresh_from_db()
    assert (wallet.balance, wallet.held) == (Decimal("0.00"), Decimal("0.00"))


def test_a_refund_whose_answer_was_lost_is_found_by_query_and_not_sent_twice(alipay_fake, sent):
    user, _line = verified_customer()
    top_up_by_alipay(alipay_fake, user, "50.00")
    alipay_fake.no_answer_to = {"alipay.trade.refund"}

    with sent():
        services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.REQUESTED  # the provider took it; we do not know yet
    alipay_fake.no_answer_to = set()
    assert services.refunds_settle()["settled"] == 1
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    assert len(alipay_fake.refunds) == 1
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_a_refund_refused_by_alipay_releases_the_hold(alipay_fake, sent):
    user, _line = verified_customer()
    payment = top_up_by_alipay(alipay_fake, user, "50.00")
    alipay_fake.trades[payment.out_trade_no]["status"] = "TRADE_FINISHED"  # no longer refundable

    with sent():
        services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")

    assert Refund.objects.get().status == Refund.Status.FAILED
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("50.00"), Decimal("0.00"))
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_a_second_success_for_a_paid_order_is_refunded_through_alipay(alipay_fake, plans, sent):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    first_url, first = start(order, user)
    second_url, second = start(order, user)  # a second tab: a pending attempt does not block
    alipay_fake.open_cashier(first_url)
    alipay_fake.open_cashier(second_url)
    alipay_fake.pay(first.out_trade_no)
    with sent():
        alipay_fake.pay(second.out_trade_no)

    assert Payment.objects.get(pk=second.pk).status == Payment.Status.REFUNDED
    refund = Refund.objects.get(payment=second)
    assert refund.reason == Refund.Reason.DUPLICATE_PAYMENT
    assert refund.status == Refund.Status.SUCCEEDED
    assert alipay_fake.refunds[refund.out_refund_no]["out_trade_no"] == second.out_trade_no
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_the_return_url_settles_only_the_customers_own_attempt(alipay_fake, plans, client):
    owner, line = verified_customer()
    order = renewal_order(owner, line, plans["basic"])
    _redirect, payment = start(order, owner)
    other, _line = verified_customer()
    client.force_login(other)
    response = client.get(f"/billing/orders/{order.number}/", {"out_trade_no": payment.out_trade_no})
    assert response.status_code == 404
    assert "alipay.trade.query" not in alipay_fake.requests


def test_the_return_url_of_the_cashier_names_the_attempt(alipay_fake, plans):
    user, line = verified_customer()
    redirect_url, payment = start(renewal_order(user, line, plans["basic"]), user)
    alipay_fake.open_cashier(redirect_url)
    return_url = alipay_fake.trades[payment.out_trade_no]["return_url"]
    assert parse_qs(urlsplit(return_url).query)["out_trade_no"] == [payment.out_trade_no]
