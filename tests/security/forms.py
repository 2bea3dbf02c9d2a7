"""Form data the security and storage tests post, built from the shared photo payloads."""

import itertools

from django.core.files.uploadedfile import SimpleUploadedFile

from reviews.demo import resident_id
from tests.reviews import payloads

SUBMIT_URL = "/verification/submit/"
PRECHECK_URL = "/verification/precheck/"
_sequence = itertools.count(700)


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def fresh_id_number() -> str:
    """A valid Resident ID no other test uses, so nothing is flagged as a duplicate."""
    return resident_id(birth="19880808", sequence=f"{next(_sequence) % 1000:03d}")


def submission_form(customer, **overrides) -> dict:
    """A complete, valid online submission; ``overrides`` replace fields (e.g. one photo)."""
    seed = next(_sequence)
    data = {
        "full_name": "李雷",
        "id_number": fresh_id_number(),
        "contact_phone": customer.phone.as_e164,
        "id_front": upload(payloads.small_jpeg(seed=seed), "front.jpg"),
        "id_back": upload(payloads.small_jpeg(seed=seed + 1000), "back.jpg"),
        "id_handheld": upload(payloads.small_jpeg(seed=seed + 2000), "me.jpg"),
    }
    data.update(overrides)
    return data
