"""Personal data: the customer's own export, and its erasure a retention period after service ends.

Photos are real files in private storage (reviews.demo.submit_demo), so the tests can
check that the export carries the owner's photos and that the purge deletes them.
"""

import io
import json
import os
import zipfile
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db.models import CharField, JSONField, Sum, TextField
from django.test import Client
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts import services
from accounts.models import AuditEvent, Line, Notification, OutboundMessage, User
from billing import services as billing_services
from billing.models import LedgerEntry, Order, Payment, Plan, ProviderNotification, Receipt, Refund, SavedCard
from customers import services as customer_services
from customers.models import CancellationRequest
from reviews import pii
from reviews import services as review_services
from reviews.demo import resident_id, submit_demo
from reviews.models import Submission, SubmissionPhoto
from tests.factories import CustomerFactory, make_line, make_staff

pytestmark = pytest.mark.django_db


# Helpers -------------------------------------------------------------------------------


def verify_through_submission(user, *, full_name, id_number, seed):
    """Submit with real photo files and have a reviewer approve it; the user's lines become active."""
    submission = submit_demo(user=user, full_name=full_name, id_number=id_number, seed=seed)
    reviewer = make_staff("reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    return review_services.submission_approve(submission_id=submission.pk, actor=reviewer)


def pay_renewal_from_wallet(user, line, key) -> Order:
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()
    order = billing_services.renewal_order_create(
        user=user, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=key
    )
    billing_services.ledger_append(user=user, kind="adjustment", amount=order.amount, reference=f"fund-{key}")
    billing_services.order_pay(order_id=order.pk, method="wallet", actor=user)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order


def customer_with_history(*, full_name, id_number, seed, phone=None):
    """A customer verified online (photos on storage) with an active line and one paid renewal."""
    user = CustomerFactory(**({"phone": phone} if phone else {}), display_name=full_name)
    line, _code = make_line(owner=user)
    verify_through_submission(user, full_name=full_name, id_number=id_number, seed=seed)
    line.refresh_from_db()
    assert line.status == Line.Status.ACTIVE
    order = pay_renewal_from_wallet(user, line, key=f"renew-{user.pk}")
    return user, line, order


def cancel_every_line(user, support):
    for line in Line.objects.filter(owner=user).exclude(status=Line.Status.CANCELLED):
        request, _created = customer_services.cancellation_request_submit(
            actor=user,
            line_id=line.pk,
            full_name=Submission.objects.filter(user=user).latest("pk").full_name,
            phone=user.phone,
            reason="no_longer_needed",
            reason_detail="Moving to Shenzhen, new number there.",
            bindings=[{"name": "微信", "unbound": True}],
        )
        customer_services.cancellation_request_approve(request_id=request.pk, actor=support)


def cancel_line_without_submission(user, line, support):
    request, _created = customer_services.cancellation_request_submit(
        actor=user,
        line_id=line.pk,
        full_name="张三",
        phone=user.phone,
        reason="other",
        reason_detail="",
        bindings=[],
    )
    customer_services.cancellation_request_approve(request_id=request.pk, actor=support)


def end_service(user, *, days_ago):
    User.objects.filter(pk=user.pk).update(service_ended_at=timezone.now() - timedelta(days=days_ago))


def photo_paths(user) -> list[str]:
    storage_root = settings.PRIVATE_MEDIA_ROOT
    paths = []
    for photo in SubmissionPhoto.objects.filter(submission__user=user):
        paths += [os.path.join(storage_root, photo.image.name), os.path.join(storage_root, photo.thumbnail.name)]
    return paths


def billing_snapshot():
    """What billing law keeps after an erasure: orders, payments, refunds, receipts and the wallet's ledger."""
    return {
        "order_total": Order.objects.aggregate(total=Sum("amount"))["total"],
        "orders": sorted(Order.objects.values_list("number", "amount", "status", "paid_at", "user_id")),
        "payments": sorted(Payment.objects.values_list("out_trade_no", "method", "amount", "status", "order_id")),
        "refunds": sorted(Refund.objects.values_list("out_refund_no", "amount", "status", "user_id")),
        "receipts": sorted(Receipt.objects.values_list("number", "amount", "issued_at", "order__number")),
        "ledger": sorted(
            LedgerEntry.objects.values_list("pk", "wallet__user_id", "kind", "amount", "balance_after", "reference")
        ),
    }


def read_export(response):
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return archive, archive.read("data.json").decode()


# Export ----------------------------------------------------------------------------------


def test_export_holds_the_owners_data_and_photos_and_nothing_of_another_customer(client):
    owner_id_number = resident_id(birth="19880808", sequence="111")
    owner, owner_line, owner_order = customer_with_history(full_name="王芳", id_number=owner_id_number, seed=1)
    other_id_number = resident_id(birth="19770707", sequence="222")
    other, other_line, other_order = customer_with_history(full_name="赵大海", id_number=other_id_number, seed=2)
    other_spare, _code = make_line(owner=other)
    owner.refresh_from_db()
    client.force_login(owner)

    response = client.get("/account/export/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="heyon-my-data-')
    assert "no-store" in response["Cache-Control"]
    archive, text = read_export(response)
    data = json.loads(text)
    # The owner's own records.
    assert data["profile"]["phone"] == owner.phone.as_e164
    assert [line["number"] for line in data["lines"]] == [owner_line.msisdn.as_e164]
    assert [order["number"] for order in data["orders"]] == [owner_order.number]
    assert [receipt["number"] for receipt in data["receipts"]] == [owner_order.receipt.number]
    subjects = {notification.subject for notification in Notification.objects.filter(user=owner)}
    assert subjects and {message["subject"] for message in data["messages"]} == subjects
    [verification] = data["verification"]
    assert verification["status"] == "approved"
    assert verification["full_name"] == "王芳"
    assert verification["id_number"] == owner_id_number  # their own data, in full
    # Times as every page shows them: in Shanghai, with the offset.
    assert verification["submitted_at"].endswith("+08:00")
    assert data["exported_at"].endswith("+08:00")
    # The owner's photos, byte for byte.
    own_photos = {}
    for photo in SubmissionPhoto.objects.filter(submission__user=owner):
        with photo.image.open("rb") as handle:
            own_photos[f"photos/attempt-1-{photo.kind}.jpg"] = handle.read()
    assert len(own_photos) == 3
    assert sorted(archive.namelist()) == sorted(["data.json", *own_photos])
    for name, content in own_photos.items():
        assert archive.read(name) == content
    # Nothing of the other customer.
    for secret in (
        other.phone.as_e164,
        other.phone.as_national,
        other.email,
        "赵大海",
        other_id_number,
        other_id_number[:6] + "********" + other_id_number[-4:],
        other_line.msisdn.as_e164,
        other_spare.msisdn.as_e164,
        other_order.number,
        other_order.receipt.number,
    ):
        assert secret not in text, secret


def test_export_of_a_customer_without_photos_has_only_data_json(client):
    user = CustomerFactory()
    make_line(owner=user)
    client.force_login(user)

    archive, text = read_export(client.get("/account/export/"))

    assert archive.namelist() == ["data.json"]
    assert json.loads(text)["verification"] == []


def test_export_needs_a_signed_in_customer(client):
    response = client.get("/account/export/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# Purge -----------------------------------------------------------------------------------


@pytest.fixture
def support():
    return make_staff("support")


def test_purge_erases_personal_data_past_retention_keeps_billing_records_and_runs_once(support, capsys):
    id_number = resident_id(birth="19920202", sequence="333")
    user, line, order = customer_with_history(full_name="王芳", id_number=id_number, seed=3)
    cancel_every_line(user, support)
    line.refresh_from_db()
    assert line.status == Line.Status.CANCELLED
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    phone, email = user.phone.as_e164, user.email
    files = photo_paths(user)
    assert len(files) == 6 and all(os.path.exists(path) for path in files)
    assert Notification.objects.filter(user=user).exists()
    assert OutboundMessage.objects.filter(recipient=phone).exists()
    before = billing_snapshot()
    assert before["receipts"] and before["payments"] and before["ledger"] and before["order_total"] == order.amount
    assert User.objects.get(pk=user.pk).identity_index == pii.id_number_blind_index(id_number)

    call_command("purge_personal_data")

    output = capsys.readouterr().out
    assert "erased_customers=1 submissions=1 photos=3" in output
    assert not [path for path in files if os.path.exists(path)]
    assert not SubmissionPhoto.objects.filter(submission__user=user).exists()
    submission = Submission.objects.get(user=user)
    assert submission.status == Submission.Status.APPROVED  # the decision stays, anonymous
    assert (submission.full_name, submission.id_number_encrypted, submission.id_number_masked) == ("", "", "")
    assert (submission.id_number_index, submission.contact_phone) == ("", "")
    user.refresh_from_db()
    assert (user.phone, user.email, user.display_name, user.identity_index) == (None, None, "", "")
    assert user.personal_data_erased_at is not None
    assert not user.is_active
    assert not user.has_usable_password()
    assert not Notification.objects.filter(user=user).exists()
    assert not OutboundMessage.objects.filter(recipient__in=[phone, email]).exists()
    request = CancellationRequest.objects.get(user=user)
    assert (request.full_name, request.phone, request.reason_detail, request.third_party_bindings) == ("", "", "", [])
    # What billing law needs stays: amounts, dates, receipt numbers.
    assert billing_snapshot() == before
    assert Receipt.objects.get(order=order).user_id == user.pk
    assert AuditEvent.objects.filter(verb="user.personal_data_erased", subject_user=user).count() == 1
    erased_at = user.personal_data_erased_at

    # A second run finds nothing left to erase.
    call_command("purge_personal_data")

    assert "erased_customers=0 submissions=0 photos=0 messages=0" in capsys.readouterr().out
    user.refresh_from_db()
    assert user.personal_data_erased_at == erased_at
    assert AuditEvent.objects.filter(verb="user.personal_data_erased").count() == 1
    assert billing_snapshot() == before


def billing_rows_mentioning(*values) -> list[str]:
    """Every row of every billing model with one of ``values`` in a text or JSON field."""
    found = []
    for model in apps.get_app_config("billing").get_models():
        fields = [f.attname for f in model._meta.concrete_fields if isinstance(f, (CharField, TextField, JSONField))]
        for row in model.objects.values("pk", *fields):
            text = json.dumps(row, default=str, ensure_ascii=False)
            found += [f"{model.__name__} {row['pk']}: {value}" for value in values if value in text]
    return found


def test_purge_leaves_no_billing_personal_data_and_keeps_the_money_records(support, alipay_fake, capsys):
    user = CustomerFactory(display_name="赵敏")
    line, _code = make_line(owner=user)
    services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    plan = Plan.objects.filter(is_current=True, is_active=True).order_by("monthly_price").first()

    def renewal(key):
        return billing_services.renewal_order_create(
            user=user, line_id=line.pk, plan_id=plan.pk, term_months=1, idempotency_key=key
        )

    card_renewal = renewal(f"card-{user.pk}")
    paid = billing_services.order_pay(
        order_id=card_renewal.pk, method="card", actor=user, card={"number": "4000 0000 0000 7531", "save": True}
    )
    assert paid.payment.card_last4 == "7531"
    # Alipay's callback names the buyer's Alipay account; it is stored as received.
    alipay_renewal = renewal(f"alipay-{user.pk}")
    outcome = billing_services.order_pay(order_id=alipay_renewal.pk, method="alipay", actor=user, device="phone")
    alipay_fake.open_cashier(outcome.redirect_url)
    alipay_fake.drop_notifications = True
    alipay_fake.pay(outcome.payment.out_trade_no)
    buyer = {"buyer_logon_id": "159****5620", "buyer_id": "2088102177846880"}
    body = alipay_fake.notification(outcome.payment.out_trade_no, **buyer)
    response = Client().post("/billing/webhooks/alipay/", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert Order.objects.get(pk=alipay_renewal.pk).status == Order.Status.PAID
    cancel_line_without_submission(user, line, support)
    # A card left from before the last line's cancellation removed them.
    token = SavedCard.objects.create(user=user, token="tok_left_from_before_7f3a", last4="7531").token
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    personal = [user.phone.as_e164, user.email, user.display_name, token, *buyer.values()]
    assert billing_rows_mentioning(*personal)
    before = billing_snapshot()
    payments_changed_at = sorted(Payment.objects.values_list("pk", "updated_at"))

    call_command("purge_personal_data")

    assert "saved_cards=1" in capsys.readouterr().out
    assert not SavedCard.objects.filter(user=user).exists()
    assert billing_rows_mentioning(*personal) == []
    assert list(Payment.objects.filter(order__user=user).values_list("card_last4", flat=True)) == ["", ""]
    notification = ProviderNotification.objects.get(out_trade_no=outcome.payment.out_trade_no)
    assert notification.payload["trade_status"] == "TRADE_SUCCESS"  # what the provider said stays
    assert notification.payload["total_amount"] == f"{alipay_renewal.amount:.2f}"
    # The money records stay whole, and reconciliation's day of each payment with them.
    assert billing_snapshot() == before
    assert Receipt.objects.filter(user=user).count() == 2
    assert sorted(Payment.objects.values_list("pk", "updated_at")) == payments_changed_at
    erased = AuditEvent.objects.get(verb="user.personal_data_erased", subject_user=user)
    assert (erased.data["saved_cards"], erased.data["payment_card_digits"], erased.data["provider_notifications"]) == (
        1,
        1,
        1,
    )


def test_customers_within_retention_or_still_in_service_are_untouched(support, capsys):
    recent, _line, _order = customer_with_history(
        full_name="李娜", id_number=resident_id(birth="19940404", sequence="555"), seed=5
    )
    cancel_every_line(recent, support)
    end_service(recent, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS - 1)
    # Service "ended" long ago on paper, but a line is still in service.
    active = CustomerFactory(display_name="张伟")
    make_line(owner=active)
    services.user_mark_real_name_verified(user=active, actor=None, channel="online")
    end_service(active, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 100)
    staff = make_staff("clerk")
    User.objects.filter(pk=staff.pk).update(service_ended_at=timezone.now() - timedelta(days=3000))
    files = photo_paths(recent)
    snapshot = {
        user.pk: (user.phone, user.email, user.display_name)
        for user in User.objects.filter(pk__in=[recent.pk, active.pk, staff.pk])
    }

    call_command("purge_personal_data")

    assert "erased_customers=0" in capsys.readouterr().out
    assert all(os.path.exists(path) for path in files)
    assert Submission.objects.get(user=recent).full_name == "李娜"
    for user in User.objects.filter(pk__in=snapshot):
        assert (user.phone, user.email, user.display_name) == snapshot[user.pk]
        assert user.personal_data_erased_at is None
    assert Notification.objects.filter(user=recent).exists()
    assert not AuditEvent.objects.filter(verb="user.personal_data_erased").exists()


def test_purge_counts_only_what_it_erased(support):
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    cancel_line_without_submission(user, line, support)
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    notifications = Notification.objects.filter(user=user).count()

    totals = customer_services.personal_data_purge()

    assert totals == {"users": 1, "submissions": 0, "photos": 0, "notifications": notifications, "saved_cards": 0}
    assert customer_services.personal_data_purge() == {
        "users": 0,
        "submissions": 0,
        "photos": 0,
        "notifications": 0,
        "saved_cards": 0,
    }


def test_erasing_one_customer_twice_returns_none_the_second_time(support):
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    cancel_line_without_submission(user, line, support)
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    now = timezone.now()

    assert customer_services.user_erase_personal_data(user_id=user.pk, now=now) is not None
    assert customer_services.user_erase_personal_data(user_id=user.pk, now=now) is None
    assert AuditEvent.objects.filter(verb="user.personal_data_erased", subject_user=user).count() == 1


def test_the_retention_period_follows_the_setting(support, settings):
    settings.PERSONAL_DATA_RETENTION_DAYS = 10
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    cancel_line_without_submission(user, line, support)
    end_service(user, days_ago=9)
    assert customer_services.personal_data_purge()["users"] == 0

    end_service(user, days_ago=11)

    assert customer_services.personal_data_purge()["users"] == 1


def test_erasure_blanks_staff_notes_in_the_customers_audit_events_and_keeps_the_events(support):
    user, _line, _order = customer_with_history(full_name="李四", id_number="11010519491231002X", seed=7)
    reviewer = make_staff("reviewer")
    other = CustomerFactory()
    noted = AuditEvent.objects.create(
        verb="submission.rejected",
        target_type="reviews.submission",
        target_id="1",
        subject_user=user,
        actor=reviewer,
        data={"note": "李四 说他住在朝阳区"},
    )
    kept = AuditEvent.objects.create(
        verb="submission.rejected",
        target_type="reviews.submission",
        target_id="2",
        subject_user=other,
        actor=reviewer,
        data={"note": "another customer's note"},
    )
    cancel_every_line(user, support)
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 1)

    report = customer_services.user_erase_personal_data(user_id=user.pk, now=timezone.now())

    noted.refresh_from_db()
    kept.refresh_from_db()
    assert noted.data == {"note": ""}
    assert kept.data == {"note": "another customer's note"}
    assert report["audit_notes"] >= 1
    assert not AuditEvent.objects.filter(subject_user=user).exclude(data__note="").filter(data__has_key="note")


def test_erasure_leaves_no_escalation_note_quality_note_support_message_or_admin_record_of_the_customer(
    support, settings
):
    settings.QC_SAMPLE_SHARE = 1
    user = CustomerFactory(display_name="李四")
    make_line(owner=user)
    phone = user.phone.as_e164
    submission = submit_demo(user=user, full_name="李四", id_number="11010519491231002X", seed=8)
    reviewer, senior, checker = make_staff("reviewer"), make_staff("senior_reviewer"), make_staff("senior_reviewer")
    review_services.submission_claim(submission_id=submission.pk, actor=reviewer)
    review_services.submission_escalate(
        submission_id=submission.pk, actor=reviewer, note="李四 住朝阳区, 身份证 11010519491231002X?"
    )
    review_services.submission_claim(submission_id=submission.pk, actor=senior)
    review_services.submission_approve(submission_id=submission.pk, actor=senior)
    review_services.quality_sample_confirm(
        sample_id=submission.quality_sample.pk, actor=checker, note="李四 的脸和证件一致"
    )
    thread = customer_services.support_thread_open(actor=user, topic="verification", body=f"我是李四, 电话 {phone}")
    customer_services.support_message_add(thread_id=thread.pk, actor=support, body="李四您好, 已收到")
    # A cancellation refused with a note to the customer, before the one that went through.
    first_request, _created = customer_services.cancellation_request_submit(
        actor=user,
        line_id=Line.objects.get(owner=user).pk,
        full_name="李四",
        phone=user.phone,
        reason="other",
        reason_detail="",
        bindings=[],
    )
    customer_services.cancellation_request_reject(
        request_id=first_request.pk, actor=support, note="李四先生, 请先解绑微信再申请"
    )
    # What the audited admin site writes when staff change the customer's account in admin.
    AuditEvent.objects.create(
        verb="admin.changed",
        target_type="accounts.user",
        target_id=str(user.pk),
        subject_user=user,
        actor=support,
        data={"record": phone, "change": [{"changed": {"fields": ["email"]}}]},
    )
    # And Django's own admin history beside it, which names the record as the admin shows it.
    for record in (user, submission):
        LogEntry.objects.create(
            user=support,
            content_type=ContentType.objects.get_for_model(record),
            object_id=str(record.pk),
            object_repr=str(record),
            action_flag=CHANGE,
            change_message="[]",
        )
    cancel_every_line(user, support)
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 1)

    customer_services.user_erase_personal_data(user_id=user.pk, now=timezone.now())

    submission.refresh_from_db()
    assert submission.escalation_note == ""
    assert submission.quality_sample.note == ""
    assert list(thread.messages.values_list("body", flat=True)) == ["", ""]
    assert set(CancellationRequest.objects.filter(user=user).values_list("decision_note", flat=True)) == {""}
    assert not AuditEvent.objects.filter(subject_user=user, data__record=phone).exists()
    texts = json.dumps(
        list(AuditEvent.objects.filter(subject_user=user).values_list("data", flat=True)), ensure_ascii=False
    )
    assert "李四" not in texts and phone not in texts
    assert set(LogEntry.objects.values_list("object_repr", flat=True)) == {f"erased-{user.pk}", f"#{submission.pk}"}


def test_a_customer_who_came_back_after_the_purge_listed_them_is_not_erased(support):
    user, _line, _order = customer_with_history(
        full_name="王芳", id_number=resident_id(birth="19920202", sequence="444"), seed=9
    )
    cancel_every_line(user, support)
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    assert user.pk in account_selectors.customer_ids_due_for_erasure(now=timezone.now())
    # Between the purge's list and its turn, the customer adds a line (still verified: it is in service).
    new_line, _code = make_line(owner=user)
    assert Line.objects.get(pk=new_line.pk).status == Line.Status.ACTIVE

    assert customer_services.user_erase_personal_data(user_id=user.pk, now=timezone.now()) is None

    user.refresh_from_db()
    assert user.personal_data_erased_at is None and user.phone is not None and user.is_active
    assert Submission.objects.get(user=user).full_name == "王芳"
    assert SubmissionPhoto.objects.filter(submission__user=user).count() == 3


def test_a_customer_who_came_back_and_left_again_after_the_purge_listed_them_is_not_erased_early(support, monkeypatch):
    # Listed for erasure (their service ended past the retention period); before the purge
    # reaches them they come back with a new line and cancel it again: their service ended
    # today, and the retention period starts again. Before, the purge checked under its lock
    # only that no line was in service, and erased them that day.
    user, _line, _order = customer_with_history(
        full_name="王芳", id_number=resident_id(birth="19920202", sequence="666"), seed=10
    )
    cancel_every_line(user, support)
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS + 1)
    listed, came_back = account_selectors.customer_ids_due_for_erasure, []

    def list_then_come_back_and_leave(**kwargs):
        due = listed(**kwargs)
        if user.pk in due and not came_back:
            came_back.append(make_line(owner=user)[0])
            cancel_every_line(user, support)
        return due

    monkeypatch.setattr(account_selectors, "customer_ids_due_for_erasure", list_then_come_back_and_leave)

    totals = customer_services.personal_data_purge()

    assert came_back and totals["users"] == 0
    user.refresh_from_db()
    assert user.service_ended_at > timezone.now() - timedelta(minutes=5)
    assert user.personal_data_erased_at is None and user.phone is not None and user.is_active
    assert Submission.objects.get(user=user).full_name == "王芳"
    assert not AuditEvent.objects.filter(verb="user.personal_data_erased", subject_user=user).exists()


def test_erasing_a_customer_whose_service_ended_within_the_retention_period_is_refused(support):
    user = CustomerFactory()
    line, _code = make_line(owner=user)
    services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    cancel_line_without_submission(user, line, support)
    end_service(user, days_ago=settings.PERSONAL_DATA_RETENTION_DAYS - 1)
    phone = user.phone

    assert customer_services.user_erase_personal_data(user_id=user.pk, now=timezone.now()) is None

    user.refresh_from_db()
    assert (user.phone, user.personal_data_erased_at, user.is_active) == (phone, None, True)


def customer_in_state(state: str, support) -> User:
    """A customer (or staff member) in one of the states the purge's rule tells apart."""
    past = settings.PERSONAL_DATA_RETENTION_DAYS + 1
    if state == "staff":
        staff = make_staff("clerk")
        User.objects.filter(pk=staff.pk).update(service_ended_at=timezone.now() - timedelta(days=3000))
        return staff
    user = CustomerFactory()
    if state == "never_had_a_line":
        return user
    line, _code = make_line(owner=user)
    services.user_mark_real_name_verified(user=user, actor=None, channel="online")
    if state == "in_service":
        end_service(user, days_ago=past)  # "ended" long ago on paper, a line still in service
        return user
    cancel_line_without_submission(user, line, support)
    end_service(user, days_ago={"ended_recently": 1, "ended_within_retention": past - 2}.get(state, past))
    if state == "erased":
        customer_services.user_erase_personal_data(user_id=user.pk, now=timezone.now())
    return user


@pytest.mark.parametrize(
    ("state", "due"),
    [
        ("never_had_a_line", False),
        ("in_service", False),
        ("ended_recently", False),
        ("ended_within_retention", False),
        ("ended_past_retention", True),
        ("erased", False),
        ("staff", False),
    ],
)
def test_the_purges_list_and_its_check_under_the_lock_agree(support, state, due):
    user = customer_in_state(state, support)
    now = timezone.now()

    listed = user.pk in account_selectors.customer_ids_due_for_erasure(now=now)
    erased = customer_services.user_erase_personal_data(user_id=user.pk, now=now) is not None

    assert (listed, erased) == (due, due)
