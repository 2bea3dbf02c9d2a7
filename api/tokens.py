"""The app's tokens: issue, rotate, revoke (djangorestframework-simplejwt with its blacklist).

A refresh token is spent once: rotation locks its outstanding row, refuses a blacklisted
one and blacklists it in the same transaction, so two refreshes with one token cannot
both get a new pair (tests/api/test_token_races.py). Tokens carry a digest of the
password hash (SIMPLE_JWT's CHECK_REVOKE_TOKEN): a changed password ends the access
tokens at once, and rotation refuses the refresh tokens made before the change.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.services import audit_record
from api.problems import Problem

ERR_REFRESH_INVALID = _("This sign-in has ended. Sign in again.")
ERR_STAFF_TOKENS = _("Staff accounts cannot use the app. Sign in on the staff site.")


def may_hold_token(user) -> bool:
    """SIMPLE_JWT's USER_AUTHENTICATION_RULE: active customers only."""
    return user is not None and user.is_active and not user.is_staff


def _refused():
    return Problem(status_code=status.HTTP_401_UNAUTHORIZED, code="token_not_valid", detail=ERR_REFRESH_INVALID)


def token_pair_issue(*, user, how: str) -> dict:
    """A new access and refresh token for a customer who just proved who they are."""
    if not may_hold_token(user):
        raise Problem(status_code=status.HTTP_403_FORBIDDEN, code="customers_only", detail=ERR_STAFF_TOKENS)
    with transaction.atomic():
        refresh = RefreshToken.for_user(user)  # also records it as outstanding
        audit_record(actor=user, verb="api.signed_in", target=user, subject_user=user, data={"how": how})
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_pair_rotate(*, refresh: str) -> dict:
    """Spend a refresh token for a new pair; a token spent, revoked or outdated is refused."""
    try:
        token = RefreshToken(refresh)  # signature, expiry, type and blacklist
    except TokenError as error:
        raise _refused() from error
    with transaction.atomic():
        # The customer's row first, as tokens_revoke_all does: a sign-out everywhere and a
        # refresh take turns, so no new token is made behind a sign-out's back.
        user = get_user_model().objects.select_for_update().filter(pk=token[api_settings.USER_ID_CLAIM]).first()
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=token[api_settings.JTI_CLAIM]).first()
        if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
            raise _refused()
        if (
            user is None
            or not may_hold_token(user)
            or token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password)
        ):
            raise _refused()
        BlacklistedToken.objects.create(token=outstanding)
        fresh = RefreshToken.for_user(user)
    return {"access": str(fresh.access_token), "refresh": str(fresh)}


def token_revoke(*, refresh: str, user) -> None:
    """Sign this device out: its refresh token stops working (its access token lapses in minutes)."""
    try:
        token = RefreshToken(refresh, verify=True)
    except TokenError:
        return  # already unusable
    if str(token.get(api_settings.USER_ID_CLAIM)) != str(user.pk):
        return  # another account's token is not this caller's to end; answer alike
    with transaction.atomic():
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=token[api_settings.JTI_CLAIM]).first()
        if outstanding is not None:
            BlacklistedToken.objects.get_or_create(token=outstanding)


def tokens_revoke_all(*, user, actor, verb: str = "api.signed_out_everywhere") -> int:
    """Every refresh token of the customer stops working; return how many were still live."""
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        live = list(
            OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
            .exclude(pk__in=BlacklistedToken.objects.values("token_id"))
            .values_list("pk", flat=True)
        )
        BlacklistedToken.objects.bulk_create([BlacklistedToken(token_id=pk) for pk in live], ignore_conflicts=True)
        audit_record(actor=actor, verb=verb, target=user, subject_user=user, data={"tokens": len(live)})
    return len(live)


def expired_tokens_purge() -> int:
    """Forget refresh tokens past their expiry (they cannot be used anyway) and their blacklist rows."""
    expired = OutstandingToken.objects.filter(expires_at__lte=timezone.now())
    BlacklistedToken.objects.filter(token__in=expired).delete()
    deleted, _rows = expired.delete()
    return deleted
