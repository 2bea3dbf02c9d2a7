"""Photos made by the tests themselves: card-like JPEG/PNG/WebP images with detail and EXIF."""

import io
import random

from PIL import Image, ImageDraw

# EXIF tags: 0x0112 orientation, 0x8825 GPS IFD.
GPS_IFD = 0x8825


def card_image(width=1600, height=1200, *, seed=1, brightness=200) -> Image.Image:
    """A light card with dark 'text' lines and noise: sharp, bright enough, in colour."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (brightness, brightness - 10, brightness - 30))
    draw = ImageDraw.Draw(image)
    margin = width // 12
    draw.rectangle([margin, margin, width - margin, height - margin], outline=(40, 60, 120), width=max(2, width // 300))
    for row in range(12):
        y = margin * 2 + row * (height - 4 * margin) // 12
        x = margin * 2
        while x < width - margin * 3:
            word = rng.randint(width // 40, width // 12)
            draw.rectangle([x, y, x + word, y + height // 60], fill=(rng.randint(0, 60),) * 3)
            x += word + width // 60
    for _ in range(width * height // 400):
        x, y = rng.randrange(width), rng.randrange(height)
        image.putpixel((x, y), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    return image


def encode(image: Image.Image, fmt="JPEG", *, gps=False, orientation=None, **save_args) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG" and (gps or orientation):
        exif = Image.Exif()
        if orientation:
            exif[0x0112] = orientation
        if gps:
            exif[GPS_IFD] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 29.0)}
        save_args["exif"] = exif.tobytes()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def jpeg_bytes(width=1600, height=1200, *, seed=1, gps=False, **kwargs) -> bytes:
    return encode(card_image(width, height, seed=seed), "JPEG", gps=gps, quality=90, **kwargs)
