"""The infusion's charts as data for the web's one chart module (web/charts.py): the vitals over
the session and the predicted concentration of what was actually given (ketaflow.pk), both on
the clinic's clock."""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_today, zone_words
from ketaflow.clinical import pump
from ketaflow.infusions.models import InfusionEvent, InfusionSession, VitalsEntry
from ketaflow.pk import (
    Covariates,
    OutOfPopulationWarning,
    Regimen,
    get_model,
    simulate,
)
from ketaflow.pk.models import DEFAULT_MODEL
from ketaflow.web import charts

Y_MIN, Y_MAX = 0, 220  # one axis for mmHg, /min and %: every series fits 0-220
PK_STEP_MIN = 5.0  # the curve's resolution; the dose changes are added as exact points
PK_AFTER_MIN = 180.0  # the curve runs three hours past the last dose

_SERIES = [
    ("systolic_mmhg", "Systolic (mmHg)", "#b3261e"),
    ("diastolic_mmhg", "Diastolic (mmHg)", "#e07a5f"),
    ("heart_rate_bpm", "Heart rate (/min)", "#1f6f8b"),
    ("spo2_percent", "SpO2 (%)", "#1d7a46"),
    ("respiratory_rate_per_min", "Resp. rate (/min)", "#6b4c9a"),
]
_LEVEL_COLOUR = {
    "normal": "#ffffff",
    "abnormal": "#f2c14e",
    "critical": "#b3261e",
    "emergency": "#000000",
}
PUMP_RUNNING = "Pump running"


def _clock_axis(time_zone: str, t0: dt.datetime, t1: dt.datetime) -> charts.Axis:
    """Minutes from ``t0`` on x, ticks on round minutes of the clinic's clock (``time_zone``)."""
    span_min = max((t1 - t0).total_seconds() / 60, 1.0)
    step = next(s for s in (5, 10, 15, 30, 60, 120, 240) if span_min / s <= 5)
    local0 = timezone.localtime(t0, ZoneInfo(time_zone))
    first = local0.replace(second=0, microsecond=0)
    first += dt.timedelta(minutes=(-first.minute) % step)
    ticks = []
    at = first
    while (offset := (at - local0).total_seconds() / 60) <= span_min:
        ticks.append((offset, f"{at:%H:%M}"))
        at += dt.timedelta(minutes=step)
    return charts.Axis(zone_words(time_zone, t0), 0.0, span_min, ticks)


# A reading as its chart shows it: when (a datetime), its alert level, then each series' value
# in the order of _SERIES (an int, or None for a respiratory rate not taken).
Reading = tuple[Any, ...]


def vitals_chart(
    entries: list[VitalsEntry], events: list[InfusionEvent], now: dt.datetime
) -> charts.SvgChart | None:
    """Each vital sign over the session, the dots coloured by the reading's alert level, the
    pump's running periods shaded.

    The chart shows only what the readings and the pump events say and, while the pump runs,
    how far it has run: counted, as the PK chart is, to the last whole minute of ``now``
    (:func:`_whole_minute`). So one chart is drawn per set of readings, pump record, clinic
    clock and minute, once per process, not on every request (issue 16); a new reading, a
    correction that leaves a different set, a pump event or the next minute draws a new one."""
    if not entries:
        return None
    readings = tuple(
        (e.measured_at, e.level, *(getattr(e, key) for key, _, _ in _SERIES)) for e in entries
    )
    return _vitals_chart(
        readings,
        tuple(_pump_events(events)),
        entries[0].session.patient.clinic.time_zone,
        _whole_minute(now, events),
    )


@lru_cache(maxsize=256)
def _vitals_chart(
    readings: tuple[Reading, ...],
    pump_events: tuple[pump.PumpEvent, ...],
    time_zone: str,
    now: dt.datetime,
) -> charts.SvgChart:
    """The chart of one set of readings and pump events on one clinic clock at ``now``; never
    changed after it is made (its markup is kept with it, ``ketaflow.web.chart_markup``)."""
    zone = ZoneInfo(time_zone)
    times: list[dt.datetime] = [r[0] for r in readings] + [at for _, at, _ in pump_events]
    t0 = min(times)
    t1 = max([*times, t0 + dt.timedelta(minutes=30)])

    def minute(at: dt.datetime) -> float:
        return (at - t0).total_seconds() / 60

    # Each reading's place and clinic-clock time, once for its five series.
    placed = [(r, minute(r[0]), f"{timezone.localtime(r[0], zone):%H:%M}") for r in readings]
    series = []
    for index, (_, label, colour) in enumerate(_SERIES, start=2):
        points = [
            charts.Point(x, float(value), clock, f"{value}", _LEVEL_COLOUR.get(r[1], colour))
            for r, x, clock in placed
            if (value := r[index]) is not None
        ]
        if points:
            series.append(charts.Series(label, points, colour))
    spans = [
        charts.Span(
            PUMP_RUNNING, minute(began), minute(ended if ended is not None else min(now, t1))
        )
        for began, ended in pump.running_periods(pump.rate_segments(list(pump_events)))
    ]
    return charts.render(
        charts.ChartData(
            id="vitals-chart",
            title="Vital signs during the infusion",
            x=_clock_axis(time_zone, t0, t1),
            y=charts.value_axis("mmHg, /min, %", Y_MIN, Y_MAX),
            series=series,
            spans=spans,
            table_caption="Vital signs by time of reading (clinic time)",
        )
    )


def _pump_events(events: list[InfusionEvent]) -> list[pump.PumpEvent]:
    return [(e.kind, e.at, e.rate_ml_per_h) for e in events]


def delivered_regimen(
    session: InfusionSession, now: dt.datetime, events: list[InfusionEvent] | None = None
) -> Regimen | None:
    """The recorded pump events as a ketaflow.pk regimen (minutes from the start, mg/min).

    The segments come from ``ketaflow.clinical.pump.rate_segments``; ``mg/min`` from
    ``pump.mg_per_min``. A pump still running is counted up to ``now``: the curve shows what has
    been given so far, never more.
    """
    if events is None:
        events = list(session.events.all())
    conc = session.final_concentration_mg_per_ml
    if not events or conc is None:
        return None
    t0 = events[0].at
    segments = pump.rate_segments(_pump_events(events))
    if not segments or (segments[-1].end is None and now <= segments[-1].start):
        return None

    def minute(at: dt.datetime) -> float:
        return (at - t0).total_seconds() / 60

    changes: list[tuple[float, float]] = []
    if segments[0].start > t0:
        changes.append((0.0, 0.0))
    for segment in segments:
        begin, rate = minute(segment.start), pump.mg_per_min(segment.rate_ml_per_h, conc)
        if changes and changes[-1][0] == begin:
            changes[-1] = (begin, rate)
        else:
            changes.append((begin, rate))
        changes.append((minute(segment.end if segment.end is not None else now), 0.0))
    return Regimen.from_rate_changes(changes)


def delivered_pk_chart(
    session: InfusionSession, now: dt.datetime, events: list[InfusionEvent] | None = None
) -> charts.SvgChart | None:
    """The predicted plasma concentration of what was given so far (a typical patient of the
    session's weight and age), on the clinic's clock, the pump's running periods shaded.

    A pump still running is counted up to the last whole minute of ``now`` (never more than was
    given), so that the chart of one pump record is drawn once a minute and once per process,
    not on every request of the page (issue 16: no per-request chart rendering); the nurse's
    page shows its cards again after each save, and every person with the page open asks for
    the same chart."""
    if events is None:
        events = list(session.events.all())
    regimen = delivered_regimen(session, _whole_minute(now, events), events)
    if regimen is None or session.weight_kg is None:
        return None
    clinic = session.patient.clinic
    age = session.patient.age_on(clinic_today(clinic))
    return _pk_chart(regimen, float(session.weight_kg), float(age), clinic.time_zone, events[0].at)


def _whole_minute(now: dt.datetime, events: list[InfusionEvent]) -> dt.datetime:
    """``now`` less its seconds, unless that falls at or before the pump record's last event
    (a start, a rate change, a stop: the first minute after it is then counted up to ``now``
    itself, so the chart never ends before the event it shows)."""
    whole = now.replace(second=0, microsecond=0)
    latest = max((e.at for e in events), default=None)
    return whole if latest is None or whole > latest else now


@lru_cache(maxsize=256)
def _pk_chart(
    regimen: Regimen, weight_kg: float, age_yr: float, time_zone: str, t0: dt.datetime
) -> charts.SvgChart:
    """The chart of one pump record: the same record (events, weight, age, clinic clock) is
    drawn once per process; the chart is never changed after it is made (its markup is kept
    with it, ``ketaflow.web.chart_markup``)."""
    times, values = _delivered_curve(regimen, weight_kg, age_yr)
    label = get_model(DEFAULT_MODEL).prediction_label()
    zone = ZoneInfo(time_zone)
    points = [
        charts.Point(
            t,
            c,
            f"{timezone.localtime(t0 + dt.timedelta(minutes=t), zone):%H:%M}",
            charts.number_text(c),
        )
        for t, c in zip(times, values, strict=True)
    ]
    spans = [charts.Span(PUMP_RUNNING, start, end) for start, end in regimen.dosing_periods_min()]
    return charts.render(
        charts.ChartData(
            id="pk-chart",
            title="Predicted concentration of the doses given",
            x=_clock_axis(time_zone, t0, t0 + dt.timedelta(minutes=times[-1])),
            y=charts.value_axis(label, 0, max([*values, 1.0])),
            series=[
                charts.Series("Predicted, typical patient (ng/mL)", points, "#1f4e79", dots=False)
            ],
            spans=spans,
            table_caption=f"{label}: predicted for a typical patient, by clinic time",
        )
    )


@lru_cache(maxsize=256)
def _delivered_curve(
    regimen: Regimen, weight_kg: float, age_yr: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The curve for one pump record: the same record (events, weight, age) is computed once
    per process, not on every request of the page (the nurse's page reloads its cards on each
    save)."""
    end = regimen.end_min + PK_AFTER_MIN
    changes = [t for period in regimen.dosing_periods_min() for t in period]
    grid = np.unique(np.concatenate([np.arange(0.0, end + PK_STEP_MIN, PK_STEP_MIN), changes]))
    with warnings.catch_warnings():
        # A patient outside the model's study population is still plotted; the page's caption
        # says the curve is a typical-patient prediction.
        warnings.simplefilter("ignore", OutOfPopulationWarning)
        result = simulate(
            get_model(DEFAULT_MODEL),
            regimen,
            Covariates(weight_kg=weight_kg, age_yr=age_yr),
            grid[grid <= end],
        )
    times = tuple(float(t) for t in result.time_min)
    return times, tuple(float(c) for c in result["plasma_ng_per_ml"])
