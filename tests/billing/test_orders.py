"""Renewal orders: quoting, idempotent creation, refusals, expiry of unpaid orders."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Line
from accounts.services import add_months
from billing import selectors, services
from billing.models import Order, Payment, Plan, SandboxCharge
from billing.services.errors import (
    ERR_IDEMPOTENCY_MISMATCH,
    ERR_LINE_NOT_RENEWABLE,
    ERR_LINE_NOT_YOURS,
    ERR_NOT_VERIFIED,
    ERR_ORDER_EXPIRED,
    ERR_PLAN_UNAVAILABLE,
    ERR_TERM_INVALID,
    ERR_TOP_UP_AMOUNT,
)
from tests.billing.conftest import fund, key, page_shows, renewal_order, verified_customer, wallet_balance
from tests.factories import CustomerFactory, make_line, make_staff

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# --- quote ------------------------------------------------------------------------------


def test_quote_is_monthly_price_times_term_and_extends_from_the_validity_end(customer_line, plans):
    _user, line = customer_line
    line.validity_end = at(2027, 3, 10, 12, 0)
    now = at(2027, 3, 1, 9, 0)

    quote = selectors.renewal_quote(line=line, plan=plans["standard"], term_months=3, now=now)

    assert quote.amount == Decimal("180.00")
    assert quote.data_mb == 3 * plans["standard"].data_mb
    assert quote.voice_minutes == 3 * plans["standard"].voice_minutes
    assert quote.new_validity_end == at(2027, 6, 10, 12, 0)


def test_quote_of_a_lapsed_line_counts_from_now(customer_line, plans):
    _user, line = customer_line
    line.validity_end = at(2027, 1, 5, 12, 0)
    now = at(2027, 2, 20, 8, 30)

    quote = selectors.renewal_quote(line=line, plan=plans["basic"], term_months=1, now=now)

    assert quote.new_validity_end == at(2027, 3, 20, 8, 30)


@pytest.mark.parametrize(
    ("end", "months", "expected"),
    [
        (at(2027, 1, 31, 18, 0), 1, at(2027, 2, 28, 18, 0)),
        (at(2028, 1, 31, 18, 0), 1, at(2028, 2, 29, 18, 0)),  # a leap year
        (at(2027, 8, 31, 18, 0), 6, at(2028, 2, 29, 18, 0)),
        (at(2027, 11, 30, 18, 0), 3, at(2028, 2, 29, 18, 0)),
        (at(2027, 12, 15, 18, 0), 12, at(2028, 12, 15, 18, 0)),
    ],
)
def test_quote_clamps_to_the_last_day_of_a_shorter_month(customer_line, plans, end, months, expected):
    _user, line = customer_line
    line.validity_end = end

    quote = selectors.renewal_quote(line=line, plan=plans["basic"], term_months=months, now=end - timedelta(days=1))

    assert quote.new_validity_end == expected
    assert quote.amount == plans["basic"].monthly_price * months


def test_an_order_carries_the_quoted_price_and_new_validity_end(customer_line, plans):
    user, line = customer_line

    order = renewal_order(user, line, plans["premium"], term_months=6)

    assert order.status == Order.Status.OPEN
    assert order.kind == Order.Kind.RENEWAL
    assert order.amount == Decimal("600.00")
    assert order.renews_from == line.validity_end
    assert (
        order.new_validity_end
        == selectors.renewal_quote(line=line, plan=plans["premium"], term_months=6).new_validity_end
    )
    assert order.expires_at > timezone.now()


# --- idempotency ------------------------------------------------------------------------


def test_the_same_idempotency_key_twice_returns_the_same_order(customer_line, plans):
    user, line = customer_line
    request_key = key()
    params = {"user": user, "line_id": line.pk, "plan_id": plans["basic"].pk, "term_months": 3}

    first = services.renewal_order_create(idempotency_key=request_key, **params)
    second = services.renewal_order_create(idempotency_key=request_key, **params)

    assert first.pk == second.pk
    assert Order.objects.count() == 1


def test_the_same_key_with_other_parameters_is_refused(customer_line, plans):
    user, line = customer_line
    request_key = key()
    services.renewal_order_create(
        user=user, line_id=line.pk, plan_id=plans["basic"].pk, term_months=1, idempotency_key=request_key
    )

    with pytest.raises(services.BillingError) as refused:
        services.renewal_order_create(
            user=user, line_id=line.pk, plan_id=plans["basic"].pk, term_months=3, idempotency_key=request_key
        )

    assert str(refused.value) == str(ERR_IDEMPOTENCY_MISMATCH)
    assert Order.objects.count() == 1


def test_another_customers_key_does_not_reveal_their_order(plans):
    first, first_line = verified_customer()
    second, _second_line = verified_customer()
    request_key = key()
    services.renewal_order_create(
        user=first, line_id=first_line.pk, plan_id=plans["basic"].pk, term_months=1, idempotency_key=request_key
    )

    with pytest.raises(services.BillingError) as refused:
        services.renewal_order_create(
            user=second, line_id=first_line.pk, plan_id=plans["basic"].pk, term_months=1, idempotency_key=request_key
        )

    assert str(refused.value) == str(ERR_IDEMPOTENCY_MISMATCH)
    assert not Order.objects.filter(user=second).exists()


def test_top_up_orders_are_idempotent_too():
    user = CustomerFactory()
    request_key = key()

    first = services.topup_order_create(user=user, amount=Decimal("50"), idempotency_key=request_key)
    again = services.topup_order_create(user=user, amount=Decimal("50.00"), idempotency_key=request_key)
    with pytest.raises(services.BillingError) as refused:
        services.topup_order_create(user=user, amount=Decimal("60"), idempotency_key=request_key)

    assert first.pk == again.pk
    assert str(refused.value) == str(ERR_IDEMPOTENCY_MISMATCH)


@pytest.mark.parametrize("amount", ["0", "0.99", "5000.01", "-10"])
def test_a_top_up_outside_the_range_is_refused(amount):
    with pytest.raises(services.BillingError) as refused:
        services.topup_order_create(user=CustomerFactory(), amount=Decimal(amount), idempotency_key=key())

    assert str(refused.value) == str(ERR_TOP_UP_AMOUNT)
    assert not Order.objects.exists()


@pytest.mark.parametrize("amount", ["1", "5000"])
def test_a_top_up_at_the_limits_is_accepted(amount):
    order = services.topup_order_create(user=CustomerFactory(), amount=Decimal(amount), idempotency_key=key())

    assert order.amount == Decimal(amount)


# --- refusals ---------------------------------------------------------------------------


def test_renewal_of_a_line_whose_owner_is_not_verified_is_refused(plans):
    user = CustomerFactory()
    line, _code = make_line(owner=user)

    with pytest.raises(services.BillingError) as refused:
        renewal_order(user, line, plans["basic"])

    assert str(refused.value) == str(ERR_NOT_VERIFIED)
    assert not Order.objects.exists()


def test_renewal_of_another_customers_line_is_refused(customer_line, plans):
    _owner, line = customer_line
    stranger, _their_line = verified_customer()

    with pytest.raises(services.BillingError) as refused:
        renewal_order(stranger, line, plans["basic"])

    assert str(refused.value) == str(ERR_LINE_NOT_YOURS)
    assert not Order.objects.exists()


def test_renewal_of_a_line_that_does_not_exist_is_refused_like_a_foreign_one(customer_line, plans):
    user, _line = customer_line

    with pytest.raises(services.BillingError) as refused:
        services.renewal_order_create(
            user=user, line_id=10**9, plan_id=plans["basic"].pk, term_months=1, idempotency_key=key()
        )

    assert str(refused.value) == str(ERR_LINE_NOT_YOURS)


@pytest.mark.parametrize("term", [0, 2, 5, 24, -1])
def test_a_term_outside_1_3_6_12_months_is_refused(customer_line, plans, term):
    user, line = customer_line

    with pytest.raises(services.BillingError) as refused:
        renewal_order(user, line, plans["basic"], term_months=term)

    assert str(refused.value) == str(ERR_TERM_INVALID)
    assert not Order.objects.exists()


def test_a_cancelled_line_cannot_be_renewed(customer_line, plans):
    user, line = customer_line
    Line.objects.filter(pk=line.pk).update(status=Line.Status.CANCELLED, cancelled_at=timezone.now())

    with pytest.raises(services.BillingError) as refused:
        renewal_order(user, line, plans["basic"])

    assert str(refused.value) == str(ERR_LINE_NOT_RENEWABLE)


def test_a_plan_no_longer_on_sale_is_refused(customer_line, plans):
    user, line = customer_line
    plan = plans["basic"]
    plan.is_active = False
    plan.save(update_fields=["is_active"])

    with pytest.raises(services.BillingError) as refused:
        renewal_order(user, line, plan)

    assert str(refused.value) == str(ERR_PLAN_UNAVAILABLE)


def test_an_expired_line_can_be_renewed_from_now(customer_line, plans):
    user, line = customer_line
    lapsed_end = timezone.now() - timedelta(days=40)
    Line.objects.filter(pk=line.pk).update(status=Line.Status.EXPIRED, validity_end=lapsed_end)
    fund(user, "30")
    order = renewal_order(user, line, plans["basic"])

    before = timezone.now()
    services.order_pay(order_id=order.pk, method="wallet", actor=user)
    after = timezone.now()

    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE
    assert add_months(before, 1) <= line.validity_end <= add_months(after, 1)


# --- unpaid orders expire ---------------------------------------------------------------


def test_an_expired_order_cannot_be_paid_and_nothing_is_charged(customer_line, plans):
    user, line = customer_line
    fund(user, "100")
    order = renewal_order(user, line, plans["basic"])
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    for method, card in (("wallet", None), ("card", {"number": "4242424242424242"})):
        with pytest.raises(services.BillingError) as refused:
            services.order_pay(order_id=order.pk, method=method, actor=user, card=card)
        assert str(refused.value) == str(ERR_ORDER_EXPIRED)

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert wallet_balance(user) == Decimal("100.00")
    assert not Payment.objects.exists()
    assert not SandboxCharge.objects.exists()


# --- the renew page ---------------------------------------------------------------------


def test_renew_page_creates_the_order_and_a_double_submit_reuses_it(english, customer_line, plans):
    user, line = customer_line
    english.force_login(user)
    form = {"line": line.pk, "plan": plans["standard"].pk, "term_months": 3, "idempotency_key": key()}

    first = english.post("/billing/renew/", form)
    second = english.post("/billing/renew/", form)

    order = Order.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/billing/orders/{order.number}/"
    assert order.amount == Decimal("180.00")
    page = english.get(first["Location"])
    assert page.status_code == 200
    assert page.context["quote"].amount == Decimal("180.00")
    assert "¥180.00" in page.content.decode()


def test_renew_page_tells_an_unverified_customer_why_there_is_nothing_to_renew(english):
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    english.force_login(user)

    page = english.get("/billing/renew/")
    post = english.post("/billing/renew/", {"line": line.pk, "plan": 1, "term_months": 1, "idempotency_key": key()})

    assert page.status_code == 200
    assert page.context["has_lines"] is False
    assert page_shows(page, "A line can be renewed once your real name is verified")
    assert post.status_code == 200
    assert not Order.objects.exists()


def test_renew_page_offers_only_the_customers_own_lines(english, customer_line, plans):
    user, line = customer_line
    _stranger, their_line = verified_customer()
    english.force_login(user)

    page = english.get("/billing/renew/")
    post = english.post(
        "/billing/renew/",
        {"line": their_line.pk, "plan": plans["basic"].pk, "term_months": 1, "idempotency_key": key()},
    )

    assert list(page.context["form"].fields["line"].queryset) == [line]
    assert post.status_code == 200
    assert "line" in post.context["form"].errors
    assert not Order.objects.exists()


def test_renew_page_shows_a_refusal_from_the_service(english, customer_line, plans):
    user, line = customer_line
    english.force_login(user)
    request_key = key()
    renewal_form = {"line": line.pk, "plan": plans["basic"].pk, "term_months": 1, "idempotency_key": request_key}
    english.post("/billing/renew/", renewal_form)

    reused = english.post("/billing/renew/", {**renewal_form, "term_months": 3})

    assert reused.status_code == 200
    assert page_shows(reused, ERR_IDEMPOTENCY_MISMATCH)
    assert Order.objects.count() == 1


def test_renew_page_needs_a_login(client):
    response = client.get("/billing/renew/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_another_customers_order_page_is_not_found(english, customer_line, plans):
    user, line = customer_line
    order = renewal_order(user, line, plans["basic"])
    stranger, _line = verified_customer()
    english.force_login(stranger)

    assert english.get(f"/billing/orders/{order.number}/").status_code == 404
    assert english.post(f"/billing/orders/{order.number}/pay/", {"method": "wallet"}).status_code == 404
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN


def test_renew_page_starts_on_the_plan_the_line_is_on_in_its_version_on_sale(english, customer_line, plans):
    user, line = customer_line
    line.service.plan = plans["premium"]
    line.service.save(update_fields=["plan"])
    admin = make_staff("admin")
    raised = Plan.objects.get(pk=plans["premium"].pk)
    raised.monthly_price = Decimal("120.00")
    new_premium = services.plan_version_create(actor=admin, plan=raised)
    english.force_login(user)

    chosen = english.get(f"/billing/renew/?line={line.pk}")
    first_line = english.get("/billing/renew/")

    assert chosen.context["form"].initial["plan"] == new_premium.pk
    assert first_line.context["form"].initial["plan"] == new_premium.pk
    # What the browser shows: that plan's button is the one ticked.
    ticked = re.findall(r'<input[^>]*name="plan"[^>]*\bchecked[^>]*>', chosen.content.decode())
    assert len(ticked) == 1 and f'value="{new_premium.pk}"' in ticked[0]


def test_renew_page_starts_on_no_plan_when_the_lines_plan_is_no_longer_sold(english, customer_line, plans):
    user, line = customer_line
    Plan.objects.filter(code=line.service.plan.code).update(is_active=False)
    english.force_login(user)

    page = english.get(f"/billing/renew/?line={line.pk}")
    someone_elses = english.get("/billing/renew/?line=not-a-number")

    assert page.status_code == someone_elses.status_code == 200
    assert "plan" not in page.context["form"].initial
    assert "plan" not in someone_elses.context["form"].initial
