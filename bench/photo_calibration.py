"""Calibrate the photo checks on a generated corpus and print their rates.

    .venv/bin/python bench/photo_calibration.py [--variants 6]

Generates ``variants`` photos (default 6, so 108 in all) for each background (white
paper, grey desk, wood), light (dim, normal, strong) and focus (sharp, blurred), as
1600×1200 JPEGs, and runs each through the real pipeline (``reviews.photos.process_photo``).
A *good* photo (normal light, sharp) must get no warning; a bad one must get the warning
of its fault (dim: too dark, strong: too bright, blurred: blurry). Printed: the share of
good photos passed and of bad ones caught, per background and per fault, for the checks
as they are (``current``) and, as the baseline from the same run, for the thresholds the
checks had before (mean brightness over 215 too bright, under 60 too dark, any 3% of
clipped pixels glare, mean saturation under 12 black-and-white); then the host's speed.
"""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/queue.py would shadow the standard library's queue module: keep bench/ off the path.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")


def baseline_warnings(hints: dict) -> set[str]:
    """The checks' verdict with the thresholds they had before the calibration."""
    found = set()
    if hints["sharpness"] < 60:
        found.add("blurry")
    if hints["brightness"] < 60:
        found.add("too_dark")
    elif hints["brightness"] > 215:
        found.add("too_bright")
    if hints["glare_ratio"] > 0.03:
        found.add("glare")
    if hints["saturation"] < 12:
        found.add("black_and_white")
    return found


def host_speed() -> float:
    """Seconds for a plain Python loop of 10 million additions (the host's speed)."""
    start = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=6)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from reviews import photos
    from tests.photo_corpus import QUALITY_WARNINGS, corpus, jpeg

    samples = corpus(variants=args.variants)
    counts = {name: defaultdict(lambda: [0, 0]) for name in ("current", "baseline")}
    started = time.perf_counter()
    for sample in samples:
        upload = SimpleUploadedFile(f"{sample.name}.jpg", jpeg(sample), content_type="image/jpeg")
        hints = photos.process_photo(upload, kind="id_back").hints
        verdicts = {"current": set(hints["warnings"]) & QUALITY_WARNINGS, "baseline": baseline_warnings(hints)}
        for name, found in verdicts.items():
            ok = not found if sample.is_good else sample.expected_warnings <= found
            groups = [f"good on {sample.background}"] if sample.is_good else [f"bad: {sample.light}/{sample.focus}"]
            for group in [*groups, "all good" if sample.is_good else "all bad"]:
                counts[name][group][0] += ok
                counts[name][group][1] += 1
    elapsed = time.perf_counter() - started

    print(f"{len(samples)} photos (1600×1200 JPEG), {elapsed / len(samples) * 1000:.0f} ms each to generate and check")
    print(f"{'group':28} {'current':>16} {'baseline':>16}")
    for group in sorted(counts["current"], key=lambda g: (not g.startswith("all"), g)):
        cells = []
        for name in ("current", "baseline"):
            ok, total = counts[name][group]
            cells.append(f"{ok}/{total} ({ok / total:.0%})")
        verb = "passed" if "good" in group else "caught"
        print(f"{group + ' ' + verb:28} {cells[0]:>16} {cells[1]:>16}")
    print(f"host speed: {host_speed():.2f} s for 10 million additions")


if __name__ == "__main__":
    main()
