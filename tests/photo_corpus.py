"""A generated corpus of ID-card photos for calibrating the photo checks (reviews.photos.quality_hints).

Each photo is a card (pale, patterned, dark text, a red emblem) lying at a slight angle on
a background, under a light, in or out of focus:

- backgrounds: ``white`` (plain paper, 228–246 grey levels, as the customer guide asks),
  ``grey`` (a grey desk) and ``wood`` (brown with grain);
- light: ``dim`` (a third of the light, more sensor noise), ``normal``, ``strong``
  (over-exposed: highlights clipped, the dark print lifted);
- focus: ``sharp`` or ``blurred`` (out of focus: a Gaussian blur of 0.4% of the width,
  about 6 px on a 1600 px photo, which leaves the small print unreadable).

A photo is *good* when the light is normal and it is sharp: the checks must pass it. Every
other photo is *bad* in a known way (too dark, too bright, blurry) that the checks must
catch. ``bench/photo_calibration.py`` runs the whole corpus through the real pipeline and
prints the rates that docs/PERFORMANCE.md quotes; a test runs a smaller one.
"""

import io
import zlib
from dataclasses import dataclass
from itertools import product

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

BACKGROUNDS = ("white", "grey", "wood")
LIGHTS = ("dim", "normal", "strong")
FOCUS = ("sharp", "blurred")
# What each bad condition must raise.
EXPECTED = {"dim": "too_dark", "strong": "too_bright", "blurred": "blurry"}
# The warnings about the photo's quality (the others are about resolution and faces).
QUALITY_WARNINGS = frozenset({"blurry", "too_dark", "too_bright", "glare", "black_and_white"})


@dataclass(frozen=True)
class Sample:
    background: str
    light: str
    focus: str
    seed: int

    @property
    def is_good(self) -> bool:
        return self.light == "normal" and self.focus == "sharp"

    @property
    def expected_warnings(self) -> set[str]:
        return {EXPECTED[condition] for condition in (self.light, self.focus) if condition in EXPECTED}

    @property
    def name(self) -> str:
        return f"{self.background}-{self.light}-{self.focus}-{self.seed}"


def corpus(variants: int = 6) -> list[Sample]:
    """Every background × light × focus, ``variants`` photos each (6 → 108 photos)."""
    return [
        Sample(background, light, focus, seed)
        for background, light, focus in product(BACKGROUNDS, LIGHTS, FOCUS)
        for seed in range(variants)
    ]


def _background(kind: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    if kind == "white":
        base = np.float32(rng.uniform(228, 246)) - np.array([0, 1, 4], np.float32)
        scene = np.broadcast_to(base, (height, width, 3))
    elif kind == "grey":
        scene = np.full((height, width, 3), rng.uniform(120, 170), np.float32)
    else:
        grain = np.sin(ys / np.float32(rng.uniform(9, 16)) + 3 * np.sin(xs / np.float32(rng.uniform(140, 260))))
        grain = grain * np.float32(rng.uniform(12, 20))
        scene = np.stack([150 + grain, 104 + grain * 0.8, 62 + grain * 0.5], axis=-1)
    # Light falls off towards the corners, as under a desk lamp or a window.
    falloff = 1 - 0.24 * (((xs - width / 2) / width) ** 2 + ((ys - height / 2) / height) ** 2)
    return scene * falloff[..., None]


def _card(width: int, rng: np.random.Generator) -> Image.Image:
    """A resident-ID-like card, ``width`` px wide (85.6 × 54 mm)."""
    height = int(width / 1.586)
    card = Image.new("RGB", (width, height), (224, 229, 236))
    draw = ImageDraw.Draw(card)
    for band in range(0, height, max(4, height // 40)):  # the pale guilloche-like background pattern
        draw.line([(0, band), (width, band + height // 8)], fill=(208, 218, 232), width=2)
    draw.ellipse([width // 18, height // 10, width // 18 + height // 3, height // 10 + height // 3], fill=(200, 40, 40))
    for row in range(6):  # the print
        y = height // 2 + row * height // 14 - height // 8
        x = width // 3
        while x < width - width // 10:
            word = int(rng.integers(width // 30, width // 9))
            draw.rectangle([x, y, x + word, y + height // 40], fill=(int(rng.integers(20, 60)),) * 3)
            x += word + width // 50
    return card


def photo(sample: Sample, width: int = 1600, height: int = 1200) -> Image.Image:
    rng = np.random.default_rng(zlib.crc32(sample.name.encode()))
    scene = _background(sample.background, width, height, rng)
    card = _card(int(width * rng.uniform(0.55, 0.72)), rng).rotate(
        float(rng.uniform(-6, 6)), expand=True, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0)
    )
    mask = card.convert("L").point(lambda v: 255 if v > 0 else 0)  # the rotation's black corners stay out
    image = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8), "RGB")
    left = int(rng.integers(width // 20, max(width // 20 + 1, width - card.width - width // 20)))
    top = int(rng.integers(height // 20, max(height // 20 + 1, height - card.height - height // 20)))
    image.paste(card, (left, top), mask)
    if sample.focus == "blurred":
        image = image.filter(ImageFilter.GaussianBlur(width * 0.004))
    pixels = np.asarray(image, dtype=np.float32)
    if sample.light == "dim":
        pixels, noise = pixels * rng.uniform(0.28, 0.38), 5.0
    elif sample.light == "strong":
        pixels, noise = pixels * rng.uniform(1.5, 1.8) + rng.uniform(35, 55), 2.0
    else:
        pixels, noise = pixels * rng.uniform(0.95, 1.03), 2.5
    # Sensor noise is per pixel of the camera's 1600 px photo: a smaller rendering (the
    # test's, at the checks' own 640 px) carries what is left of it after downscaling.
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(noise * min(1.0, width / 1600))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def jpeg(sample: Sample, width: int = 1600, height: int = 1200) -> bytes:
    buffer = io.BytesIO()
    photo(sample, width, height).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
