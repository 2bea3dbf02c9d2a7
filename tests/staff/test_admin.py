"""Django admin as the back-office: every changelist loads at a fixed query count, append-only records
cannot be edited, actions go through the services, CSV export follows the filters, PII stays masked."""

import csv
import io
import itertools
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, Line, Notification, OutboundMessage, User
from billing import services as billing_services
from billing.models import LedgerEntry, LineService, Order, Payment, Receipt, Wallet
from customers import services as customer_services
from customers.models import CancellationRequest, SupportThread
from heyon_site.admin_tools import export_as_csv
from reviews import pii
from reviews import services as review_services
from reviews.models import Certificate, PhotoAccess, Submission, SubmissionEvent
from tests.factories import CustomerFactory, make_line, make_staff
from tests.staff.conftest import pending_submission, renew_at_store, unique_id_number, verify_at_desk

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
_phones = itertools.count(1)
_references = itertools.count(1)


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.fixture
def superuser(client):
    user = make_staff("admin")
    assert user.is_superuser
    client.force_login(user)
    return user


def grow(world, count: int):
    """Add ``count`` of each important record, through the services, as the app makes them."""
    clerk = world.staff["clerk"]
    support = world.staff["support"]
    reviewer = world.staff["reviewer"]
    for _ in range(count):
        # An online customer: a line, a rejected attempt, an open one, a top-up and a support thread.
        customer = CustomerFactory()
        make_line(owner=customer)
        rejected = pending_submission(customer)
        review_services.submission_claim(submission_id=rejected.pk, actor=reviewer)
        review_services.submission_reject(submission_id=rejected.pk, actor=reviewer, reason_codes=["IMG_BLURRY"])
        pending_submission(customer)
        billing_services.ledger_append(
            user=customer, kind="topup", amount=Decimal("20.00"), reference=f"ADMIN-TEST-{next(_references)}"
        )
        thread = customer_services.support_thread_open(actor=customer, topic="renewal", body="你好")
        customer_services.support_message_add(thread_id=thread.pk, actor=support, body="您好，已处理。")
        # A walk-in: verified at the desk (certificate), renewed at the store (order, payment, receipt,
        # ledger entries), then asks to cancel the line.
        id_number = unique_id_number()
        certificate = verify_at_desk(clerk, phone=f"+8613799{next(_phones):06d}", id_number=id_number)
        renew_at_store(clerk, certificate.line, id_number=id_number)
        walk_in = certificate.submission.user
        customer_services.cancellation_request_submit(
            actor=walk_in,
            line_id=certificate.line_id,
            full_name="王小明",
            phone=walk_in.phone,
            reason="moving_abroad",
            reason_detail="",
            bindings=[],
        )
        PhotoAccess.objects.create(staff=reviewer, photo=None, submission_id_copy=rejected.pk, variant="thumb")


def changelist_queries(client, model) -> tuple[int, int]:
    url = changelist_url(model)
    client.get(url)  # warm up the session, permission and content-type caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response.status_code, len(queries)


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _a in REGISTERED])
def test_every_changelist_loads_for_a_superuser(client, superuser, world, model, model_admin):
    response = client.get(changelist_url(model))

    assert response.status_code == 200


def test_changelist_query_counts_do_not_grow_with_the_rows(client, superuser, world):
    grow(world, 1)
    few = {model: changelist_queries(client, model) for model, _admin in REGISTERED}

    grow(world, 6)
    many = {model: changelist_queries(client, model) for model, _admin in REGISTERED}

    assert all(status == 200 for status, _n in [*few.values(), *many.values()])
    grown = {model._meta.label: (few[model][1], many[model][1]) for model in few if many[model][1] != few[model][1]}
    assert not grown, f"changelists whose query count grew with the rows (few, many): {grown}"
    # The growth really reached the important tables.
    for model, at_least in [
        (User, 20),
        (Line, 14),
        (Submission, 21),
        (SubmissionEvent, 35),
        (Order, 7),
        (LedgerEntry, 7),
        (AuditEvent, 30),
        (OutboundMessage, 20),
        (SupportThread, 7),
        (Notification, 14),
        (PhotoAccess, 7),
    ]:
        assert model.objects.count() >= at_least, model


# Append-only records ---------------------------------------------------------------------

READ_ONLY = [SubmissionEvent, AuditEvent, LedgerEntry, PhotoAccess]


@pytest.fixture
def append_only_rows(world):
    grow(world, 1)
    return {model: model.objects.order_by("pk").first() for model in READ_ONLY}


@pytest.mark.parametrize("model", READ_ONLY, ids=[model._meta.label for model in READ_ONLY])
def test_append_only_records_cannot_be_added_changed_or_deleted(client, superuser, append_only_rows, model):
    obj = append_only_rows[model]
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/admin/")
    request.user = superuser
    before = {field.attname: getattr(obj, field.attname) for field in model._meta.concrete_fields}

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert "delete_selected" not in model_admin.get_actions(request)
    opts = model._meta
    add = client.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"), {})
    change = client.post(change_url(obj), {field: "1" for field in before})
    delete = client.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk]), {"post": "yes"})

    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    obj.refresh_from_db()
    assert {field.attname: getattr(obj, field.attname) for field in model._meta.concrete_fields} == before
    assert client.get(change_url(obj)).status_code == 200, "still visible, read-only"


def test_a_decision_cannot_be_edited_in_the_submission_admin(client, superuser, world):
    reviewer = world.staff["reviewer"]
    submission = world.submission
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    review_services.submission_reject(submission_id=submission.pk, actor=reviewer, reason_codes=["IMG_BLURRY"])
    other = world.staff["senior_reviewer"]

    response = client.post(
        change_url(submission),
        {
            "status": "approved",
            "decided_by": other.pk,
            "reasons": [],
            "internal_note": "changed later",
            "photos-TOTAL_FORMS": "0",
            "photos-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code in (200, 302, 403)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    assert submission.decided_by == reviewer
    assert list(submission.reasons.values_list("code", flat=True)) == ["IMG_BLURRY"]
    assert submission.internal_note == ""
    assert not admin.site._registry[Submission].has_delete_permission(RequestFactory().get("/"), submission)


def test_auto_renew_and_allowances_cannot_be_edited_in_the_line_service_admin(client, superuser, world):
    service = LineService.objects.select_related("line").first()
    assert service is not None and service.auto_renew is False
    before = (service.data_left_mb, service.auto_renew_method, service.auto_renew_term_months)

    client.post(
        change_url(service),
        {"auto_renew": "on", "auto_renew_method": "wallet_then_card", "auto_renew_term_months": "12",
         "data_left_mb": "999999"},
    )  # fmt: skip

    service.refresh_from_db()
    assert service.auto_renew is False
    assert (service.data_left_mb, service.auto_renew_method, service.auto_renew_term_months) == before


# Actions ---------------------------------------------------------------------------------


def final_rejection(world):
    reviewer = world.staff["reviewer"]
    submission = pending_submission()
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return review_services.submission_reject(
        submission_id=submission.pk, actor=reviewer, reason_codes=["FACE_MISMATCH"]
    )


def test_lifting_a_final_rejection_in_admin_goes_through_the_service(client, world, sent):
    support = world.staff["support"]
    client.force_login(support)
    rejected = final_rejection(world)
    still_open = world.submission

    with sent():
        response = client.post(
            changelist_url(Submission),
            {"action": "lift_final_rejection", ACTION_CHECKBOX_NAME: [rejected.pk, still_open.pk]},
            follow=True,
        )

    assert response.status_code == 200
    rejected.refresh_from_db()
    assert rejected.final_block_lifted_at is not None
    assert SubmissionEvent.objects.filter(submission=rejected, verb="final_block_lifted", actor=support).exists()
    assert Notification.objects.filter(user=rejected.user, link="/verification/").count() == 2, (
        "rejection and lift are both told to the customer"
    )
    assert review_services.submission_blocker(user=rejected.user) is None
    still_open.refresh_from_db()
    assert still_open.final_block_lifted_at is None
    messages = [str(message) for message in response.context["messages"]]
    assert any(f"#{still_open.pk}" in message for message in messages), messages


def test_only_roles_allowed_to_lift_a_final_rejection_see_the_action(client, world):
    request = RequestFactory().get("/admin/")
    model_admin = admin.site._registry[Submission]
    for role, may in [("support", True), ("admin", True), ("reviewer", False), ("senior_reviewer", False)]:
        request.user = world.staff[role]
        assert ("lift_final_rejection" in model_admin.get_actions(request)) is may, role

    rejected = final_rejection(world)
    client.force_login(world.staff["senior_reviewer"])
    client.post(changelist_url(Submission), {"action": "lift_final_rejection", ACTION_CHECKBOX_NAME: [rejected.pk]})
    rejected.refresh_from_db()
    assert rejected.final_block_lifted_at is None


def test_every_admin_action_is_export_delete_or_a_service_call():
    """Status changes in admin go through services: the only custom actions are the audited lift, the
    audited resolution of reconciliation discrepancies (billing.services.discrepancy_resolve) and the
    audited end of an app sign-in (api.tokens.refresh_family_end)."""
    request = RequestFactory().get("/admin/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    custom = set()
    for model, model_admin in REGISTERED:
        for name, (function, _name, _description) in model_admin.get_actions(request).items():
            if function is export_as_csv or name == "delete_selected" or model._meta.app_label == "axes":
                continue
            custom.add(f"{model._meta.label}.{name}")

    assert custom == {
        "reviews.Submission.lift_final_rejection",
        "billing.Discrepancy.resolve_discrepancies",
        "api.RefreshFamily.end_sign_ins",
    }


# CSV export ------------------------------------------------------------------------------


def export(client, model, query: str = "") -> list[list[str]]:
    response = client.post(
        f"{changelist_url(model)}{query}",
        {"action": "export_as_csv", "select_across": "1", "index": "0", ACTION_CHECKBOX_NAME: ["0"]},
    )
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_export_of_a_filtered_changelist_has_only_the_filtered_rows(english, superuser, world):
    grow(world, 3)
    rejected = set(Submission.objects.filter(status="rejected").values_list("pk", flat=True))
    assert rejected and Submission.objects.exclude(status="rejected").exists()

    rows = export(english, Submission, "?status__exact=rejected")

    header, body = rows[0], rows[1:]
    assert {int(row[0]) for row in body} == rejected
    assert {row[header.index("status")] for row in body} == {"Rejected"}


def test_csv_export_follows_the_search_too(english, superuser, world):
    grow(world, 2)
    customer = world.customer

    rows = export(english, User, f"?q={customer.phone.as_e164.replace('+', '%2B')}")

    assert len(rows) == 2
    assert rows[1][0] == str(customer), "the first column is the user, as in the changelist"
    assert rows[1][rows[0].index("mobile number")] == str(customer.phone)


def test_csv_export_keeps_id_numbers_masked(client, superuser, world):
    rows = export(client, Submission)

    text = "\n".join(",".join(row) for row in rows)
    for submission in Submission.objects.all():
        full = pii.decrypt(submission.id_number_encrypted)
        assert full not in text
        assert submission.id_number_masked in text


def test_csv_export_query_count_does_not_grow_with_the_rows(client, superuser, world):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            export(client, Submission)
        return len(captured)

    grow(world, 1)
    export(client, Submission)
    few = queries()
    grow(world, 5)
    many = queries()

    assert many == few


# Personal data ---------------------------------------------------------------------------


def test_no_admin_page_shows_a_full_id_number(client, superuser, world):
    grow(world, 1)
    full_ids = {pii.decrypt(value) for value in Submission.objects.values_list("id_number_encrypted", flat=True)}
    assert world.walk_in_id_number in full_ids
    pages = []
    for model, _model_admin in REGISTERED:
        pages.append(changelist_url(model))
        pages.extend(change_url(obj) for obj in model._default_manager.order_by("-pk")[:3])

    leaks = []
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        leaks.extend(f"{url}: {number}" for number in full_ids if number in html or number[:-1] + "*" in html)

    assert not leaks, leaks
    html = client.get(change_url(world.submission)).content.decode()
    assert world.submission.id_number_masked in html


SEARCHABLE = [(model, model_admin) for model, model_admin in REGISTERED if model_admin.search_fields]


@pytest.mark.parametrize(("model", "model_admin"), SEARCHABLE, ids=[model._meta.label for model, _a in SEARCHABLE])
def test_every_changelist_search_answers_whatever_is_typed(client, superuser, world, model, model_admin):
    for query in ["1", "abc", world.customer.phone.as_e164, world.certificate.number, "王"]:
        response = client.get(changelist_url(model), {"q": query})
        assert response.status_code == 200, query


def test_search_finds_a_customers_records_by_phone(client, superuser, world):
    phone = world.customer.phone.as_e164

    users = client.get(changelist_url(User), {"q": phone}).context["cl"].result_list
    submissions = client.get(changelist_url(Submission), {"q": phone}).context["cl"].result_list

    assert list(users) == [world.customer]
    assert list(submissions) == [world.submission]


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _a in REGISTERED])
def test_every_list_filter_choice_loads(client, superuser, world, model, model_admin):
    response = client.get(changelist_url(model))
    for spec in response.context["cl"].filter_specs:
        for choice in list(spec.choices(response.context["cl"]))[:4]:
            filtered = client.get(changelist_url(model) + choice["query_string"])
            assert filtered.status_code == 200, choice["query_string"]  # a bad lookup redirects to ?e=1


NEVER_DELETED = [Line, LineService, Submission, Order, Payment, Receipt, Certificate, CancellationRequest, Wallet]


@pytest.mark.parametrize("model", NEVER_DELETED, ids=[model._meta.label for model in NEVER_DELETED])
def test_records_that_leave_through_a_service_cannot_be_deleted_in_admin(client, superuser, world, model):
    billing_services.ledger_append(user=world.customer, kind="topup", amount=Decimal("5.00"), reference="NO-DELETE")
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, model
    opts = model._meta

    response = client.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk]), {"post": "yes"})
    bulk = client.post(
        changelist_url(model), {"action": "delete_selected", ACTION_CHECKBOX_NAME: [obj.pk], "post": "yes"}
    )

    assert response.status_code == 403
    assert bulk.status_code in (200, 302)
    assert model._default_manager.filter(pk=obj.pk).exists()


def test_only_administrators_are_offered_the_csv_export(client, superuser, world):
    """Staff who may read records one at a time in admin do not get them in bulk."""
    url = reverse("admin:reviews_submission_changelist")
    client.force_login(world.staff["senior_reviewer"])
    page = client.get(url)
    assert page.status_code == 200
    assert "export_as_csv" not in page.content.decode()
    refused = client.post(url, {"action": "export_as_csv", "_selected_action": [world.submission.pk]})
    assert refused.get("Content-Type", "").startswith("text/csv") is False

    client.force_login(superuser)
    assert "export_as_csv" in client.get(url).content.decode()
