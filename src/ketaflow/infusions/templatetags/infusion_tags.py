"""The infusion page's vitals flowsheet rows written in Python (issue 16).

A row of the flowsheet (``infusions/_vitals.html``) cost about 0.27 ms of template rendering
(a dozen ``{% if %}``, lookups, filters and a ``{% url %}`` each): a third of the page's CPU
for an infusion with 70 readings (a long recovery, or the load benchmark's busy nurses).
``vitals_rows`` returns, character for character, what the template's loop returned
(tests/infusions/test_flowsheet_rows.py renders that loop beside it): the same escaping
(``conditional_escape`` of every value, ``join`` escaping each item), the same clinic clock
(the request's zone, as the ``date`` filter reads it) and the same link per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from ketaflow.accounts.clinictime import active_local
from ketaflow.infusions.models import VitalsEntry
from ketaflow.web.templatetags.display import label, labels

register = template.Library()

NO_VITALS = '<tr><td colspan="10">No vitals yet.</td></tr>'


def _clock(moment: dt.datetime) -> str:
    """``{{ moment|date:"H:i" }}``: on the clock of the request's zone, the clinic's (set by
    ClinicTimeMiddleware), as the ``date`` filter reads it."""
    return f"{active_local(moment):%H:%M}"


def _struck(text: str, struck: bool) -> str:
    return f"<del>{text}</del>" if struck else text


def _row(row: Mapping[str, Any], session_id: int, may_chart: bool) -> str:
    v: VitalsEntry = row["entry"]
    struck = bool(row["struck"])
    esc = conditional_escape
    level = esc(v.level)
    words = esc(label(v.level).lower())
    symptoms = f"<br><small>{esc(labels(v.symptoms))}</small>" if v.symptoms else ""
    actions = "; ".join(esc(a) for a in row["actions"])
    corrects = v.corrects if v.corrects_id is not None else None
    if corrects is not None:
        actions += (
            f"<br><small>corrects {_clock(corrects.measured_at)}: "
            f"{esc(v.correction_reason)}</small>"
        )
    if struck:
        actions += "<br><small>corrected</small>"
    link = ""
    if may_chart and not struck:
        link = f'<a href="{esc(reverse("infusion_correct", args=[session_id, v.pk]))}">Correct</a>'
    rr = "" if v.respiratory_rate_per_min is None else str(v.respiratory_rate_per_min)
    return (
        f'\n  <tr class="level-{level}{" struck" if struck else ""}" id="vitals-{v.pk}">\n'
        f"    <td>{_struck(_clock(v.measured_at), struck)}</td>\n"
        f"    <td>{esc(v.get_phase_display())}</td>\n"
        f"    <td>{_struck(f'{v.systolic_mmhg}/{v.diastolic_mmhg}', struck)}</td>\n"
        f"    <td>{_struck(str(v.heart_rate_bpm), struck)}</td>\n"
        f"    <td>{_struck(str(v.spo2_percent), struck)}</td>\n"
        f"    <td>{rr}</td>\n"
        f'    <td><span class="level level-{level}">{words}</span>{symptoms}</td>\n'
        f"    <td>{actions}</td>\n"
        f"    <td>{esc(str(v.by))}</td>\n"
        f"    <td>{link}</td>\n"
        "  </tr>"
    )


@register.simple_tag
def vitals_rows(rows: Iterable[Mapping[str, Any]], session_id: int, may_chart: bool) -> SafeString:
    """The flowsheet's rows (the selector's ``vitals_rows``: each reading, whether a later
    reading corrected it, its actions in words), or the one row saying there are none."""
    out = [_row(row, session_id, bool(may_chart)) for row in rows]
    return mark_safe("".join(out) if out else NO_VITALS)  # noqa: S308 - every value escaped above
