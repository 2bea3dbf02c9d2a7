"""Idempotency-Key for the app's writes that move money or create something.

The same key with the same request replays the first response; the same key with another
request is refused (422); a request still running under the key gets 409. Invalid input
(400) and rate limits (429) are not recorded: nothing ran, so the key stays free. The record is
inserted before the action runs, in its own committed transaction, so the unique
constraint on (user, key) lets exactly one of two simultaneous requests run
(tests/api/test_idempotency.py, on PostgreSQL with threads). Keys are kept
API_IDEMPOTENCY_KEY_HOURS (24 h); a record older than that is taken over by the next request.
"""

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.renderers import JSONRenderer

from api.models import IdempotencyKey
from api.problems import Problem

HEADER = "Idempotency-Key"
# 1 to 255 visible ASCII characters (a UUID is the usual choice).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"
_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
# Answers given before anything ran (invalid input, a rate limit) leave the key free, so a
# corrected or later request may use it; a refusal by the service (422) is the key's answer.
UNRECORDED_STATUSES = {400, 429}
ERR_KEY_REQUIRED = _("Send an Idempotency-Key header (a new random value for each new action).")
ERR_KEY_INVALID = _("The Idempotency-Key header is 1 to 255 visible ASCII characters, such as a UUID.")
ERR_KEY_REUSED = _("This Idempotency-Key was already used for a different request.")
ERR_KEY_IN_PROGRESS = _("A request with this Idempotency-Key is still running. Retry in a moment.")


def request_fingerprint(request, view_kwargs) -> str:
    """What the request asks for: method, path and body, whatever the body's encoding."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\0".encode())
    fields = {} if hasattr(request.data, "keys") else {"": request.data}
    for name in sorted(request.data.keys()) if hasattr(request.data, "keys") else []:
        if name in request.FILES:
            continue
        value = request.data.getlist(name) if hasattr(request.data, "getlist") else request.data[name]
        fields[name] = value
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for name in sorted(request.FILES.keys()):
        for upload in request.FILES.getlist(name):
            file_digest = hashlib.sha256()
            for chunk in upload.chunks():
                file_digest.update(chunk)
            upload.seek(0)
            digest.update(f"\0{name}:{file_digest.hexdigest()}".encode())
    return digest.hexdigest()


def idempotency_key_claim(*, user, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """Hold ``key`` for this request; return (record, True) when this request should run.

    (record, False) means a finished record to replay. Raises Problem for a key used with
    another request (422) or a request still running (409).
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=user, key=key, request_fingerprint=fingerprint), True
    except IntegrityError:
        pass
    expired_before = now - timedelta(hours=settings.API_IDEMPOTENCY_KEY_HOURS)
    stale_before = now - timedelta(seconds=settings.API_IDEMPOTENCY_STALE_SECONDS)
    with transaction.atomic():
        record = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
        expired = record.created_at < expired_before
        died = (
            record.status == IdempotencyKey.Status.IN_PROGRESS
            and record.locked_at < stale_before
            and record.request_fingerprint == fingerprint
        )
        if expired or died:
            # A key past its 24 hours starts afresh: a new use, so a new created_at and with it
            # new order keys (api.views.billing.order_key). A request that died mid-way (its
            # process killed) is run again as the same use: created_at stays, so the services'
            # own idempotency finds what the first run already made instead of making it again.
            record.request_fingerprint = fingerprint
            record.status = IdempotencyKey.Status.IN_PROGRESS
            record.response_status = None
            record.response_body = b""
            record.response_content_type = ""
            if expired:
                record.created_at = now
            record.locked_at = now
            record.save()
            return record, True
    if record.request_fingerprint != fingerprint:
        raise Problem(
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY, code="idempotency_key_reused", detail=ERR_KEY_REUSED
        )
    if record.status == IdempotencyKey.Status.IN_PROGRESS:
        raise Problem(
            status_code=status.HTTP_409_CONFLICT, code="idempotency_key_in_progress", detail=ERR_KEY_IN_PROGRESS
        )
    return record, False


def _still_held(record: IdempotencyKey):
    """The record while this request still holds it: a request taken over after its lease holds it no more."""
    return IdempotencyKey.objects.filter(
        pk=record.pk, status=IdempotencyKey.Status.IN_PROGRESS, locked_at=record.locked_at
    )


def idempotency_key_complete(*, record: IdempotencyKey, status_code: int, body: bytes, content_type: str) -> None:
    _still_held(record).update(
        status=IdempotencyKey.Status.DONE,
        response_status=status_code,
        response_body=body,
        response_content_type=content_type,
    )


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    """The request failed on our side (5xx, an exception): the key may be used again.

    Not when another request took the key over meanwhile (this one outlived its lease): deleting
    the record would let a third request run beside the one now holding it.
    """
    _still_held(record).delete()


def idempotency_keys_purge(*, now=None) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.API_IDEMPOTENCY_KEY_HOURS)
    deleted, _rows = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def idempotent(method):
    """Decorate a view's ``post``: require an Idempotency-Key and honour it."""

    @functools.wraps(method)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER, "")
        if not key:
            raise Problem(
                status_code=status.HTTP_400_BAD_REQUEST, code="idempotency_key_required", detail=ERR_KEY_REQUIRED
            )
        if not _KEY.fullmatch(key):
            raise Problem(
                status_code=status.HTTP_400_BAD_REQUEST, code="idempotency_key_invalid", detail=ERR_KEY_INVALID
            )
        record, run = idempotency_key_claim(
            user=request.user, key=key, fingerprint=request_fingerprint(request, kwargs)
        )
        if not run:
            replay = HttpResponse(
                bytes(record.response_body), status=record.response_status, content_type=record.response_content_type
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        view.idempotency_record = record
        try:
            try:
                response = method(view, request, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 - a domain refusal is an answer worth replaying
                response = view.handle_exception(error)
        except BaseException:
            idempotency_key_release(record=record)
            raise
        if response.status_code in UNRECORDED_STATUSES or response.status_code >= 500:
            idempotency_key_release(record=record)
            return response
        if getattr(response, "data", None) is not None:
            body = JSONRenderer().render(response.data)
            content_type = response.content_type or "application/json"
        else:
            body, content_type = response.content, response.get("Content-Type", "")
        idempotency_key_complete(record=record, status_code=response.status_code, body=body, content_type=content_type)
        return response

    wrapper.idempotent = True
    return wrapper
