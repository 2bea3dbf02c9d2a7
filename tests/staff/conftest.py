"""Shared fixtures of the back-office tests: one staff member per role and a small world of records.

``World`` holds one of each record a staff page opens (a pending submission, a support
thread, a cancellation request, a certificate and a store receipt of the clerk's
service point), made through the services as the app makes them.
"""

import functools
import itertools
import uuid
from dataclasses import dataclass

import pytest
from django.utils.html import escape

from accounts.models import Line, ServicePoint, User
from billing import services as billing_services
from billing.models import Plan, Receipt
from customers import services as customer_services
from customers.models import CancellationRequest, SupportThread
from reviews import services as review_services
from reviews.demo import resident_id
from reviews.models import Certificate, Submission
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff

ROLES = ("reviewer", "senior_reviewer", "clerk", "support", "admin")
NAME = "王小明"

_id_sequence = itertools.count(100)


def unique_id_number() -> str:
    """A valid resident ID number no other submission of the test uses."""
    return resident_id(birth="19880808", sequence=f"{next(_id_sequence) % 1000:03d}")


def pending_submission(user: User | None = None, *, id_number: str | None = None) -> Submission:
    """An online submission without photos, waiting in the queue."""
    user = user or CustomerFactory()
    return review_services.submission_create(
        user=user,
        full_name=NAME,
        id_number=id_number or unique_id_number(),
        contact_phone=user.phone.as_e164,
        photos=None,
        actor=user,
    )


def verify_at_desk(clerk: User, *, phone: str, id_number: str) -> Certificate:
    """A customer verified in person by ``clerk`` on a fresh line: the certificate."""
    _line, code = make_line()
    return review_services.submission_verify_in_person(
        actor=clerk, activation_code=code, full_name=NAME, id_number=id_number, customer_phone=phone, photos=None
    )


def renew_at_store(clerk: User, line: Line, *, id_number: str) -> Receipt:
    order = billing_services.store_renewal(
        actor=clerk,
        msisdn=line.msisdn,
        id_number=id_number,
        plan_id=Plan.objects.get(code="basic", is_current=True).pk,
        term_months=1,
        method="store_cash",
        idempotency_key=uuid.uuid4().hex,
    )
    return order.receipt


@dataclass
class World:
    point: ServicePoint
    staff: dict
    customer: User
    submission: Submission
    thread: SupportThread
    cancellation: CancellationRequest
    certificate: Certificate
    receipt: Receipt
    walk_in_id_number: str


def build_world() -> World:
    point = ServicePointFactory(kind=ServicePoint.Kind.BOTH)
    staff = {role: make_staff(role, service_point=point if role == "clerk" else None) for role in ROLES}
    customer = CustomerFactory()
    submission = pending_submission(customer)
    thread = customer_services.support_thread_open(
        actor=customer, topic=SupportThread.Topic.RENEWAL, body="我的套餐什么时候到期？"
    )
    walk_in_id = unique_id_number()
    certificate = verify_at_desk(staff["clerk"], phone="+8613712340000", id_number=walk_in_id)
    receipt = renew_at_store(staff["clerk"], certificate.line, id_number=walk_in_id)
    walk_in = certificate.submission.user
    cancellation, _created = customer_services.cancellation_request_submit(
        actor=walk_in,
        line_id=certificate.line_id,
        full_name=NAME,
        phone=walk_in.phone,
        reason=CancellationRequest.Reason.MOVING_ABROAD,
        reason_detail="",
        bindings=[],
    )
    return World(
        point=point,
        staff=staff,
        customer=customer,
        submission=submission,
        thread=thread,
        cancellation=cancellation,
        certificate=certificate,
        receipt=receipt,
        walk_in_id_number=walk_in_id,
    )


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Context manager running the block's on-commit callbacks (sends the queued SMS and email)."""
    return functools.partial(django_capture_on_commit_callbacks, execute=True)


@pytest.fixture
def english(client, settings):
    """Pages in English, so that assertions compare the English messages."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture(autouse=True)
def _two_factor_off(settings):
    """Off unless a test turns it on: the role checks below are about permissions alone."""
    settings.HEYON_REQUIRE_STAFF_2FA = False


def page_shows(response, message) -> bool:
    return escape(str(message)) in response.content.decode()
