"""The printable receipt (payment voucher) PDF."""

import io

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib.pagesizes import A5
from reportlab.pdfgen import canvas as pdf_canvas

from heyon_site.pdf import cjk_font


def render_pdf(receipt) -> bytes:
    font = cjk_font()
    buffer = io.BytesIO()
    width, height = A5
    page = pdf_canvas.Canvas(buffer, pagesize=A5)
    page.setTitle(f"Heyon {receipt.number}")
    page.setFont(font, 16)
    page.drawCentredString(width / 2, height - 50, _("Heyon payment receipt"))
    page.setFont(font, 10)
    order = receipt.order
    rows = [
        (_("Receipt number"), receipt.number),
        (_("Order number"), order.number),
        (_("Issued at"), timezone.localtime(receipt.issued_at).strftime("%Y-%m-%d %H:%M")),
        (_("Description"), receipt.description),
        (_("Paid with"), receipt.get_payment_method_display()),
        (_("Amount"), f"¥{receipt.amount} {receipt.currency}"),
    ]
    if order.line_id and order.new_validity_end:
        rows.append((_("Valid until"), timezone.localtime(order.new_validity_end).strftime("%Y-%m-%d")))
    y = height - 95
    for label, value in rows:
        page.drawString(40, y, label + pgettext("label separator", ": ").rstrip())
        page.drawString(130, y, str(value))
        y -= 22
    page.setFont(font, 8)
    page.drawString(40, 40, _("Heyon Mobile · this receipt was issued electronically and needs no stamp."))
    page.showPage()
    page.save()
    return buffer.getvalue()
