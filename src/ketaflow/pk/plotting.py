"""Pictures of a simulation (infusion periods shaded) and of a population band, as PNG bytes.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global state, no display), so
it is safe in a web worker. Each function returns the PNG bytes and writes them to ``path`` if
one is given.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ketaflow.pk.occupancy import OCCUPANCY_LABEL
from ketaflow.pk.population import PopulationResult
from ketaflow.pk.regimen import Regimen
from ketaflow.pk.simulate import PLASMA_KEY, SimulationResult

FloatArray = npt.NDArray[np.float64]


def _time_axis(time_min: FloatArray) -> tuple[FloatArray, float, str]:
    span = float(time_min[-1] - time_min[0])
    if span > 3 * 1440:
        return time_min / 1440.0, 1440.0, "time (days)"
    if span > 600:
        return time_min / 60.0, 60.0, "time (hours)"
    return time_min, 1.0, "time (min)"


def _shade(ax: Axes, regimen: Regimen, divisor: float) -> None:
    first = True
    for start, end in regimen.dosing_periods_min():
        label = ("bolus" if end == start else "infusion") if first else None
        if end == start:
            ax.axvline(start / divisor, color="tab:orange", alpha=0.5, lw=1, label=label)
        else:
            ax.axvspan(start / divisor, end / divisor, color="tab:orange", alpha=0.2, label=label)
        first = False


def _png(fig: Figure, path: str | Path | None) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png", dpi=110)
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def plot_simulation(
    result: SimulationResult, path: str | Path | None = None, *, occupancy: bool = False
) -> bytes:
    """Concentration curves of every analyte with the infusion periods shaded."""
    return _png(simulation_figure(result, occupancy=occupancy), path)


def simulation_figure(result: SimulationResult, *, occupancy: bool = False) -> Figure:
    """The figure of :func:`plot_simulation`; its axes name the analyte and sampling site."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    x, divisor, xlabel = _time_axis(result.time_min)
    _shade(ax, result.regimen, divisor)
    for key, values in result.concentrations.items():
        label = result.model.prediction_label(key).removesuffix(", ng/mL")
        ax.plot(x, values, lw=1.6 if key == PLASMA_KEY else 1.1, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(result.model.prediction_label(PLASMA_KEY), fontsize=8)
    ax.set_title(f"{result.model.title}, {result.covariates.weight_kg:g} kg", fontsize=9)
    ax.set_ylim(bottom=0)
    if occupancy:
        twin = ax.twinx()
        twin.plot(x, result.nmda_occupancy(), color="grey", ls="--", lw=1)
        twin.set_ylabel(OCCUPANCY_LABEL, fontsize=6)
        twin.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def plot_population(
    result: PopulationResult, path: str | Path | None = None, *, analyte: str = PLASMA_KEY
) -> bytes:
    """The band between the lowest and highest percentile, the median, infusions shaded."""
    return _png(population_figure(result, analyte=analyte), path)


def population_figure(result: PopulationResult, *, analyte: str = PLASMA_KEY) -> Figure:
    """The figure of :func:`plot_population`; its axes name the analyte and sampling site."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    x, divisor, xlabel = _time_axis(result.time_min)
    _shade(ax, result.regimen, divisor)
    band = result.bands[analyte]
    low, high = result.percentiles[0], result.percentiles[-1]
    ax.fill_between(
        x, band[0], band[-1], color="tab:blue", alpha=0.25, label=f"{low:g}th-{high:g}th percentile"
    )
    if 50.0 in result.percentiles:
        ax.plot(x, result.band(analyte, 50.0), color="tab:blue", lw=1.6, label="median")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(result.model.prediction_label(analyte), fontsize=8)
    ax.set_title(f"{result.model.title}: {result.n_subjects} virtual patients", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper right")
    return fig


@dataclass(frozen=True)
class DayWindow:
    """One infusion day of a course: the median curve's peak after that infusion's start and
    the median level just before it starts (the trough left by the infusions before it)."""

    start_min: float
    peak_ng_per_ml: float
    peak_low_ng_per_ml: float
    peak_high_ng_per_ml: float
    before_ng_per_ml: float


def day_windows(
    result: PopulationResult,
    starts_min: Sequence[float],
    *,
    after_min: float = 8 * 60.0,
    analyte: str = PLASMA_KEY,
) -> list[DayWindow]:
    """Peak and trough per infusion, read off the population band (median, lowest and highest
    percentile at the median's peak) within ``after_min`` of each start."""
    t = result.time_min
    median = result.band(analyte, 50.0)
    low, high = result.bands[analyte][0], result.bands[analyte][-1]
    windows = []
    for start in starts_min:
        inside = np.flatnonzero((t >= start) & (t <= start + after_min))
        before = np.flatnonzero(t <= start)
        at = int(inside[np.argmax(median[inside])]) if inside.size else 0
        windows.append(
            DayWindow(
                start_min=float(start),
                peak_ng_per_ml=float(median[at]),
                peak_low_ng_per_ml=float(low[at]),
                peak_high_ng_per_ml=float(high[at]),
                before_ng_per_ml=float(median[before[-1]]) if before.size else 0.0,
            )
        )
    return windows


def plot_population_days(
    result: PopulationResult,
    starts_min: Sequence[float],
    path: str | Path | None = None,
    *,
    before_min: float = 60.0,
    after_min: float = 8 * 60.0,
    analyte: str = PLASMA_KEY,
) -> bytes:
    """One small panel per infusion day (the nights between left out), sharing one
    concentration axis: the band, the median, the infusion shaded, the peak marked and the
    level before the infusion written in each panel's title."""
    return _png(
        population_days_figure(
            result, starts_min, before_min=before_min, after_min=after_min, analyte=analyte
        ),
        path,
    )


def population_days_figure(
    result: PopulationResult,
    starts_min: Sequence[float],
    *,
    before_min: float = 60.0,
    after_min: float = 8 * 60.0,
    analyte: str = PLASMA_KEY,
) -> Figure:
    n = max(1, len(starts_min))
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = Figure(figsize=(8, 1.2 + 2.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False)
    t = result.time_min
    band = result.bands[analyte]
    median = result.band(analyte, 50.0)
    periods = result.regimen.dosing_periods_min()
    windows = day_windows(result, starts_min, after_min=after_min, analyte=analyte)
    first_day = starts_min[0] if starts_min else 0.0
    for index, ax in enumerate(axes.flat):
        if index >= len(starts_min):
            ax.set_visible(False)
            continue
        start, window = starts_min[index], windows[index]
        keep = (t >= start - before_min) & (t <= start + after_min)
        hours = (t[keep] - start) / 60.0
        for p_start, p_end in periods:
            if start - before_min <= p_start <= start + after_min:
                ax.axvspan(
                    (p_start - start) / 60.0, (p_end - start) / 60.0, color="tab:orange", alpha=0.2
                )
        ax.fill_between(hours, band[0][keep], band[-1][keep], color="tab:blue", alpha=0.25)
        ax.plot(hours, median[keep], color="tab:blue", lw=1.4)
        peak_h = (t[keep][int(np.argmax(median[keep]))] - start) / 60.0
        ax.plot([peak_h], [window.peak_ng_per_ml], marker="v", color="tab:red", ms=5)
        day = round((start - first_day) / 1440.0)
        ax.set_title(
            f"Infusion {index + 1}, day {day}: peak {window.peak_ng_per_ml:.0f}, "
            f"before {window.before_ng_per_ml:.0f}",
            fontsize=7.5,
        )
        ax.tick_params(labelsize=7)
        ax.set_xlim(-before_min / 60.0, after_min / 60.0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, lw=0.5)
    low, high = result.percentiles[0], result.percentiles[-1]
    fig.supxlabel("hours from the start of each infusion", fontsize=8)
    fig.supylabel(result.model.prediction_label(analyte), fontsize=7)
    fig.suptitle(
        f"{result.model.title}: {result.n_subjects} virtual patients\n"
        f"median and {low:g}th-{high:g}th percentile band (ng/mL); infusion shaded; peak marked",
        fontsize=8,
    )
    return fig
