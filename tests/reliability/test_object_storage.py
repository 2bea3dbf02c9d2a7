"""ID photos on S3-compatible object storage, against moto's S3 server on loopback.

The storages come from ``heyon_site.storage.s3_storages``, the same function the
settings use when ``AWS_STORAGE_BUCKET_NAME`` is set, pointed at a moto server started
on 127.0.0.1 by the fixture (no other network). Each test gets its own bucket.
"""

import io
import logging
import urllib.error
import urllib.request
import uuid
import zipfile
from datetime import timedelta

import boto3
import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.urls import reverse
from django.utils import timezone
from moto.server import ThreadedMotoServer

from accounts import services as account_services
from accounts.models import Line
from billing import services as billing_services
from billing.models import Plan
from customers import services as customer_services
from heyon_site.storage import s3_storages
from reviews import services as review_services
from reviews.models import DraftPhoto, Submission, SubmissionPhoto
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.security.forms import SUBMIT_URL, fresh_id_number, submission_form

pytestmark = pytest.mark.django_db

CREDENTIALS = {"access_key": "heyon-test", "secret_key": "heyon-test-secret", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class Bucket:
    def __init__(self, endpoint: str, name: str):
        self.endpoint = endpoint
        self.name = name
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=CREDENTIALS["access_key"],
            aws_secret_access_key=CREDENTIALS["secret_key"],
            region_name=CREDENTIALS["region_name"],
        )

    def keys(self) -> set[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return {item["Key"] for item in listing.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def unsigned_get(self, key: str) -> int:
        """Status of a plain GET of the object's URL, as anyone on the internet would try it."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/{self.name}/{key}", timeout=5) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch):
    """A fresh private bucket, with STORAGES "default" and "private" on it for this test."""
    bucket = Bucket(s3_endpoint, f"heyon-{uuid.uuid4().hex[:12]}")
    bucket.client.create_bucket(Bucket=bucket.name)
    settings.STORAGES = {
        **django_settings.STORAGES,
        **s3_storages(bucket_name=bucket.name, endpoint_url=s3_endpoint, addressing_style="path", **CREDENTIALS),
    }
    # FileField resolves its storage callable once, when the model class is built: point the
    # photo fields at the S3 storage the settings now name, as they would be in production.
    private = storages["private"]
    for model in (SubmissionPhoto, DraftPhoto):
        for name in ("image", "thumbnail"):
            monkeypatch.setattr(model._meta.get_field(name), "storage", private)
    return bucket


def submit_through_the_page(client, customer):
    client.force_login(customer)
    response = client.post(SUBMIT_URL, submission_form(customer))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Submission.objects.get(user=customer)


def photo_keys(submission) -> set[str]:
    return {f"private/{name}" for photo in submission.photos.all() for name in (photo.image.name, photo.thumbnail.name)}


def test_storage_settings_name_a_private_bucket_and_never_a_public_url(bucket):
    storage = storages["private"]
    assert type(storage).__module__ == "storages.backends.s3"
    assert storage.bucket_name == bucket.name
    assert storage.location == "private"
    assert storage.default_acl == "private"
    assert storage.querystring_auth is True
    assert storage.querystring_expire <= 300
    assert storage.custom_domain is None
    # Even a URL asked for by mistake is a short-lived signed one.
    assert "X-Amz-Signature=" in storage.url("submissions/1/1/id_front.jpg")


def test_submission_stores_its_photos_as_private_objects_in_the_bucket(client, bucket):
    customer = CustomerFactory()

    submission = submit_through_the_page(client, customer)

    keys = photo_keys(submission)
    assert len(keys) == 6
    assert bucket.keys() == keys
    for key in keys:
        # Written when the form kept them (a draft) and taken over by the submission as they are.
        assert key.startswith(f"private/drafts/{customer.pk}/")
        assert bucket.read(key)[:3] == b"\xff\xd8\xff"  # re-encoded JPEG
        grants = bucket.client.get_object_acl(Bucket=bucket.name, Key=key)["Grants"]
        assert all("URI" not in grant["Grantee"] for grant in grants), grants  # no AllUsers / AuthenticatedUsers
        assert bucket.unsigned_get(key) == 403


def test_owner_fetches_photos_through_the_view_and_nobody_else_can(client, bucket):
    owner = CustomerFactory()
    submission = submit_through_the_page(client, owner)
    photo = submission.photos.get(kind="id_front")
    url = f"/verification/photos/{photo.pk}/full/"

    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == bucket.read(f"private/{photo.image.name}")
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Type"] == "image/jpeg"
    thumb = client.get(f"/verification/photos/{photo.pk}/thumb/")
    assert b"".join(thumb.streaming_content) == bucket.read(f"private/{photo.thumbnail.name}")

    client.force_login(CustomerFactory())
    assert client.get(url).status_code == 404
    client.logout()
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse(django_settings.LOGIN_URL))


def test_reviewer_sees_the_photo_from_the_bucket(client, bucket):
    submission = submit_through_the_page(client, CustomerFactory())
    photo = submission.photos.get(kind="id_back")
    client.force_login(make_staff("reviewer"))

    response = client.get(f"/verification/photos/{photo.pk}/full/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == bucket.read(f"private/{photo.image.name}")


def test_a_missing_object_is_404_not_an_error(client, bucket):
    owner = CustomerFactory()
    submission = submit_through_the_page(client, owner)
    photo = submission.photos.get(kind="id_front")
    bucket.client.delete_object(Bucket=bucket.name, Key=f"private/{photo.image.name}")

    assert client.get(f"/verification/photos/{photo.pk}/full/").status_code == 404


def test_export_carries_the_photos_from_the_bucket(client, bucket):
    owner = CustomerFactory()
    submission = submit_through_the_page(client, owner)

    response = client.get("/account/export/")

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    photo = submission.photos.get(kind="id_handheld")
    assert archive.read("photos/attempt-1-id_handheld.jpg") == bucket.read(f"private/{photo.image.name}")


def test_a_failure_after_the_upload_leaves_no_object_behind(client, bucket, monkeypatch):
    """Photos are kept for the form before the submission's transaction; when it fails they stay kept, nothing else.

    Every object left is one of the customer's kept photos (a draft row names it, and the
    drafts expire); the failed submission wrote none of its own.
    """
    customer = CustomerFactory()
    client.force_login(customer)
    uploaded = []

    def fail_after_upload(*args, **kwargs):
        uploaded.extend(bucket.keys())
        raise RuntimeError("database went away")

    monkeypatch.setattr(review_services.submissions, "submission_event_record", fail_after_upload)
    with pytest.raises(RuntimeError):
        client.post(SUBMIT_URL, submission_form(customer))

    assert len(uploaded) == 6

    assert not Submission.objects.exists()
    kept = {
        f"private/{name}"
        for draft in DraftPhoto.objects.filter(user=customer)
        for name in (draft.image.name, draft.thumbnail.name)
    }
    assert len(kept) == 6
    assert bucket.keys() == kept


def test_purge_deletes_the_objects(client, bucket):
    owner = CustomerFactory()
    line, _code = make_line(owner=owner)
    submission = submit_through_the_page(client, owner)
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    review_services.submission_approve(submission_id=submission.pk, actor=reviewer)
    other = CustomerFactory()
    kept = submit_through_the_page(client, other)
    request, _created = customer_services.cancellation_request_submit(
        actor=owner,
        line_id=line.pk,
        full_name="李雷",
        phone=owner.phone,
        reason="no_longer_needed",
        reason_detail="",
        bindings=[],
    )
    customer_services.cancellation_request_approve(request_id=request.pk, actor=make_staff("support"))
    assert Line.objects.get(pk=line.pk).status == Line.Status.CANCELLED
    assert photo_keys(submission) <= bucket.keys()

    later = timezone.now() + timedelta(days=django_settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    totals = customer_services.personal_data_purge(now=later)

    assert totals["photos"] == 3
    assert bucket.keys() == photo_keys(kept)  # the other customer's photos stay


def test_healthz_answers_from_the_bucket_and_fails_when_it_is_gone(client, bucket):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["storage"] == "ok"

    bucket.client.delete_bucket(Bucket=bucket.name)

    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["storage"] == "error"


def test_receipts_and_certificates_are_rendered_per_request_and_never_put_in_the_bucket(client, bucket):
    owner = CustomerFactory()
    line, _code = make_line(owner=owner)
    account_services.user_mark_real_name_verified(user=owner, actor=None, channel="online")
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
    order = billing_services.renewal_order_create(
        user=owner, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=uuid.uuid4().hex
    )
    billing_services.ledger_append(user=owner, kind="topup", amount=order.amount, reference=f"T-{uuid.uuid4().hex}")
    billing_services.order_pay(order_id=order.pk, method="wallet", actor=owner)
    order.refresh_from_db()
    clerk = make_staff("clerk", service_point=ServicePointFactory())
    _desk_line, desk_code = make_line()
    certificate = review_services.submission_verify_in_person(
        actor=clerk,
        activation_code=desk_code,
        full_name="韩梅梅",
        id_number=fresh_id_number(),
        customer_phone="+8613711114444",
        photos=None,
    )

    client.force_login(owner)
    receipt = client.get(f"/billing/receipts/{order.receipt.number}/pdf/")
    client.force_login(clerk)
    pdf = client.get(f"/staff/desk/certificates/{certificate.number}/pdf/")

    for response in (receipt, pdf):
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Cache-Control"] == "private, no-store"
        assert response.content.startswith(b"%PDF")
    assert bucket.keys() == set()
