"""Store scope sweep: a clerk sees in admin only what their own service point produced.

Every ModelAdmin a clerk can open with the clerk role's permissions is found from the admin
site, so granting the role a new view permission on an unscoped admin fails
``test_every_admin_a_clerk_can_open_shows_only_their_own_store``.
"""

import uuid
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from accounts import services as account_services
from accounts.models import ServicePoint, User
from billing import services as billing_services
from billing.models import Order, Plan, Receipt
from heyon_site.admin_tools import ServicePointScopedMixin
from reviews.models import Certificate
from tests.factories import CustomerFactory, ServicePointFactory, make_line, make_staff
from tests.staff.conftest import renew_at_store, unique_id_number, verify_at_desk

pytestmark = pytest.mark.django_db

# Admins a clerk may read whole: they hold no customer's data.
NO_CUSTOMER_DATA = {"accounts.ServicePoint": "the stores themselves", "billing.Plan": "the price list"}


@dataclass
class Stores:
    clerk: User  # of store A
    other_clerk: User  # of store B
    own: Receipt  # issued at A
    other: Receipt  # issued at B
    online: Receipt  # paid online, no store


def store_renewal(clerk: User) -> Receipt:
    id_number = unique_id_number()
    certificate = verify_at_desk(clerk, phone=f"+86137{uuid.uuid4().int % 10**8:08d}", id_number=id_number)
    return renew_at_store(clerk, certificate.line, id_number=id_number)


def online_receipt() -> Receipt:
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    account_services.user_mark_real_name_verified(user=customer, actor=None, channel="online")
    order = billing_services.renewal_order_create(
        user=customer,
        line_id=line.pk,
        plan_id=Plan.objects.filter(is_current=True, is_active=True).first().pk,
        term_months=1,
        idempotency_key=uuid.uuid4().hex,
    )
    billing_services.ledger_append(user=customer, kind="topup", amount=order.amount, reference=uuid.uuid4().hex)
    billing_services.order_pay(order_id=order.pk, method="wallet", actor=customer)
    return Receipt.objects.get(order=order)


def build_stores() -> Stores:
    """Two stores with a clerk and a store renewal each, and a receipt paid online."""
    clerk = make_staff("clerk", service_point=ServicePointFactory(kind=ServicePoint.Kind.BOTH))
    other_clerk = make_staff("clerk", service_point=ServicePointFactory(kind=ServicePoint.Kind.BOTH))
    return Stores(
        clerk=clerk,
        other_clerk=other_clerk,
        own=store_renewal(clerk),
        other=store_renewal(other_clerk),
        online=online_receipt(),
    )


@pytest.fixture
def stores() -> Stores:
    return build_stores()


def admin_request(user: User):
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(pk=user.pk)  # fresh permission cache
    return request


def service_point_of(row, path: str):
    for part in path.split("__"):
        row = getattr(row, part)
    return row


def test_every_admin_a_clerk_can_open_shows_only_their_own_store(stores):
    request = admin_request(stores.clerk)
    opened, problems = [], {}
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_permission(request):
            continue
        label = model._meta.label
        opened.append(label)
        if label in NO_CUSTOMER_DATA:
            continue
        if not isinstance(model_admin, ServicePointScopedMixin):
            problems[label] = "not scoped to the clerk's service point (ServicePointScopedMixin)"
            continue
        rows = list(model_admin.get_queryset(request))
        path = model_admin.service_point_path
        if path is None:
            if rows:
                problems[label] = f"{len(rows)} rows of no store"
            continue
        foreign = [row.pk for row in rows if service_point_of(row, path) != stores.clerk.service_point]
        if foreign:
            problems[label] = f"rows of another store or of none: {foreign}"
    assert problems == {}
    # The sweep did look: a clerk reads orders, receipts and certificates in admin.
    assert {"billing.Order", "billing.Receipt", "reviews.Certificate"} <= set(opened)


def test_a_clerks_admin_lists_and_opens_only_their_stores_orders_and_receipts(client, stores):
    client.force_login(stores.clerk)
    for model, own, others in [
        (Receipt, stores.own, [stores.other, stores.online]),
        (Order, stores.own.order, [stores.other.order, stores.online.order]),
    ]:
        changelist = client.get(reverse(f"admin:billing_{model._meta.model_name}_changelist"))
        assert changelist.status_code == 200
        page = changelist.content.decode()
        assert own.number in page
        for row in others:
            assert row.number not in page
            change = client.get(reverse(f"admin:billing_{model._meta.model_name}_change", args=[row.pk]))
            assert change.status_code == 302  # admin's answer for a row that is not there
        own_change = client.get(reverse(f"admin:billing_{model._meta.model_name}_change", args=[own.pk]))
        assert own_change.status_code == 200


def test_support_and_administrators_still_see_every_store(stores):
    for role in ("support", "admin"):
        request = admin_request(make_staff(role))
        receipts = set(admin.site._registry[Receipt].get_queryset(request).values_list("pk", flat=True))
        assert {stores.own.pk, stores.other.pk, stores.online.pk} <= receipts


def test_a_clerk_without_a_service_point_sees_no_order(stores):
    request = admin_request(make_staff("clerk"))
    assert not admin.site._registry[Order].get_queryset(request).exists()
    assert not admin.site._registry[Receipt].get_queryset(request).exists()


def test_a_clerk_without_a_service_point_opens_no_certificate_at_the_desk(client, stores):
    certificate = Certificate.objects.get(line=stores.own.order.line)
    client.force_login(make_staff("clerk"))

    for name in ("reviews:desk_certificate", "reviews:desk_certificate_pdf"):
        assert client.get(reverse(name, args=[certificate.number])).status_code == 404


def test_support_and_senior_reviewers_open_any_certificate_at_the_desk(client, stores):
    certificate = Certificate.objects.get(line=stores.other.order.line)
    for role in ("support", "senior_reviewer"):
        client.force_login(make_staff(role))
        assert client.get(reverse("reviews:desk_certificate", args=[certificate.number])).status_code == 200
