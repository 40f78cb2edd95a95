"""The markup of one :class:`ketaflow.web.charts.SvgChart`, built in Python.

``web/_chart.html`` used to lay the chart out with template tags: a chart of a few dozen vitals
resolved about 600 template variables, the largest part of the infusion page's template time
(docs/performance-web.md, "The infusion page"). This builds the same markup, character for
character, with the same escaping (``conditional_escape``) and number formatting (``localize``)
that the template applied; ``tests/web/test_charts.py`` compares the two. Presentation
attributes only (strict CSP)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe

from ketaflow.web.charts import LegendItem, Path, SvgChart
from ketaflow.web.markup import as_text as _v


def _v_plain(value: Any) -> str:
    """``_v`` where numbers localize to their ``repr`` (no thousands separator, "." for
    decimals: ``_plain_numbers``), without localize's work for each int and float."""
    kind = type(value)
    if kind is int:
        return repr(value)
    if kind is float:
        text = repr(value)
        if "e" not in text and "n" not in text:  # not 1e-05, nan or inf: localize's own way
            return text
    return _v(value)


def _plain_numbers() -> bool:
    """Whether numbers localize to their repr in this request's language and settings."""
    return not settings.USE_THOUSAND_SEPARATOR and get_format("DECIMAL_SEPARATOR") == "."


def _path(p: Path) -> str:
    if p.dash:
        kind = "chart-reference"
    elif p.fill != "none":
        kind = "chart-band"
    else:
        kind = "chart-series"
    out = (
        f'<path class="{kind}" d="{_v(p.d)}" stroke="{_v(p.stroke)}" '
        f'stroke-width="{_v(p.width)}" fill="{_v(p.fill)}"'
    )
    if p.dash:
        out += f' stroke-dasharray="{_v(p.dash)}"'
    if p.opacity != 1.0:
        name = "fill-opacity" if p.fill != "none" else "stroke-opacity"
        out += f' {name}="{_v(p.opacity)}"'
    return out + "/>"


def _legend_item(item: LegendItem) -> str:
    colour = _v(item.colour)
    if item.kind == "line":
        mark = (
            f'<path d="M1 6H17" stroke="{colour}" stroke-width="2.5"/>'
            f'<circle cx="9" cy="6" r="3" fill="{colour}"/>'
        )
    elif item.kind == "marker":
        mark = f'<path d="M9 0V12" stroke="{colour}" stroke-width="2" stroke-opacity="0.6"/>'
    else:
        band = ' fill-opacity="0.35"' if item.kind == "band" else ""
        mark = f'<rect width="18" height="12" fill="{colour}"{band}/>'
    return f'<li><svg width="18" height="12" aria-hidden="true">{mark}</svg> {_v(item.label)}</li>'


def chart_html(chart: SvgChart) -> SafeString:
    plain = _plain_numbers()
    built = chart.markup.get(plain)
    if built is None:
        built = chart.markup[plain] = _chart_html(chart, _v_plain if plain else _v)
    return mark_safe(built)  # noqa: S308  (every value is escaped by _v, below)


def _chart_html(chart: SvgChart, v: Callable[[Any], str]) -> str:
    cid, title = v(chart.id), v(chart.title)
    out: list[str] = [
        f'<figure class="chart" id="{cid}">\n'
        f'  <figcaption class="chart-title" id="{cid}-title">{title}</figcaption>\n'
        f'  <svg class="chart-svg" viewBox="0 0 {v(chart.width)} {v(chart.height)}" role="img" '
        f'aria-labelledby="{cid}-title" aria-describedby="{cid}-table" '
        f'font-family="system-ui, sans-serif">\n'
        f"    <title>{title}</title>\n    "
    ]
    for r in chart.rects:
        tip = f"<title>{v(r.tip)}</title>" if r.tip else ""
        out.append(
            f'<rect x="{v(r.x)}" y="{v(r.y)}" width="{v(r.width)}" height="{v(r.height)}" '
            f'fill="{v(r.fill)}">{tip}</rect>'
        )
    out.append("\n    ")
    for g in chart.grid:
        out.append(
            f'<path d="{v(g.d)}" stroke="{v(g.stroke)}" stroke-width="{v(g.width)}" fill="none"/>'
        )
    out.append("\n    ")
    out.extend(_path(p) for p in chart.paths)
    out.append("\n    ")
    for d in chart.dots:
        out.append(
            f'<circle class="chart-dot" cx="{v(d.cx)}" cy="{v(d.cy)}" r="4" fill="{v(d.fill)}" '
            f'stroke="{v(d.stroke)}" stroke-width="2"><title>{v(d.tip)}</title></circle>'
        )
    out.append("\n    ")
    for t in chart.texts:
        halo = (
            ' class="chart-reference-label" stroke="#ffffff" stroke-width="3" paint-order="stroke"'
            if t.halo
            else ""
        )
        out.append(
            f'<text x="{v(t.x)}" y="{v(t.y)}" font-size="{v(t.size)}" '
            f'text-anchor="{v(t.anchor)}" fill="{v(t.fill)}"{halo}>{v(t.text)}</text>'
        )
    out.append("\n  </svg>\n  ")
    if chart.legend:
        out.append('<ul class="chart-legend">')
        out.extend(_legend_item(item) for item in chart.legend)
        out.append("</ul>")
    out.append("\n  ")
    if chart.references:
        joined = "; ".join(v(r) for r in chart.references)
        out.append(
            '<p class="chart-references">Dashed lines are reference lines, not measurements: '
            f"{joined}.</p>"
        )
    table = chart.table
    out.append(
        '\n  <details class="chart-data"><summary>The data as a table</summary>\n'
        f'    <table class="list compact" id="{cid}-table">\n'
        f"      <caption>{v(table.caption)}</caption>\n"
        "      <thead><tr>"
    )
    out.extend(f'<th scope="col">{v(h)}</th>' for h in table.headers)
    out.append("</tr></thead>\n      <tbody>")
    for row in table.rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            out.append(f'<th scope="row">{v(cell)}</th>' if i == 0 else f"<td>{v(cell)}</td>")
        out.append("</tr>")
    if not table.rows:
        out.append(f'<tr><td colspan="{len(table.headers)}">{title}: no data yet.</td></tr>')
    out.append("</tbody>\n    </table>\n  </details>\n</figure>")
    return "".join(out)
