"""In-app messages and the outbox of SMS and email: sent after commit, retried, never lost."""

import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts import message_kinds, services, sms
from accounts.hashing import hashes_match
from accounts.models import Notification, OutboundMessage, User
from tests.accounts.conftest import STRONG_PASSWORD
from tests.accounts.sms_backends import FAILING
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
ANSWERED = message_kinds.SUPPORT_ANSWERED
HELLO = {"text": "Hello"}
HELLO_ENJOY = {"text": "Enjoy."}


def dispatch() -> str:
    out = StringIO()
    call_command("dispatch_messages", stdout=out)
    return out.getvalue().strip()


def test_notify_writes_the_inbox_message_and_queues_sms_and_email():
    user = CustomerFactory(phone=PHONE, email="li.lei@example.com")

    notification = services.notify(user=user, kind=ANSWERED, params={"text": "Enjoy."}, link="/account/")

    assert Notification.objects.get(user=user) == notification
    assert notification.link == "/account/" and notification.read_at is None
    rows = {row.channel: row for row in OutboundMessage.objects.all()}
    assert set(rows) == {"sms", "email"}
    assert rows["sms"].recipient == PHONE
    assert notification.kind == "support.answered" and notification.params == {"text": "Enjoy."}
    assert rows["sms"].body == "【Heyon】客服已回复您的留言：Enjoy."
    assert (rows["sms"].kind, rows["sms"].params, rows["sms"].language) == (
        "support.answered",
        {"text": "Enjoy."},
        "zh-hans",
    )
    assert rows["email"].recipient == "li.lei@example.com"
    assert (rows["email"].subject, rows["email"].body) == ("客服已回复您的留言", "Enjoy.")
    assert all(row.status == OutboundMessage.Status.PENDING for row in rows.values())


def test_notify_without_sms_queues_only_the_email():
    user = CustomerFactory(phone=PHONE, email="li.lei@example.com")

    services.notify(user=user, kind=ANSWERED, params={"text": "Body"}, sms_too=False)

    assert list(OutboundMessage.objects.values_list("channel", flat=True)) == ["email"]


def test_notify_many_writes_each_customers_messages_in_one_insert_per_table(django_assert_num_queries, sent):
    phone_only = CustomerFactory(phone=PHONE, email=None)
    both = CustomerFactory(phone="+8613900139000", email="han.mei@example.com")

    # Which of their numbers were given up (no SMS to those), then one INSERT per table.
    with django_assert_num_queries(3), sent() as callbacks:
        written = services.notify_many(
            [
                (phone_only, message_kinds.LINE_EXPIRED, {"number": "138 0013 8000"}, "/billing/"),
                (both, message_kinds.LINE_EXPIRED, {"number": "139 0013 9000"}, "/renew/"),
            ],
            send_now=False,
        )

    assert written == 2
    assert callbacks == []  # left for dispatch_messages
    inbox = list(Notification.objects.order_by("pk").values_list("user_id", "kind", "params", "link"))
    assert inbox == [
        (phone_only.pk, "line.expired", {"number": "138 0013 8000"}, "/billing/"),
        (both.pk, "line.expired", {"number": "139 0013 9000"}, "/renew/"),
    ]
    outbox = list(OutboundMessage.objects.order_by("pk").values_list("channel", "recipient", "subject", "body"))
    assert outbox == [
        ("sms", PHONE, "", "【Heyon】您的号码已到期：号码 138 0013 8000 已到期，续费后即可恢复使用。"),
        ("sms", "+8613900139000", "", "【Heyon】您的号码已到期：号码 139 0013 9000 已到期，续费后即可恢复使用。"),
        ("email", "han.mei@example.com", "您的号码已到期", "号码 139 0013 9000 已到期，续费后即可恢复使用。"),
    ]


def test_messages_leave_only_after_the_transaction_commits(sent, sms_outbox):
    user = CustomerFactory(phone=PHONE, email="li.lei@example.com")

    with sent() as callbacks:
        with transaction.atomic():
            services.notify(user=user, kind=ANSWERED, params={"text": "Enjoy."})
        assert sms_outbox == [] and mail.outbox == []

    assert len(callbacks) == 1  # the SMS and the email are handed on together
    assert [message["to"] for message in sms_outbox] == [PHONE]
    assert [email.to for email in mail.outbox] == [["li.lei@example.com"]]
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {OutboundMessage.Status.SENT}
    assert all(row.sent_at is not None and row.attempts == 1 for row in OutboundMessage.objects.all())


def test_nothing_is_sent_or_kept_when_the_transaction_rolls_back(sent, sms_outbox):
    user = CustomerFactory(phone=PHONE, email="li.lei@example.com")

    with sent() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.notify(user=user, kind=ANSWERED, params={"text": "Enjoy."})
            raise RuntimeError("the event failed")

    assert callbacks == []
    assert sms_outbox == [] and mail.outbox == []
    assert not OutboundMessage.objects.exists()
    assert not Notification.objects.exists()


def test_a_failing_sms_provider_leaves_the_message_pending_and_the_registration_succeeds(
    client, sent, settings, sms_outbox
):
    settings.SMS_BACKEND = FAILING

    with sent():
        response = client.post(
            "/accounts/register/",
            {"phone": "138 0013 8000", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
        )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/verify/"
    assert User.objects.filter(phone=PHONE, is_active=False).exists()
    row = OutboundMessage.objects.get(recipient=PHONE)
    assert row.status == OutboundMessage.Status.PENDING
    assert row.attempts == 1
    assert row.next_attempt_at > timezone.now()
    assert "provider unreachable" in row.last_error
    assert row.sent_at is None
    assert sms_outbox == []


def test_dispatch_sends_a_failed_message_once_after_its_backoff(sent, settings, sms_outbox, travel):
    user = CustomerFactory(phone=PHONE, email=None)
    settings.SMS_BACKEND = FAILING
    with sent():
        services.notify(user=user, kind=ANSWERED, params={"text": "Enjoy."})
    settings.SMS_BACKEND = "locmem"

    assert dispatch() == "sent=0 failed=0 gave_up=0"  # still inside its backoff
    assert sms_outbox == []

    travel(timedelta(seconds=31))
    assert dispatch() == "sent=1 failed=0 gave_up=0"
    assert dispatch() == "sent=0 failed=0 gave_up=0"

    assert len(sms_outbox) == 1
    assert sms_outbox[0]["to"] == PHONE
    row = OutboundMessage.objects.get()
    assert row.status == OutboundMessage.Status.SENT
    assert row.attempts == 2
    assert row.last_error == ""
    assert row.sent_at is not None


def test_dispatch_backs_off_exponentially_and_gives_up_after_max_attempts(settings, travel, sms_outbox):
    settings.SMS_BACKEND = FAILING
    settings.OUTBOX_MAX_ATTEMPTS = 3
    user = CustomerFactory(phone=PHONE, email=None)
    services.notify(user=user, kind=ANSWERED, params={"text": "Enjoy."})  # not committed: not sent yet

    assert dispatch() == "sent=0 failed=1 gave_up=0"
    row = OutboundMessage.objects.get()
    first_delay = row.next_attempt_at - timezone.now()
    travel(first_delay + timedelta(seconds=1))
    assert dispatch() == "sent=0 failed=1 gave_up=0"
    row.refresh_from_db()
    second_delay = row.next_attempt_at - timezone.now()
    assert second_delay > first_delay + timedelta(seconds=20)
    travel(second_delay + timedelta(seconds=1))
    assert dispatch() == "sent=0 failed=0 gave_up=1"

    row.refresh_from_db()
    assert row.status == OutboundMessage.Status.FAILED
    assert row.attempts == 3
    assert "provider unreachable" in row.last_error
    settings.SMS_BACKEND = "locmem"
    travel(timedelta(days=1))
    assert dispatch() == "sent=0 failed=0 gave_up=0"
    assert sms_outbox == []


def test_a_message_claimed_by_a_crashed_dispatcher_is_sent_after_its_lease(sms_outbox, travel):
    row = services.outbox_queue(channel=OutboundMessage.Channel.SMS, recipient=PHONE, kind=ANSWERED, params=HELLO)
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=OutboundMessage.Status.SENDING, attempts=1, claimed_until=timezone.now() + timedelta(minutes=5)
    )

    assert dispatch() == "sent=0 failed=0 gave_up=0"
    travel(timedelta(minutes=5, seconds=1))
    assert dispatch() == "sent=1 failed=0 gave_up=0"

    assert sms_outbox == [{"to": PHONE, "text": "【Heyon】客服已回复您的留言：Hello"}]


def test_dispatch_sends_no_more_than_its_limit_per_run(sms_outbox):
    for n in range(3):
        services.outbox_queue(
            channel=OutboundMessage.Channel.SMS, recipient=PHONE, kind=ANSWERED, params={"text": f"message {n}"}
        )

    call_command("dispatch_messages", "--limit", "2", stdout=StringIO())
    assert len(sms_outbox) == 2
    dispatch()

    assert sorted(message["text"][-9:] for message in sms_outbox) == ["message 0", "message 1", "message 2"]


def test_email_from_the_outbox_goes_through_django_mail():
    services.outbox_queue(
        channel=OutboundMessage.Channel.EMAIL, recipient="a@example.com", kind=ANSWERED, params={"text": "Text"}
    )

    dispatch()

    assert len(mail.outbox) == 1
    assert (mail.outbox[0].subject, mail.outbox[0].body, mail.outbox[0].to) == (
        "客服已回复您的留言",
        "Text",
        ["a@example.com"],
    )


def test_file_backend_writes_one_text_file_per_message(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    services.outbox_queue(channel=OutboundMessage.Channel.SMS, recipient=PHONE, kind=ANSWERED, params={"text": "您好"})
    services.outbox_queue(
        channel=OutboundMessage.Channel.SMS, recipient="+85261234567", kind=ANSWERED, params=HELLO, language="en"
    )

    assert dispatch() == "sent=2 failed=0 gave_up=0"

    files = sorted(Path(settings.SMS_FILE_PATH).glob("*.txt"))
    assert len(files) == 2
    contents = sorted(path.read_text(encoding="utf-8") for path in files)
    assert any(PHONE in text and "【Heyon】客服已回复您的留言：您好" in text for text in contents)
    assert any("+85261234567" in text and "[Heyon] Support answered your message: Hello" in text for text in contents)


def test_a_one_time_code_is_masked_in_the_outbox_and_blanked_once_sent(sent, sms_outbox):
    user = CustomerFactory()
    with sent():
        record = services.one_time_code_issue(user=user, purpose="login", channel="sms", ip="10.0.0.1")
    text = sms_outbox[-1]["text"]
    code = re.search(r"\d{6}", text).group()
    row = OutboundMessage.objects.get(recipient=user.phone.as_e164)
    assert row.status == OutboundMessage.Status.SENT
    assert row.pending_code == ""
    assert code not in row.body and OutboundMessage.CODE_MASK in row.body
    assert row.body.replace(OutboundMessage.CODE_MASK, code) == text
    assert hashes_match(record.code_hash, f"otp:{user.pk}:login", code)


def test_a_one_time_code_waiting_for_a_failing_provider_is_masked_and_sent_whole_later(
    sent, sms_outbox, settings, monkeypatch
):
    user = CustomerFactory()

    def refuse(self, recipient, text):
        raise sms.SmsSendError(f"provider refused {text!r}")

    monkeypatch.setattr(sms.LocmemBackend, "send", refuse)
    with sent():
        services.one_time_code_issue(user=user, purpose="login", channel="sms", ip="10.0.0.1")
    row = OutboundMessage.objects.get(recipient=user.phone.as_e164)
    assert row.status == OutboundMessage.Status.PENDING
    assert len(row.pending_code) == 6
    assert row.pending_code not in row.body and row.pending_code not in row.last_error
    assert OutboundMessage.CODE_MASK in row.last_error

    monkeypatch.undo()
    OutboundMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    services.outbox_dispatch_due()

    assert re.search(r"\d{6}", sms_outbox[-1]["text"]).group() == row.pending_code
    row.refresh_from_db()
    assert (row.status, row.pending_code) == (OutboundMessage.Status.SENT, "")


def test_a_one_time_code_is_blanked_when_the_outbox_gives_up(sent, settings, monkeypatch):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    user = CustomerFactory()
    monkeypatch.setattr(sms.LocmemBackend, "send", lambda self, recipient, text: 1 / 0)
    with sent():
        services.one_time_code_issue(user=user, purpose="login", channel="sms", ip="10.0.0.1")
    row = OutboundMessage.objects.get(recipient=user.phone.as_e164)
    assert (row.status, row.pending_code) == (OutboundMessage.Status.FAILED, "")


def test_an_ordinary_message_keeps_its_text_after_sending(sent):
    user = CustomerFactory()
    with sent():
        services.notify(user=user, kind=ANSWERED, params={"text": "Your line is active"}, email_too=False)
    assert OutboundMessage.objects.get(channel="sms").body.endswith("Your line is active")
