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
import html
from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from ketaflow.accounts.clinictime import active_zone
from ketaflow.infusions.models import VitalsEntry
from ketaflow.web.templatetags.display import label, labels
from ketaflow.web.templatetags.fast import reversed_url

register = template.Library()

NO_VITALS = '<tr><td colspan="10">No vitals yet.</td></tr>'


def _e(value: Any) -> str:
    """``conditional_escape`` of a value: a plain string through ``html.escape`` directly (what
    Django's ``escape`` does, less its lazy-text check), anything else through Django's."""
    if type(value) is str:
        return html.escape(value)
    return str(conditional_escape(value))


def _struck(text: str, struck: bool) -> str:
    return f"<del>{text}</del>" if struck else text


class _Table:
    """What every row of one table shares, worked out once for the table: the clock of the
    request's zone (the clinic's, as the ``date`` filter reads it), the phases in words (as
    ``get_phase_display`` gives them) and the session's correction address."""

    def __init__(self, session_id: int, may_chart: bool) -> None:
        self.zone = active_zone()
        self.phases = {value: str(words) for value, words in VitalsEntry.Phase.choices}
        self.session_id = session_id
        self.may_chart = may_chart

    def clock(self, moment: dt.datetime) -> str:
        """``{{ moment|date:"H:i" }}`` on the clock of the request's zone."""
        return f"{timezone.localtime(moment, self.zone):%H:%M}"

    def row(self, row: Mapping[str, Any]) -> str:
        v: VitalsEntry = row["entry"]
        struck = bool(row["struck"])
        level = _e(v.level)
        words = _e(label(v.level).lower())
        symptoms = f"<br><small>{_e(labels(v.symptoms))}</small>" if v.symptoms else ""
        actions = "; ".join(_e(a) for a in row["actions"])
        corrects = v.corrects if v.corrects_id is not None else None
        if corrects is not None:
            actions += (
                f"<br><small>corrects {self.clock(corrects.measured_at)}: "
                f"{_e(v.correction_reason)}</small>"
            )
        if struck:
            actions += "<br><small>corrected</small>"
        link = ""
        if self.may_chart and not struck:
            url = reversed_url("infusion_correct", [self.session_id, v.pk], {}, None)
            link = f'<a href="{_e(url)}">Correct</a>'
        rr = "" if v.respiratory_rate_per_min is None else str(v.respiratory_rate_per_min)
        phase = self.phases.get(v.phase, v.phase)
        return (
            f'\n  <tr class="level-{level}{" struck" if struck else ""}" id="vitals-{v.pk}">\n'
            f"    <td>{_struck(self.clock(v.measured_at), struck)}</td>\n"
            f"    <td>{_e(phase)}</td>\n"
            f"    <td>{_struck(f'{v.systolic_mmhg}/{v.diastolic_mmhg}', struck)}</td>\n"
            f"    <td>{_struck(str(v.heart_rate_bpm), struck)}</td>\n"
            f"    <td>{_struck(str(v.spo2_percent), struck)}</td>\n"
            f"    <td>{rr}</td>\n"
            f'    <td><span class="level level-{level}">{words}</span>{symptoms}</td>\n'
            f"    <td>{actions}</td>\n"
            f"    <td>{_e(str(v.by))}</td>\n"
            f"    <td>{link}</td>\n"
            "  </tr>"
        )


@register.simple_tag
def vitals_rows(rows: Iterable[Mapping[str, Any]], session_id: int, may_chart: bool) -> SafeString:
    """The flowsheet's rows (the selector's ``vitals_rows``: each reading, whether a later
    reading corrected it, its actions in words), or the one row saying there are none."""
    table = _Table(session_id, bool(may_chart))
    out = [table.row(row) for row in rows]
    return mark_safe("".join(out) if out else NO_VITALS)  # noqa: S308 - every value escaped above
