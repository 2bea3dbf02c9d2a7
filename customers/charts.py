"""Geometry of the dashboard's server-rendered SVG charts: axes, ticks, labels, dates (no script, no CDN).

The templates draw what these return; every chart also has a table with the same figures.
"""

import math

# Told apart in colour and, for the lines, by dash pattern (see ``DASHES``).
PALETTE = ["#0d6efd", "#d63384", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#dc3545", "#6c757d"]
DASHES = ["", "6 3", "2 3", "8 3 2 3"]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value`` (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:g}"


def line_chart(*, days: list, series: list[tuple[str, list[int]]], width: int = 720, height: int = 260) -> dict:
    """One line per series over ``days``; a y axis of counts with 5 ticks, a dated x axis every 7 days."""
    left, right, top, bottom = 44, 12, 12, 36
    plot_width, plot_height = width - left - right, height - top - bottom
    peak = nice_ceiling(max([value for _label, values in series for value in values] + [1]))
    step = plot_width / max(len(days) - 1, 1)

    def x(index):
        return round(left + index * step, 1)

    def y(value):
        return round(top + plot_height * (1 - value / peak), 1)

    lines = []
    for position, (label, values) in enumerate(series):
        lines.append(
            {
                "label": label,
                "color": PALETTE[position % len(PALETTE)],
                "dash": DASHES[position % len(DASHES)],
                "points": " ".join(f"{x(index)},{y(value)}" for index, value in enumerate(values)),
            }
        )
    last = len(days) - 1
    x_ticks = [{"x": x(index), "label": days[index]} for index in range(last, -1, -7)][::-1]
    y_ticks = [{"y": y(peak * share / 4), "label": _number(peak * share / 4)} for share in range(5)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "lines": lines,
    }


def bar_chart(*, rows: list[tuple[str, float | None]], unit: str = "", width: int = 480, row_height: int = 22) -> dict:
    """Horizontal bars, one per labelled row (None: no bar, a dash), on an x axis with 5 ticks."""
    left, right, top, bottom = 110, 40, 8, 28
    plot_width = width - left - right
    peak = nice_ceiling(max([value for _label, value in rows if value is not None] + [0]))
    height = top + bottom + row_height * max(len(rows), 1)
    bars = []
    for index, (label, value) in enumerate(rows):
        bars.append(
            {
                "label": label,
                "y": top + index * row_height + 4,
                "text_y": top + index * row_height + row_height / 2 + 4,
                "width": round(plot_width * (value or 0) / peak, 1),
                "value": "—" if value is None else f"{_number(round(value, 1))}{unit}",
                "end": round(left + plot_width * (value or 0) / peak + 4, 1),
            }
        )
    ticks = [{"x": round(left + plot_width * share / 4, 1), "label": _number(peak * share / 4)} for share in range(5)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "bar_height": row_height - 8,
        "bars": bars,
        "ticks": ticks,
        "unit": unit,
    }
