"""The customer's own data, as a ZIP: data.json plus their own ID photos.

Only the owner's records go in: their verification history with their own full ID
number (it is their data, and the copy is for them) and decisions, never other accounts,
staff notes or flags about other people. Times are in the product's time zone
(Asia/Shanghai, with its offset), as every page shows them.
"""

import datetime
import io
import json
import zipfile

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from billing.models import LedgerEntry, Order, Receipt, SavedCard, UsageRecord
from reviews import pii
from reviews.models import Submission, SubmissionPhoto


class LocalTimeEncoder(DjangoJSONEncoder):
    """Django's JSON, with aware times in the local time zone (``2026-12-03T09:51:44+08:00``) rather than UTC."""

    def default(self, o):
        if isinstance(o, datetime.datetime) and timezone.is_aware(o):
            o = timezone.localtime(o)
        try:
            return super().default(o)
        except TypeError:
            return str(o)  # anything else JSON has no type for (a phone number) as its text


def build_export(user) -> bytes:
    """The customer's own records and ID photos, as the bytes of a ZIP file."""
    lines = list(user.lines.order_by("pk"))
    data = {
        "exported_at": timezone.now(),
        "profile": {
            "phone": str(user.phone) if user.phone else None,
            "email": user.email,
            "name": user.display_name,
            "joined": user.date_joined,
            "real_name_verified_at": user.real_name_verified_at,
        },
        "lines": [
            {
                "number": str(line.msisdn),
                "iccid": line.iccid,
                "status": line.status,
                "activated_at": line.activated_at,
                "valid_until": line.validity_end,
                "cancelled_at": line.cancelled_at,
            }
            for line in lines
        ],
        "verification": [
            {
                "attempt": submission.attempt_number,
                "channel": submission.channel,
                "status": submission.status,
                "full_name": submission.full_name,
                "id_number": pii.decrypt(submission.id_number_encrypted) if submission.id_number_encrypted else "",
                "contact_phone": submission.contact_phone,
                "submitted_at": submission.submitted_at,
                "decided_at": submission.decided_at,
                "reasons": [reason.customer_text() for reason in submission.reasons.all()],
                "message": submission.customer_message,
            }
            for submission in Submission.objects.filter(user=user)
            .prefetch_related("reasons")
            .order_by("attempt_number")
        ],
        "orders": list(
            Order.objects.filter(user=user)
            .order_by("created_at")
            .values("number", "kind", "channel", "status", "amount", "term_months", "created_at", "paid_at")
        ),
        "receipts": list(
            Receipt.objects.filter(user=user)
            .order_by("issued_at")
            .values("number", "amount", "description", "issued_at")
        ),
        "wallet": list(
            LedgerEntry.objects.filter(wallet__user=user)
            .order_by("created_at", "pk")
            .values("kind", "amount", "balance_after", "reference", "created_at")
        ),
        # What identifies the card to its holder; never the provider's token, which could charge it.
        "saved_cards": [
            {"brand": card.brand, "last4": card.last4, "expiry": card.expiry, "saved_at": card.created_at}
            for card in SavedCard.objects.filter(user=user).order_by("created_at", "pk")
        ],
        "usage": [
            {"line": str(row["line__msisdn"]), **{k: v for k, v in row.items() if k != "line__msisdn"}}
            for row in UsageRecord.objects.filter(line__owner=user)
            .order_by("occurred_at")
            .values("line__msisdn", "kind", "quantity", "occurred_at")
        ],
        # In the language the customer reads the page in, as the inbox shows them.
        "messages": [
            {"subject": n.subject, "body": n.body, "created_at": n.created_at, "read_at": n.read_at}
            for n in user.notifications.order_by("created_at")
        ],
        "cancellation_requests": list(
            user.cancellations.order_by("created_at").values(
                "line__msisdn", "status", "reason", "created_at", "decided_at"
            )
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, cls=LocalTimeEncoder, ensure_ascii=False, indent=2))
        for photo in SubmissionPhoto.objects.filter(submission__user=user).select_related("submission"):
            try:
                with photo.image.open("rb") as handle:
                    archive.writestr(
                        f"photos/attempt-{photo.submission.attempt_number}-{photo.kind}.jpg", handle.read()
                    )
            except FileNotFoundError:
                continue
    return buffer.getvalue()
