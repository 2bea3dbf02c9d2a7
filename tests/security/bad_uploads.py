"""A corpus of hostile and broken uploads, generated in memory by the tests.

Each builder returns the bytes a browser would send. Reuses tests/reviews/payloads.py
(bombs, truncations, SVG) and adds what a security review asks for besides:
polyglots, JPEG bombs, CMYK and 16-bit images, animated WebP, lying extensions.
"""

import io
import struct
import zlib

import numpy as np
from PIL import Image

from tests.images import card_image, encode
from tests.reviews import payloads

SMALL = payloads.SMALL
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, bit_depth: int, colour_type: int, raw_rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw_rows, 6))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_html_polyglot() -> bytes:
    """A valid JPEG whose comment segment and tail are an HTML page with a script.

    A browser that sniffs the content could run it if the file were served as-is.
    """
    jpeg = payloads.small_jpeg(seed=21)
    comment = b"\xff\xfe" + struct.pack(">H", len(HTML) + 2) + HTML
    return jpeg[:2] + comment + jpeg[2:] + HTML


def html_with_jpeg_inside() -> bytes:
    """An HTML page first, a JPEG after it: what a browser sees first is HTML."""
    return HTML + payloads.small_jpeg(seed=22)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims ``width × height`` pixels."""
    data = bytearray(payloads.small_jpeg(seed=23))
    sof = data.find(b"\xff\xc0")
    assert sof > 0, "baseline JPEG expected"
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def truncated_png() -> bytes:
    data = encode(card_image(*SMALL, seed=24), "PNG")
    return data[: len(data) // 2]


def header_only_jpeg() -> bytes:
    """The first 600 bytes of a JPEG: headers and no image data."""
    return payloads.small_jpeg(seed=25)[:600]


def png_named_jpg() -> bytes:
    return encode(card_image(*SMALL, seed=26), "PNG")


def cmyk_jpeg() -> bytes:
    return encode(card_image(*SMALL, seed=27).convert("CMYK"), "JPEG", quality=90)


def grey_16_bit_png() -> bytes:
    """A 16-bit greyscale PNG with a dark-to-light ramp (values up to 65535)."""
    width, height = SMALL
    ramp = np.linspace(2_000, 60_000, width, dtype=np.uint16)
    rows = np.tile(ramp, (height, 1)).astype(">u2")
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    return _png(width, height, 16, 0, raw)


def rgb_16_bit_png() -> bytes:
    """A 48-bit (16 bits per channel) RGB PNG, as scanners and some phones write: a red card."""
    width, height = SMALL
    pixel = np.array([52_000, 9_000, 9_000], dtype=">u2")
    rows = np.tile(pixel, (height, width, 1))
    rows[:, ::7, :] = 4_000  # dark stripes, so the photo has some detail
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    return _png(width, height, 16, 2, raw)


def animated_webp() -> bytes:
    """Two frames: a red first frame, then a blue one."""
    first = Image.new("RGB", SMALL, (220, 30, 30))
    second = Image.new("RGB", SMALL, (30, 30, 220))
    buffer = io.BytesIO()
    first.save(buffer, "WEBP", save_all=True, append_images=[second], duration=200, loop=0, lossless=True)
    return buffer.getvalue()


def animated_png() -> bytes:
    first = Image.new("RGB", SMALL, (220, 30, 30))
    second = Image.new("RGB", SMALL, (30, 30, 220))
    buffer = io.BytesIO()
    first.save(buffer, "PNG", save_all=True, append_images=[second], duration=200)
    return buffer.getvalue()
