"""Outcome charts. On the web, data for the one chart module (web/charts.py): a patient's
trajectory per measure (staff page and the portal), the dashboard's Kaplan-Meier curve and its
adverse-event bars. In the progress report PDF only, a PNG of the trajectory (matplotlib's object
API with the Agg canvas: no pyplot, no global state)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Final

import matplotlib
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ketaflow.clinical import KaplanMeier
from ketaflow.outcomes.selectors import MeasureTrajectory, Status, Trajectory
from ketaflow.web import charts

DPI: Final = 100
EPOCH: Final = dt.date(1970, 1, 1)
PANEL_HEIGHT_IN: Final = 2.5
LEGEND_IN: Final = 1.35  # the legends' room at the right of the panels
SCORE: Final = "#1f4e79"
BASELINE: Final = "#6b6b6b"
RESPONSE: Final = "#c77c02"
REMISSION: Final = "#2e7d32"
INFUSION: Final = "#8e44ad"
STATUS_COLOURS: Final[dict[Status, str]] = {
    Status.LOSS_OF_RESPONSE: "#b00020",
    Status.REMISSION: REMISSION,
    Status.RESPONDER: RESPONSE,
    Status.NOT_YET_RESPONDING: BASELINE,
    Status.NO_RULES: BASELINE,
    Status.NO_SCORES: BASELINE,
}


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _days(days: Sequence[dt.date]) -> npt.NDArray[np.datetime64]:
    return np.array(days, dtype="datetime64[D]")


def _num(day: dt.date) -> float:
    """matplotlib's number for a date: days since the epoch set in ``trajectory_png``."""
    return float((day - EPOCH).days)


def _panel(
    ax: Axes, m: MeasureTrajectory, days: Sequence[dt.date], span: tuple[dt.date, dt.date]
) -> None:
    for i, day in enumerate(days):
        ax.axvline(
            _num(day),
            color=INFUSION,
            alpha=0.35,
            linewidth=1.2,
            label="infusion day" if i == 0 else None,
        )
    if m.baseline is not None:
        ax.axhline(
            m.baseline.score,
            color=BASELINE,
            linestyle="--",
            linewidth=1,
            label=f"baseline {m.baseline.score}",
        )
    if m.response_at_or_below is not None:
        ax.axhline(
            m.response_at_or_below,
            color=RESPONSE,
            linestyle=":",
            linewidth=1.4,
            label=f"response ≤ {m.response_at_or_below:.1f}",
        )
    if m.remission_at_or_below is not None:
        ax.axhline(
            m.remission_at_or_below,
            color=REMISSION,
            linestyle="-.",
            linewidth=1.2,
            label=f"remission ≤ {m.remission_at_or_below}",
        )
    if m.points:
        xs = _days([p.on for p in m.points])
        ax.plot(
            xs,
            [p.score for p in m.points],
            color=SCORE,
            marker="o",
            markersize=4,
            linewidth=1.8,
            label=m.label,
        )
        lost = m.assessment.lost_on if m.assessment is not None else None
        if lost is not None:
            at = [p.score for p in m.points if p.on == lost]
            ax.plot(
                _days([lost]),
                at[-1:],
                linestyle="none",
                marker="X",
                markersize=11,
                color=STATUS_COLOURS[Status.LOSS_OF_RESPONSE],
                label="loss of response",
            )
    else:
        ax.text(
            0.5,
            0.5,
            "no scores yet",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=BASELINE,
        )
    ax.set_ylim(0, m.max_score)
    ax.set_xlim(_num(span[0]), _num(span[1]))
    ax.set_ylabel(m.label)
    ax.set_title(
        f"{m.label}: {m.status.label}",
        loc="left",
        fontsize=10,
        color=STATUS_COLOURS[m.status],
        fontweight="bold",
    )
    ax.grid(True, axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # a patient with no scores has nothing to label
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, framealpha=0.85)


def _span(traj: Trajectory, measures: Sequence[MeasureTrajectory]) -> tuple[dt.date, dt.date]:
    dates = [p.on for m in measures for p in m.points] + list(traj.infusion_days)
    if not dates:
        dates = [traj.today]
    start, end = min(dates), max(dates)
    pad = max((end - start).days * 0.03, 2)
    return (
        start - dt.timedelta(days=pad),
        end + dt.timedelta(days=pad),
    )


def trajectory_png(
    trajectory: Trajectory,
    *,
    measures: Sequence[str] | None = None,
    width_px: int = 900,
    title: str | None = None,
) -> bytes:
    """One panel per scored measure (instrument codes in ``measures``, default all scored):
    the scores over time against the baseline line and the response and remission thresholds of
    the outcome rules, with every infusion day as a vertical line."""
    shown = [m for m in trajectory.measures if measures is None or m.code in measures]
    scored = [m for m in shown if m.points]
    shown = scored or shown  # measures without scores only when nothing is scored
    if not shown:
        raise ValueError("trajectory_png: none of the requested measures is in the trajectory")
    width_in = max(width_px, 300) / DPI
    with matplotlib.rc_context({"date.converter": "concise", "date.epoch": "1970-01-01T00:00:00"}):
        height_in = PANEL_HEIGHT_IN * len(shown) + 0.6
        fig = Figure(figsize=(width_in, height_in))
        # Margins fixed in inches, not matplotlib's constrained layout, which laid the figure
        # out by drawing it once more: half of the progress report's time. Room at the left for
        # the scores and their measure, at the right for the legends (at 300 px and more), at
        # the top for the title and the first panel's, between panels for the next one's, at
        # the bottom for the dates and their year.
        fig.subplots_adjust(
            left=0.7 / width_in,
            right=1 - LEGEND_IN / width_in,
            top=1 - 0.65 / height_in,
            bottom=0.55 / height_in,
            hspace=0.3,  # of a panel's height
        )
        axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False)
        span = _span(trajectory, shown)
        for ax, m in zip(axes[:, 0], shown, strict=True):
            _panel(ax, m, trajectory.infusion_days, span)
        # A name is text, never mathtext: "$\frac{a$" in a name was a server error.
        suptitle = title or f"Trajectory of {trajectory.patient_name}"
        fig.suptitle(suptitle, fontsize=12, parse_math=False)
        return _png(fig)


# ---- the web: data for web/charts.py -----------------------------------------------------------


def _threshold(value: float) -> str:
    return charts.number_text(value, 0 if float(value).is_integer() else 1)


def measure_references(m: MeasureTrajectory) -> list[charts.Reference]:
    """The outcome rules' thresholds of one measure (not the patient's data)."""
    refs = []
    if m.response_at_or_below is not None:
        refs.append(
            charts.Reference(
                f"Response: {_threshold(m.response_at_or_below)} or lower", m.response_at_or_below
            )
        )
    if m.remission_at_or_below is not None:
        refs.append(
            charts.Reference(
                f"Remission: {_threshold(m.remission_at_or_below)} or lower",
                m.remission_at_or_below,
            )
        )
    return refs


def trajectory_chart(
    traj: Trajectory,
    m: MeasureTrajectory,
    *,
    chart_id: str,
    title: str,
    point_text: dict[int, str] | None = None,
    references: list[charts.Reference] | None = None,
) -> charts.SvgChart:
    """One measure's scores on the clinic's days, on its full scale, with the thresholds as
    labelled reference lines and each infusion day as a vertical mark. ``point_text`` may name
    a response's source (portal or clinic) beside its day in the table."""
    days = [p.on for p in m.points] + list(traj.infusion_days)
    first, last = (min(days), max(days)) if days else (traj.today, traj.today)
    x = charts.date_axis("Date (clinic day)", first, last)
    texts = point_text or {}
    points = [
        charts.Point(
            charts.day_number(p.on),
            float(p.score),
            f"{charts.day_text(p.on)}{texts.get(p.response_id, '')}",
            f"{p.score}",
        )
        for p in m.points
    ]
    lost = m.assessment.lost_on if m.assessment is not None else None
    if lost is not None:
        points = [
            charts.Point(
                p.x,
                p.y,
                p.x_text,
                f"{p.y_text} (loss of response)",
                STATUS_COLOURS[Status.LOSS_OF_RESPONSE],
            )
            if q.on == lost
            else p
            for p, q in zip(points, m.points, strict=True)
        ]
    top = m.max_score
    return charts.render(
        charts.ChartData(
            id=chart_id,
            title=title,
            x=x,
            y=charts.scale_axis(f"Score (0-{top})", top),
            series=[charts.Series(f"{m.label} score", points, SCORE)],
            references=measure_references(m) if references is None else references,
            markers=[
                charts.Marker("Infusion day", charts.day_number(d), INFUSION)
                for d in traj.infusion_days
            ],
            empty_text="No scores yet.",
            table_caption=f"{m.label} scores by date (clinic day)",
        )
    )


def trajectory_charts(
    traj: Trajectory, *, measures: Sequence[str] | None = None
) -> list[charts.SvgChart]:
    """Staff pages: one chart per scored measure (of ``measures``, default all; every one of
    them when none is scored)."""
    shown = [m for m in traj.measures if measures is None or m.code in measures]
    scored = [m for m in shown if m.points] or shown
    return [
        trajectory_chart(
            traj, m, chart_id=f"trajectory-{m.code}", title=f"{m.label}: {m.status.label}"
        )
        for m in scored
    ]


def survival_chart(curve: KaplanMeier) -> charts.SvgChart:
    """The Kaplan-Meier step curve with its confidence band; censoring is in the table."""
    end = max([0.0, *[s.time for s in curve.steps], *curve.censored_times, 1.0])
    times = [0.0, *[s.time for s in curve.steps], end]
    surv = [1.0, *[s.survival for s in curve.steps]]
    lower = [1.0, *[s.lower for s in curve.steps]]
    upper = [1.0, *[s.upper for s in curve.steps]]
    surv.append(surv[-1])
    lower.append(lower[-1])
    upper.append(upper[-1])

    def pts(values: list[float]) -> list[charts.Point]:
        return [
            charts.Point(t, v, f"Day {charts.number_text(t)}", f"{charts.number_text(v * 100)}%")
            for t, v in zip(times, values, strict=True)
        ]

    x = charts.value_axis("Days from response", 0, end)
    percent = charts.Axis(
        "Still in response (%)", 0.0, 1.0, [(v / 100, f"{v}") for v in (0, 25, 50, 75, 100)]
    )
    level = round(curve.confidence * 100)
    return charts.render(
        charts.ChartData(
            id="survival-chart",
            title=f"Time to loss of response (n = {curve.n})",
            x=x,
            y=percent,
            series=[
                charts.Series(
                    "Still in response", pts(surv) if curve.n else [], SCORE, step=True, dots=False
                )
            ],
            bands=[
                charts.Band(
                    f"{level}% confidence interval", pts(lower), pts(upper), SCORE, step=True
                )
            ]
            if curve.n
            else [],
            references=[charts.Reference("Half lost their response", 0.5)] if curve.n else [],
            empty_text="No responders yet.",
            table_caption="Proportion still in response by days from response (Kaplan-Meier)",
        )
    )


def bars_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    chart_id: str,
    title: str,
    unit: str,
    what: str,
) -> charts.SvgChart:
    """Horizontal bars, each labelled with its value (e.g. adverse events per 100 infusions)."""
    high = max([*values, 1.0])
    return charts.render(
        charts.ChartData(
            id=chart_id,
            title=title,
            x=charts.value_axis(unit, 0, high, count=4),
            y=charts.Axis(what, 0, 1, []),
            bars=[
                charts.Bar(label, value, charts.number_text(value, 1))
                for label, value in zip(labels, values, strict=True)
            ],
            empty_text="None recorded.",
        )
    )
