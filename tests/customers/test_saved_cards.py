"""The card Heyon keeps for auto-renew, on the account centre: shown, removed, and what removing it changes."""

import io
import json
import zipfile

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from billing import services
from billing.models import LineService, SavedCard
from tests.billing.conftest import fund, verified_customer
from tests.billing.test_saved_card_removal import method_of, save_card
from tests.factories import make_line

pytestmark = pytest.mark.django_db
BY_CARD = LineService.AutoRenewMethod.WALLET_THEN_CARD
WALLET = LineService.AutoRenewMethod.WALLET
NO_CARD_NOTE = 'data-testid="line-no-saved-card"'


def page(client) -> str:
    response = client.get("/account/")
    assert response.status_code == 200
    return response.content.decode()


def line_html(html: str, line) -> str:
    return html.split(f'data-testid="line-{line.pk}"')[1].split("</li>")[0]


def remove_url(card) -> str:
    return f"/account/cards/{card.pk}/remove/"


@pytest.fixture
def card_customer(english, plans):
    """A signed-in customer whose line renews "wallet, then my saved card" with a Visa kept."""
    user, line = verified_customer()
    card = save_card(user, line, plans, number="4242424242424242", expiry="08/29")
    services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=BY_CARD)
    english.force_login(user)
    return english, user, line, card


def test_the_account_centre_shows_the_card_kept_with_a_way_to_remove_it(card_customer):
    client, _user, line, card = card_customer

    html = page(client)

    section = html.split('data-testid="saved-cards"')[1].split("</section>")[0]
    assert "Visa •••• " in section
    assert 'data-testid="saved-card-last4">4242<' in section
    assert 'data-testid="saved-card-expiry">08/29<' in section
    assert f'href="{remove_url(card)}"' in section
    assert card.token not in html
    assert NO_CARD_NOTE not in line_html(html, line)


def test_the_confirmation_page_warns_that_auto_renew_by_card_stops_and_a_get_removes_nothing(card_customer):
    client, user, line, card = card_customer

    response = client.get(remove_url(card))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Auto-renew by card stops" in html
    assert html.count('data-testid="saved-card-remove-line"') == 1
    assert 'type="submit" data-testid="saved-card-remove-button"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert SavedCard.objects.get(user=user) == card
    assert method_of(line) == (True, BY_CARD)
    assert not AuditEvent.objects.filter(verb="saved_cards.removed").exists()


def test_removing_the_card_switches_its_lines_to_the_wallet_and_says_so(card_customer):
    client, user, line, card = card_customer

    response = client.post(remove_url(card), follow=True)

    html = response.content.decode()
    assert response.redirect_chain == [("/account/", 302)]
    assert not SavedCard.objects.filter(user=user).exists()
    assert method_of(line) == (True, WALLET)
    assert "The card ending 4242 is removed." in html
    assert "now pays from your wallet balance only." in html
    assert 'data-testid="saved-cards-none"' in html
    assert AuditEvent.objects.filter(verb="saved_cards.removed", subject_user=user, actor=user).count() == 1


def test_another_customers_card_answers_404_and_nothing_changes(card_customer, client):
    _owner_client, owner, line, card = card_customer
    stranger, _stranger_line = verified_customer()
    client.force_login(stranger)

    shown = client.get(remove_url(card))
    posted = client.post(remove_url(card))

    assert shown.status_code == posted.status_code == 404
    assert SavedCard.objects.get(user=owner) == card
    assert method_of(line) == (True, BY_CARD)
    assert not AuditEvent.objects.filter(verb="saved_cards.removed").exists()


def test_a_card_already_removed_answers_404(card_customer):
    client, _user, _line, card = card_customer
    client.post(remove_url(card))

    assert client.post(remove_url(card)).status_code == 404


def test_a_line_paying_by_card_without_a_card_says_so_next_to_it(english, plans):
    user, line = verified_customer()
    wallet_line, _code = make_line(owner=user)
    services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=BY_CARD)
    services.autorenew_set(actor=user, line_id=wallet_line.pk, enabled=True, method=WALLET)
    english.force_login(user)

    html = page(english)

    assert NO_CARD_NOTE in line_html(html, line)
    assert "No card is saved, so auto-renew pays from the wallet balance only." in line_html(html, line)
    assert NO_CARD_NOTE not in line_html(html, wallet_line)
    assert 'data-testid="saved-cards-none"' in html


def customer_with_lines_paying_by_card(count: int):
    user, first = verified_customer()
    lines = [first] + [make_line(owner=user)[0] for _ in range(count - 1)]
    fund(user, "10")
    for line in lines:
        services.autorenew_set(actor=user, line_id=line.pk, enabled=True, method=BY_CARD)
    return user


def test_the_no_card_notes_cost_no_query_per_line(client, plans):
    one, three = customer_with_lines_paying_by_card(1), customer_with_lines_paying_by_card(3)

    def rendered(user) -> tuple[int, str]:
        client.force_login(user)
        client.get("/account/")  # warm caches (content types, permissions)
        cache.clear()  # the page itself must be rendered, not served from its cache
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/account/")
        assert response.status_code == 200
        return len(captured.captured_queries), response.content.decode()

    (few, few_html), (many, many_html) = rendered(one), rendered(three)

    assert few_html.count(NO_CARD_NOTE) == 1
    assert many_html.count(NO_CARD_NOTE) == 3
    assert few == many


def test_with_the_page_cached_a_removed_card_disappears_at_once(english, plans):
    # The card only: no line pays by it, so nothing else the page shows changes with it.
    user, line = verified_customer()
    card = save_card(user, line, plans)
    english.force_login(user)
    assert 'data-testid="saved-card-last4">4242<' in page(english)
    assert 'data-testid="saved-card-last4">4242<' in page(english)  # served from the cache

    services.saved_card_remove(actor=user, card_id=card.pk)

    html = page(english)
    assert 'data-testid="saved-card-last4"' not in html
    assert 'data-testid="saved-cards-none"' in html


def test_with_the_page_cached_a_card_erased_by_a_bulk_job_disappears_at_once(english, plans):
    user, line = verified_customer()
    save_card(user, line, plans)
    english.force_login(user)
    assert 'data-testid="saved-card-last4">4242<' in page(english)

    SavedCard.objects.filter(user=user).delete()  # as the personal-data purge does, without a service of the page's

    assert 'data-testid="saved-cards-none"' in page(english)


def test_the_data_export_lists_saved_cards_without_their_token(card_customer):
    client, _user, _line, card = card_customer

    response = client.get("/account/export/")

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    text = archive.read("data.json").decode()
    [exported] = json.loads(text)["saved_cards"]
    assert {key: exported[key] for key in ("brand", "last4", "expiry")} == {
        "brand": "visa",
        "last4": "4242",
        "expiry": "08/29",
    }
    assert exported["saved_at"].endswith("+08:00")
    assert card.token not in text
    assert "token" not in exported


def test_the_card_section_and_its_confirmation_read_in_chinese_by_default(client, plans):
    user, line = verified_customer()
    card = save_card(user, line, plans)
    client.force_login(user)

    centre = page(client)
    confirmation = client.get(remove_url(card)).content.decode()

    assert "用于自动续费的已保存银行卡" in centre and "有效期至" in centre
    assert "删除这张卡" in confirmation and "银行卡自动续费将停止" in confirmation
