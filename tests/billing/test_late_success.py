"""A provider's success that arrives after we recorded the attempt as failed.

We fail an attempt on the provider's word (a closed trade, PAYERROR, a query that found
nothing) or after closing its trade ourselves; a buyer's payment that crossed the close,
or a retry inside the same trade, can still end in TRADE_SUCCESS / SUCCESS. Then the
money was taken: it pays the order if the order can still be paid, else it goes back
whole. Delivered through the signed callbacks, as the providers send them.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AuditEvent, Line, Notification
from billing import services
from billing.gateways import StatementLine
from billing.models import Discrepancy, LedgerEntry, Order, Payment, ProviderNotification, Receipt, Refund
from tests.billing.conftest import charges_total, fund, key, renewal_order, verified_customer
from tests.billing.fake_providers.alipay import now_text

pytestmark = pytest.mark.django_db
ALIPAY_WEBHOOK = "/billing/webhooks/alipay/"
WECHAT_WEBHOOK = "/billing/webhooks/wechat/"


def alipay_attempt(fake, order, user):
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user, device="phone")
    fake.open_cashier(outcome.redirect_url)
    return Payment.objects.get(pk=outcome.payment.pk)


def post_alipay(client, body):
    return client.post(ALIPAY_WEBHOOK, data=body, content_type="application/x-www-form-urlencoded")


def alipay_closes(fake, client, payment):
    """Alipay tells us the trade closed unpaid: we record the attempt as failed."""
    assert post_alipay(client, fake.notification(payment.out_trade_no, trade_status="TRADE_CLOSED")).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED


def alipay_took_the_money_after_all(fake, payment) -> bytes:
    """The buyer's payment crossed the close: Alipay now holds the trade as paid and signs that."""
    with fake.lock:
        trade = fake.trades[payment.out_trade_no]
        trade["status"] = "TRADE_SUCCESS"
        trade["gmt_payment"] = now_text()
    return fake.notification(payment.out_trade_no)


def overturn_events(payment):
    return AuditEvent.objects.filter(verb="payment.failure_overturned", target_id=str(payment.pk))


@pytest.fixture
def failed_attempt(alipay_fake, plans, client):
    """A renewal whose Alipay attempt we recorded as failed, the order still open."""
    alipay_fake.drop_notifications = True  # the test posts each callback itself and reads the answer
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    payment = alipay_attempt(alipay_fake, order, user)
    alipay_closes(alipay_fake, client, payment)
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    return user, line, order, payment


def test_a_success_after_a_recorded_failure_pays_the_still_open_order(failed_attempt, alipay_fake, client):
    user, line, order, payment = failed_attempt
    old_end = line.validity_end

    response = post_alipay(client, alipay_took_the_money_after_all(alipay_fake, payment))

    assert (response.status_code, response.content) == (200, b"success")  # Alipay stops retrying
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.failure_reason == ""
    assert payment.failure_overturned_at is not None
    assert payment.provider_transaction_id == alipay_fake.trades[payment.out_trade_no]["trade_no"]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert Receipt.objects.filter(order=order).count() == 1
    line.refresh_from_db()
    assert line.validity_end > old_end
    assert not Refund.objects.exists()
    event = overturn_events(payment).get()
    assert event.subject_user_id == user.pk
    assert event.data == {
        "earlier_failure": "",
        "outcome": "paid",
        "provider_transaction_id": payment.provider_transaction_id,
    }


def test_the_same_late_success_twice_or_by_two_callbacks_pays_once(failed_attempt, alipay_fake, client):
    _user, _line, order, payment = failed_attempt
    body = alipay_took_the_money_after_all(alipay_fake, payment)
    retry = alipay_fake.notification(payment.out_trade_no)  # Alipay's next try, under a new notify_id

    answers = [post_alipay(client, body), post_alipay(client, body), post_alipay(client, retry)]

    assert [(a.status_code, a.content) for a in answers] == [(200, b"success")] * 3
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Receipt.objects.filter(order=order).count() == 1
    assert AuditEvent.objects.filter(verb="order.paid", target_id=str(order.pk)).count() == 1
    assert overturn_events(payment).count() == 1
    assert ProviderNotification.objects.filter(out_trade_no=payment.out_trade_no).count() == 3


def test_a_failure_after_the_late_success_changes_nothing(failed_attempt, alipay_fake, client):
    _user, _line, order, payment = failed_attempt
    post_alipay(client, alipay_took_the_money_after_all(alipay_fake, payment))

    closed_again = alipay_fake.notification(payment.out_trade_no, trade_status="TRADE_CLOSED")
    assert post_alipay(client, closed_again).status_code == 200

    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_a_late_success_for_another_amount_is_refused_and_changes_nothing(failed_attempt, alipay_fake, client):
    _user, _line, order, payment = failed_attempt
    alipay_took_the_money_after_all(alipay_fake, payment)
    cheaper = alipay_fake.notification(payment.out_trade_no, total_amount="0.01")

    response = post_alipay(client, cheaper)

    assert response.status_code == 400
    payment.refresh_from_db()
    assert (payment.status, payment.failure_overturned_at) == (Payment.Status.FAILED, None)
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert not overturn_events(payment).exists()


def test_a_late_success_for_an_order_that_expired_is_refunded_whole(alipay_fake, plans, client, sent):
    alipay_fake.drop_notifications = True
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    payment = alipay_attempt(alipay_fake, order, user)
    later = order.expires_at + timedelta(minutes=1)
    assert services.payments_settle(now=later)["settled"] == 1  # the trade closed at Alipay, the attempt failed
    assert services.orders_expire_stale(now=later) == 1
    old_end = Line.objects.get(pk=line.pk).validity_end

    with sent():  # the refund leaves after the commit
        response = post_alipay(client, alipay_took_the_money_after_all(alipay_fake, payment))

    assert (response.status_code, response.content) == (200, b"success")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert payment.failure_reason == "order_already_closed"
    assert payment.failure_overturned_at is not None
    refund = Refund.objects.get(payment=payment)
    assert (refund.reason, refund.amount, refund.status) == (
        Refund.Reason.DUPLICATE_PAYMENT,
        payment.amount,
        Refund.Status.SUCCEEDED,
    )
    assert alipay_fake.refunds[refund.out_refund_no] == {
        "out_trade_no": payment.out_trade_no,
        "amount": f"{payment.amount:.2f}",
        "confirmed": True,
    }
    assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED
    assert not Receipt.objects.exists()
    assert Line.objects.get(pk=line.pk).validity_end == old_end
    assert Notification.objects.get(user=user, kind="payment.refunded_extra").params["number"] == order.number
    assert overturn_events(payment).get().data["outcome"] == "refunded"

    # Alipay retries (a new notify_id): the money went back once.
    with sent():
        assert post_alipay(client, alipay_fake.notification(payment.out_trade_no)).status_code == 200
    assert Refund.objects.count() == 1 and len(alipay_fake.refunds) == 1
    assert Notification.objects.filter(user=user, kind="payment.refunded_extra").count() == 1


def test_a_late_success_for_an_order_paid_meanwhile_is_refunded(failed_attempt, alipay_fake, client, sent):
    user, _line, order, payment = failed_attempt
    fund(user, "30")
    services.order_pay(order_id=order.pk, method="wallet", actor=user)  # the customer paid again another way

    with sent():
        post_alipay(client, alipay_took_the_money_after_all(alipay_fake, payment))

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (Payment.Status.REFUNDED, "order_already_closed")
    assert Refund.objects.get(payment=payment).status == Refund.Status.SUCCEEDED
    assert order.payments.get(status=Payment.Status.SUCCEEDED).method == Payment.Method.WALLET
    assert Receipt.objects.filter(order=order).count() == 1
    assert charges_total(user) == Decimal("-30.00")


def test_a_late_success_for_a_line_no_longer_renewable_is_refunded(failed_attempt, alipay_fake, client, sent):
    user, line, order, payment = failed_attempt
    account_services.line_cancel(line_id=line.pk, actor=None, quarantine_days=settings.NUMBER_QUARANTINE_DAYS)

    with sent():
        post_alipay(client, alipay_took_the_money_after_all(alipay_fake, payment))

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (Payment.Status.REFUNDED, "line_not_renewable")
    assert Refund.objects.get(payment=payment).status == Refund.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert Notification.objects.filter(user=user, kind="payment.refunded_not_renewable").count() == 1


def test_a_late_top_up_success_after_the_service_ended_is_refunded_and_never_credited(alipay_fake, client, sent):
    alipay_fake.drop_notifications = True
    user, line = verified_customer()
    order = services.topup_order_create(user=user, amount=Decimal("50.00"), idempotency_key=key())
    payment = alipay_attempt(alipay_fake, order, user)
    alipay_closes(alipay_fake, client, payment)
    # Its last line cancelled behind the open order's back (the approval now refuses while one is open).
    account_services.line_cancel(line_id=line.pk, actor=None, quarantine_days=settings.NUMBER_QUARANTINE_DAYS)
    account_services.customer_mark_service_ended(user=user, at=timezone.now())

    with sent():
        post_alipay(client, alipay_took_the_money_after_all(alipay_fake, payment))

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (Payment.Status.REFUNDED, "service_ended")
    assert Refund.objects.get(payment=payment).status == Refund.Status.SUCCEEDED
    assert not LedgerEntry.objects.filter(wallet__user=user).exists()


def test_a_wechat_success_after_payerror_pays_the_order(wechat_fake, plans, client):
    wechat_fake.drop_notifications = True
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="wechat", actor=user, device="phone", client_ip="10.1.2.3")
    payment = Payment.objects.get(pk=outcome.payment.pk)
    trade = wechat_fake.trades[payment.out_trade_no]
    payerror = wechat_fake._trade_answer(trade) | {"trade_state": "PAYERROR"}
    headers, body = wechat_fake.notification("TRANSACTION.CLOSED", "transaction", payerror)
    assert client.post(WECHAT_WEBHOOK, data=body, content_type="application/json", headers=headers).status_code == 200
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED

    # The payer tried again inside the same trade, and this time it went through.
    with wechat_fake.lock:
        trade["trade_state"] = "SUCCESS"
    headers, body = wechat_fake.notification("TRANSACTION.SUCCESS", "transaction", wechat_fake._trade_answer(trade))
    response = client.post(WECHAT_WEBHOOK, data=body, content_type="application/json", headers=headers)

    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.provider_transaction_id == trade["transaction_id"]
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_reconciliation_settles_a_paid_trade_we_hold_as_failed_through_the_same_path(failed_attempt, alipay_fake, sent):
    """The callback never came: the statement lists the trade as paid. Reconciliation asks Alipay and
    applies its answer as a callback would, instead of reporting a trade we do not know."""
    _user, _line, order, payment = failed_attempt
    alipay_took_the_money_after_all(alipay_fake, payment)  # signed, but never delivered

    report = services.reconcile(provider="alipay", day=timezone.localdate())

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.failure_overturned_at is not None
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert "alipay.trade.query" in alipay_fake.requests
    assert not report.discrepancies.filter(out_trade_no=payment.out_trade_no).exists()
    assert report.matched_count == 1
    assert overturn_events(payment).count() == 1

    services.reconcile(provider="alipay", day=timezone.localdate())  # run again: nothing more happens
    assert Receipt.objects.filter(order=order).count() == 1
    assert overturn_events(payment).count() == 1


def test_reconciliation_reports_a_trade_we_hold_as_failed_when_the_provider_does_not_confirm_it(
    failed_attempt, alipay_fake
):
    _user, _line, order, payment = failed_attempt
    line = StatementLine(kind="payment", out_trade_no=payment.out_trade_no, transaction_id="T1", amount=payment.amount)

    report = services.reconcile(provider="alipay", day=timezone.localdate(), lines=[line], source="file")

    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED  # Alipay says closed: not believed
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    discrepancy = report.discrepancies.get()
    assert (discrepancy.kind, discrepancy.out_trade_no, discrepancy.our_amount) == (
        Discrepancy.Kind.NOT_TAKEN_BY_US,
        payment.out_trade_no,
        payment.amount,
    )
