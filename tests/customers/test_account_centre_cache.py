"""The account centre is cached per customer under a digest of what it shows.

Every test here changes something the page shows, the way the product changes it (a
service, a batch job, or a bare UPDATE as a bulk job would), and checks that the very
next view shows it: nothing has to remember to invalidate the cache.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Line
from billing import services
from billing.models import LineService, Order
from reviews.models import Submission
from tests.billing.conftest import approved_identity, fund, renewal_order, verified_customer
from tests.factories import CustomerFactory, make_line

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-1"


def served_customer(plans):
    """A verified customer, ¥15 in the wallet, one line renewed once (Standard), auto-renew on."""
    user, line = verified_customer()
    fund(user, "75")
    order = renewal_order(user, line, plans["standard"])
    services.order_pay(order_id=order.pk, method="wallet", actor=user)
    services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method="wallet")
    return user, line


def page(client) -> str:
    response = client.get("/account/")
    assert response.status_code == 200
    return response.content.decode()


def line_html(html: str, line) -> str:
    return html.split(f'data-testid="line-{line.pk}"')[1].split("</li>")[0]


def test_the_second_view_is_the_cached_page_for_three_queries(english, plans):
    user, _line = served_customer(plans)
    english.force_login(user)
    first = page(english)

    with CaptureQueriesContext(connection) as queries:
        second = page(english)

    # The session, the user, and the one query over what the page shows.
    assert len(queries) == 3, [query["sql"] for query in queries]
    assert second == first


def test_a_top_up_shows_the_new_balance_at_once(english, plans):
    user, _line = served_customer(plans)
    english.force_login(user)
    assert 'data-testid="wallet-balance">¥15.00<' in page(english)

    fund(user, "5")

    assert 'data-testid="wallet-balance">¥20.00<' in page(english)


def test_a_renewal_shows_the_new_validity_end_order_and_receipt(english, plans):
    user, line = served_customer(plans)
    english.force_login(user)
    before = page(english)
    order = renewal_order(user, line, plans["basic"])
    shown_open = page(english)
    assert f"/billing/orders/{order.number}/" in shown_open
    assert f"/billing/orders/{order.number}/" not in before

    fund(user, "30")
    services.order_pay(order_id=order.pk, method="wallet", actor=user)

    line.refresh_from_db()
    order.refresh_from_db()
    after = page(english)
    assert f'data-testid="validity-end">{timezone.localtime(line.validity_end):%Y-%m-%d}<' in after
    assert order.receipt.number in after
    assert 'data-testid="wallet-balance">¥15.00<' in after
    assert after != shown_open


def test_imported_usage_shows_in_the_allowances_and_the_month_table(english, plans):
    user, line = served_customer(plans)
    english.force_login(user)
    minutes_before = LineService.objects.get(line=line).voice_left_minutes
    assert f"Minutes left {minutes_before}" in line_html(page(english), line)

    services.usage_import(
        file_name="cache.csv",
        content=(
            "msisdn,time,type,quantity,record_id\n"
            f"{line.msisdn.as_e164},{timezone.localtime():%Y-%m-%dT%H:%M:%S%z},voice,7,c1\n"
        ).encode(),
    )

    html = page(english)
    assert f"Minutes left {minutes_before - 7}" in line_html(html, line)
    usage_rows = html.split('data-testid="usage"')[1].split("</table>")[0]
    assert f"<td>{timezone.localtime():%Y-%m}</td><td>0</td><td>7</td>" in usage_rows


def test_switching_auto_renew_off_shows_it_off(english, plans):
    user, line = served_customer(plans)
    english.force_login(user)
    assert f'id="ar-{line.pk}" checked' in page(english)

    services.autorenew_set(actor=user, line_id=line.pk, enabled=False, method="wallet")

    assert f'id="ar-{line.pk}" checked' not in page(english)


def test_a_new_message_and_reading_it_show_at_once(english, plans):
    user, _line = served_customer(plans)
    english.force_login(user)
    before = page(english)
    assert "Support answered your message" not in before

    account_services.notify(
        user=user, kind="support.answered", params={"text": "Cache test notice"}, sms_too=False, email_too=False
    )
    unread = page(english)
    assert "Support answered your message" in unread
    assert "notification-unread" in unread

    account_services.notification_mark_all_read(user=user)

    read = page(english)
    assert "Support answered your message" in read
    assert "notification-unread" not in read
    assert 'data-testid="unread-count"' not in read


def test_a_bulk_update_without_signals_still_shows(english, plans):
    """Batch jobs write with UPDATE … FROM VALUES and queryset updates: no save(), no signals."""
    user, line = served_customer(plans)
    english.force_login(user)
    page(english)

    Line.objects.filter(pk=line.pk).update(validity_end=timezone.now() + timedelta(days=400))
    Order.objects.filter(user=user).update(status=Order.Status.EXPIRED)

    html = page(english)
    assert f'data-testid="validity-end">{timezone.localtime() + timedelta(days=400):%Y-%m-%d}<' in html
    assert "¥60.00 · Expired" in html


def test_a_new_line_shows_at_once(english, plans):
    user, _line = served_customer(plans)
    english.force_login(user)
    page(english)

    added, _code = make_line(owner=user)

    assert f'data-testid="line-{added.pk}"' in page(english)


def test_the_verification_state_shows_at_once():
    user = CustomerFactory()
    client = Client()
    client.cookies["django_language"] = "en"
    client.force_login(user)
    assert "Not verified yet" in page(client)

    submission = approved_identity(user)
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.REJECTED)
    assert "Not approved" in page(client)

    account_services.user_mark_real_name_verified(user=user, actor=None, channel="online")

    assert "Not approved" not in page(client)
    assert 'data-channel="online"' in page(client)


def test_the_page_follows_the_chosen_language(client, plans):
    user, _line = served_customer(plans)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    assert "My account" in page(client)

    client.cookies["django_language"] = "zh-hans"

    assert "我的账号" in page(client)


def test_a_one_off_message_shows_once_and_is_never_cached(english, plans):
    user, line = served_customer(plans)
    english.force_login(user)
    page(english)

    response = english.post(
        f"/billing/lines/{line.pk}/auto-renew/", {"method": "wallet", "term_months": 1}, follow=True
    )

    assert "Auto-renew is off." in response.content.decode()
    assert "Auto-renew is off." not in page(english)


def test_a_staff_members_page_is_never_cached(client):
    """Their header's links follow their permissions, which the digest does not cover."""
    from tests.factories import make_staff

    client.force_login(make_staff("reviewer"))
    page(client)

    with CaptureQueriesContext(connection) as queries:
        page(client)

    assert len(queries) > 3
    assert not any("'line', CAST" in query["sql"] for query in queries)


def test_customers_never_get_each_others_page(plans):
    first, first_line = served_customer(plans)
    second, second_line = served_customer(plans)
    clients = {}
    for user in (first, second):
        clients[user] = Client()
        clients[user].force_login(user)
        page(clients[user])

    first_html, second_html = page(clients[first]), page(clients[second])

    assert first_line.msisdn.as_national in first_html and first_line.msisdn.as_national not in second_html
    assert second_line.msisdn.as_national in second_html and second_line.msisdn.as_national not in first_html


def test_after_signing_in_again_the_cached_page_forms_carry_a_valid_token(plans):
    """Signing in rotates the CSRF secret: the page must not come back with the old one's tokens."""
    user, line = served_customer(plans)
    user.set_password(PASSWORD)
    user.save()
    client = Client(enforce_csrf_checks=True)
    client.cookies["django_language"] = "en"

    for _visit in range(2):
        client.get("/accounts/login/")
        token = client.cookies["csrftoken"].value
        response = client.post(
            "/accounts/login/",
            {"username": user.phone.as_e164, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302
        html = page(client)
        form_token = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[0]
        response = client.post(
            f"/billing/lines/{line.pk}/auto-renew/",
            {"enabled": "1", "method": "wallet", "term_months": 1, "csrfmiddlewaretoken": form_token},
        )
        assert response.status_code == 302, "the page's token was refused"
        client.post("/accounts/logout/", {"csrfmiddlewaretoken": form_token})

    assert LineService.objects.get(line=line).auto_renew
