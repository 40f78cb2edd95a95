"""The display layer (issue 14 item 1): codes in words from the core's own names, numbers at a
precision that fits the quantity and never in exponent notation, refusals in plain words."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from django.template import Context, Template
from django.urls import reverse

from ketaflow.accounts.roles import PERM_ACTIONS, Perm, Role, refusal
from ketaflow.clinical import Instrument
from ketaflow.web.templatetags.display import (
    code_words,
    dose_mg,
    filters_in_words,
    label,
    mg,
    num,
    readable_text,
    score,
    unit,
)
from tests.web.conftest import World


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("severe_headache", "Severe headache"),
        ("no_response", "No response"),
        ("partial_response", "Partial response"),
        ("airway.sleep_apnea", "Airway: sleep apnea"),
        ("resistance.ptsd.shown", "Resistance, PTSD: shown"),
        ("medical_director", "Medical director"),
    ],
)
def test_codes_are_shown_in_words(code: str, words: str) -> None:
    assert label(code) == words


def test_core_enumerations_give_their_own_labels() -> None:
    assert label(Instrument.PHQ9) == Instrument.PHQ9.label
    assert label("phq9") == Instrument.PHQ9.label
    assert label(Role.FRONT_DESK) == "Front desk"
    assert label("Free text, not a code.") == "Free text, not a code."
    assert code_words("") == ""


def test_numbers_fit_their_quantity_and_never_use_exponents() -> None:
    assert score(Decimal("1E+1")) == "10"
    assert score(Decimal("9.000")) == "9"
    assert mg(1.1974801666666666) == "1.2 mg"
    assert mg(Decimal("35.000")) == "35.0 mg"
    assert mg(None) == ""
    assert num(Decimal("40.0")) == "40"
    assert num(Fraction(1, 3), 3) == "0.333"
    assert unit(Decimal("150.00"), "mL/h") == "150 mL/h"
    assert "E" not in num(Decimal("1E+3"))


def test_a_dose_keeps_its_exact_figure_one_click_away() -> None:
    html = str(dose_mg(21.79726126979167))
    assert "<details" in html
    assert "<summary>21.8 mg</summary>" in html
    assert "exact: 21.797 mg" in html
    assert str(dose_mg(Decimal("35.000"))) == "35.0 mg"  # nothing more to show


def test_stored_text_is_made_readable() -> None:
    text = readable_text(
        "discharged (modified Aldrete 1E+1); delivered 26.28125 mg; changed weight_kg, "
        "escort_confirmed; rule airway.sleep_apnea; see clinical.md and e.g. the label"
    )
    assert "Aldrete 10" in text
    assert "26.281 mg" in text
    assert "weight kg" in text
    assert "escort confirmed" in text
    assert "airway: sleep apnea" in text
    assert "clinical.md" in text
    assert "e.g." in text


def test_the_filters_are_in_every_template() -> None:
    html = Template("{{ a|label }} {{ b|score }} {{ c|mg }}").render(
        Context({"a": "severe_headache", "b": Decimal("1E+1"), "c": 1.19748})
    )
    assert html == "Severe headache 10 1.2 mg"


def test_every_permission_has_words() -> None:
    assert set(PERM_ACTIONS) == set(Perm)
    assert refusal(Role.FRONT_DESK, Perm.VIEW_CLINICAL) == "Front desk cannot open clinical notes."
    assert refusal("no_such_role", Perm.LEDGER_VIEW).startswith("This account cannot")


def test_a_refused_page_says_who_cannot_do_what(world: World, client_for: Any) -> None:
    response = client_for(world.frontdesk).get(reverse("ledger_home"))
    assert response.status_code == 403
    text = response.content.decode()
    assert "Front desk cannot open the controlled-substance ledger." in text
    assert "ledger_view" not in text
    assert "may not" not in text


def test_the_home_page_lists_no_permission_codes(world: World, client_for: Any) -> None:
    text = client_for(world.nurse).get(reverse("home")).content.decode()
    assert "chart infusion" not in text
    assert "chart_infusion" not in text


# ---- PDFs whose text stays inside the page (issue 14 item 10) ---------------------------------


def test_progress_report_tables_wrap_inside_the_page() -> None:
    from reportlab.platypus import Paragraph

    from ketaflow.outcomes.report import FRAME_WIDTH, _table

    long = "a very long adverse event note that goes on " * 12
    table = _table(
        ["Date", "Type", "Severity", "Treatment", "Note"],
        [["2026-11-30", "Severe headache " * 5, "moderate", "ondansetron 4 mg IV " * 4, long]],
    )
    assert all(isinstance(cell, Paragraph) for row in table._cellvalues for cell in row)
    width, height = table.wrap(FRAME_WIDTH, 10_000)
    assert width <= FRAME_WIDTH + 0.01
    assert height > 60  # the long cells wrapped onto several lines instead of running off


def test_a_filter_form_in_words_for_paper() -> None:
    from django import forms

    from ketaflow.outcomes.forms import DashboardFilterForm

    class Filters(forms.Form):
        actor = forms.CharField(required=False, label="User")
        since = forms.DateField(required=False)

    form = DashboardFilterForm({"indication": "ptsd", "start": "2026-11-01", "end": ""})
    assert form.is_valid()
    assert str(filters_in_words(form)) == (
        '<p class="print-only filters-in-words">Filters: Indication: PTSD; '
        "Courses from: 1 Nov 2026</p>"
    )
    assert "Filters: none (everything is shown)" in str(filters_in_words(DashboardFilterForm({})))
    typed = Filters({"actor": "<b>dana</b>", "since": "not a date"})
    assert "User: &lt;b&gt;dana&lt;/b&gt;; Since: not a date" in str(filters_in_words(typed))
