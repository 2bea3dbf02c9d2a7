"""Specimen ID cards, drawn with a CJK font: for the demo, the tests and the bench.

Drawn in the layout of a second-generation Resident ID card (85.6 × 54 mm at 10 px/mm)
and then "photographed": put on a table, turned a few degrees, blurred, given a glare
spot and JPEG-compressed, as a phone photo would be. Not a real card's design.
"""

import datetime
import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CARD_SIZE = (856, 540)
# Debian's Noto Sans CJK (fonts-noto-cjk), then WenQuanYi Micro Hei (fonts-wqy-microhei).
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
LABEL = (70, 110, 150)
INK = (20, 20, 20)


def font_path() -> str:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise RuntimeError("No CJK font found: install fonts-noto-cjk or fonts-wqy-microhei.")


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(), size)


def _card(seed: int) -> Image.Image:
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    tint = rng.randint(-8, 8)
    card = Image.new("RGB", CARD_SIZE, (232 + tint, 238 + tint, 242))
    draw = ImageDraw.Draw(card)
    for y in range(0, CARD_SIZE[1], 6):  # the faint guilloche-like background lines
        draw.line([(0, y), (CARD_SIZE[0], y + rng.randint(-4, 4))], fill=(222 + tint, 230 + tint, 238), width=1)
    return card


def card_front(
    *,
    name: str,
    sex: str,
    ethnicity: str,
    birth_date: datetime.date,
    address: str,
    id_number: str,
    portrait: Image.Image | None = None,
    seed: int = 0,
) -> Image.Image:
    """The photo side: labels in blue-grey, values in black, the portrait on the right."""
    card = _card(seed)
    draw = ImageDraw.Draw(card)
    label, value, big = _font(26), _font(30), _font(34)
    draw.text((50, 50), "姓名", font=label, fill=LABEL)
    draw.text((140, 46), name, font=big, fill=INK)
    draw.text((50, 120), "性别", font=label, fill=LABEL)
    draw.text((140, 118), sex, font=value, fill=INK)
    draw.text((250, 120), "民族", font=label, fill=LABEL)
    draw.text((340, 118), ethnicity, font=value, fill=INK)
    draw.text((50, 185), "出生", font=label, fill=LABEL)
    draw.text((140, 183), f"{birth_date.year} 年 {birth_date.month} 月 {birth_date.day} 日", font=value, fill=INK)
    draw.text((50, 250), "住址", font=label, fill=LABEL)
    for row, start in enumerate(range(0, len(address), 12)):
        draw.text((140, 248 + row * 42), address[start : start + 12], font=value, fill=INK)
    draw.text((50, 445), "公民身份号码", font=label, fill=LABEL)
    draw.text((250, 440), id_number, font=big, fill=INK)
    if portrait is not None:
        picture = portrait.convert("RGB").resize((220, 270), Image.Resampling.BICUBIC)
        card.paste(picture, (600, 70))
    return card


def card_back(*, authority: str, valid_from: datetime.date, valid_until: datetime.date | None, seed: int = 0):
    """The emblem side: title, issuing authority, validity period (``None`` until = 长期)."""
    card = _card(seed + 1)
    draw = ImageDraw.Draw(card)
    draw.ellipse([60, 50, 200, 190], outline=(190, 40, 40), width=6)  # where the emblem is
    draw.text((300, 70), "中华人民共和国", font=_font(44), fill=INK)
    draw.text((300, 150), "居民身份证", font=_font(56), fill=INK)
    label, value = _font(26), _font(30)
    draw.text((120, 360), "签发机关", font=label, fill=LABEL)
    draw.text((260, 356), authority, font=value, fill=INK)
    draw.text((120, 430), "有效期限", font=label, fill=LABEL)
    until = valid_until.strftime("%Y.%m.%d") if valid_until else "长期"
    draw.text((260, 426), f"{valid_from:%Y.%m.%d}-{until}", font=value, fill=INK)
    return card


def photographed(
    card: Image.Image,
    *,
    angle: float = 0.0,
    blur: float = 0.0,
    glare: float = 0.0,
    quality: int = 85,
    size: tuple[int, int] = (1600, 1200),
    seed: int = 0,
) -> Image.Image:
    """The card as a phone photo of it on a table: turned ``angle`` degrees, blurred, glare, JPEG.

    ``glare`` (0–1) whitens an oval spot away from the text's left column; ``blur`` is a
    Gaussian radius in pixels of the photo.
    """
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    table = Image.new("RGB", size, (rng.randint(90, 140), rng.randint(80, 120), rng.randint(60, 100)))
    scale = size[0] * 0.78 / card.width
    scaled = card.resize((int(card.width * scale), int(card.height * scale)), Image.Resampling.BICUBIC)
    if glare:
        spot = Image.new("L", scaled.size, 0)
        x, y = int(scaled.width * rng.uniform(0.45, 0.6)), int(scaled.height * rng.uniform(0.15, 0.35))
        radius = int(scaled.width * 0.08)
        ImageDraw.Draw(spot).ellipse([x - radius * 2, y - radius, x + radius * 2, y + radius], fill=int(255 * glare))
        spot = spot.filter(ImageFilter.GaussianBlur(radius / 2))
        scaled = Image.composite(Image.new("RGB", scaled.size, (255, 255, 255)), scaled, spot)
    turned = scaled.convert("RGBA").rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    table.paste(turned, ((size[0] - turned.width) // 2, (size[1] - turned.height) // 2), turned)
    if blur:
        table = table.filter(ImageFilter.GaussianBlur(blur))
    buffer = io.BytesIO()
    table.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    photo = Image.open(buffer)
    photo.load()
    return photo


def handheld(face: Image.Image, card: Image.Image, *, size: tuple[int, int] = (1200, 1600), quality: int = 85):
    """A person (their face, as given) holding the card below it: the face is the larger one."""
    photo = Image.new("RGB", size, (205, 200, 190))
    face_width = int(size[0] * 0.42)
    face_picture = face.convert("RGB").resize(
        (face_width, int(face.height * face_width / face.width)), Image.Resampling.BICUBIC
    )
    photo.paste(face_picture, ((size[0] - face_width) // 2, int(size[1] * 0.08)))
    card_width = int(size[0] * 0.6)
    card_picture = card.resize((card_width, int(card.height * card_width / card.width)), Image.Resampling.BICUBIC)
    photo.paste(card_picture, ((size[0] - card_width) // 2, int(size[1] * 0.58)))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    result = Image.open(buffer)
    result.load()
    return result
