"""Photos made by the tests themselves: card-like JPEG/PNG/WebP images with detail and EXIF."""

import io

from PIL import Image

from reviews.demo import card_image, resident_id

__all__ = ["card_image", "encode", "jpeg_bytes", "resident_id"]

# EXIF tags: 0x0112 orientation, 0x8825 GPS IFD.
GPS_IFD = 0x8825


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
