"""Shared fixtures of the real-name verification tests.

Photos are the slow part (decode, re-encode, face detection), so a full photo set is
made once per module and reused; ``unique_photos`` gives a copy with its own hashes
so that reusing the same bytes does not look like another account's duplicate photo.
"""

import dataclasses
import functools
import hashlib
import itertools
import os
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from reviews import services
from reviews.demo import demo_photo_set, resident_id
from reviews.models import Submission, private_storage
from tests.factories import CustomerFactory, make_staff

ID_NUMBER = resident_id()  # 110105199001011232: Beijing Chaoyang, born 1990-01-01
NAME = "王小明"

_unique = itertools.count(1)
_id_sequence = itertools.count(500)


def unique_id_number() -> str:
    """A valid ID number no other test submission uses (so no duplicate-ID flag)."""
    return resident_id(birth="19850615", sequence=f"{next(_id_sequence) % 1000:03d}")


def unique_photos(photo_set: services.PhotoSet) -> services.PhotoSet:
    """The same processed photos with fresh hashes: no duplicate-photo flag against anyone."""
    replaced = {}
    for kind, photo in photo_set.items():
        digest = hashlib.sha256(f"unique-photo-{next(_unique)}".encode()).digest()
        replaced[str(kind)] = dataclasses.replace(
            photo, dhash=int.from_bytes(digest[:8], "big"), original_sha256=digest.hex()
        )
    return services.PhotoSet(**replaced)


def private_files() -> set[str]:
    """Every file currently in private storage (relative paths)."""
    root = private_storage().location
    found = set()
    for folder, _dirs, files in os.walk(root):
        found.update(os.path.relpath(os.path.join(folder, name), root) for name in files)
    return found


def page_shows(response, message) -> bool:
    return escape(str(message)) in response.content.decode()


@pytest.fixture(scope="module")
def photo_set():
    """Three processed 1600×1200 card photos, made once per test module."""
    return demo_photo_set(seed=7)


@pytest.fixture
def submit(photo_set):
    """Create a submission through the service: ``submit(user=None, id_number=..., photos=...)``.

    By default every call gets its own ID number and photos, so nothing is flagged.
    ``photos`` defaults to the module's photo set with unique hashes; pass ``photo_set``
    itself to reuse identical photos, or ``None`` for a submission without photos.
    """
    default = object()

    def create(user=None, *, id_number=None, full_name=NAME, photos=default, channel="online", **extra):
        user = user or CustomerFactory()
        id_number = id_number or unique_id_number()
        if photos is default:
            photos = unique_photos(photo_set)
        return services.submission_create(
            user=user,
            full_name=full_name,
            id_number=id_number,
            contact_phone=user.phone.as_e164 if user.phone else "+8613800000000",
            photos=photos,
            actor=user,
            channel=channel,
            **extra,
        )

    return create


@pytest.fixture
def reviewer():
    return make_staff("reviewer")


@pytest.fixture
def other_reviewer():
    return make_staff("reviewer")


@pytest.fixture
def senior_reviewer():
    return make_staff("senior_reviewer")


@pytest.fixture
def support():
    return make_staff("support")


@pytest.fixture
def clerk():
    return make_staff("clerk")


@pytest.fixture
def decide():
    """Claim a submission for ``reviewer`` and decide it: ``decide(submission, reviewer, "reject", ["IMG_BLURRY"])``."""

    def run(submission, reviewer, decision="approve", reason_codes=(), **kwargs):
        services.submission_claim(submission_id=submission.pk, actor=reviewer)
        return decide_claimed(submission, reviewer, decision, reason_codes, **kwargs)

    return run


def decide_claimed(submission, actor, decision="approve", reason_codes=(), **kwargs):
    """Approve or reject a submission ``actor`` holds, as the review screen's two buttons do."""
    if decision == "approve":
        return services.submission_approve(submission_id=submission.pk, actor=actor, **kwargs)
    return services.submission_reject(
        submission_id=submission.pk, actor=actor, reason_codes=list(reason_codes), **kwargs
    )


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Context manager that runs the block's on-commit callbacks (sends the queued SMS)."""
    return functools.partial(django_capture_on_commit_callbacks, execute=True)


def expire_claim(submission: Submission):
    """Move the submission's lease into the past, as if the reviewer walked away."""
    Submission.objects.filter(pk=submission.pk).update(claim_expires_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def english(client, settings):
    """Pages in English, so that assertions compare the English messages."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client
