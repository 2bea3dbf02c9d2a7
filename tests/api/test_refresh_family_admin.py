"""The app's sign-ins (refresh families) in the admin: who, since when, ended when and why; never a token.

Administrators only, as for simplejwt's outstanding tokens. Ending a sign-in from the
admin (a stolen phone) goes through the service that ends a family, audited.
"""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import AuditEvent
from api import tokens
from api.models import RefreshFamily
from tests.api.conftest import AppClient
from tests.factories import CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:api_refreshfamily_changelist")
REFRESH = "/api/v1/auth/token/refresh/"


def change_url(family) -> str:
    return reverse("admin:api_refreshfamily_change", args=[family.pk])


def family_of(refresh: str) -> RefreshFamily:
    return RefreshFamily.objects.get(pk=RefreshToken(refresh, verify=False)[tokens.FAMILY_CLAIM])


@pytest.fixture
def administrator(client):
    user = make_staff("admin")
    client.force_login(user)
    return user


@pytest.fixture
def signed_in():
    """A customer signed in on the app: (customer, their refresh token)."""
    customer = CustomerFactory()
    return customer, tokens.token_pair_issue(user=customer, how="password")["refresh"]


def end_sign_ins(client, *families):
    return client.post(
        CHANGELIST, {"action": "end_sign_ins", ACTION_CHECKBOX_NAME: [str(family.pk) for family in families]}
    )


def test_the_admin_shows_who_signed_in_when_and_how_it_ended_never_the_token(client, administrator, signed_in):
    customer, refresh = signed_in
    family = family_of(refresh)
    tokens.token_revoke(refresh=refresh, user=customer)
    family.refresh_from_db()

    changelist = client.get(CHANGELIST)
    change = client.get(change_url(family))

    for page in (changelist, change):
        assert page.status_code == 200
        text = page.content.decode()
        assert str(customer.phone) in text
        assert str(RefreshFamily.EndReason.SIGNED_OUT.label) in text
        for part in refresh.split("."):
            assert part not in text
    assert change.context["original"] == family
    assert {"created_at", "expires_at", "ended_at", "end_reason"} <= set(change.context["adminform"].readonly_fields)


def test_sign_ins_are_found_by_the_customers_phone(client, administrator, signed_in):
    customer, refresh = signed_in
    other = CustomerFactory()
    tokens.token_pair_issue(user=other, how="password")

    found = client.get(CHANGELIST, {"q": customer.phone.as_national})

    assert found.status_code == 200
    assert [row.pk for row in found.context["cl"].result_list] == [family_of(refresh).pk]


def test_a_sign_in_cannot_be_added_changed_or_deleted_in_the_admin(client, administrator, signed_in):
    _customer, refresh = signed_in
    family = family_of(refresh)

    add = client.post(reverse("admin:api_refreshfamily_add"), {})
    change = client.post(change_url(family), {"ended_at": "2026-01-01 00:00", "end_reason": "reused"})
    delete = client.post(reverse("admin:api_refreshfamily_delete", args=[family.pk]), {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    family.refresh_from_db()
    assert (family.ended_at, family.end_reason) == (None, "")


@pytest.mark.parametrize("role", ["reviewer", "senior_reviewer", "clerk", "support"])
def test_staff_other_than_administrators_cannot_see_or_end_sign_ins(client, signed_in, role):
    _customer, refresh = signed_in
    family = family_of(refresh)
    client.force_login(make_staff(role))

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(family)).status_code == 403
    assert end_sign_ins(client, family).status_code == 403
    family.refresh_from_db()
    assert family.ended_at is None


def test_an_administrator_ends_a_stolen_phones_sign_in_and_only_that_one(client, administrator, signed_in):
    customer, stolen = signed_in
    kept = tokens.token_pair_issue(user=customer, how="sms_code")["refresh"]
    app = AppClient()

    response = end_sign_ins(client, family_of(stolen))

    assert response.status_code == 302
    family = family_of(stolen)
    assert family.end_reason == RefreshFamily.EndReason.ENDED_BY_STAFF and family.ended_at is not None
    assert app.post(REFRESH, {"refresh": stolen}).status_code == 401  # the phone cannot refresh any more
    assert app.post(REFRESH, {"refresh": kept}).status_code == 200  # the customer's other device can
    event = AuditEvent.objects.get(verb="api.sign_in_ended_by_staff")
    assert (event.actor, event.subject_user, event.data) == (administrator, customer, {"family": str(family.pk)})


def test_ending_a_sign_in_that_already_ended_keeps_its_reason_and_records_nothing(client, administrator, signed_in):
    customer, refresh = signed_in
    tokens.token_revoke(refresh=refresh, user=customer)
    ended = family_of(refresh)

    end_sign_ins(client, ended)

    family = family_of(refresh)
    assert (family.ended_at, family.end_reason) == (ended.ended_at, RefreshFamily.EndReason.SIGNED_OUT)
    assert not AuditEvent.objects.filter(verb="api.sign_in_ended_by_staff").exists()


def test_the_list_costs_the_same_queries_for_one_sign_in_or_many(client, administrator, signed_in):
    def queries() -> int:
        client.get(CHANGELIST)  # warm the session and permission caches
        with CaptureQueriesContext(connection) as captured:
            assert client.get(CHANGELIST).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(5):
        tokens.token_pair_issue(user=CustomerFactory(), how="password")

    assert queries() == few
