"""One audit trail: admin edits land in it, and staff read everything about one record on the audit page."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, ServicePoint
from tests.factories import CustomerFactory, make_line, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(client):
    user = make_staff("admin")
    client.force_login(user)
    return user


def test_an_admin_edit_of_a_line_is_in_the_audit_trail_with_who_what_and_whose(client, administrator):
    customer = CustomerFactory()
    line, _code = make_line(owner=customer)
    url = reverse("admin:accounts_line_change", args=[line.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data["iccid"] = "89860000000000000999"

    response = client.post(url, {name: value for name, value in data.items() if value is not None})

    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="admin.changed", target_type="accounts.line", target_id=str(line.pk))
    assert event.actor == administrator
    assert event.subject_user == customer
    assert event.data["change"] == [{"changed": {"fields": ["ICCID"]}}]


def test_an_admin_addition_and_deletion_of_a_service_point_are_in_the_audit_trail(client, administrator):
    response = client.post(
        reverse("admin:accounts_servicepoint_add"),
        {"code": "gz-tianhe", "name": "天河营业厅", "kind": "both", "city": "广州", "address": "天河路 1 号",
         "opening_hours": "09:00–18:00", "phone": "020-1234-5678", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    point = ServicePoint.objects.get(code="gz-tianhe")
    client.post(reverse("admin:accounts_servicepoint_delete", args=[point.pk]), {"post": "yes"})

    verbs = list(
        AuditEvent.objects.filter(target_type="accounts.servicepoint", target_id=str(point.pk))
        .order_by("pk")
        .values_list("verb", "actor")
    )
    assert verbs == [("admin.added", administrator.pk), ("admin.deleted", administrator.pk)]


def test_the_audit_page_narrows_to_one_record(client, administrator):
    customer = CustomerFactory()
    (line, _code), (other, _other_code) = make_line(owner=customer), make_line(owner=customer)
    AuditEvent.objects.create(verb="line.renewed", target_type="accounts.line", target_id=str(line.pk))
    AuditEvent.objects.create(verb="line.renewed", target_type="accounts.line", target_id=str(other.pk))

    response = client.get(reverse("customers:staff_audit"), {"target_type": "accounts.line", "target_id": line.pk})

    assert response.status_code == 200
    shown = {(event.target_type, event.target_id) for event in response.context["events"]}
    assert shown == {("accounts.line", str(line.pk))}
    assert "line.renewed" in [event.verb for event in response.context["events"]]


def test_the_audit_page_refuses_customers_and_staff_without_the_permission(client):
    client.force_login(CustomerFactory())
    assert client.get(reverse("customers:staff_audit")).status_code in (302, 403)
    client.force_login(make_staff("clerk"))
    assert client.get(reverse("customers:staff_audit")).status_code == 403
