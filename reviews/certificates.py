"""Certificate numbers (sequential per service point, signed) and the printable PDF.

A number looks like ``BJ-CHAOYANG-000042-K7QF2M``: the service point, its running
sequence, and six characters of an HMAC over both. The public check page rejects a
number whose signature does not match without touching the database, so numbers cannot
be guessed from one another.
"""

import base64
import io

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib.pagesizes import A5, landscape
from reportlab.pdfgen import canvas as pdf_canvas

from accounts.hashing import keyed_hash
from accounts.phones import phone_display
from heyon_site.pdf import cjk_font, draw_qr

SIGNATURE_LENGTH = 6


def _signature(prefix: str) -> str:
    digest = bytes.fromhex(keyed_hash("certificate", prefix))
    return base64.b32encode(digest).decode()[:SIGNATURE_LENGTH]


def make_number(service_point_code: str, sequence: int) -> str:
    prefix = f"{service_point_code.upper()}-{sequence:06d}"
    return f"{prefix}-{_signature(prefix)}"


def normalize_number(raw: str) -> str:
    return "".join((raw or "").split()).upper()


def signature_is_valid(number: str) -> bool:
    prefix, _sep, signature = normalize_number(number).rpartition("-")
    return bool(prefix) and len(signature) == SIGNATURE_LENGTH and _signature(prefix) == signature


def render_pdf(certificate, *, verify_url: str) -> bytes:
    """A5 landscape certificate with the number, masked holder, date, place and a QR code."""
    font = cjk_font()
    buffer = io.BytesIO()
    width, height = landscape(A5)
    page = pdf_canvas.Canvas(buffer, pagesize=(width, height))
    page.setTitle(f"Heyon {certificate.number}")
    page.setFont(font, 20)
    page.drawCentredString(width / 2, height - 60, _("Real-name verification certificate"))
    page.setFont(font, 11)
    issued = timezone.localtime(certificate.issued_at)
    rows = [
        (_("Certificate number"), certificate.number),
        (_("Holder"), certificate.holder_name_masked),
        (_("Verified on"), issued.strftime("%Y-%m-%d %H:%M")),
        (_("Service point"), f"{certificate.service_point.name} ({certificate.service_point.city})"),
        (_("Line"), phone_display(certificate.line.msisdn)),
    ]
    y = height - 110
    for label, value in rows:
        page.drawString(50, y, label + pgettext("label separator", ": ").rstrip())
        page.drawString(160, y, str(value))
        y -= 24
    draw_qr(page, verify_url, x=width - 170, y=height - 250, size=120)
    page.setFont(font, 8)
    page.drawString(width - 175, height - 262, _("Scan to check this certificate"))
    page.drawString(50, 40, _("Check at %(url)s") % {"url": verify_url})
    page.showPage()
    page.save()
    return buffer.getvalue()
