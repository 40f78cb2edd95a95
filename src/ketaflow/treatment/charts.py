"""The planned course's predicted concentration as data for the web's one chart module
(web/charts.py): one small chart per infusion day (the nights left out, so that each day's
peak and the level before it read at a glance), and the first infusion close up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from ketaflow.pk import PLASMA_KEY
from ketaflow.treatment.estimate import CourseEstimate
from ketaflow.web import charts

BEFORE_MIN: Final = 60.0  # each day's chart starts an hour before the infusion
AFTER_MIN: Final = 8 * 60.0  # and ends eight hours after its start
SAMPLE_MIN: Final = 10.0  # the points drawn (and listed in the table); the peak is always one
MEDIAN: Final = "#1f4e79"
INFUSING: Final = "#fbe3c8"


def _hours(minutes: float) -> str:
    return charts.number_text(minutes / 60.0, 1)


def _window_chart(
    estimate: CourseEstimate,
    *,
    chart_id: str,
    title: str,
    start_min: float,
    before_min: float,
    after_min: float,
    y_high: float,
) -> charts.SvgChart:
    population = estimate.population
    t = population.time_min
    band = population.bands[PLASMA_KEY]
    median = population.band(PLASMA_KEY, 50.0)
    inside = np.flatnonzero((t >= start_min - before_min) & (t <= start_min + after_min))
    peak = int(inside[np.argmax(median[inside])]) if inside.size else 0
    offsets = t[inside] - start_min
    keep = [
        int(i)
        for i, off in zip(inside, offsets, strict=True)
        if abs(off / SAMPLE_MIN - round(off / SAMPLE_MIN)) < 1e-6 or int(i) == peak
    ]

    def pts(values: npt.NDArray[np.float64]) -> list[charts.Point]:
        return [
            charts.Point(
                (t[i] - start_min) / 60.0,
                float(values[i]),
                _hours(t[i] - start_min),
                charts.number_text(float(values[i])),
            )
            for i in keep
        ]

    low, high = population.percentiles[0], population.percentiles[-1]
    spans = [
        charts.Span("Infusion running", (a - start_min) / 60.0, (b - start_min) / 60.0, INFUSING)
        for a, b in population.regimen.dosing_periods_min()
        if start_min - before_min <= a <= start_min + after_min
    ]
    hours = np.arange(
        -before_min / 60.0, after_min / 60.0 + 0.001, 1.0 if after_min <= 360 else 2.0
    )
    x = charts.Axis(
        "Hours from the start of the infusion",
        -before_min / 60.0,
        after_min / 60.0,
        [(float(h), charts.number_text(float(h))) for h in hours],
    )
    return charts.render(
        charts.ChartData(
            id=chart_id,
            title=title,
            x=x,
            y=charts.value_axis(population.model.prediction_label(PLASMA_KEY), 0, y_high),
            series=[charts.Series("Median (ng/mL)", pts(median), MEDIAN, dots=False)],
            bands=[
                charts.Band(
                    f"{low:g}th-{high:g}th percentile (ng/mL)", pts(band[0]), pts(band[-1]), MEDIAN
                )
            ],
            spans=spans,
            table_caption=f"{title}: predicted plasma concentration by hours from the start",
            height=220,
        )
    )


def course_charts(estimate: CourseEstimate, dates: Sequence[dt.date]) -> list[charts.SvgChart]:
    """One chart per planned infusion, all on the same concentration axis."""
    band = estimate.population.bands[PLASMA_KEY]
    y_high = float(np.max(band[-1])) if band.size else 1.0
    windows = estimate.days()
    return [
        _window_chart(
            estimate,
            chart_id=f"pk-day-{index + 1}",
            title=(
                f"Infusion {index + 1}, {charts.day_text(dates[index])} (day {day}): "
                f"peak {charts.number_text(w.peak_ng_per_ml)}, before it "
                f"{charts.number_text(w.before_ng_per_ml)} ng/mL"
            ),
            start_min=w.start_min,
            before_min=BEFORE_MIN,
            after_min=AFTER_MIN,
            y_high=max(y_high, 1.0),
        )
        for index, (day, w) in enumerate(windows)
    ]


def first_infusion_chart(estimate: CourseEstimate) -> charts.SvgChart:
    """The first infusion and the hours after it (an estimate simulated on its own)."""
    t = estimate.population.time_min
    band = estimate.population.bands[PLASMA_KEY]
    return _window_chart(
        estimate,
        chart_id="pk-first",
        title="The first infusion and the hours after it",
        start_min=0.0,
        before_min=0.0,
        after_min=float(t[-1]) if t.size else 360.0,
        y_high=max(float(np.max(band[-1])) if band.size else 1.0, 1.0),
    )
