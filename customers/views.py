"""The customer's own pages: the account centre and the notifications inbox."""

import hashlib
import logging
from functools import cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache as default_cache
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.phones import phone_display
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import LineService, SavedCard
from customers import selectors
from customers.paging import keyset_before
from reviews import selectors as review_selectors

logger = logging.getLogger(__name__)


ACCOUNT_CENTRE_TEMPLATES = (
    "customers/account_centre.html",
    "base.html",
    "includes/navbar.html",
    "includes/messages.html",
    "includes/language_switch.html",
    "includes/footer.html",
    "customers/_saved_cards.html",
)


@cache
def _account_centre_templates_digest() -> str:
    """A deploy that changes the page's templates must not serve pages the old ones made."""
    sources = [get_template(name).template.source for name in ACCOUNT_CENTRE_TEMPLATES]
    return hashlib.sha256("\0".join(sources).encode()).hexdigest()[:16]


def _account_centre_cache_key(request) -> str | None:
    """The key of this customer's page as it is now, or None when it must be rendered afresh.

    The page is the same for the same data (``selectors.account_centre_state``), person,
    language, path and CSRF secret (its forms carry a token made from the secret; a new
    sign-in rotates it). A page with a one-off message to show is never cached, nor a
    staff member's (their header's links follow their permissions).
    """
    user = request.user
    if user.is_staff or len(messages.get_messages(request)):
        return None
    if "CSRF_COOKIE" not in request.META:
        get_token(request)  # a first visit: the secret must exist before it goes into the key
    parts = [
        _account_centre_templates_digest(),
        str(user.pk),
        str(user.real_name_verified_at),
        # The email shown, and whether it is confirmed or waiting: the user's own row, read anyway.
        f"{user.email}|{user.email_verified_at}|{user.pending_email}",
        translation.get_language(),
        request.get_full_path(),
        request.META.get("CSRF_COOKIE", ""),
        selectors.account_centre_state(user=user),
    ]
    return "account-centre:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


@login_required
def account_centre(request):
    """The customer's overview: verification, balance, lines, orders, usage and messages.

    It is the page customers open most, and it reads from seven tables; it is cached per
    customer under a digest of the data it shows, which costs one query to compute.
    """
    key = _account_centre_cache_key(request)
    if key is not None:
        page = _cache_quietly(default_cache.get, key)
        if page is not None:
            return HttpResponse(page)
    response = _account_centre_render(request)
    if key is not None:
        _cache_quietly(default_cache.set, key, response.content, settings.ACCOUNT_CENTRE_CACHE_SECONDS)
    return response


def _cache_quietly(call, *args):
    """A cache that does not answer (Redis down) costs the page its shortcut, not the customer the page."""
    try:
        return call(*args)
    except Exception:
        logger.warning("Account centre cache unavailable", exc_info=True)
        return None


def _account_centre_render(request):
    user = request.user
    lines = list(account_selectors.lines_for_account_centre(user=user))
    services_by_line = billing_selectors.services_by_line(line_ids=[line.pk for line in lines])
    context = {
        "lines": [(line, services_by_line.get(line.pk)) for line in lines],
        "recent_notifications": account_selectors.recent_notifications(user=user),
        "submission": review_selectors.latest_submission(user=user),
        "balance_and_held": billing_selectors.wallet_balance_and_held(user=user),
        "orders": billing_selectors.recent_orders(user=user, limit=5),
        "usage_months": billing_selectors.usage_by_month(user=user),
        "autorenew_methods": LineService.AutoRenewMethod.choices,
        "by_card": LineService.AutoRenewMethod.WALLET_THEN_CARD,
        "saved_cards": billing_selectors.saved_cards_of(user=user),
        "cancellation_requested": selectors.lines_with_open_cancellation(user=user),
    }
    return render(request, "customers/account_centre.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def saved_card_remove(request, card_id: int):
    """GET: what removing the card stops, and a button. POST: remove it; auto-renew by card falls back to the wallet."""
    # Someone else's card answers like a missing one: ids cannot be probed.
    card = billing_selectors.saved_card_of(card_id=card_id, user=request.user)
    if card is None:
        raise Http404
    if request.method != "POST":
        others = [other for other in billing_selectors.saved_cards_of(user=request.user) if other.pk != card.pk]
        lines = [] if others else billing_selectors.lines_renewing_by_card(user=request.user)
        return render(request, "customers/saved_card_remove.html", {"card": card, "others": others, "lines": lines})
    try:
        removal = billing_services.saved_card_remove(actor=request.user, card_id=card.pk)
    except SavedCard.DoesNotExist as error:  # removed by another tab or request meanwhile
        raise Http404 from error
    messages.success(request, _("The card ending %(last4)s is removed. We no longer keep it.") % {"last4": card.last4})
    if removal.lines_to_wallet:
        numbers = ", ".join(phone_display(line.msisdn) for line in removal.lines_to_wallet)
        messages.info(
            request,
            _("Auto-renew of %(numbers)s now pays from your wallet balance only.") % {"numbers": numbers},
        )
    if removal.lines_left:
        numbers = ", ".join(phone_display(line.msisdn) for line in removal.lines_left)
        messages.warning(
            request,
            _("%(numbers)s cannot renew right now; when it can, auto-renew pays from your wallet only.")
            % {"numbers": numbers},
        )
    return redirect("customers:account_centre")


@login_required
@require_GET
def notifications(request):
    before_id = keyset_before(request)
    page, next_before = account_selectors.notifications_page(user=request.user, before_id=before_id)
    return render(request, "customers/notifications.html", {"page": page, "next_before": next_before})


@login_required
@require_POST
def notifications_mark_read(request):
    account_services.notification_mark_all_read(user=request.user)
    return redirect("customers:notifications")
