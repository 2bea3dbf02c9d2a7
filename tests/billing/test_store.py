"""Renewal at an authorised store: the clerk checks the ID card, takes cash or a card, prints the receipt."""

from decimal import Decimal

import pytest

from accounts import services as account_services
from accounts.models import ServicePoint, User
from accounts.services import add_months
from billing import services
from billing.models import LedgerEntry, Order, Payment, Receipt
from billing.services.errors import (
    ERR_ID_MISMATCH,
    ERR_NO_SUCH_LINE,
    ERR_NOT_A_STORE,
    ERR_NOT_VERIFIED,
    ERR_OWN_STORE_RENEWAL,
)
from reviews.demo import resident_id
from tests.billing.conftest import ID_NUMBER, approved_identity, key, page_shows, verified_customer
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff

pytestmark = pytest.mark.django_db

OTHER_ID_NUMBER = resident_id(birth="19851231", sequence="456")


def clerk_at(kind=ServicePoint.Kind.STORE, **point):
    return make_staff("clerk", service_point=ServicePointFactory(kind=kind, **point))


@pytest.fixture
def clerk():
    return clerk_at(ServicePoint.Kind.STORE)


@pytest.fixture
def walk_in():
    """A verified customer at the counter, whose approved verification carries ID_NUMBER: (user, line)."""
    user, line = verified_customer()
    approved_identity(user, ID_NUMBER)
    return user, line


def renew_at_counter(clerk, line, plans, id_number=ID_NUMBER, **overrides):
    arguments = {
        "actor": clerk,
        "msisdn": line.msisdn,
        "id_number": id_number,
        "plan_id": plans["standard"].pk,
        "term_months": 3,
        "method": "store_cash",
        "idempotency_key": key(),
    }
    return services.store_renewal(**{**arguments, **overrides})


@pytest.mark.parametrize("kind", [ServicePoint.Kind.STORE, ServicePoint.Kind.BOTH])
def test_a_clerk_of_a_store_renews_a_line_and_records_cash(walk_in, plans, kind):
    user, line = walk_in
    clerk = clerk_at(kind)
    old_end = line.validity_end

    order = renew_at_counter(clerk, line, plans)

    assert order.status == Order.Status.PAID
    assert (order.channel, order.user, order.created_by, order.service_point) == (
        "store",
        user,
        clerk,
        clerk.service_point,
    )
    assert order.amount == Decimal("180.00")
    payment = order.payments.get()
    assert (payment.method, payment.status) == ("store_cash", "succeeded")
    assert Receipt.objects.get(order=order).payment_method == "store_cash"
    line.refresh_from_db()
    assert line.validity_end == add_months(old_end, 3)
    assert not LedgerEntry.objects.exists()  # cash at the counter does not touch the wallet


def test_the_id_number_is_compared_whatever_its_spacing_and_case(walk_in, plans, clerk):
    _user, line = walk_in
    spaced = f" {ID_NUMBER[:6]} {ID_NUMBER[6:14]} {ID_NUMBER[14:].lower()} "

    order = renew_at_counter(clerk, line, plans, id_number=spaced)

    assert order.status == Order.Status.PAID


@pytest.mark.parametrize("id_number", [OTHER_ID_NUMBER, "", "110105199001011239"])
def test_a_wrong_id_number_is_refused_and_nothing_is_charged(walk_in, plans, clerk, id_number):
    _user, line = walk_in

    with pytest.raises(services.BillingError) as refused:
        renew_at_counter(clerk, line, plans, id_number=id_number)

    assert str(refused.value) == str(ERR_ID_MISMATCH)
    assert not Order.objects.exists()
    assert not Payment.objects.exists()


def test_another_persons_verified_id_does_not_match(walk_in, plans, clerk):
    _user, line = walk_in
    someone_else, _their_line = verified_customer()
    approved_identity(someone_else, OTHER_ID_NUMBER)

    with pytest.raises(services.BillingError) as refused:
        renew_at_counter(clerk, line, plans, id_number=OTHER_ID_NUMBER)

    assert str(refused.value) == str(ERR_ID_MISMATCH)


def test_a_line_whose_owner_is_not_verified_cannot_be_renewed_at_a_store(plans, clerk):
    user = CustomerFactory()
    line, _code = make_line(owner=user)

    with pytest.raises(services.BillingError) as refused:
        renew_at_counter(clerk, line, plans)

    assert str(refused.value) == str(ERR_NOT_VERIFIED)


def test_an_unknown_number_is_reported(plans, clerk):
    with pytest.raises(services.BillingError) as refused:
        services.store_renewal(
            actor=clerk,
            msisdn="+8617099999999",
            id_number=ID_NUMBER,
            plan_id=plans["basic"].pk,
            term_months=1,
            method="store_cash",
            idempotency_key=key(),
        )

    assert str(refused.value) == str(ERR_NO_SUCH_LINE)


@pytest.mark.parametrize(
    "make_clerk",
    [
        lambda: clerk_at(ServicePoint.Kind.VERIFICATION),
        lambda: clerk_at(ServicePoint.Kind.STORE, is_active=False),
        lambda: make_staff("clerk"),
    ],
    ids=["verification-only point", "closed store", "no service point"],
)
def test_a_clerk_who_is_not_at_an_open_store_cannot_take_payments(walk_in, plans, make_clerk):
    _user, line = walk_in

    with pytest.raises(services.BillingError) as refused:
        renew_at_counter(make_clerk(), line, plans)

    assert str(refused.value) == str(ERR_NOT_A_STORE)
    assert not Order.objects.exists()


def test_the_same_counter_request_twice_takes_one_payment(walk_in, plans, clerk):
    _user, line = walk_in
    request_key = key()

    first = renew_at_counter(clerk, line, plans, idempotency_key=request_key)
    second = renew_at_counter(clerk, line, plans, idempotency_key=request_key)

    assert first.pk == second.pk
    assert Payment.objects.count() == 1
    assert Receipt.objects.count() == 1


def test_a_store_renewal_refuses_online_payment_methods(walk_in, plans, clerk):
    _user, line = walk_in

    with pytest.raises(services.BillingError):
        renew_at_counter(clerk, line, plans, method="wallet")

    assert not Payment.objects.exists()


# --- the desk pages ---------------------------------------------------------------------


def test_the_desk_finds_the_line_renews_it_and_shows_the_receipt(english, walk_in, plans, clerk):
    _user, line = walk_in
    english.force_login(clerk)

    start = english.get("/staff/desk/renew/")
    found = english.post("/staff/desk/renew/", {"lookup": "1", "msisdn": line.msisdn.as_national})
    done = english.post(
        "/staff/desk/renew/",
        {
            "msisdn": line.msisdn.as_e164,
            "id_number": ID_NUMBER,
            "plan": plans["basic"].pk,
            "term_months": 1,
            "method": "store_card",
            "idempotency_key": key(),
        },
    )

    assert start.status_code == 200
    assert found.status_code == 200
    assert found.context["line"] == line
    assert found.context["form"] is not None
    receipt = Receipt.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/staff/desk/receipts/{receipt.number}/"
    page = english.get(done["Location"])
    assert page.status_code == 200
    assert receipt.number in page.content.decode()
    assert page_shows(page, "Renewed. Print the receipt for the customer.")
    assert receipt.payment_method == "store_card"


def test_the_desk_shows_an_unknown_number(english, clerk):
    english.force_login(clerk)

    response = english.post("/staff/desk/renew/", {"lookup": "1", "msisdn": "+8617099999999"})

    assert response.status_code == 200
    assert page_shows(response, ERR_NO_SUCH_LINE)


def test_the_desk_shows_a_wrong_id_number_and_charges_nothing(english, walk_in, plans, clerk):
    _user, line = walk_in
    english.force_login(clerk)

    response = english.post(
        "/staff/desk/renew/",
        {
            "msisdn": line.msisdn.as_e164,
            "id_number": OTHER_ID_NUMBER,
            "plan": plans["basic"].pk,
            "term_months": 1,
            "method": "store_cash",
            "idempotency_key": key(),
        },
    )

    assert response.status_code == 200
    assert page_shows(response, ERR_ID_MISMATCH)
    assert not Order.objects.exists()


def test_the_desk_tells_a_clerk_of_a_verification_point_they_cannot_take_payments(english, walk_in, plans):
    _user, line = walk_in
    english.force_login(clerk_at(ServicePoint.Kind.VERIFICATION))

    response = english.post(
        "/staff/desk/renew/",
        {
            "msisdn": line.msisdn.as_e164,
            "id_number": ID_NUMBER,
            "plan": plans["basic"].pk,
            "term_months": 1,
            "method": "store_cash",
            "idempotency_key": key(),
        },
    )

    assert page_shows(response, ERR_NOT_A_STORE)
    assert not Order.objects.exists()


@pytest.mark.parametrize("role", ["reviewer", "senior_reviewer"])
def test_staff_without_the_store_permission_are_forbidden(client, role):
    client.force_login(make_staff(role, service_point=ServicePointFactory(kind=ServicePoint.Kind.STORE)))

    assert client.get("/staff/desk/renew/").status_code == 403
    assert client.post("/staff/desk/renew/", {"lookup": "1", "msisdn": "+8617000000001"}).status_code == 403


def test_a_customer_is_forbidden_at_the_desk(client, walk_in):
    user, _line = walk_in
    client.force_login(user)

    assert client.get("/staff/desk/renew/").status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in_at_the_desk(client):
    response = client.get("/staff/desk/renew/")

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_clerk_cannot_open_another_stores_receipt(client, walk_in, plans, clerk):
    _user, line = walk_in
    order = renew_at_counter(clerk, line, plans)
    colleague = make_staff("clerk", service_point=clerk.service_point)
    elsewhere = clerk_at(ServicePoint.Kind.STORE)
    url = f"/staff/desk/receipts/{order.receipt.number}/"

    client.force_login(colleague)
    same_store = client.get(url)
    client.force_login(elsewhere)
    other_store = client.get(url)

    assert same_store.status_code == 200
    assert other_store.status_code == 404


# --- a clerk's own line -----------------------------------------------------------------


def clerk_with_a_verified_line(point_kind=ServicePoint.Kind.STORE):
    """A store clerk who is also a customer: their own verified line, their ID on record: (clerk, line)."""
    clerk = clerk_at(point_kind)
    User.objects.filter(pk=clerk.pk).update(phone=f"+861392222{clerk.pk:04d}")
    clerk.refresh_from_db()
    line, _code = make_line(owner=clerk)
    account_services.user_mark_real_name_verified(user=clerk, actor=None, channel="online")
    approved_identity(clerk, ID_NUMBER)
    line.refresh_from_db()
    return clerk, line


def test_a_clerk_cannot_renew_their_own_line_at_the_store(plans):
    clerk, line = clerk_with_a_verified_line()
    old_end = line.validity_end

    with pytest.raises(services.BillingError) as refused:
        renew_at_counter(clerk, line, plans)

    assert str(refused.value) == str(ERR_OWN_STORE_RENEWAL)
    assert not Order.objects.exists()
    assert not Payment.objects.exists()
    line.refresh_from_db()
    assert line.validity_end == old_end
    # A colleague at the same store renews it as usual.
    colleague = make_staff("clerk", service_point=clerk.service_point)
    assert renew_at_counter(colleague, line, plans).status == Order.Status.PAID


def test_a_clerk_cannot_record_a_counter_payment_for_their_own_order(plans):
    clerk, line = clerk_with_a_verified_line()
    order = services.renewal_order_create(
        user=clerk, line_id=line.pk, plan_id=plans["basic"].pk, term_months=1, idempotency_key=key()
    )

    with pytest.raises(services.BillingError) as refused:
        services.payment_record_at_store(order_id=order.pk, method="store_cash", actor=clerk)

    assert str(refused.value) == str(ERR_OWN_STORE_RENEWAL)
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN
    assert not Payment.objects.exists()
    assert not Receipt.objects.exists()


def test_the_desk_shows_a_clerk_their_own_line_is_not_theirs_to_renew(english, plans):
    clerk, line = clerk_with_a_verified_line(ServicePoint.Kind.BOTH)
    english.force_login(clerk)

    response = english.post(
        "/staff/desk/renew/",
        {
            "msisdn": line.msisdn.as_e164,
            "id_number": ID_NUMBER,
            "plan": plans["basic"].pk,
            "term_months": 1,
            "method": "store_cash",
            "idempotency_key": key(),
        },
    )

    assert response.status_code == 200
    assert page_shows(response, ERR_OWN_STORE_RENEWAL)
    assert not Order.objects.exists()
