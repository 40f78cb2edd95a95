"""Pictures of a simulation (infusion periods shaded) and of a population band, as PNG bytes.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global state, no display), so
it is safe in a web worker. Each function returns the PNG bytes and writes them to ``path`` if
one is given.
"""

from __future__ import annotations

import io
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
