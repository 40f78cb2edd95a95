"""Pictures of outcomes as PNG bytes: a patient's trajectory per measure, and the dashboard's
Kaplan-Meier curve. matplotlib's object API with the Agg canvas (no pyplot, no global state)."""

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

DPI: Final = 100
EPOCH: Final = dt.date(1970, 1, 1)
PANEL_HEIGHT_IN: Final = 2.5
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
        fig = Figure(figsize=(width_in, PANEL_HEIGHT_IN * len(shown) + 0.6), layout="constrained")
        axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False)
        span = _span(trajectory, shown)
        for ax, m in zip(axes[:, 0], shown, strict=True):
            _panel(ax, m, trajectory.infusion_days, span)
        # A name is text, never mathtext: "$\frac{a$" in a name was a server error.
        suptitle = title or f"Trajectory of {trajectory.patient_name}"
        fig.suptitle(suptitle, fontsize=12, parse_math=False)
        return _png(fig)


def survival_png(
    curve: KaplanMeier, *, width_px: int = 720, title: str = "Time to loss of response"
) -> bytes:
    """The Kaplan-Meier step curve with its 95% Greenwood band and censoring marks."""
    fig = Figure(figsize=(max(width_px, 300) / DPI, 3.6), layout="constrained")
    ax = fig.subplots()
    times = [0.0, *[s.time for s in curve.steps]]
    surv = [1.0, *[s.survival for s in curve.steps]]
    lower = [1.0, *[s.lower for s in curve.steps]]
    upper = [1.0, *[s.upper for s in curve.steps]]
    end = max([*times, *curve.censored_times, 1.0])
    times.append(end)
    surv.append(surv[-1])
    lower.append(lower[-1])
    upper.append(upper[-1])
    ax.step(times, surv, where="post", color=SCORE, linewidth=2, label="still in response")
    ax.fill_between(
        times, lower, upper, step="post", color=SCORE, alpha=0.15, label="95% CI (Greenwood)"
    )
    if curve.censored_times:
        ys = [curve.survival_at(t) for t in curve.censored_times]
        ax.plot(
            curve.censored_times,
            ys,
            linestyle="none",
            marker="|",
            markersize=10,
            color=SCORE,
            label="censored",
        )
    ax.set_ylim(0, 1.05)
    ax.set_xlim(0, end * 1.02)
    ax.set_xlabel("days from response")
    ax.set_ylabel("proportion without loss")
    ax.set_title(f"{title} (n = {curve.n})", loc="left", fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)


def bars_png(
    labels: Sequence[str], values: Sequence[float], *, title: str, unit: str, width_px: int = 720
) -> bytes:
    """Horizontal bars (e.g. adverse events per 100 infusions by type)."""
    fig = Figure(
        figsize=(max(width_px, 300) / DPI, 0.45 * max(len(labels), 1) + 1.2), layout="constrained"
    )
    ax = fig.subplots()
    if labels:
        ax.barh(list(labels), list(values), color=SCORE)
        ax.invert_yaxis()
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.1f}", va="center", fontsize=8)
    else:
        ax.text(0.5, 0.5, "none recorded", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel(unit)
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(True, axis="x", alpha=0.3)
    return _png(fig)
