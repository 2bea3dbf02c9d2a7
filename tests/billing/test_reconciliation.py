"""Daily reconciliation of the providers' statements against our payments and refunds."""

import gzip
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import AuditEvent
from billing import services
from billing.models import Discrepancy, Reconciliation, Refund
from tests.billing.conftest import key, renewal_order, verified_customer
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def paid_by_alipay(fake, plans):
    user, line = verified_customer()
    outcome = services.order_pay(order_id=renewal_order(user, line, plans["basic"]).pk, method="alipay", actor=user)
    fake.open_cashier(outcome.redirect_url)
    fake.pay(outcome.payment.out_trade_no)
    return outcome.payment


def run(**options) -> str:
    out = StringIO()
    argv = [f"--{name}={value}" for name, value in options.items()]
    call_command("reconcile_payments", *argv, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def three_problems(alipay_fake, plans):
    """Four Alipay payments today; Alipay's statement lacks one, has one of another amount, and one we never made."""
    missing, mismatched, _fine, _also_fine = (paid_by_alipay(alipay_fake, plans) for _ in range(4))
    del alipay_fake.trades[missing.out_trade_no]["gmt_payment"]  # not on Alipay's statement
    alipay_fake.statement_amounts[mismatched.out_trade_no] = "0.30"
    alipay_fake.statement_extra.append({"trade_no": "2026UNKNOWN", "out_trade_no": "P-NOT-OURS", "amount": "9.90"})
    return missing, mismatched


def test_a_statement_with_a_missing_payment_an_unknown_trade_and_a_mismatch_reports_exactly_those(three_problems):
    missing, mismatched = three_problems
    today = timezone.localdate()

    output = run(provider="alipay", day=today.isoformat())

    assert output == f"alipay {today}: lines=4 matched=2 discrepancies=3"
    report = Reconciliation.objects.get(provider="alipay", day=today)
    assert report.source == "downloaded"
    found = {(d.kind, d.out_trade_no, d.our_amount, d.provider_amount) for d in report.discrepancies.all()}
    assert found == {
        (Discrepancy.Kind.MISSING_AT_PROVIDER, missing.out_trade_no, missing.amount, None),
        (Discrepancy.Kind.UNKNOWN_TRADE, "P-NOT-OURS", None, Decimal("9.90")),
        (Discrepancy.Kind.AMOUNT_MISMATCH, mismatched.out_trade_no, mismatched.amount, Decimal("0.30")),
    }


def test_running_a_day_again_replaces_its_open_discrepancies_and_keeps_resolved_ones(three_problems):
    today = timezone.localdate()
    run(provider="alipay", day=today.isoformat())
    first = Discrepancy.objects.get(kind=Discrepancy.Kind.UNKNOWN_TRADE)
    support = make_staff("support")
    services.discrepancy_resolve(discrepancy_id=first.pk, actor=support, note="Another shop's trade; told Alipay.")

    assert run(provider="alipay", day=today.isoformat()).endswith("discrepancies=2")
    assert Discrepancy.objects.count() == 3
    assert Discrepancy.objects.filter(resolved_at__isnull=True).count() == 2
    assert AuditEvent.objects.filter(verb="billing.discrepancy_resolved", actor=support).count() == 1


def test_a_resolution_needs_a_note(three_problems):
    run(provider="alipay", day=timezone.localdate().isoformat())
    discrepancy = Discrepancy.objects.first()
    with pytest.raises(services.BillingError):
        services.discrepancy_resolve(discrepancy_id=discrepancy.pk, actor=make_staff("support"), note="  ")
    discrepancy.refresh_from_db()
    assert discrepancy.resolved_at is None


def test_a_wechat_statement_file_with_payments_and_a_refund_matches_everything(wechat_fake, sent, tmp_path):
    user, _line = verified_customer()
    for amount in ("30.00", "50.00"):
        order = services.topup_order_create(user=user, amount=Decimal(amount), idempotency_key=key())
        outcome = services.order_pay(order_id=order.pk, method="wechat", actor=user, device="phone")
        wechat_fake.pay(outcome.payment.out_trade_no)
    wechat_fake.refund_status = "SUCCESS"
    with sent():
        services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")
    assert Refund.objects.filter(status=Refund.Status.SUCCEEDED).count() == 2
    today = timezone.localdate()
    statement = tmp_path / "wechat.csv.gz"
    statement.write_bytes(gzip.compress(wechat_fake.statement_csv(today.isoformat()).encode()))

    assert run(provider="wechat", day=today.isoformat(), file=statement) == (
        f"wechat {today}: lines=4 matched=4 discrepancies=0"
    )
    # The same statement downloaded through the API gives the same answer.
    assert run(provider="wechat", day=today.isoformat()).endswith("matched=4 discrepancies=0")


def test_a_refund_we_confirmed_that_the_statement_lacks_is_reported(wechat_fake, sent):
    user, _line = verified_customer()
    order = services.topup_order_create(user=user, amount=Decimal("30.00"), idempotency_key=key())
    outcome = services.order_pay(order_id=order.pk, method="wechat", actor=user, device="phone")
    wechat_fake.pay(outcome.payment.out_trade_no)
    wechat_fake.refund_status = "SUCCESS"
    with sent():
        services.wallet_refund_balance(user=user, actor=user, reference="customer-refund:1")
    refund = Refund.objects.get()
    wechat_fake.refunds[refund.out_refund_no]["status"] = "PROCESSING"  # not on its statement

    run(provider="wechat", day=timezone.localdate().isoformat())

    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.out_refund_no, discrepancy.our_amount) == (
        Discrepancy.Kind.MISSING_AT_PROVIDER,
        refund.out_refund_no,
        Decimal("-30.00"),
    )


def test_an_unknown_provider_or_a_provider_taking_no_method_is_refused_clearly():
    with pytest.raises(CommandError, match="Unknown provider"):
        run(provider="paypal", day="2026-12-01")
    with pytest.raises(CommandError):
        run(provider="alipay", day="2026-12-01")  # no method is taken by Alipay in these settings
    assert not Reconciliation.objects.exists()


def test_the_staff_dashboard_shows_open_discrepancies_to_support(three_problems, client, django_assert_max_num_queries):
    run(provider="alipay", day=timezone.localdate().isoformat())
    support = make_staff("support")
    client.force_login(support)
    with django_assert_max_num_queries(25):
        html = client.get("/staff/").content.decode()
    assert 'data-testid="figure-open-discrepancies">3<' in html
    assert "P-NOT-OURS" in html

    clerk = make_staff("clerk")
    client.force_login(clerk)
    assert "discrepancies-panel" not in client.get("/staff/").content.decode()


def test_the_admin_action_resolves_and_records_who(three_problems, client):
    run(provider="alipay", day=timezone.localdate().isoformat())
    support = make_staff("support")
    client.force_login(support)
    ids = list(Discrepancy.objects.values_list("pk", flat=True)[:2])
    response = client.post(
        "/admin/billing/discrepancy/", {"action": "resolve_discrepancies", "_selected_action": ids}, follow=True
    )
    assert response.status_code == 200
    assert set(Discrepancy.objects.filter(resolved_at__isnull=False).values_list("pk", flat=True)) == set(ids)
    assert set(Discrepancy.objects.filter(pk__in=ids).values_list("resolved_by", flat=True)) == {support.pk}
