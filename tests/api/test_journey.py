"""An app's whole day over HTTP only: register → add line → verify → renew and pay → receipt → cancel.

The app's side talks to the live server with ``requests`` (JSON and multipart, bearer
tokens); the reviewer and the support agent work through the web views (Django's test
client), as they do in real life.
"""

import io
import uuid

import pytest
import requests

from accounts import sms
from accounts.models import Line
from customers.models import CancellationRequest
from reviews.demo import card_image, resident_id
from reviews.models import Submission
from tests.accounts.conftest import STRONG_PASSWORD
from tests.factories import make_line, make_staff

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PHONE = "+8613800131313"


def code_texted_to(number):
    import re

    for message in reversed(sms.outbox):
        if message["to"] == number and (match := re.search(r"\b(\d{6})\b", message["text"])):
            return match.group(1)
    raise AssertionError(f"no code texted to {number}")


def jpeg(seed):
    buffer = io.BytesIO()
    card_image(1600, 1200, seed=seed).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class App:
    def __init__(self, base):
        self.base = base + "/api/v1/"
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = "en"

    def sign_in(self, pair):
        self.http.headers["Authorization"] = f"Bearer {pair['access']}"

    def get(self, path, **kwargs):
        return self.http.get(self.base + path, timeout=30, **kwargs)

    def post(self, path, *, once=False, **kwargs):
        headers = {"Idempotency-Key": uuid.uuid4().hex} if once else {}
        return self.http.post(self.base + path, headers=headers, timeout=60, **kwargs)


def test_an_apps_whole_day_over_http(live_server, client):
    app = App(live_server.url)
    _line, activation_code = make_line()

    # Register and confirm with the texted code.
    started = app.post("auth/register/", json={"phone": PHONE, "password": STRONG_PASSWORD})
    assert started.status_code == 202, started.text
    confirmed = app.post(
        "auth/register/confirm/", json={"registration": started.json()["registration"], "code": code_texted_to(PHONE)}
    )
    assert confirmed.status_code == 201, confirmed.text
    app.sign_in(confirmed.json())

    # Add the line: it waits for verification.
    added = app.post("lines/", once=True, json={"activation_code": activation_code.lower()})
    assert added.status_code == 201, added.text
    line_id = added.json()["id"]
    assert added.json()["status"] == "inactive"

    # Verify: three photos and the typed fields.
    photos = {
        name: (f"{name}.jpg", jpeg(seed), "image/jpeg")
        for seed, name in enumerate(("id_front", "id_back", "id_handheld"))
    }
    checked = app.post("verification/photo-check/", data={"kind": "id_front"}, files={"photo": photos["id_front"]})
    assert checked.status_code == 200, checked.text
    submitted = app.post(
        "verification/submissions/",
        once=True,
        data={"full_name": "王小明", "id_number": resident_id(), "contact_phone": PHONE},
        files=photos,
    )
    assert submitted.status_code == 201, submitted.text
    status = app.get("verification/").json()
    assert status["current"]["status"] == "pending"
    assert status["expected_decision_by"]

    # A reviewer approves it through the web.
    reviewer = make_staff("reviewer")
    client.force_login(reviewer)
    client.post("/staff/reviews/next/")
    submission = Submission.objects.get()
    decided = client.post(f"/staff/reviews/{submission.pk}/decide/", {"decision": "approve", "note": ""})
    assert decided.status_code == 302
    summary = app.get("account/").json()
    assert summary["verified"] is True
    assert summary["lines"][0]["status"] == "active"
    assert app.get("verification/").json()["current"]["status"] == "approved"

    # Renew for three months and pay by card (the sandbox).
    plan = next(plan for plan in app.get("plans/").json() if plan["code"] == "standard")
    quote = app.get("quotes/renewal/", params={"line": line_id, "plan": plan["id"], "term_months": 3}).json()
    assert quote["amount"] == "180.00"
    order = app.post("orders/renewal/", once=True, json={"line": line_id, "plan": plan["id"], "term_months": 3})
    assert order.status_code == 201, order.text
    number = order.json()["number"]
    paid = app.post(
        f"orders/{number}/pay/",
        once=True,
        json={"method": "card", "card_number": "4242 4242 4242 4242", "card_expiry": "12/30", "card_cvc": "123"},
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["order"]["status"] == "paid"
    receipt_number = paid.json()["order"]["receipt_number"]
    assert app.get("account/").json()["lines"][0]["validity_end"] == quote["new_validity_end"]

    # The receipt, as a PDF.
    receipt = app.get(f"receipts/{receipt_number}/", headers={"Accept": "application/pdf"})
    assert receipt.status_code == 200
    assert receipt.headers["Content-Type"] == "application/pdf"
    assert receipt.content.startswith(b"%PDF")

    # Cancel the line: nothing blocks it; the request is filed and support approves it on the web.
    check = app.get(f"lines/{line_id}/cancellation/").json()
    assert check["blockers"] == []
    filed = app.post(
        "cancellations/",
        once=True,
        json={"line": line_id, "full_name": "王小明", "phone": PHONE, "reason": "moving_abroad", "reason_detail": ""},
    )
    assert filed.status_code == 201, filed.text
    support = make_staff("support")
    client.force_login(support)
    approved = client.post(f"/staff/cancellations/{filed.json()['id']}/", {"decision": "approve", "note": ""})
    assert approved.status_code == 302
    assert CancellationRequest.objects.get().status == "approved"
    assert app.get("account/").json()["lines"][0]["status"] == Line.Status.CANCELLED
    inbox = app.get("notifications/").json()
    assert len(inbox["results"]) >= 3
