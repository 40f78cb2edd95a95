"""The web's one chart module (web/charts.py, web/_chart.html) and the pages that use it: chart
data and SVG structure (title, axes with units, reference lines dashed, labelled and kept out
of the legend and the table, the table equal to the drawn data), clinic-time axes, the portal's
questionnaire list and access history in plain words, and who may see them."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from ketaflow.accounts.clinictime import clinic_local, clinic_today
from ketaflow.accounts.roles import Role
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.infusions import charts as infusion_charts
from ketaflow.infusions.models import InfusionSession
from ketaflow.infusions.services.reads import effective_vitals
from ketaflow.outcomes.charts import survival_chart
from ketaflow.portal.answers import response_record
from ketaflow.portal.models import DueQuestionnaire
from ketaflow.portal.selectors import access_history, questionnaire_rows
from ketaflow.web import chart_markup, charts
from ketaflow.web.markup import as_text
from tests.infusions.builders import minutes, reading, run_to_stop, running, started
from tests.portal.builders import second_patient_login, verified_client
from tests.web.conftest import World, make_user

EXPONENT = re.compile(r"\d[eE][+-]?\d")


def _points(values: list[tuple[float, float]]) -> list[charts.Point]:
    return [charts.Point(x, y, f"t{x:g}", f"{y:g}") for x, y in values]


def sample(**kwargs: Any) -> charts.ChartData:
    base: dict[str, Any] = {
        "id": "sample",
        "title": "PHQ-9 over time",
        "x": charts.value_axis("Day", 0, 10),
        "y": charts.scale_axis("Score (0-27)", 27),
        "series": [charts.Series("PHQ-9 score", _points([(0, 20), (5, 12), (10, 4)]), "#123456")],
        "references": [charts.Reference("Response: 10 or lower", 10)],
    }
    return charts.ChartData(**{**base, **kwargs})


class Table(HTMLParser):
    """The rows of the chart's data table, as the screen reader gets them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.inside = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def visible(html: str) -> str:
    """The text between tags (not the attributes: colours such as #3e7 are not numbers)."""
    return " ".join(re.findall(r">([^<]+)<", html))


def table_rows(html: str) -> list[list[str]]:
    parser = Table()
    parser.feed(html)
    return parser.rows


def test_a_chart_has_a_title_axes_with_units_and_a_described_svg() -> None:
    html = render_to_string("web/_chart.html", {"chart": charts.render(sample())})
    assert '<figcaption class="chart-title" id="sample-title">PHQ-9 over time</figcaption>' in html
    assert 'aria-labelledby="sample-title"' in html
    assert 'aria-describedby="sample-table"' in html
    assert '<table class="list compact" id="sample-table">' in html
    assert ">Score (0-27)</text>" in html
    assert ">Day</text>" in html
    assert "<title>PHQ-9 over time</title>" in html
    assert "style=" not in html  # presentation attributes only (strict CSP)
    assert "<script" not in html
    assert not EXPONENT.search(visible(html))


def test_reference_lines_are_dashed_labelled_and_not_data() -> None:
    chart = charts.render(sample())
    html = render_to_string("web/_chart.html", {"chart": chart})
    dashed = [p for p in chart.paths if p.dash]
    assert len(dashed) == 1  # the reference line, and only it, is dashed
    assert all(not p.dash for p in chart.paths if p.stroke == "#123456")
    label = next(t for t in chart.texts if t.text == "Response: 10 or lower")
    assert label.anchor == "end"  # at the line's right end
    assert label.halo
    legend = html.split('class="chart-legend"')[1].split("</ul>")[0]
    assert "PHQ-9 score" in legend
    assert "Response" not in legend  # never listed as data
    table = html.split("<table")[1]
    assert "Response" not in table
    assert "Dashed lines are reference lines, not measurements: Response: 10 or lower." in html


def test_the_table_is_the_drawn_data() -> None:
    data = sample(
        series=[
            charts.Series("Systolic (mmHg)", _points([(0, 120), (5, 130)]), "#b3261e"),
            charts.Series("Heart rate (/min)", _points([(0, 80), (5, 85), (10, 90)]), "#1f6f8b"),
        ]
    )
    chart = charts.render(data)
    rows = table_rows(render_to_string("web/_chart.html", {"chart": chart}))
    assert rows[0] == ["Day", "Systolic (mmHg)", "Heart rate (/min)"]
    assert rows[1:] == [["t0", "120", "80"], ["t5", "130", "85"], ["t10", "—", "90"]]
    # One dot per point drawn, each with its words as a tooltip.
    assert len(chart.dots) == 5
    assert chart.dots[0].tip == "Systolic (mmHg): 120 (t0)"


def test_two_answers_on_one_day_stay_two_rows() -> None:
    same_day = [charts.Point(1, 9, "3 Mar", "9"), charts.Point(1, 9, "3 Mar", "9")]
    table = charts.data_table(sample(series=[charts.Series("PHQ-9", same_day, "#000")]))
    assert [r[0] for r in table.rows] == ["3 Mar", "3 Mar"]


def test_a_value_past_the_axis_is_drawn_at_its_edge_and_listed_as_it_is() -> None:
    chart = charts.render(sample(series=[charts.Series("S", _points([(0, 300)]), "#000")]))
    top = charts.TOP
    assert chart.dots[0].cy == top
    assert chart.table.rows == [["t0", "300"]]


def test_labels_of_close_reference_lines_do_not_overlap() -> None:
    refs = [charts.Reference("Remission: 4 or lower", 4), charts.Reference("Mild from 5", 5)]
    chart = charts.render(sample(references=refs))
    ys = sorted(t.y for t in chart.texts if t.halo)
    assert len(ys) == 2
    assert ys[1] - ys[0] >= charts.FONT
    # and no label is written across its own dashed line (glyphs rise about three quarters of
    # the font size from the baseline; descenders go a fifth below it)
    lines = [float(p.d.split()[1].split("H")[0]) for p in chart.paths if p.dash]  # M<x> <y>H<x>
    labels = [t.y for t in chart.texts if t.halo]  # drawn in the same order as their lines
    assert len(lines) == len(labels) == 2
    for y_line, base in zip(lines, labels, strict=True):
        assert not (base - 0.75 * charts.FONT < y_line < base + 0.2 * charts.FONT)


def test_ticks_are_round_and_never_exponents() -> None:
    assert charts.nice_ticks(0, 27) == [0, 10, 20, 30]
    assert [t for _, t in charts.scale_axis("Score", 27).ticks] == ["0", "10", "20", "27"]
    assert [t for _, t in charts.scale_axis("Score", 21).ticks] == ["0", "10", "21"]
    assert charts.number_text(1e-7) == "0"
    assert charts.number_text(12345678.0) == "12345678"


def test_an_empty_chart_says_so() -> None:
    chart = charts.render(sample(series=[], empty_text="No scores yet."))
    assert chart.empty
    assert any(t.text == "No scores yet." for t in chart.texts)


def test_bars_carry_their_values_and_their_table() -> None:
    chart = charts.render(
        charts.ChartData(
            id="bars",
            title="Adverse events",
            x=charts.value_axis("Events per 100 infusions", 0, 12),
            y=charts.Axis("Type", 0, 1, []),
            bars=[charts.Bar("Nausea", 12.5, "12.5"), charts.Bar("Headache", 3.0, "3.0")],
        )
    )
    assert [r.tip for r in chart.rects] == ["Nausea: 12.5", "Headache: 3.0"]
    assert chart.table.rows == [["Nausea", "12.5"], ["Headache", "3.0"]]
    assert chart.rects[0].width > chart.rects[1].width


@pytest.mark.parametrize(
    "label",
    ["Critical reading at the chair", "Emergency reading at the chair, prescriber called in"],
)
def test_a_long_bar_label_stays_on_the_chart(label: str) -> None:
    """The dashboard's "Critical reading at the chair" ran off the chart's left edge: a label gets
    the room it needs (the bars keep at least MIN_BAR_PLOT) and is shortened with an ellipsis
    only beyond that, whole in the bar's title and the table."""
    chart = charts.render(
        charts.ChartData(
            id="bars",
            title="Adverse events",
            x=charts.value_axis("Events per 100 infusions", 0, 60),
            y=charts.Axis("Type", 0, 1, []),
            bars=[charts.Bar(label, 50.0, "50.0"), charts.Bar("Hypertension", 50.0, "50.0")],
        )
    )
    shown = next(t for t in chart.texts if t.anchor == "end" and t.text.startswith(label[:10]))
    assert shown.x - len(shown.text) * charts.CHAR_WIDTH >= 0
    assert shown.text == label or (shown.text.endswith("\u2026") and len(shown.text) < len(label))
    assert chart.rects[0].tip == f"{label}: 50.0"
    assert chart.table.rows[0][0] == label
    assert chart.rects[0].x + charts.MIN_BAR_PLOT <= charts.WIDTH


def test_the_survival_curve_is_a_step_with_its_band() -> None:
    from ketaflow.clinical.survival import Observation, kaplan_meier

    curve = kaplan_meier([Observation(10, True), Observation(20, False), Observation(30, True)])
    chart = survival_chart(curve)
    assert chart.title == "Time to loss of response (n = 3)"
    series = next(p for p in chart.paths if p.stroke != "none" and not p.dash and p.width > 2)
    assert "H" in series.d
    assert "V" in series.d  # steps, not slopes
    assert chart.table.headers[0] == "Days from response"
    assert chart.table.rows[0][1] == "100%"


# ---- the pages ----------------------------------------------------------------------------------


def test_the_infusion_page_draws_vitals_and_concentration_on_the_clinic_clock(
    world: World, client_for: Any
) -> None:
    world.clinic.time_zone = "Pacific/Auckland"  # far from the server's zone
    world.clinic.save()
    session = run_to_stop(world)
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    for chart_id in ("vitals-chart", "pk-chart"):
        figure = text.split(f'<figure class="chart" id="{chart_id}">')[1].split("</figure>")[0]
        assert "Auckland time (NZ" in figure  # the zone in words, not its IANA code
        assert f'aria-describedby="{chart_id}-table"' in figure
        assert "<img" not in figure
    start = InfusionSession.objects.get(pk=session.pk).events.order_by("at").first()
    assert start is not None
    local = f"{clinic_local(world.clinic, start.at):%H:%M}"
    pk_rows = table_rows(text.split('id="pk-chart"')[1].split("</figure>")[0])
    assert pk_rows[1][0] == local  # the first row is the start, on the clinic's clock
    vitals = session.vitals.order_by("measured_at").first()
    assert vitals is not None
    vitals_rows = table_rows(text.split('id="vitals-chart"')[1].split("</figure>")[0])
    assert vitals_rows[1][0] == f"{clinic_local(world.clinic, vitals.measured_at):%H:%M}"
    assert vitals_rows[1][1] == str(vitals.systolic_mmhg)


def test_a_running_pump_s_chart_is_drawn_once_a_minute_up_to_its_last_whole_minute(
    world: World,
) -> None:
    """Issue 16: no chart drawn on every request. Within one minute every request of the
    running infusion's page gets the one chart already drawn (markup included); the curve runs
    to the last whole minute, never past ``now``; the next minute draws the next chart."""
    session = running(world, started_min_ago=10)
    events = list(session.events.all())
    start = events[0].at
    # 40 s into a minute of the clock, 12 to 13 minutes into the run
    now = (start + dt.timedelta(minutes=12)).replace(second=40, microsecond=0)
    first = infusion_charts.delivered_pk_chart(session, now, events)
    again = infusion_charts.delivered_pk_chart(session, now + dt.timedelta(seconds=15), events)
    assert first is not None
    assert again is first
    html = chart_markup.chart_html(first)
    assert chart_markup.chart_html(again) == html
    assert first.markup  # the markup is kept with the chart
    regimen = infusion_charts.delivered_regimen(session, now, events)
    assert regimen is not None
    shaded = [s for s in first.paths if s.fill != "none"] or first.rects
    assert shaded  # the pump's running period is drawn
    floor = now.replace(second=0, microsecond=0)
    whole = infusion_charts.delivered_regimen(session, floor, events)
    assert whole is not None
    ran_min = (floor - start).total_seconds() / 60
    assert whole.dosing_periods_min() == [(0.0, ran_min)]
    assert regimen.dosing_periods_min() == [(0.0, (now - start).total_seconds() / 60)]
    assert ran_min > (now - start).total_seconds() / 60 - 1
    weight = float(session.weight_kg or 0)
    age = float(session.patient.age_on(clinic_today(world.clinic)))
    drawn = infusion_charts._pk_chart(whole, weight, age, world.clinic.time_zone, start)
    assert drawn is first  # the chart drawn is the one of the last whole minute
    later = infusion_charts.delivered_pk_chart(session, now + dt.timedelta(seconds=30), events)
    assert later is not None
    assert later is not first
    assert later.table.rows != first.table.rows
    # In the first minute of a run the curve counts up to now itself (there is no whole
    # minute of running to show yet).
    early = infusion_charts.delivered_pk_chart(session, start + dt.timedelta(seconds=20), events)
    assert early is not None


def test_the_vitals_chart_is_drawn_once_per_readings_pump_record_and_minute(
    world: World,
) -> None:
    """Issue 16: the vitals chart, like the PK chart, is drawn once per set of readings, pump
    record, clinic clock and minute, then kept; it is the chart drawn afresh at the last whole
    minute, and a new reading, another clinic clock or the next minute draws another."""
    session = running(world, started_min_ago=10)
    start = started(session)
    reading(world, session, start + minutes(5))

    def records() -> tuple[list[Any], list[Any]]:  # each request reads its own rows
        fresh = InfusionSession.objects.get(pk=session.pk)
        return list(effective_vitals(fresh)), list(fresh.events.order_by("at", "pk"))

    now = (start + minutes(12)).replace(second=40, microsecond=0)
    first = infusion_charts.vitals_chart(*records(), now)
    again = infusion_charts.vitals_chart(*records(), now + dt.timedelta(seconds=15))
    assert first is not None
    assert again is first
    assert chart_markup.chart_html(again) == chart_markup.chart_html(first)
    assert first.markup  # the markup is kept with the chart
    entries, events = records()
    readings = tuple(
        (e.measured_at, e.level, *(getattr(e, key) for key, _, _ in infusion_charts._SERIES))
        for e in entries
    )
    pump_events = tuple((e.kind, e.at, e.rate_ml_per_h) for e in events)
    zone = world.clinic.time_zone
    floor = now.replace(second=0, microsecond=0)
    drawn = infusion_charts._vitals_chart.__wrapped__(readings, pump_events, zone, floor)
    assert drawn == first  # the chart a fresh drawing at the whole minute gives
    exact = infusion_charts._vitals_chart.__wrapped__(readings, pump_events, zone, now)
    assert exact != first  # the pump's shading is counted to the whole minute, not to now
    later = infusion_charts.vitals_chart(*records(), now + dt.timedelta(seconds=30))
    assert later is not None
    assert later is not first
    assert later.table.rows == first.table.rows  # the same readings, the pump ran on
    elsewhere = infusion_charts._vitals_chart(readings, pump_events, "Pacific/Auckland", floor)
    assert elsewhere != first  # the clinic's clock is part of what is kept
    reading(world, session, start + minutes(11), sbp=131)
    newer = infusion_charts.vitals_chart(*records(), now)
    assert newer is not None
    assert newer is not first
    assert ["131" in row for row in newer.table.rows].count(True) == 1
    # In the first minute after a pump event the shading runs up to now itself.
    early = infusion_charts.vitals_chart(*records(), start + dt.timedelta(seconds=20))
    assert early is not None


def test_chart_pages_refuse_another_clinic_and_another_patient(
    world: World, client_for: Any
) -> None:
    session = run_to_stop(world)
    foreign_director = make_user(world.other_clinic, "foreign-director", Role.MEDICAL_DIRECTOR)
    urls = [
        reverse("infusion_session", args=[session.pk]),
        reverse("outcomes_trajectory", args=[world.patient.pk]),
    ]
    for url in urls:
        for method in ("get", "post"):
            foreign = getattr(client_for(foreign_director), method)(url)
            assert foreign.status_code in (403, 404, 405), url
            assert world.patient.family_name not in foreign.content.decode()
    other = second_patient_login(world)
    for url in urls:
        response = verified_client(other).get(url)
        assert response.status_code in (403, 404), url
    dashboard = client_for(foreign_director).get(reverse("outcomes_dashboard"))
    assert dashboard.status_code == 200
    assert world.patient.family_name not in dashboard.content.decode()


def test_the_questionnaire_list_follows_what_happened(world: World) -> None:
    now = timezone.now()
    patient = world.patient

    def row(code: str, key: str, opens_h: float, closes_h: float) -> DueQuestionnaire:
        return DueQuestionnaire.objects.create(
            patient=patient,
            instrument=code,
            timepoint=key,
            label=key,
            due_at=now + dt.timedelta(hours=opens_h),
            window_ends_at=now + dt.timedelta(hours=closes_h),
        )

    portal = row("phq9", "week-1", -200, -100)
    answered = response_record(
        actor=Actor(user=world.patient_user),
        patient=patient,
        instrument="phq9",
        answers=[1] * 9,
        taken_at=now - dt.timedelta(hours=150),
        source=InstrumentResponse.Source.PORTAL,
    )
    DueQuestionnaire.objects.filter(pk=portal.pk).update(
        status=DueQuestionnaire.Status.ANSWERED, response=answered
    )
    row("gad7", "week-2", -90, -60)  # at the chair, in its window
    response_record(
        actor=Actor(user=world.nurse),
        patient=patient,
        instrument="gad7",
        answers=[0] * 7,
        taken_at=now - dt.timedelta(hours=70),
    )
    row("pcl5", "week-3", -50, -20)  # closed unanswered
    row("phq9", "week-4", -2, 48)  # open now
    row("phq9", "week-5", 100, 200)  # not open yet
    past, ahead = questionnaire_rows(patient, now)
    states = {r.due.timepoint: (r.state, r.state_text) for r in past}
    assert states["week-1"][0] == "answered"
    assert states["week-1"][1].startswith("Answered in the portal, ")
    assert states["week-2"][0] == "answered_at_clinic"
    assert states["week-2"][1].startswith("Answered at the clinic, ")
    assert states["week-3"][0] == "missed"
    assert states["week-4"][0] == "due"
    assert [r.due.timepoint for r in ahead] == ["week-5"]
    assert ahead[0].state_text.startswith("Opens ")
    # Newest first; the home page shows the words and links only the due one.
    assert [r.due.timepoint for r in past] == ["week-4", "week-3", "week-2", "week-1"]
    home = verified_client(world.patient_user).get(reverse("portal_home")).content.decode()
    assert "Answered at the clinic, " in home
    assert "Not answered (closed " in home
    assert "answered_at_clinic" not in re.sub(r'class="[^"]*"', "", home)


def test_the_portal_lists_the_newest_past_and_the_soonest_coming_questionnaires(
    world: World,
) -> None:
    """A year's plan has far more questionnaires than the page lists: the 12 newest of those
    past or open (newest first) and the 6 soonest to open, each with its words."""
    from ketaflow.portal.selectors import AHEAD_SHOWN, PAST_SHOWN

    patient, now = world.patient, timezone.now()
    for week in range(1, 31):
        DueQuestionnaire.objects.create(
            patient=patient,
            instrument="pcl5",
            timepoint=f"week-{week}",
            label=f"week {week}",
            due_at=now + dt.timedelta(days=7 * (week - 20)),
            window_ends_at=now + dt.timedelta(days=7 * (week - 20) + 3),
        )
    past, ahead = questionnaire_rows(patient, now)
    assert [r.due.label for r in past] == [f"week {w}" for w in range(20, 20 - PAST_SHOWN, -1)]
    assert [r.due.label for r in ahead] == [f"week {w}" for w in range(21, 21 + AHEAD_SHOWN)]
    assert past[0].state == "due"
    assert past[0].state_text.startswith("Due now, open until ")
    assert all(r.state == "missed" for r in past[1:])
    assert past[0].title == "PCL-5, week 20"
    assert all(r.state_text.startswith("Opens ") for r in ahead)


def test_who_viewed_my_record_is_in_plain_words_and_clinic_time(
    world: World, client_for: Any
) -> None:
    world.clinic.time_zone = "Pacific/Auckland"
    world.clinic.save()
    prescriber = client_for(world.prescriber)
    prescriber.get(reverse("patient_chart", args=[world.patient.pk]))
    prescriber.get(reverse("outcomes_trajectory", args=[world.patient.pk]))
    rows = access_history(world.patient)
    assert rows
    chart = next(r for r in rows if r.what == "Looked at your record")
    assert chart.role == "Prescriber"
    assert chart.clinic == world.clinic.name
    # The chart's outcomes section is in the chart's one entry; the trajectory page has its own.
    assert [r.what for r in rows].count("Looked at your record") == 1
    assert "Looked at your scores over time" in [r.what for r in rows]
    page = verified_client(world.patient_user).get(reverse("portal_viewers")).content.decode()
    assert f"Prescriber, {world.clinic.name}" in page
    assert "your clinic's: Auckland time (NZ" in page  # the zone in words, not its code
    assert "Pacific/Auckland" not in page
    body = page.split('class="list viewers"')[1]
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", body)  # no internal names
    assert not EXPONENT.search(visible(body))


def test_no_tick_label_runs_past_the_chart_edge() -> None:
    """A time tick at the right edge was centred on it and cut off by the border ("22:0" on the
    infusion page). Each label's extent, at a generous 0.62 em per character, stays inside."""
    data = charts.ChartData(
        id="edge",
        title="Edge",
        x=charts.Axis(
            "Clinic time", 0.0, 240.0, [(v, f"{19 + v // 60:.0f}:00") for v in (0, 60, 240)]
        ),
        y=charts.Axis("ng/mL", 0.0, 300.0, [(0.0, "0"), (300.0, "300")]),
    )
    svg = charts.render(data)
    ticks = [t for t in svg.texts if t.text.endswith(":00")]
    assert len(ticks) == 3
    for t in ticks:
        width = 0.62 * t.size * len(t.text)
        left = {"start": t.x, "middle": t.x - width / 2, "end": t.x - width}[t.anchor]
        assert left >= 0, (t.text, t.x, t.anchor)
        assert left + width <= charts.WIDTH, (t.text, t.x, t.anchor)


# The chart's markup as web/_chart.html laid it out with template tags before the markup moved to
# Python (web/chart_markup.py, for speed): the reference the new markup must equal.
TEMPLATE_MARKUP = (Path(__file__).parent / "chart_reference.html").read_text()


def _every_kind_of_chart() -> list[charts.SvgChart]:
    awkward = 'A & B <b>"quoted"</b>'
    return [
        charts.render(sample()),
        charts.render(
            sample(
                id="all<kinds>",
                title=awkward,
                series=[
                    charts.Series(awkward, _points([(0, 3), (2, 9), (4, 5)]), "#123456"),
                    charts.Series("Second", _points([(1, 1), (3, 2)]), "#654321", step=True),
                ],
                bands=[
                    charts.Band(
                        "5th-95th", _points([(0, 1), (4, 2)]), _points([(0, 8), (4, 9)]), "#aabbcc"
                    )
                ],
                spans=[charts.Span("Infusion & rest", 1, 2, "#eeeeee")],
                markers=[charts.Marker("Dose <given>", 2.5, "#990000")],
                references=[
                    charts.Reference("Response: 10 or lower", 10),
                    charts.Reference(awkward, 5),
                ],
            )
        ),
        charts.render(sample(series=[], empty_text="No scores yet.")),
        charts.render(
            charts.ChartData(
                id="bars",
                title="Adverse events",
                x=charts.value_axis("Events per 100 infusions", 0, 12),
                y=charts.Axis("Type", 0, 1, []),
                bars=[
                    charts.Bar("Nausea & <vomiting>", 12.5, "12.5"),
                    charts.Bar("Headache", 3.0, "3.0"),
                ],
            )
        ),
    ]


def test_the_markup_built_in_python_equals_the_template_it_replaced() -> None:
    from django.template import Context, Template

    reference = Template(TEMPLATE_MARKUP)
    for chart in _every_kind_of_chart():
        expected = "\n" + reference.render(Context({"chart": chart}))
        assert render_to_string("web/_chart.html", {"chart": chart}) == expected


def _numbers() -> list[Any]:
    rng = random.Random(16)
    floats = [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 20) for _ in range(2000)]
    ints = [rng.randint(-(10**12), 10**12) for _ in range(200)]
    odd = [0.0, -0.0, 1e-05, 1e16, 123456789012345.0, float("nan"), float("inf"), -float("inf")]
    return [*floats, *ints, *odd, 0, -7, True, Decimal("12.50"), "a & <b>", mark_safe("<i>")]


def test_numbers_written_plainly_are_what_the_template_writes() -> None:
    """The chart writes an int or float as its repr when the clinic's language writes numbers
    that way (no thousands separator, "."): the same text as ``{{ value }}``, which localizes."""
    from django.template import Context, Template

    template = Template("{{ value }}")
    assert chart_markup._plain_numbers()
    for value in _numbers():
        expected = template.render(Context({"value": value}))
        assert chart_markup._v_plain(value) == expected, value
        assert as_text(value) == expected, value


@pytest.mark.parametrize(
    "override", [{"USE_THOUSAND_SEPARATOR": True, "NUMBER_GROUPING": 3}, {"DECIMAL_SEPARATOR": ","}]
)
def test_where_numbers_are_localized_the_chart_localizes_them(override: dict[str, Any]) -> None:
    from django.template import Context, Template

    reference = Template(TEMPLATE_MARKUP)
    with override_settings(**override), translation.override(None):
        assert not chart_markup._plain_numbers()
        for chart in _every_kind_of_chart():
            expected = "\n" + reference.render(Context({"chart": chart}))
            assert render_to_string("web/_chart.html", {"chart": chart}) == expected
        thousands = "USE_THOUSAND_SEPARATOR" in override
        assert as_text(12345.5) == ("12,345.5" if thousands else "12345,5")
