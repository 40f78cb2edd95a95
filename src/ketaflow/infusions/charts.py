"""The vitals chart as data for an inline SVG (presentation attributes only: the CSP forbids
``style=``), and the predicted concentration of what was actually given (ketaflow.pk)."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

from ketaflow.accounts.clinictime import clinic_local, clinic_today
from ketaflow.clinical import pump
from ketaflow.infusions.models import InfusionEvent, InfusionSession, VitalsEntry
from ketaflow.pk import (
    Covariates,
    OutOfPopulationWarning,
    Regimen,
    get_model,
    plot_simulation,
    simulate,
    time_grid,
)
from ketaflow.pk.models import DEFAULT_MODEL

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 30
Y_MIN, Y_MAX = 0, 220  # one axis for mmHg, /min and %: every series fits 0-220


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str
    points: str
    dots: list[tuple[float, float, str]]


@dataclass(frozen=True)
class Band:
    x: float
    width: float


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class VitalsChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    plot_height: int
    series: list[Series]
    running: list[Band]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


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


def vitals_chart(
    entries: list[VitalsEntry], events: list[InfusionEvent], now: dt.datetime
) -> VitalsChart | None:
    if not entries:
        return None
    times = [e.measured_at for e in entries] + [e.at for e in events]
    t0 = min(times)
    t1 = max([*times, t0 + dt.timedelta(minutes=30)])
    span = (t1 - t0).total_seconds() or 1.0
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(at: dt.datetime) -> float:
        return round(LEFT + (at - t0).total_seconds() / span * plot_w, 1)

    def y(value: float) -> float:
        clipped = min(max(value, Y_MIN), Y_MAX)  # drawing only: the table shows the value
        return round(TOP + (1 - (clipped - Y_MIN) / (Y_MAX - Y_MIN)) * plot_h, 1)

    series: list[Series] = []
    for key, label, colour in _SERIES:
        pts = [
            (x(e.measured_at), y(float(v)), e.level)
            for e in entries
            if (v := getattr(e, key)) is not None
        ]
        if not pts:
            continue
        series.append(
            Series(
                key=key,
                label=label,
                colour=colour,
                points=" ".join(f"{px},{py}" for px, py, _ in pts),
                dots=[(px, py, _LEVEL_COLOUR.get(level, colour)) for px, py, level in pts],
            )
        )
    running: list[Band] = []
    for began, ended in pump.running_periods(pump.rate_segments(_pump_events(events))):
        end = ended if ended is not None else min(now, t1)
        running.append(Band(x(began), round(max(x(end) - x(began), 0), 1)))
    steps = 6
    clinic = entries[0].session.patient.clinic
    x_ticks = [
        Tick(
            x(t0 + dt.timedelta(seconds=span * i / steps)),
            clinic_local(clinic, t0 + dt.timedelta(seconds=span * i / steps)).strftime("%H:%M"),
        )
        for i in range(steps + 1)
    ]
    y_ticks = [Tick(y(v), str(v)) for v in range(Y_MIN, Y_MAX + 1, 40)]
    return VitalsChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
        plot_height=HEIGHT - BOTTOM - TOP,
        series=series,
        running=running,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )


def _pump_events(events: list[InfusionEvent]) -> list[pump.PumpEvent]:
    return [(e.kind, e.at, e.rate_ml_per_h) for e in events]


def delivered_regimen(session: InfusionSession, now: dt.datetime) -> Regimen | None:
    """The recorded pump events as a ketaflow.pk regimen (minutes from the start, mg/min).

    The segments come from ``ketaflow.clinical.pump.rate_segments``; ``mg/min`` from
    ``pump.mg_per_min``. A pump still running is counted up to ``now``: the curve shows what has
    been given so far, never more.
    """
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


def delivered_pk_png(session: InfusionSession, now: dt.datetime) -> bytes | None:
    regimen = delivered_regimen(session, now)
    if regimen is None or session.weight_kg is None:
        return None
    age = session.patient.age_on(clinic_today(session.patient.clinic))
    covariates = Covariates(weight_kg=float(session.weight_kg), age_yr=float(age))
    with warnings.catch_warnings():
        # A patient outside the model's study population is still plotted; the reasons are in
        # result.warnings and the page's caption says the curve is a typical-patient prediction.
        warnings.simplefilter("ignore", OutOfPopulationWarning)
        result = simulate(
            get_model(DEFAULT_MODEL),
            regimen,
            covariates,
            time_grid(until_min=regimen.end_min + 180, step_min=1),
        )
    return plot_simulation(result)
