"""A line whose cancellation is requested is not renewed by any path until the request is withdrawn.

The customer asked for the line to end; support cancels it later and refunds only the
wallet, so a renewal charged meanwhile (auto-renew by saved card or wallet, an order, a
clerk at a store) would be money paid for nothing.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.translation import override

from accounts.models import Line
from billing import services as billing_services
from billing.models import LedgerEntry, LineService, Order, Plan, SandboxCharge, SavedCard
from customers import services as customer_services
from customers.services.cancellation import ERR_CANCELLATION_REQUESTED
from tests.customers.test_cancellation import fund, open_renewal, submit, verified_customer

pytestmark = pytest.mark.django_db


def with_auto_renew(user, line, method="wallet"):
    billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=method)
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=2))


def test_auto_renew_does_not_charge_the_saved_card_of_a_line_whose_cancellation_is_requested():
    user, line = verified_customer()
    SavedCard.objects.create(user=user, token="tok-visa-1", last4="4242")
    with_auto_renew(user, line, method="wallet_then_card")
    submit(user, line)

    counts = billing_services.autorenew_run()

    assert counts["card_renewed"] == 0
    assert not SandboxCharge.objects.exists()
    assert not Order.objects.filter(line=line).exists()


def test_auto_renew_does_not_spend_the_wallet_on_a_line_whose_cancellation_is_requested():
    user, line = verified_customer()
    with_auto_renew(user, line)
    submit(user, line)
    fund(user, 100)  # money that arrived after the request: the approval hands it back

    assert billing_services.autorenew_run()["renewed"] == 0

    assert not LedgerEntry.objects.filter(wallet__user=user, kind="charge").exists()
    assert not Order.objects.filter(line=line).exists()
    assert LineService.objects.get(line=line).auto_renew_failures == 0  # not a failure: nothing to tell


def test_a_renewal_order_is_refused_with_a_clear_message_and_nothing_is_created():
    user, line = verified_customer()
    submit(user, line)

    with pytest.raises(billing_services.BillingError) as refused:
        open_renewal(user, line)

    with override("en"):
        assert str(refused.value) == str(ERR_CANCELLATION_REQUESTED)
        assert "withdraw" in str(ERR_CANCELLATION_REQUESTED)
    assert not Order.objects.exists()


def test_auto_renew_can_still_be_switched_off_while_the_request_is_open():
    user, line = verified_customer()
    with_auto_renew(user, line)
    submit(user, line)

    billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method="wallet")

    assert LineService.objects.get(line=line).auto_renew is False
    with pytest.raises(billing_services.BillingError):
        billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")


def test_after_a_withdrawal_the_line_renews_again():
    user, line = verified_customer()
    with_auto_renew(user, line)
    request, _created = submit(user, line)
    customer_services.cancellation_request_withdraw(request_id=request.pk, actor=user)
    fund(user, 100)

    assert billing_services.autorenew_run()["renewed"] == 1
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
    assert (
        billing_services.renewal_order_create(
            user=user, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key="after-withdrawal"
        ).status
        == Order.Status.OPEN
    )
    assert Decimal(LedgerEntry.objects.filter(wallet__user=user, kind="charge").get().amount) < 0


def test_the_renew_page_shows_the_refusal(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    user, line = verified_customer()
    client.force_login(user)
    submit(user, line)
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()

    response = client.post(
        "/billing/renew/", {"line": line.pk, "plan": plan.pk, "term_months": 1, "idempotency_key": "web-1"}
    )

    assert response.status_code == 200
    with override("en"):
        assert str(ERR_CANCELLATION_REQUESTED) in response.content.decode()
    assert not Order.objects.exists()
