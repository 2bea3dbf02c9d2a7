"""Demo data for real-name verification: generated ID-card-like photos and submissions."""

import io
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw
from stdnum.cn import ric

from reviews import photos, services


def resident_id(region="110105", birth="19900101", sequence="123") -> str:
    """A valid-looking (checksummed) Resident ID number for demos and tests."""
    base = f"{region}{birth}{sequence}"
    return base + ric.calc_check_digit(base + "0")


def card_image(width=1600, height=1200, *, seed=1, brightness=200) -> Image.Image:
    """A light card with dark 'text' lines and specks: sharp, bright enough, in colour."""
    rng = random.Random(seed)  # noqa: S311 - demo pictures, not secrets
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


def jpeg_upload(name: str, *, seed: int, width=1600, height=1200) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    card_image(width, height, seed=seed).save(buffer, "JPEG", quality=90)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def demo_photo_set(seed: int) -> services.PhotoSet:
    processed = {
        kind: photos.process_photo(jpeg_upload(f"{kind}.jpg", seed=seed * 10 + i), kind=kind)
        for i, kind in enumerate(("id_front", "id_back", "id_handheld"))
    }
    return services.PhotoSet(**processed)


def submit_demo(*, user, full_name: str, id_number: str, seed: int):
    return services.submission_create(
        user=user,
        full_name=full_name,
        id_number=id_number,
        contact_phone=user.phone.as_e164 if user.phone else "+8613800000000",
        photos=demo_photo_set(seed),
        actor=user,
    )
