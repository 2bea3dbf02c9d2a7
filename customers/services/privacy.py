"""Erasure of personal data after the retention period, keeping what billing law needs."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts import services as account_services
from billing import services as billing_services
from customers.models import CancellationRequest, SupportMessage
from reviews import services as review_services


def user_erase_personal_data(*, user_id: int, now: datetime) -> dict | None:
    """Erase one customer's personal data. None when another worker holds them, or they are not due at ``now``.

    Due is the purge's one rule (``accounts.selectors.customer_ids_due_for_erasure``),
    checked again under the customer's lock: erased already, in service again, or service
    ended less than PERSONAL_DATA_RETENTION_DAYS ago all leave them untouched.

    Kept: the account row (anonymous), lines, orders, payments, receipts, ledger and usage
    (amounts, dates, numbers), the verification decisions and support threads without
    their content. Saved cards go, and the card digits and payer details billing kept
    (``billing_erase_personal_data``).
    """
    with transaction.atomic():
        user = account_selectors.customer_locked_for_erasure(user_id=user_id, now=now)
        if user is None:
            return None
        report = review_services.submissions_erase_personal_data(user_id=user.pk)
        report.update(billing_services.billing_erase_personal_data(user_id=user.pk))
        CancellationRequest.objects.filter(user=user).update(
            full_name="", phone="", reason_detail="", third_party_bindings=[], decision_note=""
        )
        # What the customer and support wrote to each other: the thread stays (dates, topic), its text goes.
        SupportMessage.objects.filter(thread__customer=user).update(body="")
        return account_services.customer_erase_personal_data(user=user, now=now, report=report)


def personal_data_purge(*, now: datetime | None = None) -> dict:
    """Erase every customer whose service ended more than PERSONAL_DATA_RETENTION_DAYS ago.

    Idempotent and safe on several machines at once: each customer is locked with SKIP
    LOCKED and marked erased in the same transaction.
    """
    now = now or timezone.now()
    totals = {"users": 0, "submissions": 0, "photos": 0, "notifications": 0, "saved_cards": 0}
    seen: set[int] = set()
    while True:
        batch = [user_id for user_id in account_selectors.customer_ids_due_for_erasure(now=now) if user_id not in seen]
        if not batch:
            break
        for user_id in batch:
            seen.add(user_id)
            report = user_erase_personal_data(user_id=user_id, now=now)
            if report is None:
                continue
            totals["users"] += 1
            for key in ("submissions", "photos", "notifications", "saved_cards"):
                totals[key] += report.get(key, 0)
    return totals
