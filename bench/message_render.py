"""What rendering messages when they are read costs an inbox page, against stored text.

    .venv/bin/python bench/message_render.py [--rounds 2000]

Renders the inbox's list of 20 messages (the page size of ``/notifications/``) with
Django's template engine, in Chinese and in English, two ways:

- ``by kind``: the messages as the product stores them now, a kind and its parameters
  (a mix of kinds: dates, money, plurals, reasons in both languages), rendered when read;
- ``stored text`` (the baseline): the same messages as finished text in the columns,
  as the product stored them before, read as they are.

No database is involved: the rows are built in memory, so the figure is the rendering
alone. Prints milliseconds per page, median and fastest, beside the host's speed (a plain
loop of 10 million additions) and load, measured in the same run.
"""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(BENCH_DIR.parent))

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

PAGE = 20
TEMPLATE = """{% for notification in page %}<div><strong>{{ notification.subject }}</strong>
<small>{{ notification.created_at|date:"Y-m-d H:i" }}</small><p>{{ notification.body|linebreaksbr }}</p></div>
{% endfor %}"""


def host_speed() -> float:
    """Seconds a plain Python loop of 10 million additions takes: how fast the host is right now."""
    total = 0
    began = time.perf_counter()
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - began


def messages():
    from django.utils import timezone

    from accounts import message_kinds as kinds

    now = timezone.now()
    samples = [
        (kinds.LINE_EXPIRED, {"number": "138 0013 8000"}),
        (kinds.RENEWAL_PAID, {"number": "138 0013 8000", "end": kinds.date_param(now), "amount": "30.00"}),
        (kinds.LINES_ACTIVE, {"numbers": "138 0013 8000, 139 0013 9000", "count": 2}),
        (
            kinds.VERIFICATION_REJECTED,
            {
                "reasons": kinds.texts_param({"zh-hans": "反光", "en": "Glare"}, {"zh-hans": "过暗", "en": "Too dark"}),
                "follow_up": kinds.msgid_param(kinds.FOLLOW_UP_RETRY),
                "note": "请在白纸上拍摄。",
            },
        ),
        (
            kinds.AUTORENEW_FAILED,
            {
                "number": "138 0013 8000",
                "balance": "10.00",
                "amount": "30.00",
                "end": kinds.date_param(now),
                "time": kinds.datetime_param(now + timedelta(hours=12)),
            },
        ),
    ]
    return [(samples[n % len(samples)], now - timedelta(minutes=n)) for n in range(PAGE)]


def pages(language: str):
    from django.utils import translation

    from accounts import message_kinds
    from accounts.models import Notification

    by_kind, stored = [], []
    with translation.override(language):
        for (kind, params), created_at in messages():
            encoded = message_kinds.encode_params(params)
            by_kind.append(Notification(kind=kind.key, params=encoded, created_at=created_at))
            text = message_kinds.render(kind.key, encoded)
            stored.append(Notification(legacy_subject=text.subject, legacy_body=text.body, created_at=created_at))
    return by_kind, stored


def time_page(template, rows_factory, language: str, rounds: int) -> tuple[float, float]:
    """Median and fastest milliseconds to render one page (fresh rows each time: nothing cached between pages).

    On a busy host the median mostly measures the waits for a core; the fastest render is
    the cost of the work itself.
    """
    from django.utils import translation

    samples = []
    with translation.override(language):
        for _ in range(rounds):
            rows = rows_factory()
            began = time.perf_counter()
            template.render({"page": rows})
            samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000, min(samples) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heyon_site.settings.test")
    import django

    django.setup()
    from django.template import engines

    from accounts.models import Notification

    template = engines["django"].from_string(TEMPLATE)
    speed = host_speed()
    print(f"host: {speed:.2f} s for 10 million additions, load average {os.getloadavg()[0]:.1f}")
    print(f"inbox page of {PAGE} messages, median of {args.rounds} renders")
    for language in ("zh-hans", "en"):
        by_kind, stored = pages(language)

        def copies(rows):
            return lambda: [
                Notification(
                    kind=row.kind,
                    params=row.params,
                    legacy_subject=row.legacy_subject,
                    legacy_body=row.legacy_body,
                    created_at=row.created_at,
                )
                for row in rows
            ]

        kind_ms, kind_best = time_page(template, copies(by_kind), language, args.rounds)
        stored_ms, stored_best = time_page(template, copies(stored), language, args.rounds)
        extra = kind_best - stored_best
        print(
            f"{language:8} median: by kind {kind_ms:.3f} ms, stored text (baseline) {stored_ms:.3f} ms;  "
            f"fastest: by kind {kind_best:.3f} ms, stored text {stored_best:.3f} ms, "
            f"{extra:+.3f} ms a page ({extra / PAGE * 1000:.0f} µs a message)"
        )


if __name__ == "__main__":
    main()
