"""The patient's scores over time as an inline SVG (presentation attributes only: the CSP
forbids ``style=``), one small chart per instrument on its own full scale."""

from __future__ import annotations

from dataclasses import dataclass

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.models import Clinic
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.clinical import Instrument
from ketaflow.clinical.instruments import FULL_SCALE

WIDTH, HEIGHT = 340, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 10, 26
# Full scale of each total, from ketaflow.clinical (PCL-5 0-80, PHQ-9 0-27, GAD-7 0-21).
MAX_TOTAL: dict[str, int] = {
    i.value: FULL_SCALE[i] for i in (Instrument.PCL5, Instrument.PHQ9, Instrument.GAD7)
}
LABEL: dict[str, str] = {
    "pcl5": "PCL-5 (PTSD symptoms)",
    "phq9": "PHQ-9 (depression)",
    "gad7": "GAD-7 (anxiety)",
}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    total: str
    when: str


@dataclass(frozen=True)
class Chart:
    instrument: str
    title: str
    max_total: int
    points: list[Point]
    polyline: str
    y_ticks: list[tuple[float, int]]
    first: str
    last: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_x: int = WIDTH - RIGHT
    bottom_y: int = HEIGHT - BOTTOM


def score_charts(patient_id: int, clinic: Clinic) -> list[Chart]:
    charts: list[Chart] = []
    for code, top in MAX_TOTAL.items():
        rows = list(
            InstrumentResponse.objects.filter(patient_id=patient_id, instrument=code)
            .order_by("taken_at")
            .values_list("taken_at", "total")
        )
        if not rows:
            continue
        start, end = rows[0][0], rows[-1][0]
        span = max((end - start).total_seconds(), 1.0)
        plot_w = WIDTH - LEFT - RIGHT
        plot_h = HEIGHT - TOP - BOTTOM
        points = []
        for taken_at, total in rows:
            x = LEFT + (
                plot_w * (taken_at - start).total_seconds() / span if len(rows) > 1 else plot_w / 2
            )
            y = TOP + plot_h * (1 - float(total) / top)
            local = clinic_local(clinic, taken_at)
            points.append(
                Point(round(x, 1), round(y, 1), f"{total.normalize():f}", f"{local:%Y-%m-%d}")
            )
        ticks = [(round(TOP + plot_h * (1 - v / top), 1), v) for v in (0, top // 2, top)]
        charts.append(
            Chart(
                instrument=code,
                title=LABEL[code],
                max_total=top,
                points=points,
                polyline=" ".join(f"{p.x},{p.y}" for p in points),
                y_ticks=ticks,
                first=points[0].when,
                last=points[-1].when,
            )
        )
    return charts
