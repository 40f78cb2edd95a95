"""The web's one chart technology: server-rendered SVG from typed chart data.

An app describes a chart in data units (:class:`ChartData`: series of points that carry their own
display text, shaded spans, percentile bands, labelled reference lines, vertical markers, axes
with their units and ticks) and :func:`render` turns it into an :class:`SvgChart`, the context of
``web/_chart.html``: SVG primitives with presentation attributes only (the strict CSP forbids
``style=`` and scripts), an HTML legend (legible at any width), and a data table built from the
very points that are drawn (the screen reader's alternative, referenced by ``aria-describedby``).

Chosen by measurement over matplotlib PNGs rendered per request (docs/performance-web.md,
``benchmarks/chart_render.py``). matplotlib stays for the PDFs (reportlab) and the
``ketaflow pk simulate --plot`` command.

Rules every chart follows (tested in tests/web/test_charts.py):
- a title, axis labels with units, tick labels in the clinic's time when the axis is a time;
- reference lines (thresholds, bands) are dashed, grey-toned, labelled at their right end and never
  listed in the legend or the table as data;
- the viewBox is narrow (``WIDTH`` user units) with 13-unit text, so that at 390 px the text stays
  about 10 px high and nothing scrolls sideways;
- a value outside the axis is drawn at the edge (drawing only) and the table shows the value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

WIDTH: Final = 400
HEIGHT: Final = 250
LEFT: Final = 42
RIGHT: Final = 14
TOP: Final = 28
BOTTOM: Final = 44
FONT: Final = 13
INK: Final = "#33414a"
GRID: Final = "#dde3e7"
REFERENCE: Final = "#5b6b75"


@dataclass(frozen=True)
class Point:
    """One datum in the axes' units, with the words the table and the tooltip show."""

    x: float
    y: float
    x_text: str
    y_text: str
    fill: str | None = None  # a dot's own colour (e.g. the vitals' alert level)


@dataclass(frozen=True)
class Series:
    label: str  # with its unit when the axis mixes units, e.g. "Systolic (mmHg)"
    points: Sequence[Point]
    colour: str
    step: bool = False  # a step function (Kaplan-Meier)
    dots: bool = True


@dataclass(frozen=True)
class Band:
    """A shaded range between two curves (e.g. the 5th-95th percentile), sharing its x with
    ``lows`` and ``highs`` point by point."""

    label: str
    lows: Sequence[Point]
    highs: Sequence[Point]
    colour: str
    step: bool = False


@dataclass(frozen=True)
class Span:
    """A shaded stretch of the x axis (e.g. the pump running)."""

    label: str
    start: float
    end: float
    colour: str = "#e3eef3"


@dataclass(frozen=True)
class Reference:
    """A horizontal reference line (a threshold, a baseline): not the patient's data."""

    label: str
    y: float


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` (e.g. an infusion day), named once in the legend."""

    label: str
    x: float
    colour: str = "#8e44ad"


@dataclass(frozen=True)
class Axis:
    label: str  # with the unit: "Score (0-80)", "Time (clinic time, America/New_York)"
    low: float
    high: float
    ticks: Sequence[tuple[float, str]]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str


@dataclass(frozen=True)
class ChartData:
    id: str  # unique on the page: the DOM ids of the title and the table derive from it
    title: str
    x: Axis
    y: Axis
    series: Sequence[Series] = ()
    bands: Sequence[Band] = ()
    spans: Sequence[Span] = ()
    references: Sequence[Reference] = ()
    markers: Sequence[Marker] = ()
    bars: Sequence[Bar] = ()  # horizontal bars: the y axis is then the bars' labels
    empty_text: str = "No data yet."
    table_caption: str = ""
    height: int = HEIGHT


# ---- the SVG context ------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    d: str
    stroke: str
    width: float = 2.0
    fill: str = "none"
    dash: str = ""
    opacity: float = 1.0


@dataclass(frozen=True)
class Dot:
    cx: float
    cy: float
    fill: str
    stroke: str
    tip: str


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    tip: str = ""


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: Literal["start", "middle", "end"] = "middle"
    fill: str = INK
    size: int = FONT
    halo: bool = False


@dataclass(frozen=True)
class LegendItem:
    label: str
    colour: str
    kind: Literal["line", "band", "span", "marker"]


@dataclass(frozen=True)
class Table:
    caption: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class SvgChart:
    id: str
    title: str
    width: int
    height: int
    rects: Sequence[Rect]
    grid: Sequence[Path]
    paths: Sequence[Path]
    dots: Sequence[Dot]
    texts: Sequence[Text]
    legend: Sequence[LegendItem]
    references: Sequence[str]  # the reference lines' labels, said once under the chart
    table: Table
    empty: bool
    extra: dict[str, str] = field(default_factory=dict)
    # Its markup once built (ketaflow.web.chart_markup), by whether numbers print plainly: a
    # chart kept from one request to the next (the infusion's PK chart) is not laid out again.
    markup: dict[bool, str] = field(default_factory=dict, compare=False, repr=False)


def _n(value: float) -> str:
    """A coordinate: one decimal, never exponent notation."""
    return f"{value:.1f}"


def render(chart: ChartData) -> SvgChart:
    if chart.bars:
        return _render_bars(chart)
    height = chart.height
    x0, x1 = LEFT, WIDTH - RIGHT
    y0, y1 = TOP, height - BOTTOM
    xspan = (chart.x.high - chart.x.low) or 1.0
    yspan = (chart.y.high - chart.y.low) or 1.0

    def px(x: float) -> float:
        return x0 + (min(max(x, chart.x.low), chart.x.high) - chart.x.low) / xspan * (x1 - x0)

    def py(y: float) -> float:
        # Drawing only: a value past the axis sits on its edge; the table shows the value.
        return y1 - (min(max(y, chart.y.low), chart.y.high) - chart.y.low) / yspan * (y1 - y0)

    rects = [
        Rect(
            float(_n(px(s.start))),
            float(y0),
            float(_n(max(px(s.end) - px(s.start), 0.5))),
            float(y1 - y0),
            s.colour,
            s.label,
        )
        for s in chart.spans
    ]
    grid = [Path(f"M{x0} {_n(py(v))}H{x1}", GRID, 1.0) for v, _ in chart.y.ticks]
    grid.append(Path(f"M{x0} {y1}H{x1}M{x0} {y0}V{y1}", INK, 1.0))
    texts = [Text(x0 - 5, py(v) + 4.5, label, "end", REFERENCE, FONT) for v, label in chart.y.ticks]
    # A tick label centred on the right edge would be cut off by the chart's border ("22:0"):
    # the last ones end at their tick instead.
    texts += [
        Text(px(v), y1 + 17, label, "end" if px(v) > x1 - 24 else "middle", REFERENCE, FONT)
        for v, label in chart.x.ticks
    ]
    texts.append(Text(float(x0 - 40), float(y0 - 12), chart.y.label, "start"))
    texts.append(Text(float(x1), float(height - 6), chart.x.label, "end"))
    paths: list[Path] = []
    for marker in chart.markers:
        paths.append(Path(f"M{_n(px(marker.x))} {y0}V{y1}", marker.colour, 1.2, opacity=0.45))
    for band in chart.bands:
        upper = [(px(p.x), py(p.y)) for p in band.highs]
        lower = [(px(p.x), py(p.y)) for p in band.lows]
        if upper and lower:
            outline = _line(upper, band.step) + "L" + _line(lower[::-1], band.step)[1:] + "Z"
            paths.append(Path(outline, "none", 0, fill=band.colour, opacity=0.25))
    placed: list[float] = []  # the labels' baselines, top to bottom, never on each other
    for ref in sorted(chart.references, key=lambda r: -r.y):
        y = py(ref.y)
        paths.append(Path(f"M{x0} {_n(y)}H{x1}", REFERENCE, 1.4, dash="6 4"))
        at = max(y - 4, y0 + FONT - 2)  # above its own line
        if placed and at < placed[-1] + FONT + 1:
            # too close to the label above: below its own line (never across it), and lower
            # still if that is not clear of the neighbour either
            at = max(y + FONT + 1, placed[-1] + FONT + 1)
        placed.append(at)
        texts.append(Text(float(x1 - 2), at, ref.label, "end", REFERENCE, FONT, True))
    dots: list[Dot] = []
    for s in chart.series:
        coords = [(px(p.x), py(p.y)) for p in s.points]
        if len(coords) > 1:
            paths.append(Path(_line(coords, s.step), s.colour, 2.2))
        if s.dots or len(coords) == 1:
            dots += [
                Dot(
                    float(_n(cx)),
                    float(_n(cy)),
                    p.fill or s.colour,
                    s.colour,
                    f"{s.label}: {p.y_text} ({p.x_text})",
                )
                for (cx, cy), p in zip(coords, s.points, strict=True)
            ]
    empty = not any(s.points for s in chart.series) and not any(b.highs for b in chart.bands)
    if empty:
        texts.append(Text((x0 + x1) / 2, (y0 + y1) / 2, chart.empty_text, "middle", REFERENCE))
    legend = [LegendItem(s.label, s.colour, "line") for s in chart.series if s.points]
    legend += [LegendItem(b.label, b.colour, "band") for b in chart.bands if b.highs]
    for label, colour in dict.fromkeys((s.label, s.colour) for s in chart.spans):
        legend.append(LegendItem(label, colour, "span"))
    for label, colour in dict.fromkeys((m.label, m.colour) for m in chart.markers):
        legend.append(LegendItem(label, colour, "marker"))
    return SvgChart(
        id=chart.id,
        title=chart.title,
        width=WIDTH,
        height=height,
        rects=rects,
        grid=grid,
        paths=paths,
        dots=dots,
        texts=[_rounded(t) for t in texts],
        legend=legend,
        references=[r.label for r in chart.references],
        table=data_table(chart),
        empty=empty,
    )


def _rounded(t: Text) -> Text:
    return Text(float(_n(t.x)), float(_n(t.y)), t.text, t.anchor, t.fill, t.size, t.halo)


def _line(coords: Sequence[tuple[float, float]], step: bool) -> str:
    out = [f"M{_n(coords[0][0])} {_n(coords[0][1])}"]
    for cx, cy in coords[1:]:
        out.append(f"H{_n(cx)}V{_n(cy)}" if step else f"L{_n(cx)} {_n(cy)}")
    return "".join(out)


def data_table(chart: ChartData) -> Table:
    """The drawn data as a table: one row per x (in drawing order), one column per series and
    per band edge. Reference lines are not data: the chart names them under the table."""
    if chart.bars:
        return Table(
            chart.table_caption or chart.title,
            [chart.y.label, chart.x.label],
            [[b.label, b.text] for b in chart.bars],
        )
    columns: list[tuple[str, Sequence[Point]]] = [(s.label, s.points) for s in chart.series]
    for band in chart.bands:
        columns += [(f"{band.label}: low", band.lows), (f"{band.label}: high", band.highs)]
    # Keyed by the x text and its occurrence: two readings at the same time stay two rows.
    rows: dict[tuple[str, int], dict[int, str]] = {}
    for index, (_, points) in enumerate(columns):
        seen: dict[str, int] = {}
        for p in points:
            seen[p.x_text] = seen.get(p.x_text, -1) + 1
            rows.setdefault((p.x_text, seen[p.x_text]), {})[index] = p.y_text
    return Table(
        chart.table_caption or chart.title,
        [chart.x.label, *[label for label, _ in columns]],
        [[x, *[cells.get(i, "—") for i in range(len(columns))]] for (x, _), cells in rows.items()],
    )


# About the mean advance of a character of the charts' sans-serif (DejaVu Sans) at FONT, in
# viewBox units, with a little to spare: 0.49 em measured on the dashboard's labels in Chromium.
CHAR_WIDTH: Final = 0.52 * FONT
MIN_BAR_PLOT: Final = 130  # viewBox units left for the bars however long the labels


def bar_label_room(labels: Sequence[str]) -> tuple[float, int]:
    """Where the bars start (room for the longest label, with the plot kept at least
    ``MIN_BAR_PLOT`` wide) and how many characters of a label fit before it: a longer label is
    shortened with an ellipsis on the chart, whole in the bar's title and the table (before, a
    label such as "Critical reading at the chair" ran off the chart's left edge)."""
    x1 = WIDTH - RIGHT - 40
    longest = max((len(label) for label in labels), default=0)
    x0 = min(max(LEFT + 110.0, 10 + longest * CHAR_WIDTH), x1 - MIN_BAR_PLOT)
    return x0, int((x0 - 10) / CHAR_WIDTH)


def _shown(label: str, fit: int) -> str:
    return label if len(label) <= fit else label[: fit - 1].rstrip() + "\u2026"


def _render_bars(chart: ChartData) -> SvgChart:
    row_h = 30
    height = TOP + row_h * max(len(chart.bars), 1) + BOTTOM
    x0, fit = bar_label_room([bar.label for bar in chart.bars])
    x1 = WIDTH - RIGHT - 40
    high = chart.x.high or 1.0

    def px(v: float) -> float:
        return x0 + min(max(v, 0.0), high) / high * (x1 - x0)

    rects: list[Rect] = []
    texts: list[Text] = []
    for i, bar in enumerate(chart.bars):
        y = TOP + i * row_h
        rects.append(
            Rect(
                float(x0),
                float(y + 6),
                float(_n(max(px(bar.value) - x0, 1))),
                row_h - 12.0,
                "#1f4e79",
                f"{bar.label}: {bar.text}",
            )
        )
        texts.append(Text(float(x0 - 6), y + row_h / 2 + 4.5, _shown(bar.label, fit), "end"))
        texts.append(Text(float(_n(px(bar.value) + 5)), y + row_h / 2 + 4.5, bar.text, "start"))
    y1 = TOP + row_h * max(len(chart.bars), 1)
    grid = [Path(f"M{_n(px(v))} {TOP}V{y1}", GRID, 1.0) for v, _ in chart.x.ticks]
    grid.append(Path(f"M{x0} {TOP}V{y1}H{x1}", INK, 1.0))
    texts += [
        Text(float(_n(px(v))), y1 + 17.0, t, "middle", REFERENCE, FONT) for v, t in chart.x.ticks
    ]
    texts.append(Text(float(x1), float(height - 6), chart.x.label, "end"))
    if not chart.bars:
        texts.append(Text((x0 + x1) / 2, TOP + 20.0, chart.empty_text, "middle", REFERENCE))
    return SvgChart(
        id=chart.id,
        title=chart.title,
        width=WIDTH,
        height=height,
        rects=rects,
        grid=grid,
        paths=[],
        dots=[],
        texts=texts,
        legend=[],
        references=[],
        table=data_table(chart),
        empty=not chart.bars,
    )


# ---- axes ------------------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values from ``low`` to at least ``high`` (1, 2, 2.5 or 5 times a power of 10)."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def number_text(value: float, decimals: int = 0) -> str:
    """A number for a label: fixed decimals, never exponent notation, no ``-0``."""
    text = f"{value:.{decimals}f}"
    return "0" if text.strip("-0.") == "" and decimals == 0 else text


def value_axis(label: str, low: float, high: float, *, decimals: int = 0, count: int = 5) -> Axis:
    ticks = nice_ticks(low, high, count)
    return Axis(label, ticks[0], ticks[-1], [(t, number_text(t, decimals)) for t in ticks])


def scale_axis(label: str, top: int) -> Axis:
    """A score's full scale 0-``top``: round ticks and the top itself."""
    ticks = nice_ticks(0, top, 5)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else float(top)
    kept = [t for t in ticks if t <= top - 0.3 * step]
    return Axis(label, 0.0, float(top), [(t, number_text(t)) for t in [*kept, float(top)]])


def day_number(day: dt.date) -> float:
    return float(day.toordinal())


def day_text(day: dt.date) -> str:
    return f"{day:%d %b %Y}".lstrip("0")


def date_axis(label: str, first: dt.date, last: dt.date, *, count: int = 4) -> Axis:
    """Days on x (the clinic's days), padded a little, with about ``count`` dated ticks."""
    span = max((last - first).days, 1)
    pad = max(round(span * 0.04), 1)
    low, high = first - dt.timedelta(days=pad), last + dt.timedelta(days=pad)
    step = max(round((high - low).days / count), 1)
    ticks = []
    day = first
    while day <= last:
        ticks.append((day_number(day), f"{day:%d %b}".lstrip("0")))
        day += dt.timedelta(days=step)
    return Axis(label, day_number(low), day_number(high), ticks)
