"""The markup of one :class:`ketaflow.web.charts.SvgChart`, built in Python.

``web/_chart.html`` used to lay the chart out with template tags: a chart of a few dozen vitals
resolved about 600 template variables, the largest part of the infusion page's template time
(docs/performance-web.md, "The infusion page"). This builds the same markup, character for
character, with the same escaping (``conditional_escape``) and number formatting (``localize``)
that the template applied; ``tests/web/test_charts.py`` compares the two. Presentation
attributes only (strict CSP)."""

from __future__ import annotations

from typing import Any

from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from ketaflow.web.charts import LegendItem, Path, SvgChart


def _v(value: Any) -> str:
    """A value as ``{{ value }}`` renders it: localized, then escaped."""
    if not isinstance(value, str):
        value = localize(value)
    return str(conditional_escape(value))


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
    cid, title = _v(chart.id), _v(chart.title)
    out: list[str] = [
        f'<figure class="chart" id="{cid}">\n'
        f'  <figcaption class="chart-title" id="{cid}-title">{title}</figcaption>\n'
        f'  <svg class="chart-svg" viewBox="0 0 {_v(chart.width)} {_v(chart.height)}" role="img" '
        f'aria-labelledby="{cid}-title" aria-describedby="{cid}-table" '
        f'font-family="system-ui, sans-serif">\n'
        f"    <title>{title}</title>\n    "
    ]
    for r in chart.rects:
        tip = f"<title>{_v(r.tip)}</title>" if r.tip else ""
        out.append(
            f'<rect x="{_v(r.x)}" y="{_v(r.y)}" width="{_v(r.width)}" height="{_v(r.height)}" '
            f'fill="{_v(r.fill)}">{tip}</rect>'
        )
    out.append("\n    ")
    for g in chart.grid:
        out.append(
            f'<path d="{_v(g.d)}" stroke="{_v(g.stroke)}" stroke-width="{_v(g.width)}" '
            'fill="none"/>'
        )
    out.append("\n    ")
    out.extend(_path(p) for p in chart.paths)
    out.append("\n    ")
    for d in chart.dots:
        out.append(
            f'<circle class="chart-dot" cx="{_v(d.cx)}" cy="{_v(d.cy)}" r="4" fill="{_v(d.fill)}" '
            f'stroke="{_v(d.stroke)}" stroke-width="2"><title>{_v(d.tip)}</title></circle>'
        )
    out.append("\n    ")
    for t in chart.texts:
        halo = (
            ' class="chart-reference-label" stroke="#ffffff" stroke-width="3" paint-order="stroke"'
            if t.halo
            else ""
        )
        out.append(
            f'<text x="{_v(t.x)}" y="{_v(t.y)}" font-size="{_v(t.size)}" '
            f'text-anchor="{_v(t.anchor)}" fill="{_v(t.fill)}"{halo}>{_v(t.text)}</text>'
        )
    out.append("\n  </svg>\n  ")
    if chart.legend:
        out.append('<ul class="chart-legend">')
        out.extend(_legend_item(item) for item in chart.legend)
        out.append("</ul>")
    out.append("\n  ")
    if chart.references:
        joined = "; ".join(_v(r) for r in chart.references)
        out.append(
            '<p class="chart-references">Dashed lines are reference lines, not measurements: '
            f"{joined}.</p>"
        )
    table = chart.table
    out.append(
        '\n  <details class="chart-data"><summary>The data as a table</summary>\n'
        f'    <table class="list compact" id="{cid}-table">\n'
        f"      <caption>{_v(table.caption)}</caption>\n"
        "      <thead><tr>"
    )
    out.extend(f'<th scope="col">{_v(h)}</th>' for h in table.headers)
    out.append("</tr></thead>\n      <tbody>")
    for row in table.rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            out.append(f'<th scope="row">{_v(cell)}</th>' if i == 0 else f"<td>{_v(cell)}</td>")
        out.append("</tr>")
    if not table.rows:
        out.append(f'<tr><td colspan="{len(table.headers)}">{title}: no data yet.</td></tr>')
    out.append("</tbody>\n    </table>\n  </details>\n</figure>")
    return mark_safe("".join(out))  # noqa: S308  (every value above is escaped by _v)
