"""Fault injection: each outage ends in a clear page or a retry, and nothing is lost or doubled.

What the app tests already prove is not repeated here (an SMS provider failing
in-process: tests/accounts/test_messages.py; a card that times out or a provider never
reached: tests/billing/test_payments.py; a submission failing after its photos were
written: tests/reviews/test_services.py). These add the outages around them: the
broker down when a message is handed over, a provider refusing one recipient in a
batch, a provider that charged and then timed out (online and in auto-renew), the photo
storage refusing any one of its writes, and the database connection dropping in the
middle of a request (an error at the driver on both databases; on PostgreSQL also the
server really killing the session).
"""

import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import InterfaceError, OperationalError, connection, connections
from django.test import Client
from django.utils import timezone, translation

from accounts import services as account_services
from accounts import sms
from accounts.models import AuditEvent, Line, Notification, OutboundMessage, User
from billing import services as billing_services
from billing import tasks as billing_tasks
from billing.gateways.sandbox import SandboxGateway
from billing.models import LedgerEntry, Order, Payment, Plan, Receipt, SandboxCharge, SavedCard
from billing.services.errors import ERR_PROVIDER_TIMEOUT
from reviews.models import DraftPhoto, Submission, SubmissionPhoto, private_storage
from reviews.services import ERR_PHOTO_STORAGE
from tests.billing.conftest import fund, ledger_problems, renewal_order, verified_customer, wallet_balance
from tests.conftest import last_code_sent_to
from tests.factories import CustomerFactory
from tests.reliability.conftest import celery_configured
from tests.reviews import payloads
from tests.reviews.conftest import private_files, unique_id_number

PHONE = "+8613800138000"
PASSWORD = "a-long-secret-42"
SUBMIT_URL = "/verification/submit/"
NO_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the connection is refused at once


def dispatch() -> str:
    out = StringIO()
    call_command("dispatch_messages", stdout=out)
    return out.getvalue().strip()


def shows(response, message) -> bool:
    with translation.override("en"):
        return str(message) in response.content.decode()


def in_chinese(message: str) -> str:
    with translation.override("zh-hans"):
        translated = translation.gettext(message)
    assert translated != message, f"no Chinese translation of {message!r}"
    return translated


@pytest.fixture
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- messages: the broker or the SMS provider down ---------------------------------------


@pytest.mark.django_db
def test_with_the_broker_down_a_registration_succeeds_and_its_code_is_sent_once_by_the_dispatcher(
    client, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_SEND_VIA_QUEUE = True
    form = {"phone": "138 0013 8000", "password1": PASSWORD, "password2": PASSWORD}

    with celery_configured(broker_url=NO_BROKER), django_capture_on_commit_callbacks(execute=True) as handed_over:
        started = time.monotonic()
        response = client.post("/accounts/register/", form)
        took = time.monotonic() - started

    assert len(handed_over) == 1  # the hand-over to the worker was attempted after the commit, and failed
    assert response.status_code == 302 and response["Location"] == "/accounts/verify/"
    assert took < 5, f"a broker outage held the customer's request for {took:.1f}s"
    row = OutboundMessage.objects.get(recipient=PHONE)
    assert (row.status, row.attempts) == (OutboundMessage.Status.PENDING, 0)
    assert sms.outbox == []

    assert dispatch() == "sent=1 failed=0 gave_up=0"
    assert dispatch() == "sent=0 failed=0 gave_up=0"
    assert len(sms.outbox) == 1
    assert client.post("/accounts/verify/", {"code": last_code_sent_to(PHONE)}).status_code == 302
    assert User.objects.get(phone=PHONE).is_active


class RefusesOneNumber(sms.BaseBackend):
    """A provider that refuses one recipient (a blocked number) and delivers the rest."""

    refused = PHONE

    def send(self, recipient, text):
        if recipient == self.refused:
            raise sms.SmsSendError("recipient blocked by the carrier")
        sms.outbox.append({"to": recipient, "text": text})


@pytest.mark.django_db
def test_one_refused_recipient_in_a_batch_is_retried_alone_and_everyone_gets_one_message(settings, monkeypatch):
    settings.SMS_BACKEND = f"{__name__}.RefusesOneNumber"
    customers = [CustomerFactory(phone=PHONE, email=None)] + [CustomerFactory(email=None) for _ in range(4)]
    account_services.notify_many(
        [(c, "support.answered", {"text": "提醒"}, "/account/") for c in customers], send_now=False
    )

    assert dispatch() == "sent=4 failed=1 gave_up=0"
    assert PHONE not in [message["to"] for message in sms.outbox]

    settings.SMS_BACKEND = "locmem"  # the carrier unblocks the number
    later = timezone.now() + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert dispatch() == "sent=1 failed=0 gave_up=0"
    assert dispatch() == "sent=0 failed=0 gave_up=0"

    assert sorted(message["to"] for message in sms.outbox) == sorted(c.phone.as_e164 for c in customers)
    assert OutboundMessage.objects.get(recipient=PHONE).attempts == 2


# --- payments: the provider charged, then the call timed out -----------------------------


def charged_then_timed_out(self, *, out_trade_no, amount, **kwargs):
    """The provider takes the money, but its answer never arrives."""
    self._record(out_trade_no, amount, "succeeded")
    raise TimeoutError("read timed out")


@pytest.mark.django_db
def test_a_card_payment_that_timed_out_after_charging_shows_a_clear_message_and_is_never_charged_twice(
    english, monkeypatch
):
    user, line = verified_customer()
    fund(user, "100")
    old_end = line.validity_end
    english.force_login(user)
    order = renewal_order(user, line, Plan.objects.get(code="basic", is_current=True))
    card_form = {"method": "card", "card_number": "4242 4242 4242 4242", "card_expiry": "12/30", "card_cvc": "123"}
    real_create = SandboxGateway.create
    monkeypatch.setattr(SandboxGateway, "create", charged_then_timed_out)

    page = english.post(f"/billing/orders/{order.number}/pay/", card_form, follow=True)

    assert shows(page, ERR_PROVIDER_TIMEOUT)
    assert page.context["in_flight"] is True  # "being confirmed, reload before paying again"
    payment = Payment.objects.get(order=order)
    assert payment.status == Payment.Status.UNKNOWN
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN

    # The customer presses "pay" again (the provider answers again): the lost answer is
    # asked for first, and the first charge pays the order.
    monkeypatch.setattr(SandboxGateway, "create", real_create)
    retry = english.post(f"/billing/orders/{order.number}/pay/", card_form, follow=True)

    assert retry.status_code == 200
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert list(Payment.objects.filter(order=order).values_list("status", flat=True)) == ["succeeded"]
    assert SandboxCharge.objects.filter(status="succeeded").count() == 1
    assert Receipt.objects.filter(order=order).count() == 1
    assert wallet_balance(user) == Decimal("100.00")
    line.refresh_from_db()
    assert line.validity_end > old_end
    assert ledger_problems() == []


@pytest.mark.django_db
def test_an_auto_renew_card_charge_that_timed_out_is_settled_by_the_next_run_and_renews_once(monkeypatch):
    user, line = verified_customer()
    billing_services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet_then_card")
    SavedCard.objects.create(user=user, token="tok_reliability", last4="4242")
    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=2))
    old_end = Line.objects.get(pk=line.pk).validity_end
    real_charge = SandboxGateway.charge_saved_card
    monkeypatch.setattr(SandboxGateway, "charge_saved_card", charged_then_timed_out)

    first = billing_tasks.run_autorenew()

    assert (first["failed"], first["card_renewed"]) == (1, 0)
    assert Payment.objects.get().status == Payment.Status.UNKNOWN
    assert Line.objects.get(pk=line.pk).validity_end == old_end

    monkeypatch.setattr(SandboxGateway, "charge_saved_card", real_charge)
    second = billing_tasks.run_autorenew()  # an hour later: settle first, then renew what is due

    assert second["settled_unknown_payments"] == 1
    assert second["card_renewed"] == 0  # the settled charge renewed the line; no new charge
    order = Order.objects.get(line=line, channel=Order.Channel.AUTO)
    assert order.status == Order.Status.PAID
    assert SandboxCharge.objects.count() == 1
    assert Line.objects.get(pk=line.pk).validity_end > old_end

    third = billing_tasks.run_autorenew()
    assert (third["settled_unknown_payments"], third["card_renewed"], third["renewed"]) == (0, 0, 0)
    assert Payment.objects.count() == 1 and SandboxCharge.objects.count() == 1


# --- storage: the photo store refuses a write ---------------------------------------------


def photo_form(customer) -> dict:
    def upload(seed, name):
        return SimpleUploadedFile(name, payloads.small_jpeg(seed=seed), content_type="image/jpeg")

    return {
        "full_name": "王小明",
        "id_number": unique_id_number(),
        "contact_phone": customer.phone.as_e164,
        "id_front": upload(31, "front.jpg"),
        "id_back": upload(32, "back.jpg"),
        "id_handheld": upload(33, "me.jpg"),
    }


def kept_files(customer) -> set[str]:
    """The files of the photos the customer's form keeps (drafts), named by their rows."""
    return {
        name for draft in DraftPhoto.objects.filter(user=customer) for name in (draft.image.name, draft.thumbnail.name)
    }


def submitted_files(submission) -> set[str]:
    return {name for photo in submission.photos.all() for name in (photo.image.name, photo.thumbnail.name)}


# The form writes six files as it keeps the photos: each photo, then its thumbnail.
WRITES = ["front", "front-thumbnail", "back", "back-thumbnail", "handheld", "handheld-thumbnail"]
KINDS = ["id_front", "id_back", "id_handheld"]


@pytest.mark.parametrize("refused", range(len(WRITES)), ids=WRITES)
@pytest.mark.django_db
def test_a_refused_photo_write_shows_a_clear_error_submits_nothing_and_the_retry_submits_once(
    english, monkeypatch, refused, django_capture_on_commit_callbacks
):
    """The refused photo leaves no file; the photos kept before it stay kept (drafts) for the retry.

    The submission itself leaves nothing: no row, no photo row, no audit event, and no
    file that a kept photo's row does not name.
    """
    customer = CustomerFactory()
    english.force_login(customer)
    storage = private_storage()
    before = private_files()
    real_save = FileSystemStorage._save
    writes = []

    def full_disk(name, content):
        writes.append(name)
        if len(writes) == refused + 1:
            raise OSError(28, "No space left on device")
        return real_save(storage, name, content)

    monkeypatch.setattr(storage, "_save", full_disk)
    response = english.post(SUBMIT_URL, photo_form(customer))

    assert response.status_code == 503
    assert shows(response, ERR_PHOTO_STORAGE)
    assert 'name="full_name" value="王小明"' in response.content.decode()  # typed fields are kept
    assert not Submission.objects.filter(user=customer).exists()
    assert not SubmissionPhoto.objects.exists()
    assert not AuditEvent.objects.filter(subject_user=customer).exists()
    # The photos whose two files were written before the refusal are kept; the refused one's
    # first file (if written) was deleted: every file left is named by a kept photo's row.
    assert sorted(DraftPhoto.objects.filter(user=customer).values_list("kind", flat=True)) == sorted(
        KINDS[: refused // 2]
    )
    assert private_files() - before == kept_files(customer)
    assert len(kept_files(customer)) == 2 * (refused // 2)

    monkeypatch.setattr(storage, "_save", lambda name, content: real_save(storage, name, content))
    with django_capture_on_commit_callbacks(execute=True):  # the replaced kept photos are deleted after the commit
        retry = english.post(SUBMIT_URL, photo_form(customer))

    assert retry.status_code == 302
    submission = Submission.objects.get(user=customer)
    assert submission.photos.count() == 3
    assert not DraftPhoto.objects.filter(user=customer).exists()  # the submission took them over
    assert private_files() - before == submitted_files(submission)
    assert len(submitted_files(submission)) == 6


# --- the database connection drops in the middle of a request ------------------------------


class DroppedConnection:
    """An execute wrapper: the connection is lost at the first statement matching ``at``.

    Every statement after that fails too, as on a real dropped connection; the
    transaction is rolled back by the driver (not a statement), as the server does.
    """

    def __init__(self, at: str, error=None):
        self.at = at
        self.error = error or OperationalError("server closed the connection unexpectedly")
        self.dropped = False
        self.written_before: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        if not self.dropped and self.at in sql:
            self.dropped = True
        if self.dropped:
            raise self.error
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            self.written_before.append(sql.split(" (")[0][:80])
        return execute(sql, params, many, context)


def unraised_client(user=None) -> Client:
    """A browser: it receives the error page instead of the test seeing the exception."""
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


# Real transactions (not a test's savepoint), so the rollback is the database's own.
db_drop = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@db_drop
def test_a_connection_lost_halfway_through_a_wallet_payment_shows_a_retry_page_and_takes_no_money():
    user, line = verified_customer()
    fund(user, "100")
    old_end = line.validity_end
    order = renewal_order(user, line, Plan.objects.get(code="basic", is_current=True))
    client = unraised_client(user)
    drop = DroppedConnection(at='INSERT INTO "accounts_notification"')  # the payment's last write

    with connection.execute_wrapper(drop):
        response = client.post(f"/billing/orders/{order.number}/pay/", {"method": "wallet"})

    assert drop.dropped
    assert any("billing_ledgerentry" in sql for sql in drop.written_before)  # the charge was under way
    assert response.status_code == 503
    assert response["Retry-After"]
    assert in_chinese("The service is briefly unavailable") in response.content.decode()  # the default language
    # Nothing of the payment is left: no charge, no payment, no receipt, the line as it was.
    assert wallet_balance(user) == Decimal("100.00")
    assert not LedgerEntry.objects.filter(kind="charge").exists()
    assert not Payment.objects.exists() and not Receipt.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert Line.objects.get(pk=line.pk).validity_end == old_end

    retry = client.post(f"/billing/orders/{order.number}/pay/", {"method": "wallet"})

    assert retry.status_code == 302
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    assert wallet_balance(user) == Decimal("70.00")
    assert Receipt.objects.filter(order=order).count() == 1
    assert Notification.objects.filter(user=user, link=f"/billing/orders/{order.number}/").count() == 1
    assert ledger_problems() == []


class TerminatedBackend:
    """An execute wrapper that has PostgreSQL itself kill this connection at the statement matching ``at``.

    Another session calls ``pg_terminate_backend`` on ours, as a failover or a restart
    would; the statement then meets a closed connection and the server has aborted the
    open transaction. No exception is faked.
    """

    def __init__(self, at: str):
        self.at = at
        self.terminated = False

    def __call__(self, execute, sql, params, many, context):
        if not self.terminated and self.at in sql:
            self.terminated = True
            pid = context["connection"].connection.info.backend_pid
            other = connections.create_connection("default")
            try:
                with other.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            finally:
                other.close()
        return execute(sql, params, many, context)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_terminate_backend is PostgreSQL's")
@db_drop
def test_a_postgresql_backend_killed_halfway_through_a_wallet_payment_rolls_it_back_and_shows_the_retry_page():
    user, line = verified_customer()
    fund(user, "100")
    order = renewal_order(user, line, Plan.objects.get(code="basic", is_current=True))
    client = unraised_client(user)
    kill = TerminatedBackend(at='INSERT INTO "accounts_notification"')

    with connection.execute_wrapper(kill):
        response = client.post(f"/billing/orders/{order.number}/pay/", {"method": "wallet"})

    assert kill.terminated
    assert response.status_code == 503
    # A new connection sees what the server kept: nothing of the payment.
    assert wallet_balance(user) == Decimal("100.00")
    assert not LedgerEntry.objects.filter(kind="charge").exists()
    assert not Payment.objects.exists() and not Receipt.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN

    assert client.post(f"/billing/orders/{order.number}/pay/", {"method": "wallet"}).status_code == 302
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    assert wallet_balance(user) == Decimal("70.00")
    assert ledger_problems() == []


@db_drop
def test_a_connection_lost_while_a_submission_is_saved_leaves_no_row_and_no_file_but_the_kept_photos():
    """The photos were kept (committed drafts) before the submission's transaction, which leaves nothing.

    The kept photos are what lets the customer send the form again without choosing them again.
    """
    customer = CustomerFactory()
    client = unraised_client(customer)
    client.cookies["django_language"] = "en"
    before = private_files()
    drop = DroppedConnection(at='INSERT INTO "reviews_submissionphoto"')

    with connection.execute_wrapper(drop):
        response = client.post(SUBMIT_URL, photo_form(customer))

    assert drop.dropped
    assert response.status_code == 503
    assert "briefly unavailable" in response.content.decode()
    assert not Submission.objects.exists() and not SubmissionPhoto.objects.exists()
    kept = kept_files(customer)
    assert len(kept) == 6 and private_files() - before == kept  # no file of the submission's own

    # The retry sends the typed fields only: the submission takes the kept photos over as they are.
    typed = {name: value for name, value in photo_form(customer).items() if name not in KINDS}
    assert client.post(SUBMIT_URL, typed).status_code == 302
    submission = Submission.objects.get(user=customer)
    assert submission.photos.count() == 3
    assert submitted_files(submission) == kept
    assert not DraftPhoto.objects.filter(user=customer).exists()
    assert private_files() - before == kept


@db_drop
def test_a_closed_connection_on_a_page_view_shows_the_retry_page():
    customer = CustomerFactory()
    client = unraised_client(customer)
    drop = DroppedConnection(at='FROM "accounts_notification"', error=InterfaceError("connection already closed"))

    with connection.execute_wrapper(drop):
        response = client.get("/notifications/")

    assert drop.dropped
    assert response.status_code == 503
    assert "Retry-After" in response


@pytest.mark.django_db
def test_an_unexpected_error_shows_the_friendly_500_page_in_the_customers_language(monkeypatch):
    from accounts import views

    def broken(request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.selectors, "service_points_for_finder", lambda **kwargs: broken(None))
    client = unraised_client()

    chinese = client.get("/service-points/")
    client.cookies["django_language"] = "en"
    english = client.get("/service-points/")

    assert chinese.status_code == english.status_code == 500
    assert "Something went wrong on our side" in english.content.decode()
    assert "Nothing was changed" in english.content.decode()
    assert in_chinese("Something went wrong on our side") in chinese.content.decode()
