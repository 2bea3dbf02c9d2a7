"""Auto-renew: the customer's switch and the scheduled job (wallet first, retries, never twice)."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Line, Notification, OutboundMessage, User
from accounts.services import add_months
from billing import services
from billing.models import LedgerEntry, LineService, Order, Payment, Plan, Receipt, SandboxCharge, SavedCard, Wallet
from billing.selectors import MAX_AUTORENEW_FAILURES, due_line_ids
from billing.services import autorenew
from billing.services.errors import ERR_LINE_NOT_YOURS, ERR_NOT_VERIFIED
from tests.billing.conftest import charges_total, fund, page_shows, renewal_order, verified_customer, wallet_balance
from tests.factories import CustomerFactory, make_line

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def due_line(*, balance="100", days_left=2, method="wallet", term_months=1, customer=None):
    """A verified customer's line with auto-renew on, ending in ``days_left`` days: (user, line)."""
    user, line = customer or verified_customer()
    services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=method, term_months=term_months)
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=days_left))
    if Decimal(balance):
        fund(user, balance)
    line.refresh_from_db()
    return user, line


def auto_orders(line):
    return Order.objects.filter(line=line, channel=Order.Channel.AUTO)


# --- the switch -------------------------------------------------------------------------


def test_switching_auto_renew_on_and_off(customer_line):
    user, line = customer_line

    service = services.autorenew_set(
        actor=user, line_id=line.pk, enabled=True, method="wallet_then_card", term_months=3
    )

    assert (service.auto_renew, service.auto_renew_method, service.auto_renew_term_months) == (
        True,
        "wallet_then_card",
        3,
    )
    assert service.plan.code == "basic"  # a line without a plan yet renews with the cheapest one
    service = services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method="wallet")
    assert LineService.objects.get(line=line).auto_renew is False


def test_auto_renew_cannot_be_switched_on_for_a_line_whose_owner_is_not_verified():
    user = CustomerFactory()
    line, _code = make_line(owner=user)

    with pytest.raises(services.BillingError) as refused:
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")

    assert str(refused.value) == str(ERR_NOT_VERIFIED)
    assert not LineService.objects.exists()


def test_auto_renew_cannot_be_switched_on_for_another_customers_line(customer_line):
    _owner, line = customer_line
    stranger, _their_line = verified_customer()

    with pytest.raises(services.BillingError) as refused:
        services.autorenew_set(actor=stranger, line_id=line.pk, enabled=True, method="wallet")

    assert str(refused.value) == str(ERR_LINE_NOT_YOURS)
    assert not LineService.objects.filter(auto_renew=True).exists()


def test_auto_renew_page_switches_it_on_for_the_customers_line(english, customer_line):
    user, line = customer_line
    english.force_login(user)

    response = english.post(
        f"/billing/lines/{line.pk}/auto-renew/", {"enabled": "1", "method": "wallet", "term_months": "1"}, follow=True
    )

    assert page_shows(response, "Auto-renew is on.")
    assert LineService.objects.get(line=line).auto_renew is True


def test_auto_renew_page_refuses_another_customers_line(english, customer_line):
    _owner, line = customer_line
    stranger, _their_line = verified_customer()
    english.force_login(stranger)

    response = english.post(
        f"/billing/lines/{line.pk}/auto-renew/", {"enabled": "1", "method": "wallet", "term_months": "1"}, follow=True
    )
    missing = english.post(
        "/billing/lines/999999999/auto-renew/", {"enabled": "1", "method": "wallet", "term_months": "1"}
    )

    # Another customer's line answers exactly like a missing one, so line ids cannot be probed.
    assert response.status_code == 404
    assert missing.status_code == 404
    assert not LineService.objects.filter(auto_renew=True).exists()


def test_auto_renew_page_needs_a_login_and_a_post(client, customer_line):
    user, line = customer_line
    url = f"/billing/lines/{line.pk}/auto-renew/"

    anonymous = client.post(url, {"enabled": "1", "method": "wallet", "term_months": "1"})
    client.force_login(user)
    get = client.get(url)

    assert anonymous.status_code == 302
    assert get.status_code == 405
    assert not LineService.objects.filter(auto_renew=True).exists()


# --- the job ----------------------------------------------------------------------------


def test_the_job_renews_a_due_line_from_the_wallet(plans, sent):
    user, line = due_line(balance="100")
    old_end = line.validity_end

    with sent():
        counts = services.autorenew_run()

    assert counts == {"renewed": 1, "card_renewed": 0, "failed": 0, "skipped": 0}
    order = auto_orders(line).get()
    assert (order.status, order.kind, order.amount, order.plan) == ("paid", "renewal", Decimal("30.00"), plans["basic"])
    assert order.renews_from == old_end
    charge = LedgerEntry.objects.get(kind="charge")
    assert (charge.amount, charge.reference) == (Decimal("-30.00"), order.number)
    assert wallet_balance(user) == Decimal("70.00")
    payment = Payment.objects.get(order=order)
    assert (payment.method, payment.status) == ("wallet", "succeeded")
    assert Receipt.objects.get(order=order).amount == Decimal("30.00")
    line.refresh_from_db()
    assert line.validity_end == add_months(old_end, 1) == order.new_validity_end
    service = LineService.objects.get(line=line)
    # The month the line started with at activation, and the month renewed.
    assert (service.data_left_mb, service.voice_left_minutes, service.sms_left) == (
        2 * plans["basic"].data_mb,
        2 * plans["basic"].voice_minutes,
        2 * plans["basic"].sms_count,
    )
    assert Notification.objects.filter(user=user, link=f"/billing/orders/{order.number}/").count() == 1
    # Queued for the dispatcher, not sent by the job itself.
    assert OutboundMessage.objects.filter(recipient=user.phone.as_e164, status="pending").exists()


def test_a_second_run_charges_nothing(plans):
    user, line = due_line(balance="100")
    services.autorenew_run()

    counts = services.autorenew_run()

    assert counts["renewed"] == 0
    assert auto_orders(line).count() == 1
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    assert wallet_balance(user) == Decimal("70.00")


def test_the_job_renews_for_the_chosen_term(plans):
    user, line = due_line(balance="100", term_months=3)
    old_end = line.validity_end

    services.autorenew_run()

    assert auto_orders(line).get().amount == Decimal("90.00")
    line.refresh_from_db()
    assert line.validity_end == add_months(old_end, 3)
    assert wallet_balance(user) == Decimal("10.00")


def test_the_job_charges_the_current_price_of_the_plan():
    user, line = due_line(balance="100")
    basic = Plan.objects.get(code="basic", is_current=True)
    Plan.objects.filter(pk=basic.pk).update(is_current=False)
    dearer = Plan.objects.create(
        code="basic",
        version=basic.version + 1,
        name_zh=basic.name_zh,
        name_en=basic.name_en,
        monthly_price=Decimal("35.00"),
        data_mb=basic.data_mb,
        voice_minutes=basic.voice_minutes,
    )

    services.autorenew_run()

    order = auto_orders(line).get()
    assert (order.plan, order.amount) == (dearer, Decimal("35.00"))
    assert wallet_balance(user) == Decimal("65.00")


def test_lines_not_yet_within_the_window_are_untouched(settings):
    settings.AUTORENEW_WINDOW_DAYS = 3
    user, line = due_line(balance="100", days_left=4)
    old_end = line.validity_end

    counts = services.autorenew_run()

    assert counts == {"renewed": 0, "card_renewed": 0, "failed": 0, "skipped": 0}
    assert not Order.objects.exists()
    line.refresh_from_db()
    assert line.validity_end == old_end
    assert wallet_balance(user) == Decimal("100.00")


def test_lines_with_auto_renew_off_are_untouched():
    user, line = due_line(balance="100")
    services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method="wallet")

    services.autorenew_run()

    assert not Order.objects.exists()
    assert wallet_balance(user) == Decimal("100.00")


def test_a_line_whose_owner_lost_verification_is_skipped():
    user, _line = due_line(balance="100")
    User.objects.filter(pk=user.pk).update(real_name_verified_at=None)

    counts = services.autorenew_run()

    assert counts["renewed"] == 0
    assert counts["skipped"] == 1
    assert wallet_balance(user) == Decimal("100.00")


def test_a_short_wallet_fails_with_a_message_and_retries_then_gives_up_after_three_failures():
    user, line = due_line(balance="10", days_left=2)
    end = line.validity_end
    start = timezone.now()

    first = services.autorenew_run(now=start)

    assert first["failed"] == 1
    service = LineService.objects.get(line=line)
    assert service.auto_renew_failures == 1
    assert service.auto_renew_next_attempt_at == end - timedelta(days=1)
    messages = Notification.objects.filter(user=user, link="/billing/top-up/")
    assert messages.count() == 1
    assert "¥10.00" in messages.get().body and "¥30.00" in messages.get().body
    assert not Order.objects.exists()

    # Not due again before the retry time.
    assert services.autorenew_run(now=start + timedelta(hours=1))["failed"] == 0
    assert messages.count() == 1

    assert services.autorenew_run(now=end - timedelta(days=1))["failed"] == 1
    service.refresh_from_db()
    assert (service.auto_renew_failures, service.auto_renew_next_attempt_at) == (2, end - timedelta(hours=1))

    assert services.autorenew_run(now=end - timedelta(hours=1))["failed"] == 1
    service.refresh_from_db()
    assert service.auto_renew_failures == MAX_AUTORENEW_FAILURES
    assert service.auto_renew_next_attempt_at is None

    # Given up: no more attempts, no more messages.
    assert services.autorenew_run(now=end - timedelta(minutes=10)) == {
        "renewed": 0,
        "card_renewed": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert messages.count() == 3
    assert not Order.objects.exists()
    assert wallet_balance(user) == Decimal("10.00")


def test_a_top_up_after_a_failure_lets_the_retry_succeed_and_resets_the_failures():
    user, line = due_line(balance="10", days_left=2)
    end = line.validity_end
    services.autorenew_run()
    fund(user, "50")

    counts = services.autorenew_run(now=end - timedelta(days=1))

    assert counts["renewed"] == 1
    service = LineService.objects.get(line=line)
    assert (service.auto_renew_failures, service.auto_renew_next_attempt_at) == (0, None)
    assert wallet_balance(user) == Decimal("30.00")


def test_the_wallet_pays_for_several_lines_of_one_customer_while_it_lasts():
    user, _first = due_line(balance="70")
    second, _code = make_line(owner=user)
    third, _code = make_line(owner=user)
    for line in (second, third):
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
    Line.objects.filter(owner=user).update(validity_end=timezone.now() + timedelta(days=1))

    counts = services.autorenew_run()

    assert (counts["renewed"], counts["failed"]) == (2, 1)
    assert wallet_balance(user) == Decimal("10.00")
    assert Order.objects.filter(channel="auto", status="paid").count() == 2


def saved_card_for(user, line, plans):
    """Pay a renewal by card and remember the card, as a customer does before choosing wallet-then-card."""
    order = renewal_order(user, line, plans["basic"])
    services.order_pay(order_id=order.pk, method="card", actor=user, card={"number": "4242424242424242", "save": True})
    return SavedCard.objects.get(user=user)


def test_wallet_then_card_pays_by_the_saved_card_when_the_wallet_is_short(plans):
    user, line = verified_customer()
    saved = saved_card_for(user, line, plans)
    user, line = due_line(balance="10", method="wallet_then_card", customer=(user, line))
    old_end = line.validity_end

    counts = services.autorenew_run()

    assert counts == {"renewed": 0, "card_renewed": 1, "failed": 0, "skipped": 0}
    order = auto_orders(line).get()
    assert order.status == Order.Status.PAID
    payment = order.payments.get()
    assert (payment.method, payment.status, payment.card_last4) == ("card", "succeeded", saved.last4)
    assert SandboxCharge.objects.get(out_trade_no=payment.out_trade_no).status == "succeeded"
    assert wallet_balance(user) == Decimal("10.00")
    assert charges_total(user) == Decimal("0.00")
    assert Receipt.objects.get(order=order).payment_method == "card"
    line.refresh_from_db()
    assert line.validity_end == add_months(old_end, 1)

    assert services.autorenew_run()["card_renewed"] == 0
    assert auto_orders(line).count() == 1


def test_wallet_then_card_uses_the_wallet_first(plans):
    user, line = verified_customer()
    saved_card_for(user, line, plans)
    user, line = due_line(balance="100", method="wallet_then_card", customer=(user, line))
    charges_before = SandboxCharge.objects.count()

    counts = services.autorenew_run()

    assert (counts["renewed"], counts["card_renewed"]) == (1, 0)
    assert wallet_balance(user) == Decimal("70.00")
    assert SandboxCharge.objects.count() == charges_before


def test_wallet_then_card_without_a_saved_card_fails_like_the_wallet():
    user, _line = due_line(balance="0", method="wallet_then_card")

    counts = services.autorenew_run()

    assert counts["failed"] == 1
    assert not Order.objects.exists()
    assert Notification.objects.filter(user=user, link="/billing/top-up/").count() == 1


def test_a_killed_run_keeps_committed_chunks_and_a_rerun_finishes_without_charging_twice(monkeypatch):
    due = [due_line(balance="100") for _ in range(4)]
    # The step that writes a chunk's renewals.
    step = "_write_paid"
    real_apply = getattr(services.autorenew, step)
    calls = []

    def dies_on_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Boom("killed")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(services.autorenew, step, dies_on_second_chunk)
    with pytest.raises(Boom):
        services.autorenew_run(chunk_size=2)

    assert [auto_orders(line).count() for _user, line in due] == [1, 1, 0, 0]
    assert [str(wallet_balance(user)) for user, _line in due] == ["70.00", "70.00", "100.00", "100.00"]
    assert not Payment.objects.filter(order__line__in=[line for _user, line in due[2:]]).exists()
    assert [Line.objects.get(pk=line.pk).validity_end == line.validity_end for _user, line in due] == [
        False,
        False,
        True,
        True,
    ]

    monkeypatch.setattr(services.autorenew, step, real_apply)
    counts = services.autorenew_run(chunk_size=2)

    assert counts["renewed"] == 2
    assert [auto_orders(line).count() for _user, line in due] == [1, 1, 1, 1]
    assert LedgerEntry.objects.filter(kind="charge").count() == 4
    assert [wallet_balance(user) for user, _line in due] == [Decimal("70.00")] * 4
    assert Receipt.objects.count() == 4


def test_the_command_reports_its_counts():
    due_line(balance="100")
    due_line(balance="0")
    out = io.StringIO()

    call_command("run_autorenew", "--chunk-size", "1", stdout=out)

    assert out.getvalue().strip() == "renewed=1 card_renewed=0 failed=1 skipped=0 settled_unknown_payments=0"


def test_money_held_for_a_refund_is_not_spent_by_auto_renew_and_does_not_stop_the_run():
    # The customer asked for their balance back (¥100 on its way through the provider) and left
    # auto-renew on: the job must see ¥0 to spend, tell them, and renew everyone else's lines.
    refunding, refunding_line = due_line(balance="100")
    Wallet.objects.filter(user=refunding).update(held=Decimal("100.00"))
    other, other_line = due_line(balance="100")

    counts = services.autorenew_run()

    assert (counts["renewed"], counts["failed"]) == (1, 1)
    wallet = Wallet.objects.get(user=refunding)
    assert (wallet.balance, wallet.held) == (Decimal("100.00"), Decimal("100.00"))
    assert not auto_orders(refunding_line).exists()
    assert "¥0.00" in Notification.objects.get(user=refunding, link="/billing/top-up/").body
    assert auto_orders(other_line).get().status == Order.Status.PAID
    assert wallet_balance(other) == Decimal("70.00")


def test_auto_renew_counts_only_what_is_not_held():
    user, line = due_line(balance="100")
    Wallet.objects.filter(user=user).update(held=Decimal("80.00"))

    assert services.autorenew_run()["failed"] == 1  # ¥20 spendable, ¥30 due

    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (Decimal("100.00"), Decimal("80.00"))
    assert "¥20.00" in Notification.objects.get(user=user, link="/billing/top-up/").body
    assert not auto_orders(line).exists()


def _customer_acts_before_the_card_charge(monkeypatch, act):
    """Run ``act`` after the job's chunk chose the saved card and before it charges it."""
    charge_by_card = autorenew._renew_by_saved_card

    def acting_first(charge, **kwargs):
        act()
        return charge_by_card(charge, **kwargs)

    monkeypatch.setattr(autorenew, "_renew_by_saved_card", acting_first)


def test_a_term_changed_before_the_card_charge_is_not_renewed_at_the_old_terms_price(plans, monkeypatch):
    user, line = verified_customer()
    saved_card_for(user, line, plans)
    user, line = due_line(balance="0", method="wallet_then_card", customer=(user, line))
    old_end = line.validity_end
    _customer_acts_before_the_card_charge(
        monkeypatch,
        lambda: services.autorenew_set(
            actor=user, line_id=line.pk, enabled=True, method="wallet_then_card", term_months=12
        ),
    )

    services.autorenew_run()

    order = auto_orders(line).get()
    assert order.amount == order.plan.monthly_price * order.term_months
    line.refresh_from_db()
    assert line.validity_end == add_months(old_end, order.term_months)
    assert SandboxCharge.objects.get(out_trade_no=order.payments.get().out_trade_no).amount == order.amount


def test_auto_renew_switched_off_before_the_card_charge_charges_nothing(plans, monkeypatch):
    user, line = verified_customer()
    saved_card_for(user, line, plans)
    user, line = due_line(balance="0", method="wallet_then_card", customer=(user, line))
    charges_before = SandboxCharge.objects.count()
    _customer_acts_before_the_card_charge(
        monkeypatch,
        lambda: services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method="wallet_then_card"),
    )

    counts = services.autorenew_run()

    assert counts["card_renewed"] == 0
    assert SandboxCharge.objects.count() == charges_before
    assert not auto_orders(line).exists()


def test_a_card_charge_still_unknown_keeps_the_retry_from_paying_the_order_from_the_wallet(plans, monkeypatch):
    # The first attempt's card charge got no answer (it may have gone through); the customer
    # then tops up. The retry must not charge the wallet for the same order before the
    # provider has said how the card charge ended.
    user, line = verified_customer()
    saved_card_for(user, line, plans)
    user, line = due_line(balance="0", method="wallet_then_card", customer=(user, line))
    end = line.validity_end

    def no_answer(self, **kwargs):
        raise Boom("timeout")

    with monkeypatch.context() as patched:
        patched.setattr("billing.gateways.sandbox.SandboxGateway.charge_saved_card", no_answer)
        services.autorenew_run()
    order = auto_orders(line).get()
    assert order.payments.get().status == Payment.Status.UNKNOWN
    fund(user, "100")

    services.autorenew_run(now=end - timedelta(days=1))

    assert charges_total(user) == Decimal("0.00")
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN


def test_an_expired_line_refused_by_the_line_limit_is_not_tried_again_every_run(settings):
    # The line lapsed, and meanwhile its owner's ID reached the limit with another line: the
    # job cannot bring it back (一证五号). It must not stay due for ever (each run then
    # redoing its whole chunk one line at a time).
    settings.MAX_LINES_PER_ID = 1
    user, lapsed = due_line(balance="100", days_left=-40)
    Line.objects.filter(pk=lapsed.pk).update(status=Line.Status.EXPIRED)
    make_line(owner=user)  # activated at once: the owner is verified and the ID has room again
    assert Line.objects.filter(owner=user, status=Line.Status.ACTIVE).count() == 1
    other, other_line = due_line(balance="100")

    first = services.autorenew_run()

    assert first["renewed"] == 1
    assert auto_orders(other_line).get().status == Order.Status.PAID
    assert wallet_balance(other) == Decimal("70.00")
    assert Line.objects.get(pk=lapsed.pk).status == Line.Status.EXPIRED
    assert charges_total(user) == Decimal("0.00")
    now = timezone.now() + timedelta(hours=1)
    assert lapsed.pk not in due_line_ids(now=now, after_id=0, limit=100)
