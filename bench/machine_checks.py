"""Benchmark the machine checks: OCR field accuracy, time and memory per submission, the review page.

    .venv/bin/python bench/machine_checks.py [--cards 200] [--runs 8] [--requests 30] [--out FILE]

Needs the test-only requirements (requirements-test-images.txt: the insightface wheel's
real face photographs). Three parts, each beside a baseline measured in the same run; the
two timed ones first, one process at a time, then the corpus, so that the bench's own
processes never share the cores with what it times:

1. **Per submission**, in a fresh process set up as a worker is (Django and the checks'
   service imported): the three photos of a submission (JPEG bytes, as read from storage,
   made beforehand by this process) and ``runner.run`` on them, ``--runs`` times after a
   first run that loads the models. Memory is the process's resident set: after the
   imports, after the first run, and its peak (VmHWM). Baseline: the same with the models
   loaded again for every submission.
2. **The review page** with the results, in a fresh process on a database of its own
   (``DATABASE_URL``, default a temporary SQLite file; migrated here): the median of
   ``--requests`` GETs of ``/staff/reviews/<id>/`` by a reviewer, in-process through the test
   client. Baseline: the same page of a submission without machine checks (its photos
   given hashes of their own, so that it is not flagged as a duplicate of the first).
3. **OCR accuracy** on a generated corpus of ``--cards`` ID cards (``reviews.checks.specimen``),
   read in ``--shards`` processes: varied names (two to four characters, some minority
   names with ·), sexes, ethnicities, birth dates, regions and addresses, each card
   photographed turned −5…5°, blurred 0…2 px, a third with glare, JPEG quality 50…90. The
   front of every card and the back of every tenth are read as the checks read them
   (``runner.working_copy``, then ``runner.read_front`` / ``read_back``: the smaller copy,
   and a closer look where the number or validity was not read). A field counts when it
   is read exactly. Baseline: rapidocr's defaults (full-size photo, a thread per core) on every
   tenth card.

The host's speed (a plain Python loop of 10 million additions) and the load average are
printed at the start and the end: the machine is shared, and every figure scales with it.
"""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/queue.py would shadow the standard library's queue module: keep bench/ off the path.
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR)]

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

TARGET_SECONDS = 2.0
TARGET_MB = 500
TARGET_ID_NUMBER = 0.95
TARGET_NAME = 0.90
TARGET_PAGE_MS = 150
# rapidocr's defaults (the baseline) and the backs are read on every BASELINE_EVERY-th card.
BASELINE_EVERY = 10

SURNAMES = [
    *"王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢",
    "欧阳",
    "司马",
    "诸葛",
    "上官",
]
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鑫宇浩然子涵欣怡梓轩一诺思远嘉懿晨曦"
)
MINORITY_NAMES = ["阿依古丽·买买提", "努尔·艾力", "扎西·多吉", "古丽娜·吐尔逊", "买买提·艾山"]
ETHNICITIES = ["汉"] * 8 + ["回", "满", "蒙古", "壮", "藏", "维吾尔"]
REGIONS = [
    ("110105", "北京市朝阳区", "北京市公安局朝阳分局"),
    ("310115", "上海市浦东新区", "上海市公安局浦东分局"),
    ("440305", "广东省深圳市南山区", "深圳市公安局南山分局"),
    ("510104", "四川省成都市锦江区", "成都市公安局锦江区分局"),
    ("330106", "浙江省杭州市西湖区", "杭州市公安局西湖区分局"),
    ("420106", "湖北省武汉市武昌区", "武汉市公安局武昌区分局"),
    ("650102", "新疆维吾尔自治区乌鲁木齐市天山区", "乌鲁木齐市公安局天山区分局"),
    ("370102", "山东省济南市历下区", "济南市公安局历下区分局"),
]
STREETS = ["建国路", "人民路", "解放大道", "中山路", "长安街", "滨江路", "世纪大道", "南京东路", "和平里"]


def host_speed() -> float:
    """Seconds a plain Python loop of 10 million additions takes: how fast the host is right now."""
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def p90(values: list[float]) -> float:
    """The 90th percentile by nearest rank (the largest of fewer than ten values)."""
    return sorted(values)[math.ceil(len(values) * 0.9) - 1]


def load_average() -> float:
    return os.getloadavg()[0]


def insightface_image(name: str):
    from PIL import Image

    spec = importlib.util.find_spec("insightface")
    if spec is None:
        sys.exit("Install the test-only requirements first: pip install --no-deps -r requirements-test-images.txt")
    return Image.open(Path(next(iter(spec.submodule_search_locations))) / "data" / "images" / name).convert("RGB")


def portraits():
    """The six faces of the insightface group photo, framed as ID portraits."""
    from reviews.checks import face

    group = insightface_image("t1.jpg")
    framed = []
    for person in face.faces(group):
        left, top, right, bottom = person.box
        width, height = right - left, bottom - top
        framed.append(
            group.crop(
                (
                    int(left - width * 0.6),
                    int(top - height * 0.72),
                    int(right + width * 0.6),
                    int(bottom + height * 0.6),
                )
            )
        )
    return framed


def card_data(rng: random.Random) -> dict:
    from stdnum.cn import ric

    region, place, authority = rng.choice(REGIONS)
    if rng.random() < 0.05:
        name = rng.choice(MINORITY_NAMES)
    else:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
    born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 58))
    sex = rng.choice("男女")
    sequence = rng.randrange(0, 999)
    sequence -= (sequence % 2) != (1 if sex == "男" else 0)  # the 17th digit: odd for men
    sequence = max(sequence, 0 if sex == "女" else 1)
    base = f"{region}{born:%Y%m%d}{sequence:03d}"
    number = base + ric.calc_check_digit(base + "0")
    address = f"{place}{rng.choice(STREETS)}{rng.randint(1, 300)}号"
    if rng.random() < 0.5:
        address += f"{rng.randint(1, 30)}栋{rng.randint(101, 2505)}室"
    issued = datetime.date(2005, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 20))
    years = 20 if rng.random() < 0.5 else 10
    until = None if rng.random() < 0.1 else issued.replace(year=issued.year + years)
    return {
        "name": name,
        "sex": sex,
        "ethnicity": rng.choice(ETHNICITIES),
        "birth_date": born,
        "address": address,
        "id_number": number,
        "authority": authority,
        "valid_from": issued,
        "valid_until": until,
    }


def distortion(rng: random.Random) -> dict:
    return {
        "angle": rng.uniform(-5, 5),
        "blur": rng.uniform(0, 2.0),
        "glare": rng.uniform(0.3, 0.7) if rng.random() < 1 / 3 else 0.0,
        "quality": rng.randint(50, 90),
    }


# --- 1. accuracy ----------------------------------------------------------------------------


def read_front(engine_call, photo):
    from reviews.checks import identity
    from reviews.checks.ocr import group_lines

    return identity.parse_front(group_lines(engine_call(photo)))


def read_back(engine_call, photo):
    from reviews.checks import identity
    from reviews.checks.ocr import group_lines

    return identity.parse_back(group_lines(engine_call(photo)))


def baseline_boxes(engine):
    """rapidocr with its defaults on the full-size photo."""
    import numpy as np

    from reviews.checks.ocr import TextBox

    def call(image):
        result, _ = engine(np.asarray(image.convert("RGB"))[:, :, ::-1])
        boxes = []
        for corners, text, score in result or ():
            ys = [p[1] for p in corners]
            boxes.append(
                TextBox(text=text, score=float(score), left=min(p[0] for p in corners), top=min(ys), bottom=max(ys))
            )
        return boxes

    return call


def accuracy(start: int, stop: int, seed: int = 2026) -> dict:
    """Read cards ``start`` … ``stop - 1`` of the corpus (each card's randomness is its own)."""
    from rapidocr_onnxruntime import RapidOCR

    from reviews.checks import identity, ocr, runner, specimen

    # The checks read a side as ``runner.run`` does: its working copy, OCR on the smaller
    # copy, and a second, closer look when the number (front) or validity (back) was not read.
    second_looks = {"front": 0, "back": 0}
    sizes = []
    read_lines = ocr.read_lines

    def counted_read_lines(image, long_side=ocr.OCR_LONG_SIDE):
        sizes.append(long_side)
        return read_lines(image, long_side)

    ocr.read_lines = counted_read_lines  # the runner's calls, counted

    def checks_front(image, typed_id_number):
        sizes.clear()
        read = identity.parse_front(runner.read_front(runner.working_copy(image), typed_id_number=typed_id_number))
        second_looks["front"] += ocr.CLOSER_LONG_SIDE in sizes
        return read

    def checks_back(image):
        sizes.clear()
        read = identity.parse_back(runner.read_back(runner.working_copy(image)))
        second_looks["back"] += ocr.CLOSER_LONG_SIDE in sizes
        return read

    faces = portraits()
    ocr.engine()
    default_engine = baseline_boxes(RapidOCR())
    fields = ("id_number", "name", "sex", "birth_date", "ethnicity", "address")
    counts = {"checks": dict.fromkeys(fields, 0), "baseline": dict.fromkeys(fields, 0)}
    back_counts = {"checks": {"validity": 0, "authority": 0}, "baseline": {"validity": 0, "authority": 0}}
    seconds = {"checks": [], "baseline": []}
    subset_checks = dict.fromkeys(fields, 0)
    misses = []
    for index in range(start, stop):
        rng = random.Random(seed * 100_000 + index)
        data = card_data(rng)
        front = specimen.photographed(
            specimen.card_front(
                name=data["name"],
                sex=data["sex"],
                ethnicity=data["ethnicity"],
                birth_date=data["birth_date"],
                address=data["address"],
                id_number=data["id_number"],
                portrait=faces[index % len(faces)],
                seed=index,
            ),
            seed=index,
            **distortion(rng),
        )
        truth = {
            "id_number": data["id_number"],
            "name": data["name"],
            "sex": data["sex"],
            "birth_date": data["birth_date"].isoformat(),
            "ethnicity": data["ethnicity"],
            "address": data["address"],
        }
        started = time.perf_counter()
        read = checks_front(front, data["id_number"])  # the customer typed the card's number
        seconds["checks"].append(time.perf_counter() - started)
        for key in fields:
            hit = (
                read.get(key) == truth[key]
                if key != "name"
                else identity.normalize_name(read.get("name", "")) == truth["name"]
            )
            counts["checks"][key] += hit
            if not hit and key in ("id_number", "name"):
                misses.append(f"card {index}: {key} read {read.get(key)!r}, true {truth[key]!r}")
        baseline_card = index % BASELINE_EVERY == 0
        if baseline_card:
            for key in fields:
                subset_checks[key] += (
                    read.get(key) == truth[key]
                    if key != "name"
                    else identity.normalize_name(read.get("name", "")) == truth["name"]
                )
            started = time.perf_counter()
            base_read = read_front(default_engine, front)
            seconds["baseline"].append(time.perf_counter() - started)
            for key in fields:
                counts["baseline"][key] += (
                    base_read.get(key) == truth[key]
                    if key != "name"
                    else identity.normalize_name(base_read.get("name", "")) == truth["name"]
                )
            back = specimen.photographed(
                specimen.card_back(
                    authority=data["authority"],
                    valid_from=data["valid_from"],
                    valid_until=data["valid_until"],
                    seed=index,
                ),
                seed=index + 1,
                **distortion(rng),
            )
            until = data["valid_until"].isoformat() if data["valid_until"] else ""
            for variant, reader in (("checks", checks_back), ("baseline", partial(read_back, default_engine))):
                back_read = reader(back)
                back_counts[variant]["validity"] += (
                    back_read.get("valid_from") == data["valid_from"].isoformat()
                    and back_read.get("valid_until") == until
                )
                back_counts[variant]["authority"] += back_read.get("authority") == data["authority"]
        if os.environ.get("BENCH_PROGRESS"):
            # One line per card, so that a run cut short still tells what it read.
            with open(os.environ["BENCH_PROGRESS"], "a") as progress:
                progress.write(
                    json.dumps(
                        {
                            "card": index,
                            "truth": truth,
                            "read": read,
                            "baseline_read": base_read if baseline_card else None,
                            "seconds": seconds["checks"][-1],
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        if (index + 1) % 10 == 0:
            print(f"  card {index + 1} read", file=sys.stderr, flush=True)
    return {
        "cards": stop - start,
        "subset": len(seconds["baseline"]),
        "counts": counts,
        "subset_checks": subset_checks,
        "back": back_counts,
        "seconds": seconds,
        "misses": misses,
        "second_looks": second_looks,
    }


def merged(parts: list[dict]) -> dict:
    """The shards' counts added up."""
    total = {
        "cards": sum(part["cards"] for part in parts),
        "subset": sum(part["subset"] for part in parts),
        "seconds": {
            key: statistics.median([value for part in parts for value in part["seconds"][key]])
            for key in ("checks", "baseline")
        },
        "misses": [miss for part in parts for miss in part["misses"]][:12],
        "second_looks": {side: sum(part["second_looks"][side] for part in parts) for side in ("front", "back")},
    }
    for name in ("counts", "back"):
        total[name] = {
            variant: {key: sum(part[name][variant][key] for part in parts) for key in parts[0][name][variant]}
            for variant in ("checks", "baseline")
        }
    total["subset_checks"] = {
        key: sum(part["subset_checks"][key] for part in parts) for key in parts[0]["subset_checks"]
    }
    return total


# --- 2. per submission, in a fresh process -------------------------------------------------


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status: VmRSS (now) or VmHWM (peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return status_mb("VmHWM")


def submission_photos() -> dict[str, bytes]:
    """A submission's three photos as stored: JPEG bytes, the card photographed, a person holding it."""
    from reviews.checks import specimen

    faces = portraits()
    front = specimen.card_front(
        name="张伟明",
        sex="男",
        ethnicity="汉",
        birth_date=datetime.date(1990, 3, 7),
        address="北京市朝阳区建国路88号院3号楼2单元101室",
        id_number="110105199003071239",
        portrait=faces[0],
    )
    back = specimen.card_back(
        authority="北京市公安局朝阳分局", valid_from=datetime.date(2016, 3, 7), valid_until=datetime.date(2036, 3, 7)
    )
    images = {
        "front": specimen.photographed(front, angle=3, blur=1.0, glare=0.4, quality=80, size=(2048, 1536)),
        "back": specimen.photographed(back, angle=-2, blur=1.0, quality=80, size=(2048, 1536)),
        "handheld": specimen.handheld(
            faces[0].resize((faces[0].width * 2 // 3, faces[0].height * 2 // 3)), front, size=(1536, 2048)
        ),
    }
    encoded = {}
    for key, image in images.items():
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88)
        encoded[key] = buffer.getvalue()
    return encoded


def write_submission_photos(folder: Path) -> None:
    for key, data in submission_photos().items():
        (folder / f"{key}.jpg").write_bytes(data)


def child_submission(runs: int, reload_models: bool, folder: str) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    import django

    django.setup()
    from PIL import Image

    import reviews.services  # noqa: F401  what a worker has imported: the models, the checks' service
    from reviews.checks import face, ocr, runner

    photos = {key: (Path(folder) / f"{key}.jpg").read_bytes() for key in ("front", "back", "handheld")}
    imported_mb = status_mb("VmRSS")

    def one():
        images = {key: Image.open(io.BytesIO(data)) for key, data in photos.items()}
        return runner.run(
            front=images["front"],
            back=images["back"],
            handheld=images["handheld"],
            typed=runner.Typed(full_name="张伟明", id_number="110105199003071239"),
            on_day=datetime.date(2026, 12, 2),
            thresholds=runner.Thresholds(face_same_max=0.5, face_different_min=0.6),
        )

    started = time.perf_counter()
    outcome = one()
    first = time.perf_counter() - started
    after_first_mb = status_mb("VmRSS")
    times, cpu = [], []
    for _ in range(runs):
        if reload_models:
            ocr._engine = None
            face._models = None
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = one()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return {
        "first": first,
        "cpu": statistics.median(cpu),
        "median": statistics.median(times),
        "p90": p90(times),
        "peak_mb": peak_rss_mb(),
        "imported_mb": imported_mb,
        "after_first_mb": after_first_mb,
        "resident_mb": status_mb("VmRSS"),
        "timings": outcome.timings,
        "face": [outcome.face_band, outcome.face_distance],
        "fields": {key: value["outcome"] for key, value in outcome.fields.items()},
    }


# --- 3. the review page --------------------------------------------------------------------


def child_page(requests: int, folder: str) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    from accounts import services as account_services
    from accounts.models import User
    from reviews import photos as photo_pipeline
    from reviews import services

    setup_test_environment()
    call_command("migrate", verbosity=0)
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    def customer(phone):
        return User.objects.create(phone=phone, is_active=True)

    stored = {key: (Path(folder) / f"{key}.jpg").read_bytes() for key in ("front", "back", "handheld")}

    def submit(phone, number, *, own_hashes=False):
        photos = {}
        for key, data in stored.items():
            photo = photo_pipeline.process_photo(SimpleUploadedFile(f"{key}.jpg", data), kind=f"id_{key}")
            if own_hashes:
                # Not the first submission's photos to the duplicate check: no flag, no other account shown.
                digest = hashlib.sha256(f"{phone}-{key}".encode()).digest()
                photo = dataclasses.replace(
                    photo, dhash=int.from_bytes(digest[:8], "big"), original_sha256=digest.hex()
                )
            photos[f"id_{key}"] = photo
        photo_set = services.PhotoSet(**photos)
        user = customer(phone)
        return services.submission_create(
            user=user, full_name="张伟明", id_number=number, contact_phone=phone, photos=photo_set, actor=user
        )

    suffix = random.randrange(10**6)
    with_check = submit(f"+86138{suffix:06d}01", "110105199003071239")
    services.machine_check_run(check_id=with_check.machine_check.pk)
    without_check = submit(f"+86138{suffix:06d}02", "110105199003072135", own_hashes=True)
    without_check.machine_check.delete()
    assert not with_check.is_flagged and not without_check.is_flagged, (with_check.flags, without_check.flags)
    reviewer = account_services.staff_user_create(
        login=f"bench-reviewer-{suffix}",
        role="reviewer",
        password="bench-password-123456",  # noqa: S106
    )
    client = Client()
    client.force_login(reviewer)
    result = {}
    for label, submission in (("with checks", with_check), ("without (baseline)", without_check)):
        url = reverse("reviews:review", args=[submission.pk])
        for _ in range(3):
            response = client.get(url)
            assert response.status_code == 200, response.status_code
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        result[label] = {
            "median_ms": statistics.median(times),
            "p90_ms": p90(times),
            "queries": len(queries),
        }
    result["database"] = connection.vendor
    return result


def run_child(*args) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--shards", type=int, default=2, help="processes reading the corpus at once")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind = args.child[0]
        if kind == "submission":
            print(json.dumps(child_submission(int(args.child[1]), args.child[2] == "reload", args.child[3])))
        elif kind == "accuracy":
            print(json.dumps(accuracy(int(args.child[1]), int(args.child[2]))))
        else:
            print(json.dumps(child_page(int(args.child[1]), args.child[2])))
        return
    if args.cards < 200:
        print(f"(--cards {args.cards}: fewer than the 200 the target asks for)", file=sys.stderr)

    lines = []
    speed_start, load_start = host_speed(), load_average()
    with tempfile.TemporaryDirectory() as folder:
        write_submission_photos(Path(folder))
        # The timed parts first, one process at a time: nothing of the bench's own runs beside them.
        print("per submission (fresh processes)…", file=sys.stderr, flush=True)
        once = run_child("submission", str(args.runs), "once", folder)
        reload = run_child("submission", str(max(2, args.runs // 2)), "reload", folder)
        print(json.dumps({"once": once, "reload": reload}), file=sys.stderr, flush=True)
        print("review page…", file=sys.stderr, flush=True)
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3")
        page = run_child("page", str(args.requests), folder)
    print(json.dumps(page), file=sys.stderr, flush=True)
    load_timed = load_average()
    print("OCR accuracy…", file=sys.stderr, flush=True)
    bounds = [round(args.cards * k / args.shards) for k in range(args.shards + 1)]
    shards = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "accuracy", str(bounds[k]), str(bounds[k + 1])],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for k in range(args.shards)
    ]
    parts = []
    for shard in shards:
        output, _ = shard.communicate()
        if shard.returncode:
            sys.exit(f"an accuracy shard failed ({shard.returncode})")
        parts.append(json.loads(output.strip().splitlines()[-1]))
    acc = merged(parts)
    speed_end, load_end = host_speed(), load_average()

    lines.append(
        f"Host: {os.cpu_count()} CPUs; a plain Python loop of 10 million additions took {speed_start:.2f} s at the "
        f"start and {speed_end:.2f} s at the end; load average {load_start:.1f} at the start, {load_timed:.1f} "
        f"after the timed parts (1 and 2), {load_end:.1f} at the end."
    )
    lines.append("")
    lines.append(
        "1. Per submission (three photos from JPEG bytes → OCR front and back, face match), fresh process "
        "with Django set up"
    )
    lines.append(f"{'variant':<34}{'first s':>9}{'median s':>10}{'p90 s':>8}{'CPU s':>8}{'peak RSS MB':>13}")
    for label, row in (("models loaded once per process", once), ("baseline: models loaded each time", reload)):
        lines.append(
            f"{label:<34}{row['first']:>9.2f}{row['median']:>10.2f}{row['p90']:>8.2f}{row['cpu']:>8.2f}"
            f"{row['peak_mb']:>13.0f}"
        )
    lines.append(
        f"  resident MB (models once): {once['imported_mb']:.0f} after Django and the imports, "
        f"{once['after_first_mb']:.0f} after the first run (models loaded), {once['resident_mb']:.0f} at the end, "
        f"peak {once['peak_mb']:.0f}"
    )
    lines.append(f"  stages of the last run (s): {once['timings']}; face {once['face']}; fields {once['fields']}")
    lines.append("")
    lines.append(f"2. Review page, {args.requests} GETs in-process ({page['database']})")
    for label in ("with checks", "without (baseline)"):
        row = page[label]
        lines.append(
            f"{label:<22}median {row['median_ms']:.1f} ms, p90 {row['p90_ms']:.1f} ms, {row['queries']} queries"
        )
    lines.append("")
    subset = acc["subset"]
    lines.append(
        f"3. OCR field accuracy, read exactly: {acc['cards']} generated cards (the checks, in {args.shards} "
        f"processes); rapidocr defaults on every tenth ({subset}) as the baseline"
    )
    lines.append(f"{'field':<12}{'checks, all':>14}{'checks, subset':>16}{'baseline, subset':>18}")
    for key in acc["counts"]["checks"]:
        lines.append(
            f"{key:<12}{acc['counts']['checks'][key] / acc['cards']:>14.1%}"
            f"{acc['subset_checks'][key] / subset:>16.1%}{acc['counts']['baseline'][key] / subset:>18.1%}"
        )
    for key in ("validity", "authority"):
        lines.append(
            f"{'back ' + key:<12}{'':>14}{acc['back']['checks'][key] / subset:>16.1%}"
            f"{acc['back']['baseline'][key] / subset:>18.1%}"
        )
    lines.append(
        f"median seconds per front: checks {acc['seconds']['checks']:.2f}, baseline {acc['seconds']['baseline']:.2f}"
        f" (beside the other shard{'s' if args.shards > 2 else ''})"
    )
    lines.append(
        f"read again closer (the number or the validity not read on the smaller copy): "
        f"{acc['second_looks']['front']} fronts of {acc['cards']}, {acc['second_looks']['back']} backs of {subset}"
    )
    for miss in acc["misses"]:
        lines.append(f"  miss: {miss}")
    lines.append("")
    id_rate = acc["counts"]["checks"]["id_number"] / acc["cards"]
    name_rate = acc["counts"]["checks"]["name"] / acc["cards"]
    corpus = acc["cards"] >= 200
    for met, text in (
        (once["median"] < TARGET_SECONDS, f"per submission median < {TARGET_SECONDS:.0f} s"),
        (once["peak_mb"] < TARGET_MB, f"peak RSS < {TARGET_MB} MB with the models loaded"),
        (corpus and id_rate >= TARGET_ID_NUMBER, f"ID number read exactly on ≥ {TARGET_ID_NUMBER:.0%} of 200+ cards"),
        (corpus and name_rate >= TARGET_NAME, f"name read exactly on ≥ {TARGET_NAME:.0%} of 200+ cards"),
        (page["with checks"]["median_ms"] < TARGET_PAGE_MS, f"review page median < {TARGET_PAGE_MS} ms"),
    ):
        lines.append(f"[{'met' if met else 'MISSED'}] {text}")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
