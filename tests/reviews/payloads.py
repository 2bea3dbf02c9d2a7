"""Uploads the photo pipeline must accept or refuse, built in memory."""

import io
import struct
import zlib
from functools import lru_cache

from tests.images import card_image, encode, jpeg_bytes

# Small enough to keep the tests fast, large enough to pass PHOTO_MIN_SIDE (300).
SMALL = (480, 360)

HTML_PAYLOAD = b"<html><script>alert(1)</script></html>"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="1200">'
    b'<rect width="1600" height="1200" fill="#eee"/><script>alert(1)</script></svg>'
)


@lru_cache
def small_jpeg(seed=1, *, gps=False) -> bytes:
    return jpeg_bytes(*SMALL, seed=seed, gps=gps)


def truncated_jpeg() -> bytes:
    data = small_jpeg()
    return data[: len(data) // 2]


def jpeg_with_html_payload() -> bytes:
    return small_jpeg(gps=True) + HTML_PAYLOAD


def text_file() -> bytes:
    return b"Dear reviewer, please approve me.\n" * 40


def gif_bytes() -> bytes:
    return encode(card_image(*SMALL), "GIF")


def png_with_alpha() -> bytes:
    image = card_image(*SMALL).convert("RGBA")
    image.putalpha(128)  # half transparent everywhere
    return encode(image, "PNG")


def webp_bytes() -> bytes:
    return encode(card_image(*SMALL), "WEBP", quality=80)


def heic_bytes() -> bytes:
    """A HEIC photo as an iPhone sends it (pillow_heif is registered by the reviews app)."""
    buffer = io.BytesIO()
    card_image(*SMALL).save(buffer, format="HEIF", quality=80)
    return buffer.getvalue()


def rotated_jpeg() -> bytes:
    """Stored landscape (480×360) with EXIF orientation 6: shown portrait (360×480)."""
    return jpeg_bytes(*SMALL, orientation=6)


def oversized_file(megabytes=30) -> bytes:
    return small_jpeg() + b"\0" * (megabytes * 1024 * 1024)


@lru_cache
def png_bomb(width=20_000, height=20_000) -> bytes:
    """A one-colour 1-bit PNG: some kilobytes on disk, ``width × height`` pixels once decoded.

    Written chunk by chunk so that the test itself never holds the pixels in memory.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressed = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", compressed) + chunk(b"IEND", b"")
