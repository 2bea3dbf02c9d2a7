"""Support conversations (客服留言), the customer lookup and the audit view."""

import itertools
import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as account_services
from accounts import sms
from accounts.models import AuditEvent, Notification
from billing import services as billing_services
from billing.models import Plan
from customers import services as customer_services
from customers.models import CancellationRequest, SupportMessage, SupportThread
from customers.services.support import ERR_EMPTY, ERR_THREAD_CLOSED
from reviews import pii
from tests.factories import CustomerFactory, make_line, make_staff
from tests.staff.conftest import NAME, page_shows, pending_submission, unique_id_number, verify_at_desk

pytestmark = pytest.mark.django_db

_phones = itertools.count(1)


def open_thread(client, customer, *, topic="renewal", body="我的套餐什么时候到期？"):
    client.force_login(customer)
    response = client.post("/support/", {"topic": topic, "body": body})
    thread = SupportThread.objects.filter(customer=customer).order_by("-pk").first()
    return response, thread


# Conversations ---------------------------------------------------------------------------


@pytest.mark.parametrize("topic", [choice for choice, _label in SupportThread.Topic.choices])
def test_a_customer_leaves_a_message_on_a_topic(english, topic):
    customer = CustomerFactory()

    response, thread = open_thread(english, customer, topic=topic, body="Hello, I need help.")

    assert response.status_code == 302
    assert response["Location"] == f"/support/{thread.pk}/"
    assert thread.topic == topic and thread.status == SupportThread.Status.OPEN
    assert thread.waiting_since is not None and thread.assignee is None
    assert list(thread.messages.values_list("body", "from_staff")) == [("Hello, I need help.", False)]
    page = english.get("/support/")
    assert f'href="/support/{thread.pk}/"' in page.content.decode()


def test_an_empty_message_is_refused_and_opens_no_thread(english):
    customer = CustomerFactory()

    response, thread = open_thread(english, customer, body="   ")

    assert response.status_code == 200
    assert thread is None
    assert response.context["form"].errors


def test_support_sees_the_waiting_thread_with_its_age_and_no_assignee(english, world):
    SupportThread.objects.filter(pk=world.thread.pk).update(waiting_since=timezone.now() - timedelta(hours=3))
    english.force_login(world.staff["support"])

    response = english.get("/staff/support/")

    html = response.content.decode()
    row = re.search(rf'<tr><td><a href="/staff/support/{world.thread.pk}/">.*?</tr>', html, re.S).group(0)
    assert "3\xa0hours" in row or "3 hours" in row
    assert "—" in row, "no assignee yet"
    assert list(response.context["threads"]) == [world.thread]


def test_support_answers_and_the_customer_is_told_in_messages_by_sms_and_email(english, world, sent):
    support = world.staff["support"]
    customer = world.customer
    english.force_login(support)

    with sent():
        response = english.post(f"/staff/support/{world.thread.pk}/", {"action": "reply", "body": "已为您续费。"})

    assert response.status_code == 302 and response["Location"] == "/staff/support/"
    thread = SupportThread.objects.get(pk=world.thread.pk)
    assert thread.status == SupportThread.Status.ANSWERED
    assert thread.assignee == support, "answering takes the thread"
    assert thread.waiting_since is None
    assert thread.messages.filter(from_staff=True, author=support, body="已为您续费。").exists()
    notification = Notification.objects.get(user=customer, link=f"/support/{thread.pk}/")
    assert "已为您续费。" in notification.body
    assert [message["to"] for message in sms.outbox] == [customer.phone.as_e164]
    assert "已为您续费。" in sms.outbox[0]["text"]
    assert [message.to for message in mail.outbox] == [[customer.email]]
    assert AuditEvent.objects.filter(verb="support.answered", actor=support, subject_user=customer).exists()

    english.force_login(customer)
    inbox = english.get("/notifications/").content.decode()
    assert f'href="/support/{thread.pk}/"' in inbox
    conversation = english.get(f"/support/{thread.pk}/")
    assert "已为您续费。" in conversation.content.decode()
    assert 'data-status="answered"' in conversation.content.decode()


def test_the_customers_reply_puts_the_thread_back_in_the_queue(english, world):
    support = world.staff["support"]
    customer_services.support_message_add(thread_id=world.thread.pk, actor=support, body="请提供订单号。")
    english.force_login(world.customer)

    response = english.post(f"/support/{world.thread.pk}/", {"body": "订单号 123"})

    assert response.status_code == 302
    thread = SupportThread.objects.get(pk=world.thread.pk)
    assert thread.status == SupportThread.Status.OPEN
    assert thread.waiting_since is not None
    assert thread.assignee == support, "the thread stays with whoever answered"
    english.force_login(support)
    mine = english.get("/staff/support/?status=open&mine=1")
    assert list(mine.context["threads"]) == [thread]
    english.force_login(world.staff["admin"])
    assert list(english.get("/staff/support/?status=open&mine=1").context["threads"]) == []


def test_assigning_shows_the_assignee_in_the_queue(english, world):
    support = world.staff["support"]
    english.force_login(support)

    english.post(f"/staff/support/{world.thread.pk}/", {"action": "assign"})

    world.thread.refresh_from_db()
    assert world.thread.assignee == support
    html = english.get("/staff/support/").content.decode()
    assert f"<td>{support.username}</td>" in html


def test_a_closed_thread_takes_no_more_messages(english, world):
    customer_services.support_thread_close(thread_id=world.thread.pk, actor=world.staff["support"])
    english.force_login(world.customer)

    with pytest.raises(customer_services.SupportError) as refused:
        customer_services.support_message_add(thread_id=world.thread.pk, actor=world.customer, body="还在吗？")
    response = english.post(f"/support/{world.thread.pk}/", {"body": "还在吗？"})

    assert str(refused.value) == str(ERR_THREAD_CLOSED)
    assert SupportMessage.objects.filter(thread=world.thread).count() == 1
    assert 'name="body"' not in response.content.decode(), "no reply form on a closed thread"


def test_a_blank_answer_is_refused(english, world):
    english.force_login(world.staff["support"])

    response = english.post(f"/staff/support/{world.thread.pk}/", {"action": "reply", "body": " "})

    assert response.status_code == 200
    assert SupportMessage.objects.filter(thread=world.thread).count() == 1
    with pytest.raises(customer_services.SupportError, match=str(ERR_EMPTY)):
        customer_services.support_message_add(thread_id=world.thread.pk, actor=world.staff["support"], body=" ")


def test_another_customer_cannot_read_or_answer_someone_elses_thread(client, world):
    stranger = CustomerFactory()
    client.force_login(stranger)

    read = client.get(f"/support/{world.thread.pk}/")
    write = client.post(f"/support/{world.thread.pk}/", {"body": "偷看"})

    assert read.status_code == 404
    assert write.status_code == 404
    assert SupportMessage.objects.filter(thread=world.thread).count() == 1
    assert f"/support/{world.thread.pk}/" not in client.get("/support/").content.decode()


# Customer lookup -------------------------------------------------------------------------


def lookup(client, query):
    return client.get("/staff/customers/", {"q": query})


def test_support_finds_a_customer_by_phone_line_order_or_certificate_number(client, world):
    customer = world.customer
    line, _code = make_line(owner=customer)
    plan = Plan.objects.get(code="basic", is_current=True)
    account_services.user_mark_real_name_verified(user=customer, actor=None, channel="online")
    order = billing_services.renewal_order_create(
        user=customer, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=uuid.uuid4().hex
    )
    walk_in = world.certificate.submission.user
    client.force_login(world.staff["support"])

    expected = {
        customer.phone.as_e164: customer,
        customer.phone.as_national: customer,
        customer.phone.as_national.replace(" ", ""): customer,
        line.msisdn.as_e164: customer,
        order.number: customer,
        order.number.lower(): customer,
        world.receipt.order.number: walk_in,
        world.certificate.number: walk_in,
        world.certificate.number.lower(): walk_in,
    }
    for query, who in expected.items():
        response = lookup(client, query)
        assert response.status_code == 302, query
        assert response["Location"] == f"/staff/customers/{who.pk}/", query


def test_an_unknown_number_or_a_staff_phone_finds_no_customer(english, world):
    staff_with_phone = make_staff("support")
    staff_with_phone.phone = "+8613900009999"
    staff_with_phone.save(update_fields=["phone"])
    english.force_login(world.staff["support"])

    for query in ["+8613912345670", "HY2099-99999999", "nonsense", staff_with_phone.phone.as_e164]:
        response = lookup(english, query)
        assert response.status_code == 200, query
        assert page_shows(response, "No customer matches."), query


def test_the_customer_page_shows_lines_orders_verifications_and_threads(client, world):
    walk_in = world.certificate.submission.user
    client.force_login(world.staff["support"])

    html = client.get(f"/staff/customers/{walk_in.pk}/").content.decode()

    assert world.certificate.line.msisdn.as_national in html
    assert world.receipt.order.number in html
    assert world.receipt.number in html
    assert f"#{world.certificate.submission_id}" in html
    assert client.get(f"/staff/customers/{world.staff['clerk'].pk}/").status_code == 404, "staff are not customers"


def test_reviewers_can_open_a_customers_submission_from_the_lookup_support_cannot(client, world):
    walk_in = world.certificate.submission.user
    review_url = f"/staff/reviews/{world.certificate.submission_id}/"

    client.force_login(world.staff["senior_reviewer"])
    assert f'href="{review_url}"' in client.get(f"/staff/customers/{walk_in.pk}/").content.decode()
    client.force_login(world.staff["support"])
    assert f'href="{review_url}"' not in client.get(f"/staff/customers/{walk_in.pk}/").content.decode()


def full_id(submission) -> str:
    return pii.decrypt(submission.id_number_encrypted)


@pytest.mark.parametrize("role", ["support", "senior_reviewer"])
def test_full_id_numbers_only_for_senior_reviewers_and_each_view_is_audited(client, world, role):
    customer = world.customer
    submission = world.submission
    staff = world.staff[role]
    client.force_login(staff)

    first = client.get(f"/staff/customers/{customer.pk}/").content.decode()
    second = client.get(f"/staff/customers/{customer.pk}/").content.decode()

    viewed = AuditEvent.objects.filter(verb="customer.id_numbers_viewed", actor=staff, subject_user=customer)
    if role == "senior_reviewer":
        assert full_id(submission) in first and full_id(submission) in second
        assert viewed.count() == 2, "every view is recorded"
        assert viewed.first().data == {"submissions": [submission.pk]}
    else:
        assert full_id(submission) not in first
        assert submission.id_number_masked in first
        assert not viewed.exists()


def test_the_review_page_shows_the_full_id_to_senior_reviewers_only_and_audits_it(client, world):
    submission = world.submission
    for role, sees in [("reviewer", False), ("senior_reviewer", True)]:
        staff = world.staff[role]
        client.force_login(staff)

        html = client.get(f"/staff/reviews/{submission.pk}/").content.decode()

        assert (full_id(submission) in html) is sees, role
        audited = AuditEvent.objects.filter(verb="submission.id_number_viewed", actor=staff).count()
        assert audited == (1 if sees else 0), role


# Audit view ------------------------------------------------------------------------------


@pytest.fixture
def audit_trail(world):
    """Events by two staff members today and by one of them ten days ago."""
    support, senior = world.staff["support"], world.staff["senior_reviewer"]
    today = [
        account_services.audit_record(actor=support, verb="test.today_support", target=world.customer),
        account_services.audit_record(actor=senior, verb="test.today_senior", target=world.customer),
    ]
    earlier = account_services.audit_record(actor=support, verb="test.earlier_support", target=world.customer)
    AuditEvent.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - timedelta(days=10))
    return {"today": today, "earlier": earlier}


def audit_verbs(client, **params) -> list[str]:
    response = client.get("/staff/audit/", params)
    assert response.status_code == 200
    return [event.verb for event in response.context["events"] if event.verb.startswith("test.")]


def test_the_audit_view_filters_by_staff_member(client, world, audit_trail):
    client.force_login(world.staff["support"])

    # Newest first (by id: the back-dated event was written last).
    assert audit_verbs(client) == ["test.earlier_support", "test.today_senior", "test.today_support"]
    assert audit_verbs(client, staff=world.staff["support"].username) == ["test.earlier_support", "test.today_support"]
    assert audit_verbs(client, staff=world.staff["senior_reviewer"].username) == ["test.today_senior"]
    assert audit_verbs(client, staff="nobody") == []


def test_the_audit_view_filters_by_date(client, world, audit_trail):
    client.force_login(world.staff["support"])
    today = timezone.localdate()
    ten_days_ago = timezone.localtime(timezone.now() - timedelta(days=10)).date()

    assert sorted(audit_verbs(client, date_from=today.isoformat())) == ["test.today_senior", "test.today_support"]
    assert audit_verbs(client, date_from=ten_days_ago.isoformat(), date_to=ten_days_ago.isoformat()) == [
        "test.earlier_support"
    ]
    assert audit_verbs(
        client, staff=world.staff["support"].username, date_to=(today - timedelta(days=1)).isoformat()
    ) == ["test.earlier_support"]


def test_the_audit_view_filters_by_customer(client, world, audit_trail):
    other = CustomerFactory()
    pending_submission(other)
    account_services.audit_record(actor=world.staff["support"], verb="test.other", target=other, subject_user=other)
    client.force_login(world.staff["support"])

    assert audit_verbs(client, customer=other.pk) == ["test.other"]


# Query counts of the staff list pages -----------------------------------------------------


def more_support_work(world, count):
    for _ in range(count):
        customer = CustomerFactory()
        thread = customer_services.support_thread_open(actor=customer, topic="verification", body="请帮忙")
        customer_services.support_thread_assign(thread_id=thread.pk, assignee=world.staff["admin"], actor=customer)
        customer_services.support_thread_open(actor=world.customer, topic="other", body="还有一个问题")
        pending_submission(CustomerFactory())
        certificate = verify_at_desk(
            world.staff["clerk"], phone=f"+8613766{next(_phones):06d}", id_number=unique_id_number()
        )
        walk_in = certificate.submission.user
        customer_services.cancellation_request_submit(
            actor=walk_in,
            line_id=certificate.line_id,
            full_name=NAME,
            phone=walk_in.phone,
            reason="cost",
            reason_detail="",
            bindings=[],
        )


def queries_of(client, url) -> int:
    client.get(url)  # warm up the session and permission caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("page", ["/staff/support/", "/staff/audit/", "/staff/cancellations/", "customer"])
def test_staff_list_pages_make_the_same_queries_for_few_and_many_rows(client, world, page):
    client.force_login(world.staff["admin"])
    url = f"/staff/customers/{world.customer.pk}/" if page == "customer" else page
    more_support_work(world, 1)
    few = queries_of(client, url)

    more_support_work(world, 8)
    many = queries_of(client, url)

    assert many == few
    assert SupportThread.objects.count() >= 19 and CancellationRequest.objects.count() >= 10


def test_a_closed_thread_cannot_be_closed_again_or_assigned(world):
    support = world.staff["support"]
    customer_services.support_thread_close(thread_id=world.thread.pk, actor=support)

    for refused_call in (
        lambda: customer_services.support_thread_close(thread_id=world.thread.pk, actor=support),
        lambda: customer_services.support_thread_assign(thread_id=world.thread.pk, assignee=support, actor=support),
    ):
        with pytest.raises(customer_services.SupportError) as refused:
            refused_call()
        assert str(refused.value) == str(ERR_THREAD_CLOSED)

    assert AuditEvent.objects.filter(verb="support.closed", target_id=str(world.thread.pk)).count() == 1
    assert not AuditEvent.objects.filter(verb="support.assigned", target_id=str(world.thread.pk)).exists()
