"""The cancellation form shows every problem at once, each once; the balance refund asks first (problem 7)."""

import re
from decimal import Decimal

import pytest
from django.utils.html import escape
from django.utils.translation import override

from billing.models import LedgerEntry
from billing.services.errors import ERR_BALANCE_CHANGED
from customers.models import CancellationRequest
from customers.services.cancellation import ERR_BALANCE, ERR_NAME_MISMATCH, ERR_PHONE_MISMATCH
from tests.customers.test_cancellation import (
    approve_submission_of,
    balance,
    form_data,
    fund,
    open_renewal,
    submit,
)
from tests.factories import CustomerFactory, make_line

pytestmark = pytest.mark.django_db


def english(message, **params) -> str:
    with override("en"):
        return escape(str(message) % params if params else str(message))


@pytest.fixture
def signed_in(client, settings):
    """A customer verified online as 王芳, one active line, pages in English."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    approve_submission_of(user)
    line.refresh_from_db()
    client.force_login(user)
    return client, user, line


def test_the_service_names_every_problem_at_once_each_with_its_field():
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    approve_submission_of(user)
    line.refresh_from_db()
    fund(user, 20)
    order = open_renewal(user, line)

    with pytest.raises(Exception) as refused:
        submit(user, line, full_name="李雷", phone="+8613012345678", bindings=[{"name": "微信", "unbound": False}])

    problems = {problem.code: problem.field for problem in refused.value.problems}
    assert problems == {
        "name_mismatch": "full_name",
        "phone_mismatch": "phone",
        "bindings": "bindings",
        "balance": None,
        "open_orders": None,
    }
    assert order.number in str(refused.value)
    assert not CancellationRequest.objects.exists()


def test_one_submit_shows_every_problem_once(signed_in):
    client, user, line = signed_in
    fund(user, 20)
    order = open_renewal(user, line)
    data = form_data(line, full_name="李雷", phone="+8613012345678", **{"bindings-0-name": "招商银行"})

    response = client.post("/account/cancel/", data)

    assert response.status_code == 400
    content = response.content.decode()
    for message in (
        english(ERR_NAME_MISMATCH),
        english(ERR_PHONE_MISMATCH),
        english(ERR_BALANCE, amount=Decimal("20.00")),
        escape("Unbind 招商银行 from this number first, then tick this box."),
    ):
        assert content.count(message) == 1, message
    assert content.count(order.number) == 1
    assert 'data-testid="cancel-blocked"' in content
    assert not CancellationRequest.objects.exists()


def test_a_missing_field_does_not_hide_the_name_check(signed_in):
    client, _user, line = signed_in
    data = form_data(line, full_name="李雷", reason="")

    content = client.post("/account/cancel/", data).content.decode()

    assert content.count(english(ERR_NAME_MISMATCH)) == 1
    assert content.count("This field is required.") == 1


def test_binding_rows_are_numbered_with_examples(signed_in):
    client, _user, line = signed_in

    content = client.get(f"/account/cancel/?line={line.pk}").content.decode()

    for n in (1, 2, 3):
        assert f"Service {n} bound to this number (optional)" in content
    assert content.count('placeholder="e.g. WeChat, Alipay, a bank app"') == 3


def test_the_phone_is_prefilled_as_people_read_it(signed_in):
    client, user, line = signed_in

    content = client.get(f"/account/cancel/?line={line.pk}").content.decode()

    value = re.search(r'<input[^>]*name="phone"[^>]*value="([^"]*)"', content).group(1)
    assert value == user.phone.as_national


def test_the_refund_button_opens_a_confirmation_and_refunds_nothing_by_itself(signed_in):
    client, user, line = signed_in
    fund(user, 20)
    cancel_page = f"/account/cancel/?line={line.pk}"
    link = re.search(r'href="([^"]+)" data-testid="refund-balance"', client.get(cancel_page).content.decode()).group(1)

    response = client.get(link.replace("&amp;", "&"))

    assert response.status_code == 200
    assert "¥20.00" in response.content.decode()
    assert balance(user) == Decimal("20.00")
    # The one-tap form of older pages (no confirmation) refunds nothing either.
    response = client.post("/account/refund-balance/", {"next": cancel_page})
    assert response.status_code == 200
    assert 'data-testid="refund-confirm"' in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_a_confirmed_refund_returns_exactly_the_confirmed_balance_and_goes_back(signed_in):
    client, user, line = signed_in
    fund(user, 20)
    cancel_page = f"/account/cancel/?line={line.pk}"

    response = client.post("/account/refund-balance/", {"amount": "20.00", "confirm": "yes", "next": cancel_page})

    assert response.status_code == 302
    assert response["Location"] == cancel_page
    assert balance(user) == Decimal("0.00")
    assert LedgerEntry.objects.get(kind="refund").amount == Decimal("-20.00")


def test_a_balance_that_changed_after_the_confirmation_is_not_refunded(signed_in):
    client, user, _line = signed_in
    fund(user, 20, reference="a")
    fund(user, 30, reference="b")  # credited while the confirmation page was open

    response = client.post("/account/refund-balance/", {"amount": "20.00", "confirm": "yes"}, follow=True)

    assert english(ERR_BALANCE_CHANGED, amount=Decimal("50.00")) in response.content.decode()
    assert balance(user) == Decimal("50.00")
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_a_second_confirmation_of_the_same_refund_refunds_nothing_more(signed_in):
    client, user, _line = signed_in
    fund(user, 20)
    data = {"amount": "20.00", "confirm": "yes", "next": "/account/"}

    client.post("/account/refund-balance/", data)
    response = client.post("/account/refund-balance/", data, follow=True)

    assert "there is nothing to refund" in response.content.decode()
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_the_account_centre_says_a_line_has_a_cancellation_requested(signed_in):
    client, user, line = signed_in
    submit(user, line)

    content = client.get("/account/").content.decode()

    assert 'data-testid="line-cancellation-requested"' in content
    assert "Cancellation requested" in content
