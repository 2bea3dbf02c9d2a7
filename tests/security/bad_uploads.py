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


def _deflate_repeated_row(row: bytes, count: int) -> bytes:
    """A zlib stream of ``row`` ``count`` times, built without inflating it in memory.

    Each row is flushed into its own byte-aligned block from a reset compressor, so the
    block is the same for every row and can be repeated; the stream ends with an empty
    final block and the Adler-32 of all the rows.
    """
    compressor = zlib.compressobj(9)
    first = compressor.compress(row) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(row) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(row, checksum)
    return first + block * (count - 1) + b"\x03\x00" + struct.pack(">I", checksum)


def grey_16_bit_png_7000() -> bytes:
    """A 16-bit greyscale 7000×7000 PNG: about 250 KB that decodes to 98 MB of pixels.

    Under the pixel limit (49 MP of 50), it used to take 4.6 s and 893 MB to process.
    """
    width = height = 7000
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _deflate_repeated_row(b"\0" * (1 + width * 2), height))
        + _png_chunk(b"IEND", b"")
    )


def rgb_16_bit_png_black(width: int, height: int) -> bytes:
    """A 48-bit RGB PNG of ``width × height`` whose rows are all black (a big one, cheaply)."""
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _deflate_repeated_row(b"\0" * (1 + width * 6), height))
        + _png_chunk(b"IEND", b"")
    )


def grey_16_bit_png_large(width: int, height: int) -> bytes:
    """A 16-bit greyscale PNG of ``width × height`` whose rows are mid-grey (a big one, cheaply)."""
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    row = b"\0" + b"\x80\x00" * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _deflate_repeated_row(row, height))
        + _png_chunk(b"IEND", b"")
    )


def png_header(width: int, height: int, *, bit_depth: int, colour_type: int) -> bytes:
    """A PNG's signature and header alone: enough for Image.open to tell its size and mode."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")
