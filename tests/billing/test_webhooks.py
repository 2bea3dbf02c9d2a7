"""The provider callback: signed, fresh, known, applied once."""

import json
import time

import pytest
from django.test import Client

from billing import services
from billing.gateways.sandbox import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_notification
from billing.models import Order, Payment, ProviderNotification, Receipt, SandboxCharge
from billing.webhooks import handle_provider_notification
from tests.billing.conftest import renewal_order

pytestmark = pytest.mark.django_db

URL = "/billing/webhooks/sandbox/"


@pytest.fixture
def charged(customer_line, plans):
    """An Alipay attempt the customer paid at the provider, whose callback has not arrived yet."""
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    outcome = services.order_pay(order_id=order.pk, method="alipay", actor=user)
    SandboxCharge.objects.filter(out_trade_no=outcome.payment.out_trade_no).update(status="succeeded")
    return SandboxCharge.objects.get(out_trade_no=outcome.payment.out_trade_no)


def deliver(client, headers, body):
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def signed(payload: dict, timestamp: int | None = None) -> tuple[dict, bytes]:
    body = json.dumps(payload, sort_keys=True).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: str(timestamp)}, body


def payload_of(charge, **changes) -> dict:
    return {
        "event_id": f"evt_{charge.transaction_id}_{charge.status}",
        "out_trade_no": charge.out_trade_no,
        "trade_status": charge.status,
        "transaction_id": charge.transaction_id,
        "amount": str(charge.amount),
        "currency": "CNY",
        **changes,
    }


def assert_nothing_applied(charge):
    assert Payment.objects.get(out_trade_no=charge.out_trade_no).status == Payment.Status.PENDING
    assert Order.objects.get().status == Order.Status.OPEN
    assert not ProviderNotification.objects.exists()
    assert not Receipt.objects.exists()


def test_a_valid_signed_notification_pays_the_order(client, charged):
    response = deliver(client, *signed_notification(charged))

    assert response.status_code == 200
    assert response.content == b"success"
    payment = Payment.objects.get(out_trade_no=charged.out_trade_no)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.provider_transaction_id == charged.transaction_id
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    notification = ProviderNotification.objects.get()
    assert notification.processed_at is not None
    assert notification.out_trade_no == charged.out_trade_no
    assert Receipt.objects.filter(order=order).count() == 1


def test_the_same_notification_twice_is_applied_once(client, charged):
    headers, body = signed_notification(charged)

    first = deliver(client, headers, body)
    second = deliver(client, headers, body)

    assert first.status_code == second.status_code == 200
    assert second.content == b"success"  # the provider must stop retrying
    assert ProviderNotification.objects.count() == 1
    assert Receipt.objects.count() == 1
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == 1


def test_the_handler_reports_a_repeated_event(charged):
    headers, body = signed_notification(charged)

    assert handle_provider_notification(provider="sandbox", headers=headers, body=body) is True
    assert handle_provider_notification(provider="sandbox", headers=headers, body=body) is False


def test_a_failed_notification_fails_the_attempt_and_keeps_the_order_open(client, charged):
    SandboxCharge.objects.filter(pk=charged.pk).update(status="failed")
    charged.refresh_from_db()

    response = deliver(client, *signed_notification(charged))

    assert response.status_code == 200
    assert Payment.objects.get().status == Payment.Status.FAILED
    assert Order.objects.get().status == Order.Status.OPEN


def test_a_forged_signature_is_rejected_and_changes_nothing(client, charged):
    headers, body = signed_notification(charged)
    headers[SIGNATURE_HEADER] = "0" * 64

    response = deliver(client, headers, body)

    assert response.status_code == 400
    assert_nothing_applied(charged)


def test_a_body_changed_after_signing_is_rejected(client, charged):
    headers, _body = signed_notification(charged)
    _other_headers, tampered = signed(payload_of(charged, amount="0.01"))

    response = deliver(client, headers, tampered)

    assert response.status_code == 400
    assert_nothing_applied(charged)


def test_a_notification_signed_with_another_secret_is_rejected(client, charged, settings):
    ours = settings.PAYMENT_SANDBOX_SECRET
    settings.PAYMENT_SANDBOX_SECRET = "someone-elses-secret"
    headers, body = signed_notification(charged)
    settings.PAYMENT_SANDBOX_SECRET = ours

    response = deliver(client, headers, body)

    assert response.status_code == 400
    assert_nothing_applied(charged)


def test_a_stale_notification_is_rejected(client, charged):
    headers, body = signed(payload_of(charged), timestamp=int(time.time()) - 301)

    response = deliver(client, headers, body)

    assert response.status_code == 400
    assert_nothing_applied(charged)


def test_a_notification_from_the_future_beyond_the_window_is_rejected(client, charged):
    headers, body = signed(payload_of(charged), timestamp=int(time.time()) + 301)

    assert deliver(client, headers, body).status_code == 400
    assert_nothing_applied(charged)


def test_a_notification_just_inside_the_window_is_accepted(client, charged):
    headers, body = signed(payload_of(charged), timestamp=int(time.time()) - 290)

    assert deliver(client, headers, body).status_code == 200
    assert Order.objects.get().status == Order.Status.PAID


def test_a_notification_without_timestamp_is_rejected(client, charged):
    headers, body = signed_notification(charged)
    del headers[TIMESTAMP_HEADER]

    assert deliver(client, headers, body).status_code == 400
    assert_nothing_applied(charged)


def test_an_unknown_out_trade_number_is_rejected(client, charged):
    headers, body = signed(payload_of(charged, out_trade_no="P20990101000000DEADBEEF0000"))

    response = deliver(client, headers, body)

    assert response.status_code == 400
    assert_nothing_applied(charged)


def test_a_malformed_body_is_rejected(client, charged):
    body = b'{"event_id": "evt_x"}'
    timestamp = int(time.time())

    response = deliver(client, {SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: str(timestamp)}, body)

    assert response.status_code == 400
    assert_nothing_applied(charged)


def test_an_unknown_provider_is_not_found(client, charged):
    headers, body = signed_notification(charged)

    response = client.post("/billing/webhooks/paypal/", data=body, content_type="application/json", headers=headers)

    assert response.status_code == 404
    assert_nothing_applied(charged)


def test_the_webhook_needs_no_csrf_token(charged):
    strict = Client(enforce_csrf_checks=True)

    response = deliver(strict, *signed_notification(charged))

    assert response.status_code == 200
    assert Order.objects.get().status == Order.Status.PAID


def test_the_webhook_accepts_only_post(client, charged):
    assert client.get(URL).status_code == 405
    assert client.put(URL).status_code == 405
    assert_nothing_applied(charged)


def test_other_billing_forms_still_need_a_csrf_token(customer_line):
    user, _line = customer_line
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)

    response = strict.post("/billing/top-up/", {"amount": "50", "idempotency_key": "k" * 32})

    assert response.status_code == 403
    assert not Order.objects.exists()
