"""Staff never see a customer's refresh token in the admin (simplejwt's outstanding tokens)."""

import pytest
from django.urls import reverse
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import User
from api import tokens
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued():
    return tokens.token_pair_issue(user=CustomerFactory(), how="test")["refresh"]


@pytest.fixture
def superuser_client(client):
    client.force_login(User.objects.create_superuser(username="root", password="a-long-secret-42"))
    return client


def test_the_admin_shows_who_holds_a_refresh_token_never_the_token(superuser_client, issued):
    outstanding = OutstandingToken.objects.get()
    assert outstanding.token == issued  # what there is to hide

    changelist = superuser_client.get(reverse("admin:token_blacklist_outstandingtoken_changelist"))
    change = superuser_client.get(reverse("admin:token_blacklist_outstandingtoken_change", args=[outstanding.pk]))

    for page in (changelist, change):
        assert page.status_code == 200
        text = page.content.decode()
        assert outstanding.jti in text
        for part in issued.split("."):
            assert part not in text


def test_the_admin_list_cannot_be_narrowed_by_the_tokens_text(superuser_client, issued):
    changelist = reverse("admin:token_blacklist_outstandingtoken_changelist")

    assert superuser_client.get(changelist, {"token__startswith": issued[:20]}).status_code == 400
    assert superuser_client.get(changelist, {"jti": OutstandingToken.objects.get().jti}).status_code == 200
