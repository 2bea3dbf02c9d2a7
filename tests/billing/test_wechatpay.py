"""WeChat Pay v3 through wechatpayv3 against the local fake: H5 and Native, callbacks, query, close, refunds."""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from billing import services
from billing.models import LedgerEntry, Order, Payment, ProviderNotification, Refund, Wallet
from tests.billing.conftest import key, renewal_order, verified_customer
from tests.billing.fake_providers.crypto import key_pair

pytestmark = pytest.mark.django_db
WEBHOOK = "/billing/webhooks/wechat/"


def start(order, user, device="phone"):
    outcome = services.order_pay(order_id=order.pk, method="wechat", actor=user, device=device, client_ip="10.1.2.3")
    return outcome, Payment.objects.get(pk=outcome.payment.pk)


def post(client, headers, body):
    return client.post(WEBHOOK, data=body, content_type="application/json", headers=headers)


def test_an_h5_payment_is_paid_by_the_signed_encrypted_notification(wechat_fake, plans, fake_providers):
    for certificate in fake_providers.cert_dir.iterdir():
        certificate.unlink()  # the platform certificate is fetched (and kept) on first use
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    outcome, payment = start(order, user)

    assert payment.status == Payment.Status.PENDING
    assert outcome.redirect_url.startswith(f"{wechat_fake.base_url}/cashier/{payment.out_trade_no}?prepay_id=")
    assert "redirect_url=http%3A%2F%2Ftestserver%2Fbilling%2Forders%2F" in outcome.redirect_url
    assert wechat_fake.requests[:2] == ["GET /v3/certificates", "POST /v3/pay/transactions/h5"]
    assert [path.name for path in fake_providers.cert_dir.iterdir()] == [f"{wechat_fake.serial}.pem"]
    assert wechat_fake.trades[payment.out_trade_no]["total"] == int(order.amount * 100)

    wechat_fake.pay(payment.out_trade_no)

    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.provider_transaction_id == wechat_fake.trades[payment.out_trade_no]["transaction_id"]


def test_native_shows_the_qr_code_to_its_owner_only(wechat_fake, plans, client):
    user, line = verified_customer()
    outcome, payment = start(renewal_order(user, line, plans["basic"]), user, device="web")
    assert outcome.redirect_url.startswith(f"/billing/wechat/{payment.out_trade_no}/?code_url=weixin%3A//wxpay/")

    client.force_login(user)
    response = client.get(outcome.redirect_url)
    assert response.status_code == 200
    assert b'data-testid="wechat-qr"' in response.content
    assert client.get(f"/billing/wechat/{payment.out_trade_no}/?code_url=https://evil.example").status_code == 400

    other, _line = verified_customer()
    client.force_login(other)
    assert client.get(outcome.redirect_url).status_code == 404


def test_a_create_whose_answer_was_lost_is_settled_by_query(wechat_fake, plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    wechat_fake.no_answer_to = {"create"}
    outcome, payment = start(order, user)
    assert outcome.error
    assert payment.status == Payment.Status.UNKNOWN

    wechat_fake.no_answer_to = set()
    # The trade exists unpaid at WeChat Pay, but the customer never got its URL: it is closed
    # there and the attempt fails, so the order can be paid again.
    assert services.payment_settle_by_query(payment_id=payment.pk).status == Payment.Status.FAILED
    assert wechat_fake.trades[payment.out_trade_no]["trade_state"] == "CLOSED"
    assert services.order_pay(order_id=order.pk, method="wechat", actor=user, device="phone").redirect_url


def test_an_unpaid_h5_trade_is_closed_at_the_orders_time(wechat_fake, plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    _outcome, payment = start(order, user)
    assert services.payment_settle_by_query(payment_id=payment.pk).status == Payment.Status.PENDING
    later = order.expires_at + timedelta(minutes=1)
    assert services.payments_settle(now=later)["settled"] == 1
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED
    assert wechat_fake.trades[payment.out_trade_no]["trade_state"] == "CLOSED"


def test_a_create_that_never_arrived_fails_by_query(wechat_fake, plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    wechat_fake.no_answer_to = {"create"}
    _outcome, payment = start(order, user)
    del wechat_fake.trades[payment.out_trade_no]  # as if the request never got there
    wechat_fake.no_answer_to = set()
    assert services.payment_settle_by_query(payment_id=payment.pk).status == Payment.Status.FAILED


def test_a_paid_trade_whose_callback_was_lost_is_settled_by_query(wechat_fake, plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    _outcome, payment = start(order, user)
    wechat_fake.drop_notifications = True
    wechat_fake.pay(payment.out_trade_no)
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN

    assert services.payment_settle_by_query(payment_id=payment.pk).status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


@pytest.fixture
def paid(wechat_fake, plans):
    user, line = verified_customer()
    order = renewal_order(user, line, plans["basic"])
    _outcome, payment = start(order, user)
    wechat_fake.drop_notifications = True
    headers, body = wechat_fake.pay(payment.out_trade_no)
    return order, payment, headers, body


def resource_of(fake, payment, **changes):
    return fake._trade_answer(fake.trades[payment.out_trade_no]) | changes


def test_forged_tampered_undecryptable_or_stale_notifications_are_refused(paid, wechat_fake, client):
    _order, payment, headers, body = paid
    resource = resource_of(wechat_fake, payment)
    forged = wechat_fake.notification("TRANSACTION.SUCCESS", "transaction", resource, keys=key_pair("someone-else"))
    wrong_key = wechat_fake.notification(
        "TRANSACTION.SUCCESS", "transaction", resource, apiv3_key="0123456789abcdef0123456789abcdef"
    )
    stale = wechat_fake.notification("TRANSACTION.SUCCESS", "transaction", resource, timestamp=int(time.time()) - 3600)
    tampered = json.loads(body)
    tampered["event_type"] = "TRANSACTION.CLOSED"

    for bad_headers, bad_body in [forged, wrong_key, stale, (headers, json.dumps(tampered).encode())]:
        assert post(client, bad_headers, bad_body).status_code == 400

    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    assert not ProviderNotification.objects.exists()


def test_a_signed_notification_for_another_amount_or_merchant_is_refused(paid, wechat_fake, client):
    _order, payment, _headers, _body = paid
    cheaper = resource_of(wechat_fake, payment, amount={"total": 1, "currency": "CNY"})
    other_merchant = resource_of(wechat_fake, payment, mchid="1900000999")
    for resource in (cheaper, other_merchant):
        assert (
            post(client, *wechat_fake.notification("TRANSACTION.SUCCESS", "transaction", resource)).status_code == 400
        )
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING


def test_a_replayed_notification_is_applied_once_and_a_late_close_changes_nothing(paid, wechat_fake, client):
    order, payment, headers, body = paid
    closed = wechat_fake.notification(
        "TRANSACTION.CLOSED", "transaction", resource_of(wechat_fake, payment, trade_state="CLOSED")
    )
    assert post(client, headers, body).status_code == 200
    assert post(client, headers, body).status_code == 200
    assert post(client, *closed).status_code == 200
    assert ProviderNotification.objects.filter(out_trade_no=payment.out_trade_no).count() == 2
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def top_up_by_wechat(fake, user, amount):
    order = services.topup_order_create(user=user, amount=Decimal(amount), idempotency_key=key())
    outcome = services.order_pay(order_id=order.pk, method="wechat", actor=user, device="phone")
    fake.pay(outcome.payment.out_trade_no)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    return outcome.payment


def test_a_wallet_refund_is_pending_until_wechat_pay_confirms_it(wechat_fake, sent, client):
    user, _line = verified_customer()
    older = top_up_by_wechat(wechat_fake, user, "30.00")
    newer = top_up_by_wechat(wechat_fake, user, "50.00")

    with sent():
        services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")

    refunds = list(Refund.objects.order_by("amount"))
    # The newest top-up first, then the rest from the older one.
    assert [(r.payment_id, r.amount, r.status) for r in refunds] == [
        (older.pk, Decimal("30.00"), Refund.Status.PENDING),
        (newer.pk, Decimal("50.00"), Refund.Status.PENDING),
    ]
    assert wechat_fake.refunds[refunds[1].out_refund_no]["total"] == 5000
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    assert Wallet.objects.get(user=user).held == Decimal("80.00")

    wechat_fake.confirm_refund(refunds[1].out_refund_no)
    assert Refund.objects.get(pk=refunds[1].pk).status == Refund.Status.SUCCEEDED
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("30.00"), Decimal("30.00"))
    assert LedgerEntry.objects.get(kind="refund").reference == refunds[1].out_refund_no

    wechat_fake.drop_notifications = True
    wechat_fake.confirm_refund(refunds[0].out_refund_no)  # its callback is lost: the settle job asks
    assert services.refunds_settle() == {"checked": 1, "settled": 1}
    wallet.refresh_from_db()
    assert (wallet.balance, wallet.held) == (Decimal("0.00"), Decimal("0.00"))


def test_a_refund_notification_for_another_amount_or_an_unknown_refund_is_refused(wechat_fake, sent, client):
    user, _line = verified_customer()
    top_up_by_wechat(wechat_fake, user, "30.00")
    with sent():
        services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")
    refund = Refund.objects.get()
    wechat_fake.drop_notifications = True
    wechat_fake.confirm_refund(refund.out_refund_no)

    more = wechat_fake.notify_refund(refund.out_refund_no, amount={"total": 3000, "refund": 3000 + 1})
    unknown = wechat_fake.notify_refund(refund.out_refund_no, out_refund_no="RF-NOT-OURS")
    assert post(client, *more).status_code == 400
    assert post(client, *unknown).status_code == 400
    assert Refund.objects.get().status == Refund.Status.PENDING
    assert Wallet.objects.get(user=user).balance == Decimal("30.00")


def test_a_refund_closed_by_wechat_pay_releases_the_hold(wechat_fake, sent):
    user, _line = verified_customer()
    top_up_by_wechat(wechat_fake, user, "30.00")
    with sent():
        services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")
    wechat_fake.confirm_refund(Refund.objects.get().out_refund_no, status="ABNORMAL")

    assert Refund.objects.get().status == Refund.Status.FAILED
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("30.00"), Decimal("0.00"))


def test_notifications_naming_unknown_certificates_refresh_them_once_in_a_while(paid, wechat_fake, client):
    _order, _payment, headers, body = paid
    downloads = wechat_fake.requests.count("GET /v3/certificates")
    for serial in ("ABC123", "DEF456", "0123FF"):
        assert post(client, {**headers, "Wechatpay-Serial": serial}, body).status_code == 400
    # The first unknown serial made the SDK ask for the certificates; the next ones were refused outright.
    assert wechat_fake.requests.count("GET /v3/certificates") == downloads + 1
    assert post(client, headers, body).status_code == 200
