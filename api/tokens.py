"""The app's tokens: issue, rotate, revoke (djangorestframework-simplejwt with its blacklist).

A refresh token is spent once: rotation locks its outstanding row, refuses a blacklisted
one and blacklists it in the same transaction, so two refreshes with one token cannot
both get a new pair (tests/api/test_token_races.py). Tokens carry a digest of the
password hash (SIMPLE_JWT's CHECK_REVOKE_TOKEN): a changed password ends the access
tokens at once, and rotation refuses the refresh tokens made before the change.

Each sign-in is a family (``api.RefreshFamily``): its refresh tokens carry the family's id
and rotation passes it on. A spent token presented again means two parties held it (the
app and a thief, in either order), so the family ends and the live token the first
rotation made is refused too (OAuth 2.0 Security BCP, refresh token reuse detection).
A token from before families rotates into a family whose id is derived from its own jti
(``LEGACY_FAMILY_NAMESPACE``), so its reuse finds and ends that family as well.
Access tokens are not checked against the family: they lapse within their 5 minutes.
"""

import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from accounts.services import audit_record
from api.models import RefreshFamily
from api.problems import Problem

FAMILY_CLAIM = "family"
# The family a token from before families (no claim) rotates into is uuid5(this, its jti):
# the spent token, presented again, names it without a claim or a stored link.
LEGACY_FAMILY_NAMESPACE = uuid.UUID("5b0e3c3e-6f0a-4c55-9a52-8d3f6c1e2a71")

ERR_REFRESH_INVALID = _("This sign-in has ended. Sign in again.")
ERR_STAFF_TOKENS = _("Staff accounts cannot use the app. Sign in on the staff site.")


def may_hold_token(user) -> bool:
    """SIMPLE_JWT's USER_AUTHENTICATION_RULE: active customers only."""
    return user is not None and user.is_active and not user.is_staff


def _refused():
    return Problem(status_code=status.HTTP_401_UNAUTHORIZED, code="token_not_valid", detail=ERR_REFRESH_INVALID)


class PresentedRefreshToken(RefreshToken):
    """A refresh token as the app presents it: signature, expiry and type checked, not yet the blacklist.

    Rotation reads the blacklist itself, under the token's row lock, because a spent token
    is not only refused: it ends its family.
    """

    def check_blacklist(self) -> None:
        pass


def _refresh_token(*, user, family: RefreshFamily) -> RefreshToken:
    """A new refresh token of the family, recorded as outstanding; move the family's expiry to it."""
    token = RefreshToken.for_user(user)  # also records it as outstanding, without the claim yet
    token[FAMILY_CLAIM] = str(family.pk)
    # The outstanding row keeps the token's text: store the one handed out, claim included.
    OutstandingToken.objects.filter(jti=token[api_settings.JTI_CLAIM]).update(token=str(token))
    family.expires_at = datetime_from_epoch(token["exp"])
    family.save(update_fields=["expires_at"])
    return token


def _pair(token: RefreshToken) -> dict:
    return {"access": str(token.access_token), "refresh": str(token)}


def _family_id(token: RefreshToken) -> str:
    """The token's family id: its claim, or for a token from before families the id its rotation gives."""
    family_id = token.get(FAMILY_CLAIM)
    if family_id is None:
        return str(uuid.uuid5(LEGACY_FAMILY_NAMESPACE, str(token[api_settings.JTI_CLAIM])))
    return family_id


def _family_start(*, user, family_id: str | None = None) -> RefreshFamily:
    # expires_at is set by the family's first token, made right after.
    return RefreshFamily.objects.create(pk=family_id or uuid.uuid4(), user=user, expires_at=timezone.now())


def _family_end(family: RefreshFamily, *, reason: str) -> None:
    """End a live family (the caller holds its row lock); an ended one keeps its first reason."""
    if family.ended_at is None:
        family.ended_at = timezone.now()
        family.end_reason = reason
        family.full_clean()
        family.save(update_fields=["ended_at", "end_reason"])


def _locked_family(token: RefreshToken, *, user) -> RefreshFamily | None:
    """The token's family row, locked; None for a family gone (or not started yet, before families)."""
    if user is None:
        return None
    return RefreshFamily.objects.select_for_update().filter(pk=_family_id(token), user=user).first()


def token_pair_issue(*, user, how: str) -> dict:
    """A new access and refresh token for a customer who just proved who they are: a new family."""
    if not may_hold_token(user):
        raise Problem(status_code=status.HTTP_403_FORBIDDEN, code="customers_only", detail=ERR_STAFF_TOKENS)
    with transaction.atomic():
        refresh = _refresh_token(user=user, family=_family_start(user=user))
        audit_record(actor=user, verb="api.signed_in", target=user, subject_user=user, data={"how": how})
    return _pair(refresh)


def token_pair_rotate(*, refresh: str) -> dict:
    """Spend a refresh token for a new pair; a token spent, revoked or outdated is refused.

    A spent token of a live family ends the family (and so the token its first spending
    made); that ending commits although the answer is a refusal.
    """
    try:
        token = PresentedRefreshToken(refresh)  # signature, expiry and type
    except TokenError as error:
        raise _refused() from error
    # Durable: inside an outer transaction, the refusal raised below would roll back the ending.
    with transaction.atomic(durable=True):
        pair = _rotate_locked(token)
    if pair is None:
        raise _refused()  # only now: an ended family above has committed
    return pair


def _rotate_locked(token: RefreshToken) -> dict | None:
    """Rotation inside its transaction: the new pair, or None for a refusal (never raise: it must commit)."""
    # The customer's row first, as tokens_revoke_all does: a sign-out everywhere and a
    # refresh take turns, so no new token is made behind a sign-out's back. Then the
    # token's row, then its family's: every path takes them in this order.
    user = get_user_model().objects.select_for_update().filter(pk=token[api_settings.USER_ID_CLAIM]).first()
    outstanding = OutstandingToken.objects.select_for_update().filter(jti=token[api_settings.JTI_CLAIM]).first()
    family = _locked_family(token, user=user)
    if user is None or outstanding is None:
        return None
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        if family is not None and family.ended_at is None:
            # Two parties held this token: end the sign-in, whoever holds its newest token.
            _family_end(family, reason=RefreshFamily.EndReason.REUSED)
            audit_record(
                actor=None,
                verb="api.refresh_reused",
                target=user,
                subject_user=user,
                data={"family": str(family.pk)},
            )
        return None
    if not may_hold_token(user) or token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        return None
    if token.get(FAMILY_CLAIM) is None:
        # A token from before families, spent once (its outstanding row is locked): its chain
        # starts one now, under the id its reuse will look for.
        family = _family_start(user=user, family_id=_family_id(token))
    elif family is None or family.ended_at is not None:
        return None
    BlacklistedToken.objects.create(token=outstanding)
    return _pair(_refresh_token(user=user, family=family))


def token_revoke(*, refresh: str, user) -> None:
    """Sign this device out: its refresh token and its family end (its access token lapses in minutes)."""
    try:
        # A spent token too: its family may hold a newer token (a refresh just before, or a thief's).
        token = PresentedRefreshToken(refresh)
    except TokenError:
        return  # forged or expired: nothing to end
    if str(token.get(api_settings.USER_ID_CLAIM)) != str(user.pk):
        return  # another account's token is not this caller's to end; answer alike
    with transaction.atomic():
        # The locks in rotation's order: customer, token, family.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=token[api_settings.JTI_CLAIM]).first()
        family = _locked_family(token, user=user)
        if outstanding is not None:
            BlacklistedToken.objects.get_or_create(token=outstanding)
        if family is not None and family.ended_at is None:
            _family_end(family, reason=RefreshFamily.EndReason.SIGNED_OUT)
            # Audited as signing in and out everywhere are: the customer's trail shows each sign-in's end.
            audit_record(
                actor=user, verb="api.signed_out", target=user, subject_user=user, data={"family": str(family.pk)}
            )


def refresh_family_end(*, family_id, actor) -> bool:
    """End one sign-in for a member of staff (a stolen phone): its tokens refresh no more. False if it had ended.

    Its refresh tokens are refused from the next refresh on; its access token lapses within
    its minutes. The customer's other sign-ins go on. Audited with the staff member as actor.
    """
    with transaction.atomic():
        user_id = RefreshFamily.objects.filter(pk=family_id).values_list("user_id", flat=True).first()
        if user_id is None:
            return False
        # The locks in rotation's order: customer, then family (no token here).
        user = get_user_model().objects.select_for_update().get(pk=user_id)
        family = RefreshFamily.objects.select_for_update().get(pk=family_id)
        if family.ended_at is not None:
            return False
        _family_end(family, reason=RefreshFamily.EndReason.ENDED_BY_STAFF)
        audit_record(
            actor=actor, verb="api.sign_in_ended_by_staff", target=user, subject_user=user,
            data={"family": str(family.pk)},
        )  # fmt: skip
    return True


def tokens_revoke_all(
    *,
    user,
    actor,
    verb: str = "api.signed_out_everywhere",
    reason: str = RefreshFamily.EndReason.SIGNED_OUT_EVERYWHERE,
) -> int:
    """Every refresh token and family of the customer ends; return how many tokens were still live."""
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        live = list(
            OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
            .exclude(pk__in=BlacklistedToken.objects.values("token_id"))
            .values_list("pk", flat=True)
        )
        BlacklistedToken.objects.bulk_create([BlacklistedToken(token_id=pk) for pk in live], ignore_conflicts=True)
        families = RefreshFamily.objects.filter(user=user, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason=reason
        )
        audit_record(
            actor=actor, verb=verb, target=user, subject_user=user, data={"tokens": len(live), "families": families}
        )
    return len(live)


def expired_tokens_purge() -> int:
    """Forget refresh tokens past their expiry (they cannot be used anyway) and their blacklist rows."""
    expired = OutstandingToken.objects.filter(expires_at__lte=timezone.now())
    BlacklistedToken.objects.filter(token__in=expired).delete()
    deleted, _rows = expired.delete()
    return deleted


def refresh_families_purge() -> int:
    """Forget sign-ins whose newest refresh token has expired: no token of theirs can be used."""
    deleted, _rows = RefreshFamily.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
