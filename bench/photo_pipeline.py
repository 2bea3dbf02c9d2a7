"""Benchmark the ID photo pipeline against a naive full-resolution baseline.

    .venv/bin/python bench/photo_pipeline.py [--runs 15]

Generates a 12-megapixel phone-like JPEG (4032×3024, gradients, shapes and sensor-like
noise, EXIF with GPS), then runs each variant in its own fresh subprocess:

- ``pipeline``: ``reviews.photos.process_photo`` (draft-scaled decode, ≤2048 px output);
- ``naive``: full decode, EXIF transpose, RGB, full-size re-encode, thumbnail and the
  same hints computed on the full-size image (Haar faces on a 640 px copy of it).

Memory is the peak resident set size (VmHWM, reset through /proc/self/clear_refs)
minus the resident set just before the first call, in a process where everything is
already imported and the face cascade is loaded. Pillow and OpenCV allocate outside the
Python heap, so tracemalloc's peak is printed too but undercounts. Time is the wall
time of ``--runs`` calls after that first one.
"""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# bench/queue.py would shadow the standard library's queue module (asgiref, Django and
# psycopg import it): keep bench/ off the import path.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]

import argparse  # noqa: E402
import cProfile  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 4032, 3024
TARGET_MS = 150
TARGET_MB = 120
TARGET_SPEEDUP = 2.0


# --- the test photo -----------------------------------------------------------------------


def make_photo(path: Path, *, scene: str = "busy", seed: int = 12) -> int:
    """Write a 12 MP JPEG with camera EXIF and GPS; return its size in bytes.

    ``busy``: 500 outlined shapes over a gradient with strong sensor noise (edges
    everywhere, the costly case for the face detector). ``plain``: a card with a few
    text-like bars lying on an evenly lit desk, light noise.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = np.stack(
        [x / WIDTH * 180 + 40, y / HEIGHT * 160 + 50, (x + y) / (WIDTH + HEIGHT) * 120 + 70], axis=-1
    ).astype(np.uint8)
    image = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(image)
    if scene == "busy":
        noise = 8
        for _ in range(500):
            x0, y0 = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
            w, h = (int(v) for v in rng.integers(20, 600, size=2))
            colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
            shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
            shape([x0, y0, x0 + w, y0 + h], fill=colour, outline=(0, 0, 0), width=3)
    else:
        noise = 3
        draw.rounded_rectangle(
            [700, 600, 3300, 2250], radius=90, fill=(236, 232, 220), outline=(150, 150, 150), width=4
        )
        draw.rectangle([850, 800, 1500, 1650], fill=(190, 175, 160))  # the portrait
        draw.ellipse([1000, 900, 1350, 1350], fill=(215, 180, 150))
        for row in range(8):
            length = int(rng.integers(700, 1500))
            draw.rectangle([1650, 850 + row * 140, 1650 + length, 890 + row * 140], fill=(40, 40, 50))
    noisy = np.asarray(image).astype(np.int16) + rng.normal(0, noise, size=(HEIGHT, WIDTH, 3)).astype(np.int16)
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")

    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make
    exif[0x0110] = "iPhone 13"  # Model
    exif[0x0112] = 1  # Orientation
    exif[0x0132] = "2026:11:20 10:15:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (39.0, 54.0, 15.5), 3: "E", 4: (116.0, 23.0, 30.2), 5: 0, 6: 44.0})
    image.save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path.stat().st_size


# --- the variants (run inside a worker process) --------------------------------------------


def naive_process(upload):
    """What one writes first: decode everything, keep everything full size."""
    import cv2
    import numpy as np
    from PIL import Image, ImageOps

    from reviews.photos import _face_detector, difference_hash

    upload.seek(0)
    data = upload.read()
    image = Image.open(io.BytesIO(data))
    image.load()
    image = ImageOps.exif_transpose(image).convert("RGB")
    stored = io.BytesIO()
    image.save(stored, "JPEG", quality=88)
    small = image.copy()
    small.thumbnail((480, 480))
    thumbnail = io.BytesIO()
    small.save(thumbnail, "JPEG", quality=80)

    rgb = np.asarray(image)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    hint_copy = image.copy()
    hint_copy.thumbnail((640, 640))
    faces = _face_detector().detectMultiScale(
        cv2.cvtColor(np.asarray(hint_copy), cv2.COLOR_RGB2GRAY), scaleFactor=1.1, minNeighbors=5, minSize=(24, 24)
    )
    hints = {
        "brightness": float(grey.mean()),
        "sharpness": float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        "glare_ratio": float((grey >= 250).mean()),
        "saturation": float(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[:, :, 1].mean()),
        "faces": len(faces),
    }
    return {
        "jpeg": stored.getvalue(),
        "width": image.width,
        "height": image.height,
        "dhash": difference_hash(image),
        "hints": hints,
    }


def pipeline_process(upload):
    from reviews.photos import process_photo

    result = process_photo(upload, kind="id_front")
    return {
        "jpeg": result.jpeg,
        "width": result.width,
        "height": result.height,
        "dhash": result.dhash,
        "hints": result.hints,
    }


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def worker(variant: str, image_path: str, runs: int) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from reviews.photos import _face_detector

    process = {"pipeline": pipeline_process, "naive": naive_process}[variant]
    upload = SimpleUploadedFile("photo.jpg", Path(image_path).read_bytes(), content_type="image/jpeg")
    _face_detector()  # one-off per worker thread in production too; not part of a call
    gc.collect()

    # 1. Peak RSS of the first call in this process.
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    rss_before = _status_kb("VmRSS")
    result = process(upload)
    rss_peak_mb = (_status_kb("VmHWM") - rss_before) / 1024

    # 2. Python-heap peak (numpy buffers are traced; Pillow and OpenCV buffers are not).
    gc.collect()
    tracemalloc.start()
    process(upload)
    tracemalloc_peak_mb = tracemalloc.get_traced_memory()[1] / 1024 / 1024
    tracemalloc.stop()

    # 3. Wall time.
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        process(upload)
        times.append((time.perf_counter() - start) * 1000)

    # 4. Where the time goes: a few more calls under cProfile (adds a little overhead).
    profiler = cProfile.Profile()
    profiled = max(3, runs // 3)
    for _ in range(profiled):
        profiler.runcall(process, upload)
    stages = stage_breakdown(pstats.Stats(profiler).stats, process.__name__, profiled)

    output = Image.open(io.BytesIO(result["jpeg"]))
    return {
        "variant": variant,
        "times_ms": times,
        "rss_peak_mb": rss_peak_mb,
        "tracemalloc_peak_mb": tracemalloc_peak_mb,
        "output": f"{result['width']}×{result['height']}, {len(result['jpeg']) / 1e6:.2f} MB",
        "output_has_exif": bool(output.info.get("exif")) or len(output.getexif()) > 0,
        "hints": result["hints"],
        "stages_ms": stages,
    }


STAGES = [
    ("decode", "PIL/ImageFile.py", "load"),
    ("EXIF transpose", "PIL/ImageOps.py", "exif_transpose"),
    ("JPEG encode", "PIL/Image.py", "save"),
    ("resize", "PIL/Image.py", "thumbnail"),
    ("face detection", "~", "detectMultiScale"),
]


def stage_breakdown(stats: dict, entry: str, calls: int) -> dict:
    """Mean cumulative ms per call of each stage, and of everything else."""
    total = 0.0
    stages = dict.fromkeys([label for label, _file, _func in STAGES], 0.0)
    for (filename, _line, function), (_cc, _nc, _tt, cumtime, _callers) in stats.items():
        if function == entry and filename.endswith("photo_pipeline.py"):
            total = cumtime
        for label, file_suffix, name in STAGES:
            if filename.endswith(file_suffix) and (function == name or (file_suffix == "~" and name in function)):
                stages[label] += cumtime
    stages["everything else"] = total - sum(stages.values())
    stages["total"] = total
    return {label: seconds * 1000 / calls for label, seconds in stages.items()}


# --- the driver ------------------------------------------------------------------------------


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def merge(rounds: list[dict]) -> dict:
    """Pool the timings; keep the worst first-call memory peak; average the stage profile."""
    merged = dict(rounds[0])
    merged["times_ms"] = [t for one in rounds for t in one["times_ms"]]
    merged["rss_peak_mb"] = max(one["rss_peak_mb"] for one in rounds)
    merged["tracemalloc_peak_mb"] = max(one["tracemalloc_peak_mb"] for one in rounds)
    merged["stages_ms"] = {
        stage: statistics.mean(one["stages_ms"][stage] for one in rounds) for stage in rounds[0]["stages_ms"]
    }
    return merged


def run_variant(variant: str, image_path: Path, runs: int) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", variant, "--image", str(image_path), "--runs", str(runs)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="timed calls per variant (default 15)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh worker processes per variant, alternated")
    parser.add_argument("--scene", choices=["busy", "plain"], default="busy", help="test photo content")
    parser.add_argument("--worker", choices=["pipeline", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--image", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.image, args.runs)))
        return

    per_round = -(-args.runs // args.rounds)
    with tempfile.TemporaryDirectory(prefix="heyon-bench-") as tmp:
        image_path = Path(tmp) / "photo.jpg"
        size = make_photo(image_path, scene=args.scene)
        print(
            f"Input: {WIDTH}×{HEIGHT} JPEG ({args.scene} scene), {size / 1e6:.2f} MB, EXIF with GPS; "
            f"{per_round * args.rounds} timed runs per variant in {args.rounds} alternating fresh processes"
        )
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        rounds = {"pipeline": [], "naive": []}
        for _ in range(args.rounds):
            for variant, done in rounds.items():
                done.append(run_variant(variant, image_path, per_round))
        print(f"load average {os.getloadavg()[0]:.2f} at end\n")
    results = {variant: merge(done) for variant, done in rounds.items()}

    naive_median = statistics.median(results["naive"]["times_ms"])
    header = (
        f"{'variant':<10}{'min ms':>8}{'median ms':>11}{'p90 ms':>9}{'peak RSS MB':>13}{'tracemalloc MB':>16}"
        f"{'speed-up':>10}"
    )
    print(header)
    print("-" * len(header))
    for variant, result in results.items():
        median = statistics.median(result["times_ms"])
        print(
            f"{variant:<10}{min(result['times_ms']):>8.1f}{median:>11.1f}{percentile(result['times_ms'], 0.9):>9.1f}"
            f"{result['rss_peak_mb']:>13.1f}{result['tracemalloc_peak_mb']:>16.1f}{naive_median / median:>9.1f}×"
        )
    print()
    print(f"{'stage (cProfile, ms per call)':<32}" + "".join(f"{variant:>10}" for variant in results))
    for stage in results["pipeline"]["stages_ms"]:
        print(f"{stage:<32}" + "".join(f"{result['stages_ms'][stage]:>10.1f}" for result in results.values()))
    print()
    for variant, result in results.items():
        print(f"{variant}: output {result['output']}, EXIF kept: {result['output_has_exif']}, hints {result['hints']}")

    pipeline = results["pipeline"]
    median = statistics.median(pipeline["times_ms"])
    checks = [
        (f"pipeline median < {TARGET_MS} ms", median < TARGET_MS),
        (f"pipeline peak RSS < {TARGET_MB} MB", pipeline["rss_peak_mb"] < TARGET_MB),
        (f"pipeline ≥ {TARGET_SPEEDUP:.0f}× faster than naive", naive_median / median >= TARGET_SPEEDUP),
        ("pipeline output has no EXIF", not pipeline["output_has_exif"]),
    ]
    print()
    for label, ok in checks:
        print(f"[{'met' if ok else 'MISSED'}] {label}")


if __name__ == "__main__":
    main()
