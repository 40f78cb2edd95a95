"""The infusion page's flowsheet rows, written in Python (``infusion_tags.vitals_rows``), give
character for character what the template's loop gave: the loop is kept here as the reference
and both are rendered from the same rows, on a clinic clock that is not UTC, with a struck and
a correcting reading, symptoms, a missing respiratory rate, and text that needs escaping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.infusions.models import VitalsEntry
from ketaflow.infusions.selectors import _vitals_rows

# The loop ``infusions/_vitals.html`` had before the tag (session 15), as it was.
REFERENCE_LOOP = (
    "{% for row in vitals_rows %}{% with v=row.entry %}\n"
    '  <tr class="level-{{ v.level }}{% if row.struck %} struck{% endif %}" '
    'id="vitals-{{ v.pk }}">\n'
    '    <td>{% if row.struck %}<del>{{ v.measured_at|date:"H:i" }}</del>{% else %}'
    '{{ v.measured_at|date:"H:i" }}{% endif %}</td>\n'
    "    <td>{{ v.get_phase_display }}</td>\n"
    "    <td>{% if row.struck %}<del>{{ v.systolic_mmhg }}/{{ v.diastolic_mmhg }}</del>{% else %}"
    "{{ v.systolic_mmhg }}/{{ v.diastolic_mmhg }}{% endif %}</td>\n"
    "    <td>{% if row.struck %}<del>{{ v.heart_rate_bpm }}</del>{% else %}"
    "{{ v.heart_rate_bpm }}{% endif %}</td>\n"
    "    <td>{% if row.struck %}<del>{{ v.spo2_percent }}</del>{% else %}"
    "{{ v.spo2_percent }}{% endif %}</td>\n"
    '    <td>{{ v.respiratory_rate_per_min|default_if_none:"" }}</td>\n'
    '    <td><span class="level level-{{ v.level }}">{{ v.level|label|lower }}</span>'
    "{% if v.symptoms %}<br><small>{{ v.symptoms|labels }}</small>{% endif %}</td>\n"
    '    <td>{{ row.actions|join:"; " }}{% if v.corrects %}<br><small>corrects '
    '{{ v.corrects.measured_at|date:"H:i" }}: {{ v.correction_reason }}</small>{% endif %}'
    "{% if row.struck %}<br><small>corrected</small>{% endif %}</td>\n"
    "    <td>{{ v.by }}</td>\n"
    "    <td>{% if may_chart and not row.struck %}<a href=\"{% url 'infusion_correct' session.pk "
    'v.pk %}">Correct</a>{% endif %}</td>\n'
    '  </tr>{% endwith %}{% empty %}<tr><td colspan="10">No vitals yet.</td></tr>{% endfor %}'
)
TAG = "{% load infusion_tags %}{% vitals_rows vitals_rows session.pk may_chart %}"


class _Session:
    pk = 41


def _reading(pk: int, at: dt.datetime, by: User, **fields: Any) -> VitalsEntry:
    values: dict[str, Any] = {
        "phase": VitalsEntry.Phase.DURING,
        "systolic_mmhg": 128,
        "diastolic_mmhg": 82,
        "heart_rate_bpm": 76,
        "spo2_percent": 98,
        "respiratory_rate_per_min": 14,
        "symptoms": [],
        "level": "normal",
        "actions": [],
        "reasons": [],
        "assessment": {},
        **fields,
    }
    reading = VitalsEntry(pk=pk, measured_at=at, **values)
    reading.by = by
    return reading


def _readings() -> list[VitalsEntry]:
    nurse = User(pk=7, username="n", first_name="Dana <b>", last_name="O'Brien & Co")
    start = dt.datetime(2026, 12, 2, 15, 5, tzinfo=dt.UTC)
    wrong = _reading(
        2,
        start + dt.timedelta(minutes=10),
        nurse,
        systolic_mmhg=182,
        diastolic_mmhg=112,
        level="critical",
        actions=["recheck", "call_prescriber"],
        symptoms=["chest_pain", "dyspnea"],
    )
    correcting = _reading(
        3,
        start + dt.timedelta(minutes=12),
        nurse,
        respiratory_rate_per_min=None,
        correction_reason="cuff too small <adult> & re-taken",
        phase=VitalsEntry.Phase.RECOVERY,
    )
    correcting.corrects = wrong
    odd = _reading(4, start + dt.timedelta(minutes=20), nurse, level="some_new_code")
    return [_reading(1, start, nurse, phase=VitalsEntry.Phase.BASELINE), wrong, correcting, odd]


@pytest.mark.parametrize("may_chart", [True, False])
@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_the_rows_are_the_templates_loop_character_for_character(
    may_chart: bool, zone: str
) -> None:
    rows = _vitals_rows(_readings())
    assert [r["struck"] for r in rows] == [False, True, False, False]
    context = {"vitals_rows": rows, "session": _Session(), "may_chart": may_chart}
    with timezone.override(zone):
        expected = Template(REFERENCE_LOOP).render(Context(context))
        got = Template(TAG).render(Context(context))
    assert got == expected
    # What the comparison is about: clinic clock, escaping, the struck row, the links.
    assert ("10:05" if zone == "America/New_York" else "20:35") in got
    assert "Dana &lt;b&gt; O&#x27;Brien &amp; Co" in got
    assert "cuff too small &lt;adult&gt; &amp; re-taken" in got
    assert got.count("<del>") == 4
    assert got.count(">Correct</a>") == (3 if may_chart else 0)


def test_no_readings_is_one_row_saying_so() -> None:
    context = {"vitals_rows": [], "session": _Session(), "may_chart": True}
    expected = Template(REFERENCE_LOOP).render(Context(context))
    assert (
        Template(TAG).render(Context(context))
        == expected
        == ('<tr><td colspan="10">No vitals yet.</td></tr>')
    )
