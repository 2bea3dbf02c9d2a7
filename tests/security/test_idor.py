"""IDOR sweep: no customer reaches another customer's things by changing an id in a URL.

The URL patterns come from the resolver (tests/security/urls.py). Every pattern with a
parameter must be classified here, so a new customer URL with a parameter that is not
in the sweep fails ``test_every_url_with_a_parameter_is_in_the_sweep``:

- CUSTOMER: the owner gets the page; another customer gets 404 (the same answer as
  for an id that does not exist, so ids cannot be probed) and nothing changes;
  an anonymous visitor is sent to the login page.
- staff pages (``staff/…``): a customer — even the one the object belongs to — gets
  403 or 404, an anonymous visitor the login page.
- EXEMPT: the signed provider webhook (no session at all; its signature is checked).
"""

import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.models import Line, User
from billing import services as billing_services
from billing.models import LineService, Order, Payment, Plan, SandboxCharge, SavedCard
from customers import services as customer_services
from customers.models import CancellationRequest, SupportMessage, SupportThread
from reviews import services as review_services
from reviews.demo import demo_photo_set
from reviews.models import Certificate, DraftPhoto, SubmissionPhoto
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.reviews.conftest import unique_id_number, unique_photos
from tests.security.urls import project_routes

pytestmark = pytest.mark.django_db

LOGIN = reverse(settings.LOGIN_URL)


@dataclass
class World:
    """One customer's things, each reachable by an id in a URL."""

    owner: User
    line: Line
    photo: SubmissionPhoto
    open_order: Order
    paid_order: Order
    pending_payment: Payment
    thread: SupportThread
    cancellation: CancellationRequest
    certificate: Certificate
    clerk: User
    draft: DraftPhoto
    saved_card: SavedCard


@pytest.fixture(scope="module")
def photo_set():
    return demo_photo_set(seed=9)


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def world(photo_set) -> World:
    owner = CustomerFactory()
    line, _code = make_line(owner=owner)
    spare_line, _code = make_line(owner=owner)
    submission = review_services.submission_create(
        user=owner,
        full_name="李雷",
        id_number=unique_id_number(),
        contact_phone=owner.phone.as_e164,
        photos=unique_photos(photo_set),
        actor=owner,
    )
    account_services.user_mark_real_name_verified(user=owner, actor=None, channel="online")
    cancellation, _created = customer_services.cancellation_request_submit(
        actor=owner,
        line_id=spare_line.pk,
        full_name="李雷",
        phone=owner.phone,
        reason="no_longer_needed",
        reason_detail="",
        bindings=[],
    )
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
    paid_order = billing_services.renewal_order_create(
        user=owner, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=key()
    )
    billing_services.ledger_append(user=owner, kind="topup", amount=paid_order.amount, reference=f"T-{key()}")
    billing_services.order_pay(order_id=paid_order.pk, method="wallet", actor=owner)
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.PAID
    open_order = billing_services.renewal_order_create(
        user=owner, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=key()
    )
    outcome = billing_services.order_pay(order_id=open_order.pk, method="alipay", actor=owner)
    assert outcome.redirect_url
    pending_payment = open_order.payments.get()
    assert SandboxCharge.objects.filter(out_trade_no=pending_payment.out_trade_no).exists()
    thread = customer_services.support_thread_open(actor=owner, topic="other", body="为什么被拒？")
    point = ServicePointFactory()
    clerk = make_staff("clerk", service_point=point)
    _desk_line, desk_code = make_line()
    certificate = review_services.submission_verify_in_person(
        actor=clerk,
        activation_code=desk_code,
        full_name="韩梅梅",
        id_number=unique_id_number(),
        customer_phone="+8613711113333",
        photos=None,
    )
    # A photo the owner's verification form keeps (a resubmission in progress): its thumbnail
    # URL names only the kind, the owner is the signed-in customer.
    draft = review_services.draft_photo_keep(user=owner, kind="id_back", photo=photo_set.id_back)
    # As a card payment with "Remember this card" leaves it (the provider's token, never the number).
    saved_card = SavedCard.objects.create(
        user=owner, token=f"tok_{key()[:16]}", last4="4242", brand="visa", expiry_month=12, expiry_year=2030
    )
    return World(
        owner=owner,
        line=line,
        photo=submission.photos.get(kind="id_front"),
        open_order=open_order,
        paid_order=paid_order,
        pending_payment=pending_payment,
        thread=thread,
        cancellation=cancellation,
        certificate=certificate,
        clerk=clerk,
        draft=draft,
        saved_card=saved_card,
    )


@dataclass
class Case:
    method: str
    url: str
    data: dict | None = None
    owner_status: tuple[int, ...] = (200,)
    missing_url: str = ""  # the same URL for an id that does not exist


def _auto_renew_data():
    return {"enabled": "1", "method": "wallet", "term_months": "1"}


# name → how to build the request for the owner's object (and for a missing one).
CUSTOMER = {
    "reviews:photo": lambda w: Case(
        "get", f"/verification/photos/{w.photo.pk}/full/", missing_url="/verification/photos/999999/full/"
    ),
    "reviews:draft_photo": lambda w: Case(
        "get", f"/verification/kept-photos/{w.draft.kind}/", missing_url="/verification/kept-photos/nope/"
    ),
    "billing:order": lambda w: Case(
        "get", f"/billing/orders/{w.open_order.number}/", missing_url="/billing/orders/HY-NOPE/"
    ),
    "billing:order_pay": lambda w: Case(
        "post",
        f"/billing/orders/{w.open_order.number}/pay/",
        {"method": "wallet"},
        owner_status=(302,),
        missing_url="/billing/orders/HY-NOPE/pay/",
    ),
    "billing:receipt_pdf": lambda w: Case(
        "get", f"/billing/receipts/{w.paid_order.receipt.number}/pdf/", missing_url="/billing/receipts/R-NOPE/pdf/"
    ),
    "billing:sandbox_cashier": lambda w: Case(
        "get",
        f"/billing/sandbox/cashier/{w.pending_payment.out_trade_no}/",
        missing_url="/billing/sandbox/cashier/NOPE/",
    ),
    "billing:wechat_qr": lambda w: Case(
        "get",
        f"/billing/wechat/{w.pending_payment.out_trade_no}/?code_url=weixin://wxpay/bizpayurl?pr=abc",
        missing_url="/billing/wechat/NOPE/?code_url=weixin://wxpay/bizpayurl?pr=abc",
    ),
    "billing:auto_renew": lambda w: Case(
        "post",
        f"/billing/lines/{w.line.pk}/auto-renew/",
        _auto_renew_data(),
        owner_status=(302,),
        missing_url="/billing/lines/999999/auto-renew/",
    ),
    "customers:support_thread": lambda w: Case("get", f"/support/{w.thread.pk}/", missing_url="/support/999999/"),
    "customers:saved_card_remove": lambda w: Case(
        "get", f"/account/cards/{w.saved_card.pk}/remove/", missing_url="/account/cards/999999/remove/"
    ),
    "customers:cancel_withdraw": lambda w: Case(
        "post",
        f"/account/cancel/{w.cancellation.pk}/withdraw/",
        owner_status=(302,),
        missing_url="/account/cancel/999999/withdraw/",
    ),
}

# What a stranger must also not be able to do with the owner's objects (POSTs beside the GETs above).
STRANGER_WRITES = {
    "billing:sandbox_cashier": lambda w: (
        f"/billing/sandbox/cashier/{w.pending_payment.out_trade_no}/",
        {"outcome": "pay"},
    ),
    "customers:support_thread": lambda w: (f"/support/{w.thread.pk}/", {"body": "I read your thread"}),
    "customers:saved_card_remove": lambda w: (f"/account/cards/{w.saved_card.pk}/remove/", {}),
}

EXEMPT = {"billing:webhook": "a signed provider callback: no session, the signature is checked"}

# Staff pages with a parameter, built from the world where the sweep knows how (others use an id of 1).
STAFF = {
    "reviews:review": lambda w: f"/staff/reviews/{w.photo.submission_id}/",
    "reviews:desk_certificate": lambda w: f"/staff/desk/certificates/{w.certificate.number}/",
    "reviews:desk_certificate_pdf": lambda w: f"/staff/desk/certificates/{w.certificate.number}/pdf/",
    "billing:store_receipt": lambda w: f"/staff/desk/receipts/{w.paid_order.receipt.number}/",
    "customers:staff_support_thread": lambda w: f"/staff/support/{w.thread.pk}/",
    "customers:staff_customer": lambda w: f"/staff/customers/{w.owner.pk}/",
    "customers:staff_cancellation": lambda w: f"/staff/cancellations/{w.cancellation.pk}/",
}


def snapshot(w: World) -> dict:
    """Everything a stranger's request could change."""
    return {
        "open_order": Order.objects.get(pk=w.open_order.pk).status,
        "payments": sorted(Payment.objects.filter(order__user=w.owner).values_list("pk", "status")),
        "charges": sorted(SandboxCharge.objects.values_list("out_trade_no", "status")),
        "auto_renew": list(LineService.objects.filter(line__owner=w.owner).values_list("auto_renew", flat=True)),
        "cancellation": CancellationRequest.objects.get(pk=w.cancellation.pk).status,
        "messages": SupportMessage.objects.filter(thread=w.thread).count(),
        "saved_cards": sorted(SavedCard.objects.filter(user=w.owner).values_list("pk", flat=True)),
    }


def request(client: Client, case: Case, url: str | None = None):
    return getattr(client, case.method)(url or case.url, case.data or {})


def test_every_url_with_a_parameter_is_in_the_sweep():
    unclassified = [
        f"{route.name} ({route.route})"
        for route in project_routes()
        if route.has_parameters and not route.is_staff and route.name not in {*CUSTOMER, *EXEMPT}
    ]
    assert unclassified == [], "add these to CUSTOMER (or EXEMPT, with a reason) in tests/security/test_idor.py"
    names = {route.name for route in project_routes()}
    assert set(CUSTOMER) <= names and set(STAFF) <= names and set(EXEMPT) <= names


@pytest.mark.parametrize("name", sorted(CUSTOMER))
def test_another_customer_gets_404_and_changes_nothing(client, world, name):
    case = CUSTOMER[name](world)
    client.force_login(CustomerFactory())
    before = snapshot(world)

    response = request(client, case)
    missing = request(client, case, case.missing_url)

    assert response.status_code == 404, (name, response.status_code)
    assert missing.status_code == 404, (name, "a missing id must answer like a foreign one")
    assert snapshot(world) == before


@pytest.mark.parametrize("name", sorted(STRANGER_WRITES))
def test_another_customer_cannot_act_on_the_owners_page(client, world, name):
    url, data = STRANGER_WRITES[name](world)
    client.force_login(CustomerFactory())
    before = snapshot(world)

    response = client.post(url, data)

    assert response.status_code == 404
    assert snapshot(world) == before


@pytest.mark.parametrize("name", sorted(CUSTOMER))
def test_anonymous_visitor_is_sent_to_the_login_page_and_changes_nothing(client, world, name):
    case = CUSTOMER[name](world)
    before = snapshot(world)

    response = request(client, case)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN + "?next=")
    assert snapshot(world) == before


@pytest.mark.parametrize("name", sorted(CUSTOMER))
def test_the_owner_does_reach_each_url_of_the_sweep(client, world, name):
    """The sweep's URLs are the real ones: the owner gets the page (or the action's redirect)."""
    case = CUSTOMER[name](world)
    client.force_login(world.owner)

    response = request(client, case)

    assert response.status_code in case.owner_status, (name, response.status_code)
    if response.status_code == 302:
        assert not response["Location"].startswith(LOGIN)


def staff_url(route, world) -> str:
    if route.name in STAFF:
        return STAFF[route.name](world)
    return "/" + re.sub(r"<[^>]+>", "1", route.route)


def test_customers_get_no_staff_page_with_a_parameter(client, world):
    routes = [route for route in project_routes() if route.has_parameters and route.is_staff]
    assert len(routes) >= len(STAFF)
    refused = {}
    for route in routes:
        url = staff_url(route, world)
        for user in (world.owner, CustomerFactory()):
            client.force_login(user)
            for method in ("get", "post"):
                status = getattr(client, method)(url).status_code
                if status not in (403, 404, 405):
                    refused[(route.name, url, method)] = status
        client.logout()
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code == 405:
                continue
            if response.status_code != 302 or not response["Location"].startswith(LOGIN):
                refused[(route.name, url, method, "anonymous")] = response.status_code
    assert refused == {}


def test_a_clerk_of_another_service_point_gets_404_for_a_certificate(client, world):
    client.force_login(make_staff("clerk", service_point=ServicePointFactory()))
    for url in (STAFF["reviews:desk_certificate"](world), STAFF["reviews:desk_certificate_pdf"](world)):
        assert client.get(url).status_code == 404
    client.force_login(world.clerk)
    assert client.get(STAFF["reviews:desk_certificate_pdf"](world)).status_code == 200


def test_the_export_carries_only_the_signed_in_customers_own_data(client, world):
    stranger = CustomerFactory()
    client.force_login(stranger)

    response = client.get("/account/export/")

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert not [name for name in archive.namelist() if name.startswith("photos/")]
    text = json.dumps(json.loads(archive.read("data.json")), ensure_ascii=False)
    for secret in (world.owner.phone.as_e164, world.open_order.number, world.paid_order.receipt.number, "李雷"):
        assert secret not in text
    client.logout()
    anonymous = client.get("/account/export/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(LOGIN)


def test_the_owners_export_does_carry_their_data(client, world):
    client.force_login(world.owner)
    archive = zipfile.ZipFile(io.BytesIO(client.get("/account/export/").content))
    assert any(name.startswith("photos/") for name in archive.namelist())
    assert world.paid_order.receipt.number in archive.read("data.json").decode()
