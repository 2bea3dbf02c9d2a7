"""Printable PDFs (certificates, receipts) with Chinese text and QR codes, via ReportLab.

Chinese needs a TrueType font with CJK glyphs embedded in the file so that every
viewer and printer shows it: WenQuanYi Micro Hei (Debian's fonts-wqy-microhei, which
the Makefile installs) by default, or any TTF/TTC named by PDF_CJK_FONT.
"""

from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

CJK_FONT = "HeyonCJK"


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """Register the CJK font once per process and return its name."""
    path = Path(settings.PDF_CJK_FONT)
    if not path.exists():
        raise ImproperlyConfigured(
            f"PDF_CJK_FONT {path} does not exist: install fonts-wqy-microhei or point PDF_CJK_FONT at a CJK TTF."
        )
    options = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
    pdfmetrics.registerFont(TTFont(CJK_FONT, str(path), **options))
    return CJK_FONT


def draw_qr(canvas, value: str, *, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(value, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (right - left), 0, 0, size / (top - bottom), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)
