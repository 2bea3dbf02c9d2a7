"""A refresh token is spent once, even by two refreshes at the same moment (PostgreSQL, real threads)."""

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import AuditEvent
from api import tokens
from api.models import RefreshFamily
from api.problems import Problem
from tests.factories import CustomerFactory
from tests.races import RACE_MARKS, errors, run_together, values

pytestmark = RACE_MARKS


def test_two_refreshes_with_one_token_give_one_new_pair():
    customer = CustomerFactory()
    refresh = tokens.token_pair_issue(user=customer, how="test")["refresh"]
    results = run_together(*(lambda: tokens.token_pair_rotate(refresh=refresh) for _ in range(3)))
    assert len(values(results)) == 1
    assert len(errors(results)) == 2
    assert all(isinstance(error, Problem) and error.problem_code == "token_not_valid" for error in errors(results))
    # The first token is spent and one new pair was made; the losers' reuse ended its family.
    assert BlacklistedToken.objects.filter(token__user=customer).count() == 1
    assert OutstandingToken.objects.filter(user=customer).count() == 2
    assert RefreshFamily.objects.get(user=customer).end_reason == RefreshFamily.EndReason.REUSED


def test_one_token_rotated_twice_at_once_gives_one_pair_and_ends_its_sign_in():
    # The app cannot tell a retry from a thief, and neither can we: the loser presents a
    # spent token, so the family ends and the winner's new pair is refused too.
    customer = CustomerFactory()
    refresh = tokens.token_pair_issue(user=customer, how="test")["refresh"]
    results = run_together(*(lambda: tokens.token_pair_rotate(refresh=refresh) for _ in range(2)))
    (pair,) = values(results)
    (error,) = errors(results)
    assert isinstance(error, Problem) and error.problem_code == "token_not_valid"
    assert OutstandingToken.objects.filter(user=customer).count() == 2  # one new pair was made, no more
    with pytest.raises(Problem):
        tokens.token_pair_rotate(refresh=pair["refresh"])
    assert AuditEvent.objects.filter(verb="api.refresh_reused", subject_user=customer).count() == 1
    assert RefreshFamily.objects.get(user=customer).end_reason == RefreshFamily.EndReason.REUSED


def test_a_token_from_before_families_rotated_twice_at_once_gives_one_pair_and_ends_its_sign_in():
    customer = CustomerFactory()
    refresh = str(RefreshToken.for_user(customer))  # as issued before families: no claim
    results = run_together(*(lambda: tokens.token_pair_rotate(refresh=refresh) for _ in range(2)))
    (pair,) = values(results)
    (error,) = errors(results)
    assert isinstance(error, Problem) and error.problem_code == "token_not_valid"
    with pytest.raises(Problem):
        tokens.token_pair_rotate(refresh=pair["refresh"])
    assert AuditEvent.objects.filter(verb="api.refresh_reused", subject_user=customer).count() == 1
    assert RefreshFamily.objects.get(user=customer).end_reason == RefreshFamily.EndReason.REUSED


def test_sign_out_everywhere_while_refreshing_leaves_no_live_token():
    customer = CustomerFactory()
    refresh = tokens.token_pair_issue(user=customer, how="test")["refresh"]
    results = run_together(
        lambda: tokens.token_pair_rotate(refresh=refresh),
        lambda: tokens.tokens_revoke_all(user=customer, actor=customer),
    )
    # A refresh after the sign-out is refused; one before it gets a pair that the sign-out then ends.
    assert all(isinstance(error, Problem) for error in errors(results))
    # Whichever ran first, no refresh token of the customer is left alive.
    assert not OutstandingToken.objects.filter(user=customer, blacklistedtoken__isnull=True).exists()
    assert not RefreshFamily.objects.filter(user=customer, ended_at__isnull=True).exists()


def test_signing_out_this_device_while_it_refreshes_ends_the_sign_in():
    customer = CustomerFactory()
    refresh = tokens.token_pair_issue(user=customer, how="test")["refresh"]
    results = run_together(
        lambda: tokens.token_pair_rotate(refresh=refresh),
        lambda: tokens.token_revoke(refresh=refresh, user=customer),
    )
    assert all(isinstance(error, Problem) for error in errors(results))
    # A pair made just before the sign-out belongs to the family it ended.
    for pair in values(results):
        if pair is not None:
            with pytest.raises(Problem):
                tokens.token_pair_rotate(refresh=pair["refresh"])
    assert RefreshFamily.objects.get(user=customer).end_reason == RefreshFamily.EndReason.SIGNED_OUT
