"""Charts as server-rendered SVG: this module does the geometry, templates/components/chart_svg.html draws it.

A chart is a value object: plot area, axis ticks with their labels, bars or polylines with a hover
title each, and the same numbers as a table (the table is what screen readers and people without
CSS read, and what the chart's <desc> summarises). Value formatting is passed in and the label helpers
at the end take the locale, so labels follow the page's language and currency; nothing here needs a request.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

WIDTH, HEIGHT = 480, 200  # drawn about 440 px wide in a half-width card, so 12-unit text reads at ~11 px
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 12, 12, 30
MAX_X_LABELS = 7
PALETTE = ("#3451d1", "#c0362c", "#1f8a70", "#d08a1c", "#7a4fc9", "#5d6773")

Format = Callable[[int], str]


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    values: Sequence[int]
    color: str = PALETTE[0]


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str
    series: str
    point: str
    value: int


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    title: str
    point: str
    value: int


@dataclass(frozen=True)
class Line:
    series: str
    color: str
    points: str
    markers: tuple[Marker, ...]


@dataclass
class Chart:
    id: str
    title: str
    summary: str
    series: list[Series]
    x_labels: list[str]
    points: list[str]                 # machine-readable x values (ISO days), for data-* attributes
    value_format: Format
    width: int = WIDTH
    height: int = HEIGHT
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    empty: bool = False

    @property
    def left(self) -> int:
        return MARGIN_LEFT

    @property
    def right(self) -> int:
        return self.width - MARGIN_RIGHT

    @property
    def top(self) -> int:
        return MARGIN_TOP

    @property
    def bottom(self) -> int:
        return self.height - MARGIN_BOTTOM

    @property
    def table(self) -> list[tuple[str, str, list[str]]]:
        """(label, point, formatted value per series) for each x value: the chart's data as a table."""
        return [(label, point, [self.value_format(s.values[i]) for s in self.series])
                for i, (label, point) in enumerate(zip(self.x_labels, self.points))]


def nice_scale(maximum: float, ticks: int = 4, integer: bool = True) -> tuple[float, float]:
    """(top, step): a round axis maximum >= `maximum`, divided into about `ticks` round steps."""
    if maximum <= 0:
        return (ticks if integer else 1.0), (1 if integer else 1.0 / ticks)
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1, math.ceil(step))
    top = math.ceil(maximum / step - 1e-9) * step
    return top, step


def _x_ticks(chart: Chart, slot: float) -> list[Tick]:
    count = len(chart.x_labels)
    every = max(1, math.ceil(count / MAX_X_LABELS))
    return [Tick(round(chart.left + slot * (i + 0.5), 2), label) for i, label in enumerate(chart.x_labels)
            if i % every == 0]


def _y_axis(chart: Chart, maximum: float, integer: bool, fixed_top: float | None = None) -> float:
    top, step = nice_scale(fixed_top or maximum, integer=integer)
    height = chart.bottom - chart.top
    value = 0.0
    while value <= top + 1e-9:
        chart.y_ticks.append(Tick(chart.bottom - height * value / top, chart.value_format(round(value))))
        value += step
    return top


def bar_chart(chart_id: str, title: str, summary: str, x_labels: list[str], points: list[str],
              series: list[Series], value_format: Format, integer: bool = True, width: int = WIDTH,
              fixed_top: float | None = None) -> Chart:
    """Stacked bars, one column per x value, series bottom to top; `fixed_top` pins the axis (e.g. 100%)."""
    chart = Chart(chart_id, title, summary, series, x_labels, points, value_format, width=width)
    count = len(x_labels)
    stacks = [sum(s.values[i] for s in series) for i in range(count)]
    chart.empty = not any(value > 0 for value in stacks)
    top = _y_axis(chart, max(stacks, default=0), integer, fixed_top)
    slot = (chart.right - chart.left) / max(count, 1)
    width = max(slot * 0.7, 1.0)
    height = chart.bottom - chart.top
    for i in range(count):
        base = 0
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            y_high = chart.bottom - height * (base + value) / top
            y_low = chart.bottom - height * base / top
            chart.bars.append(Bar(round(chart.left + slot * i + (slot - width) / 2, 2), round(y_high, 2),
                                  round(width, 2), round(max(y_low - y_high, 0.5), 2), s.color,
                                  f"{x_labels[i]} · {s.label}: {value_format(value)}", s.key, points[i], value))
            base += value
    chart.x_ticks = _x_ticks(chart, slot)
    return chart


def line_chart(chart_id: str, title: str, summary: str, x_labels: list[str], points: list[str],
               series: list[Series], value_format: Format, integer: bool = True) -> Chart:
    """One polyline per series over the same x values, with a titled marker at every point."""
    chart = Chart(chart_id, title, summary, series, x_labels, points, value_format)
    count = len(x_labels)
    highest = max((v for s in series for v in s.values), default=0)
    chart.empty = highest <= 0
    top = _y_axis(chart, highest, integer)
    slot = (chart.right - chart.left) / max(count, 1)
    height = chart.bottom - chart.top
    for s in series:
        markers = tuple(Marker(round(chart.left + slot * (i + 0.5), 2),
                               round(chart.bottom - height * s.values[i] / top, 2),
                               f"{x_labels[i]} · {s.label}: {value_format(s.values[i])}", points[i], s.values[i])
                        for i in range(count))
        chart.lines.append(Line(s.key, s.color, " ".join(f"{m.x},{m.y}" for m in markers), markers))
    chart.x_ticks = _x_ticks(chart, slot)
    return chart


def day_label(day, locale) -> str:
    """"Nov 24" / "11月24日": short enough for an axis."""
    from babel.dates import format_skeleton
    return format_skeleton("MMMd", day, locale=locale)


def hour_label(moment, locale, with_day: bool = False) -> str:
    """"14:00" on the axis (with the day at midnight, "Nov 24 00:00"), or always with the day."""
    from babel.dates import format_skeleton
    hour = moment.strftime("%H:00")
    if with_day or moment.hour == 0:
        return f"{format_skeleton('MMMd', moment, locale=locale)} {hour}"
    return hour


def compact_number(value: int, locale) -> str:
    """12.3K / 1.2万: axis labels for token counts."""
    from babel.numbers import format_compact_decimal
    return format_compact_decimal(value, locale=locale, fraction_digits=1)


def percent(share: float | None, locale) -> str:
    from babel.numbers import format_percent
    return "—" if share is None else format_percent(share, "#,##0.#%", locale=locale)
