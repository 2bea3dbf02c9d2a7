"""A refresh token is spent once, even by two refreshes at the same moment (PostgreSQL, real threads)."""

from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from api import tokens
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
    # The first token is spent; the one new pair is live.
    assert BlacklistedToken.objects.filter(token__user=customer).count() == 1
    assert OutstandingToken.objects.filter(user=customer).count() == 2


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
