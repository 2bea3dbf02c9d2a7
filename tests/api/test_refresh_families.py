"""A sign-in is a family of refresh tokens: a spent one presented again ends the whole family."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import AuditEvent
from api import tokens
from api.models import RefreshFamily
from tests.accounts.conftest import STRONG_PASSWORD
from tests.api.conftest import API, problem
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

REFRESH = f"{API}auth/token/refresh/"


def family_of(refresh: str) -> RefreshFamily:
    return RefreshFamily.objects.get(pk=RefreshToken(refresh, verify=False)[tokens.FAMILY_CLAIM])


def rotate(app, refresh: str) -> str:
    response = app.post(REFRESH, {"refresh": refresh})
    assert response.status_code == 200, response.content
    return response.json()["refresh"]


def refused(app, refresh: str) -> bool:
    response = app.post(REFRESH, {"refresh": refresh})
    return response.status_code == 401 and problem(response)["code"] == "token_not_valid"


def test_a_reused_refresh_token_ends_the_sign_in_it_belongs_to(app, customer):
    first = app.sign_in_as(customer)["refresh"]
    second = rotate(app, first)

    again = app.post(REFRESH, {"refresh": first})  # the thief, or the app, whoever comes second
    assert again.status_code == 401
    assert problem(again)["code"] == "token_not_valid"
    # The token the first rotation handed out dies with it, whoever holds it.
    assert refused(app, second)
    event = AuditEvent.objects.get(verb="api.refresh_reused", subject_user=customer)
    family = family_of(second)
    assert event.data == {"family": str(family.pk)}
    assert family.ended_at is not None
    assert family.end_reason == RefreshFamily.EndReason.REUSED
    # Presenting it yet again ends nothing more and records nothing more.
    assert refused(app, first)
    assert AuditEvent.objects.filter(verb="api.refresh_reused").count() == 1


def test_a_chain_of_rotations_keeps_working_in_one_family(app, customer):
    refresh = app.sign_in_as(customer)["refresh"]
    family = family_of(refresh)
    for _rotation in range(5):
        response = app.post(REFRESH, {"refresh": refresh})
        assert response.status_code == 200, response.content
        refresh = response.json()["refresh"]
        assert family_of(refresh) == family
        app.use(response.json()["access"])
        assert app.get(f"{API}account/").status_code == 200
    family.refresh_from_db()
    assert family.ended_at is None
    assert family.expires_at == OutstandingToken.objects.filter(user=customer).latest("created_at").expires_at
    assert not AuditEvent.objects.filter(verb="api.refresh_reused").exists()


def test_signing_out_this_device_ends_its_sign_in_but_not_another_devices(app, customer):
    phone = rotate(app, app.sign_in_as(customer)["refresh"])
    tablet = app.sign_in_as(customer)["refresh"]  # the client now holds the tablet's access token
    assert app.post(f"{API}auth/token/revoke/", {"refresh": phone}).status_code == 204
    assert refused(app, phone)
    phone_family = family_of(phone)
    assert phone_family.end_reason == RefreshFamily.EndReason.SIGNED_OUT
    event = AuditEvent.objects.get(verb="api.signed_out", subject_user=customer)
    assert (event.actor, event.data) == (customer, {"family": str(phone_family.pk)})
    assert family_of(tablet).ended_at is None
    rotate(app, tablet)
    # Signing out again with the same token ends nothing more, and records nothing more.
    assert app.post(f"{API}auth/token/revoke/", {"refresh": phone}).status_code == 204
    assert AuditEvent.objects.filter(verb="api.signed_out").count() == 1


def test_sign_out_everywhere_ends_every_sign_in(app, customer):
    phone = rotate(app, app.sign_in_as(customer)["refresh"])
    tablet = app.sign_in_as(customer)["refresh"]
    assert app.post(f"{API}auth/sign-out-everywhere/").status_code == 204
    for refresh in (phone, tablet):
        assert refused(app, refresh)
        assert family_of(refresh).end_reason == RefreshFamily.EndReason.SIGNED_OUT_EVERYWHERE
    event = AuditEvent.objects.get(verb="api.signed_out_everywhere", subject_user=customer)
    assert event.data == {"tokens": 2, "families": 2}


def test_a_password_reset_ends_every_sign_in(app, customer, code_for, sent):
    refresh = app.sign_in_as(customer)["refresh"]
    with sent():
        app.post(f"{API}auth/password-reset/", {"identifier": customer.phone.as_e164})
    response = app.post(
        f"{API}auth/password-reset/confirm/",
        {
            "identifier": customer.phone.as_e164,
            "code": code_for(customer.phone.as_e164),
            "new_password": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 204, response.content
    assert family_of(refresh).end_reason == RefreshFamily.EndReason.PASSWORD_RESET


def test_another_customers_sign_out_ends_nothing_of_this_one(app, customer):
    refresh = app.sign_in_as(customer)["refresh"]
    app.sign_in_as(CustomerFactory())
    assert app.post(f"{API}auth/token/revoke/", {"refresh": refresh}).status_code == 204  # answered alike
    assert family_of(refresh).ended_at is None
    assert not AuditEvent.objects.filter(verb="api.signed_out").exists()
    rotate(app, refresh)


def test_a_token_from_before_families_still_rotates_into_a_new_family(app, customer):
    old = str(RefreshToken.for_user(customer))  # as issued before this change: no family claim
    assert tokens.FAMILY_CLAIM not in RefreshToken(old, verify=False).payload
    new = rotate(app, old)
    family = family_of(new)
    assert family.user == customer and family.ended_at is None
    rotate(app, new)
    family.refresh_from_db()
    assert family.ended_at is None


def test_a_reused_token_from_before_families_ends_the_sign_in_its_rotation_started(app, customer):
    # Every app in the field holds such a token on the day of the change, a stolen one too:
    # whoever rotated it first, the other's attempt must end what that rotation started.
    old = str(RefreshToken.for_user(customer))
    first = rotate(app, old)
    assert refused(app, old)
    assert refused(app, first)
    family = family_of(first)
    assert family.end_reason == RefreshFamily.EndReason.REUSED
    event = AuditEvent.objects.get(verb="api.refresh_reused", subject_user=customer)
    assert event.data == {"family": str(family.pk)}


def test_a_reused_token_from_before_families_that_never_rotated_here_ends_nothing(app, customer):
    other = app.sign_in_as(customer)["refresh"]
    old = RefreshToken.for_user(customer)
    old.blacklist()  # spent before the change: the token its rotation made carries no family either
    assert refused(app, str(old))
    assert not AuditEvent.objects.filter(verb="api.refresh_reused").exists()
    assert family_of(other).ended_at is None
    rotate(app, other)


def test_signing_out_with_a_spent_token_from_before_families_ends_the_sign_in_its_rotation_started(app, customer):
    old = str(RefreshToken.for_user(customer))
    pair = app.post(REFRESH, {"refresh": old}).json()
    app.use(pair["access"])
    assert app.post(f"{API}auth/token/revoke/", {"refresh": old}).status_code == 204
    assert refused(app, pair["refresh"])
    assert family_of(pair["refresh"]).end_reason == RefreshFamily.EndReason.SIGNED_OUT


def test_a_token_whose_family_is_gone_is_refused_and_changes_nothing(app, customer):
    refresh = app.sign_in_as(customer)["refresh"]
    family_of(refresh).delete()
    assert refused(app, refresh)
    assert not RefreshFamily.objects.exists()
    assert not AuditEvent.objects.filter(verb="api.refresh_reused").exists()


def test_a_forged_token_is_refused_and_changes_nothing(app, customer):
    app.sign_in_as(customer)
    families = RefreshFamily.objects.count()
    assert refused(app, "not-a-token")
    assert RefreshFamily.objects.count() == families


def test_purge_forgets_sign_ins_whose_newest_token_has_expired(app, customer):
    lapsed = app.sign_in_as(customer)["refresh"]
    live = app.sign_in_as(customer)["refresh"]
    RefreshFamily.objects.filter(pk=family_of(lapsed).pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tokens.refresh_families_purge() == 1
    assert RefreshFamily.objects.get() == family_of(live)
    rotate(app, live)


def test_signing_out_with_a_token_already_spent_still_ends_its_sign_in(app, customer):
    first = app.sign_in_as(customer)["refresh"]
    second = rotate(app, first)
    assert app.post(f"{API}auth/token/revoke/", {"refresh": first}).status_code == 204
    assert refused(app, second)
    assert family_of(second).end_reason == RefreshFamily.EndReason.SIGNED_OUT
