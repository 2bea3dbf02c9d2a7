"""Plan versions: a change of terms publishes the next version; the one sold before stays as it was."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from billing import services
from billing.models import Order, Plan
from tests.billing.conftest import renewal_order, verified_customer
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def test_a_changed_plan_is_published_as_the_next_version_and_the_sold_one_stays_as_it_was(plans):
    basic = plans["basic"]
    user, line = verified_customer()
    sold = renewal_order(user, line, basic)
    admin = make_staff("admin")
    edited = Plan.objects.get(pk=basic.pk)
    edited.monthly_price = Decimal("35.00")

    new = services.plan_version_create(actor=admin, plan=edited)

    old = Plan.objects.get(pk=basic.pk)
    assert (old.version, old.monthly_price, old.is_current) == (basic.version, Decimal("30.00"), False)
    assert new.pk != basic.pk
    assert (new.code, new.version, new.monthly_price, new.is_current) == (
        "basic",
        basic.version + 1,
        Decimal("35.00"),
        True,
    )
    assert Plan.objects.get(code="basic", is_current=True) == new
    assert Order.objects.get(pk=sold.pk).plan_id == basic.pk
    event = AuditEvent.objects.get(verb="plan.version_created")
    assert (event.actor, event.target_type, event.target_id) == (admin, "billing.plan", str(new.pk))
    assert event.data == {
        "code": "basic",
        "version": basic.version + 1,
        "replaces_version": basic.version,
        "monthly_price": "35.00",
    }


def test_a_new_plan_code_is_published_as_version_one():
    admin = make_staff("admin")

    plan = services.plan_version_create(
        actor=admin,
        plan=Plan(
            code="family", name_zh="家庭", name_en="Family", monthly_price=Decimal("88"), data_mb=1, voice_minutes=1
        ),
    )

    assert (plan.version, plan.is_current) == (1, True)
    assert AuditEvent.objects.get(verb="plan.version_created").data["replaces_version"] is None


def test_saving_a_plan_in_the_admin_publishes_a_new_version_through_the_service(client, plans):
    basic = plans["basic"]
    admin = make_staff("admin")
    client.force_login(admin)
    url = reverse("admin:billing_plan_change", args=[basic.pk])
    form = {
        "code": "basic",
        "name_zh": basic.name_zh,
        "name_en": basic.name_en,
        "monthly_price": "32.00",
        "data_mb": basic.data_mb,
        "voice_minutes": basic.voice_minutes,
        "sms_count": basic.sms_count,
        "is_active": "on",
        "sort_order": basic.sort_order,
    }

    response = client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    versions = list(Plan.objects.filter(code="basic").order_by("version").values_list("monthly_price", "is_current"))
    assert versions[-2:] == [(basic.monthly_price, False), (Decimal("32.00"), True)]
    assert AuditEvent.objects.filter(verb="plan.version_created", actor=admin).count() == 1
