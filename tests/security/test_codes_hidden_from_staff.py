"""A one-time code is never shown to staff, whether its message was sent, is waiting for a failing
provider, or was given up on: not in any admin changelist, change page, search or CSV export, not
through a changelist filter on any text field, and not on the staff pages (customer, audit, support).

The sweep walks every model registered in admin, so a new admin over a table that holds a code
fails here.
"""

import secrets
import types

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.db import models
from django.urls import reverse

from accounts import outbox, services, sms
from accounts.models import OneTimeCode, OutboundMessage
from accounts.services import codes
from tests.factories import CustomerFactory, make_staff

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
CUSTOMER_PHONE = "+8613800138000"
CUSTOMER_EMAIL = "li.lei@example.com"
NEWCOMER_PHONE = "+8613900139000"


@pytest.fixture
def issued(monkeypatch, settings, sent):
    """Issue a customer every kind of code, by SMS and email, and return the codes.

    ``mode`` is how the provider behaves: "sent", "failing" (the message waits for a retry) or
    "gave_up" (the outbox stopped trying).
    """

    def issue(mode: str) -> list[str]:
        settings.HEYON_REQUIRE_STAFF_2FA = False
        settings.OTP_RESEND_INTERVAL_SECONDS = 0
        # Codes no other number on the pages could be mistaken for.
        issued_codes = ["314159", "271828", "161803", "141421"]
        draws = iter(int(code) for code in issued_codes)
        monkeypatch.setattr(
            codes, "secrets", types.SimpleNamespace(randbelow=lambda _n: next(draws), token_hex=secrets.token_hex)
        )
        if mode != "sent":
            settings.OUTBOX_MAX_ATTEMPTS = 1 if mode == "gave_up" else 8

            def refuse(*args, **kwargs):
                raise sms.SmsSendError(f"provider down, refused {args!r}")

            monkeypatch.setattr(sms.LocmemBackend, "send", refuse)
            monkeypatch.setattr(outbox, "send_mail", refuse)
        customer = CustomerFactory(phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)
        with sent():
            services.login_code_request(phone=CUSTOMER_PHONE, ip="198.51.100.7")
            services.password_reset_request(identifier=CUSTOMER_PHONE, ip="198.51.100.7")
            services.password_reset_request(identifier=CUSTOMER_EMAIL, ip="198.51.100.7")
            services.customer_register(phone=NEWCOMER_PHONE, email=None, password="a-long-secret-42", ip=None)
        expected = {
            "sent": OutboundMessage.Status.SENT,
            "failing": OutboundMessage.Status.PENDING,
            "gave_up": OutboundMessage.Status.FAILED,
        }[mode]
        assert set(OutboundMessage.objects.values_list("status", flat=True)) == {expected}
        assert next(draws, None) is None, "every code was issued"
        assert OneTimeCode.objects.filter(user=customer).count() == 3
        if mode == "sent":
            # The messages themselves did carry the codes.
            texts = [message["text"] for message in sms.outbox] + [message.body for message in mail.outbox]
            assert all(any(code in text for text in texts) for code in issued_codes)
        return issued_codes

    return issue


def _admin_pages(client, model, model_admin):
    """Yield (what, text) for the changelist, every row's change page and the CSV export of every row."""
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    response = client.get(changelist)
    assert response.status_code == 200, changelist
    yield changelist, response.content.decode()
    pks = list(model._default_manager.order_by("-pk").values_list("pk", flat=True)[:30])
    for pk in pks:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
        response = client.get(url)
        assert response.status_code == 200, url
        yield url, response.content.decode()
    if pks and "export_as_csv" in model_admin.get_actions(response.wsgi_request):
        response = client.post(changelist, {"action": "export_as_csv", ACTION_CHECKBOX_NAME: pks})
        assert response.status_code == 200
        yield f"{changelist} CSV", b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("mode", ["sent", "failing", "gave_up"])
def test_no_admin_page_or_export_shows_a_one_time_code(client, issued, mode):
    issued_codes = issued(mode)
    client.force_login(make_staff("admin"))

    for model, model_admin in REGISTERED:
        for where, text in _admin_pages(client, model, model_admin):
            for code in issued_codes:
                assert code not in text, f"{mode}: code shown at {where}"


@pytest.mark.parametrize("mode", ["failing"])
def test_no_admin_search_or_filter_finds_a_row_by_its_one_time_code(client, issued, mode):
    """A changelist that narrows to the rows containing a code, or a digit of it, reveals the code."""
    issued_codes = issued(mode)
    client.force_login(make_staff("admin"))

    for model, model_admin in REGISTERED:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        text_fields = [
            field.name
            for field in opts.concrete_fields
            if isinstance(field, (models.CharField, models.TextField)) and not field.choices
        ]
        for code in issued_codes:
            queries = [{"q": code}] if model_admin.search_fields else []
            queries += [{f"{name}__contains": code} for name in text_fields]
            for query in queries:
                response = client.get(changelist, query)
                if response.status_code != 200 or "cl" not in response.context:
                    continue  # a lookup admin refuses
                assert response.context["cl"].result_count == 0, f"{mode}: {changelist}?{query} finds the code"


def test_the_outbox_admin_refuses_a_filter_on_the_code_it_holds(client, issued):
    issued("failing")
    client.force_login(make_staff("admin"))
    changelist = reverse("admin:accounts_outboundmessage_changelist")

    for query in ({"pending_code__startswith": "0"}, {"pending_code__gt": ""}, {"pending_code": ""}):
        response = client.get(changelist, query)
        assert response.status_code == 400 or "cl" not in (response.context or {}), query


@pytest.mark.parametrize("mode", ["sent", "failing"])
@pytest.mark.parametrize("role", ["support", "senior_reviewer", "admin"])
def test_no_staff_page_shows_a_one_time_code(client, issued, mode, role):
    issued_codes = issued(mode)
    customer = CustomerFactory._meta.model.objects.get(phone=CUSTOMER_PHONE)
    client.force_login(make_staff(role))
    urls = [
        "/staff/",
        f"/staff/customers/?q={CUSTOMER_PHONE}",
        f"/staff/customers/{customer.pk}/",
        "/staff/audit/",
        f"/staff/audit/?customer={customer.pk}",
        "/staff/support/",
    ]

    for url in urls:
        response = client.get(url, follow=True)
        if response.status_code == 403:
            continue  # not this role's page
        assert response.status_code == 200, url
        for code in issued_codes:
            assert code not in response.content.decode(), f"{mode}: code shown at {url} to {role}"
