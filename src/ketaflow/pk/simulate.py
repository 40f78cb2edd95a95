"""One patient: exact concentrations of every analyte over time, and summary measures."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketaflow.pk.models import (
    EFFECT_SITE_KEY,
    Covariates,
    EffectSite,
    PKModel,
    to_arrays,
)
from ketaflow.pk.occupancy import nmda_occupancy_estimate
from ketaflow.pk.regimen import MAX_TIME_MIN, Regimen
from ketaflow.pk.solver import (
    ModalResponse,
    build_systems,
    evaluate,
    interval_index,
    modal_response,
)

FloatArray = npt.NDArray[np.float64]

PLASMA_KEY = "plasma_ng_per_ml"


def time_grid(until_min: float, step_min: float, start_min: float = 0.0) -> FloatArray:
    """Regular grid start, start+step, ... up to and including ``until_min``."""
    for name, value in (("until_min", until_min), ("step_min", step_min), ("start", start_min)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
    if step_min <= 0:
        raise ValueError(f"step must be positive, got {step_min} min")
    if until_min <= start_min:
        raise ValueError(f"the grid must end after it starts ({start_min} to {until_min} min)")
    n = math.floor((until_min - start_min) / step_min + 1e-9) + 1
    return start_min + step_min * np.arange(n, dtype=np.float64)


def check_times(time_min: Sequence[float] | FloatArray) -> FloatArray:
    t = np.asarray(time_min, dtype=np.float64)
    if t.ndim != 1 or t.shape[0] == 0:
        raise ValueError("time points must be a non-empty list")
    if not np.all(np.isfinite(t)):
        raise ValueError("time points must be finite numbers")
    if np.any(np.abs(t) > MAX_TIME_MIN):
        raise ValueError(
            f"time points must lie within {MAX_TIME_MIN:,.0f} minutes (ten years) of the first "
            "dose: check the units"
        )
    if np.any(np.diff(t) <= 0):
        raise ValueError("time points must be strictly increasing")
    return t


def resolve_model(model: PKModel, ke0_per_min: float | None) -> PKModel:
    """The model, with a user-supplied effect site if ``ke0_per_min`` is given (labelled)."""
    if ke0_per_min is None:
        return model
    return model.with_effect_site(
        ke0_per_min, f"user-supplied ke0 {ke0_per_min:g}/min (not from {model.key}'s source)"
    )


@dataclass(frozen=True)
class Summary:
    """Summary measures of one analyte over the simulated window.

    ``cmax``/``tmax`` are taken over the evaluated times and the regimen's breakpoints (where
    plasma peaks); ``auc`` is exact (integrated in closed form) over the window;
    ``time_above`` uses linear interpolation between evaluated times;
    ``before_next_infusion`` is exact, at the start of every dosing period after the first."""

    analyte: str
    cmax_ng_per_ml: float
    tmax_min: float
    auc_ng_min_per_ml: float
    window_min: tuple[float, float]
    level_ng_per_ml: float | None
    time_above_level_min: float | None
    before_next_infusion_ng_per_ml: tuple[tuple[float, float], ...]  # (start_min, conc)

    def as_dict(self) -> dict[str, Any]:
        return {
            "analyte": self.analyte,
            "cmax_ng_per_ml": self.cmax_ng_per_ml,
            "tmax_min": self.tmax_min,
            "auc_ng_min_per_ml": self.auc_ng_min_per_ml,
            "window_min": list(self.window_min),
            "level_ng_per_ml": self.level_ng_per_ml,
            "time_above_level_min": self.time_above_level_min,
            "before_next_infusion": [
                {"start_min": s, "conc_ng_per_ml": c}
                for s, c in self.before_next_infusion_ng_per_ml
            ],
        }


def prediction_facts(model: PKModel) -> dict[str, Any]:
    """What a model's outputs predict, for JSON: sampling site, analyte, one label per output."""
    return {
        "sampling_site": model.sampling_site.value,
        "analyte": model.analyte,
        "labels": {key: model.prediction_label(key) for key in model.analyte_keys},
    }


def exact_auc(response: ModalResponse, start_min: float, end_min: float) -> FloatArray:
    """Exact integral of every output over [start, end], shape (n_out, N), in ng·min/mL."""
    inner = response.breaks_min[(response.breaks_min > start_min) & (response.breaks_min < end_min)]
    edges = np.concatenate(([start_min], inner, [end_min]))
    lo, hi = edges[:-1], edges[1:]
    idx = interval_index(response.breaks_min, lo)
    n_out = len(response.output_keys)
    total = np.zeros((n_out, response.n_subjects), dtype=np.float64)
    lam = response.eigenvalues_per_min  # (n, N)
    for p, q, m in zip(lo.tolist(), hi.tolist(), idx.tolist(), strict=True):
        if m < 0:
            continue
        t0, t1 = p - response.breaks_min[m], q - response.breaks_min[m]
        modes = (np.exp(lam * t1) - np.exp(lam * t0)) / lam  # (n, N)
        total += response.offset[m] * (q - p) + np.einsum(
            "jns,ns->js", response.amplitude[m], modes
        )
    return total


def time_above(time_min: FloatArray, conc: FloatArray, level: float) -> float:
    """Time spent above ``level``, interpolating crossings linearly between time points."""
    c0, c1 = conc[:-1] - level, conc[1:] - level
    dt = np.diff(time_min)
    both = (c0 > 0) & (c1 > 0)
    cross_up = (c0 <= 0) & (c1 > 0)
    cross_down = (c0 > 0) & (c1 <= 0)
    total = float(np.sum(dt[both]))
    total += float(np.sum(dt[cross_up] * c1[cross_up] / (c1[cross_up] - c0[cross_up])))
    total += float(np.sum(dt[cross_down] * c0[cross_down] / (c0[cross_down] - c1[cross_down])))
    return total


@dataclass(frozen=True)
class SimulationResult:
    """Concentrations of one patient. Times in minutes, concentrations in ng/mL."""

    model: PKModel
    regimen: Regimen
    covariates: Covariates
    time_min: FloatArray
    concentrations: Mapping[str, FloatArray]  # analyte key -> (T,)
    warnings: tuple[str, ...]
    response: ModalResponse

    @property
    def analytes(self) -> tuple[str, ...]:
        return tuple(self.concentrations)

    def __getitem__(self, key: str) -> FloatArray:
        return self.concentrations[key]

    def at(self, time_min: Sequence[float] | FloatArray) -> dict[str, FloatArray]:
        """Exact concentrations at other times (same patient and regimen)."""
        t = np.asarray(time_min, dtype=np.float64)
        values = evaluate(self.response, t)[:, 0, :]
        return {key: values[j] for j, key in enumerate(self.response.output_keys)}

    def effect_site(self) -> EffectSite | None:
        return self.model.effect_site

    def nmda_occupancy(self, unbound_fraction: float = 1.0) -> FloatArray:
        """Occupancy estimate (see :mod:`ketaflow.pk.occupancy`), from the effect-site
        concentration where the model has one, else from plasma; includes S-norketamine."""
        key = EFFECT_SITE_KEY if EFFECT_SITE_KEY in self.concentrations else PLASMA_KEY
        nk = self.concentrations.get("s_norketamine_ng_per_ml")
        return nmda_occupancy_estimate(
            self.concentrations[key],
            self.model.drug,
            s_norketamine_ng_per_ml=nk,
            unbound_fraction=unbound_fraction,
        )

    def summary(self, analyte: str = PLASMA_KEY, level_ng_per_ml: float | None = None) -> Summary:
        if analyte not in self.concentrations:
            raise ValueError(f"{self.model.key} has no analyte {analyte!r}")
        j = self.response.output_keys.index(analyte)
        t, c = self.time_min, self.concentrations[analyte]
        start, end = float(t[0]), float(t[-1])
        breaks = self.response.breaks_min
        extra = breaks[(breaks >= start) & (breaks <= end)]
        cand_t = np.concatenate((t, extra))
        cand_c = np.concatenate((c, evaluate(self.response, extra)[j, 0]))
        k = int(np.argmax(cand_c))
        auc = float(exact_auc(self.response, start, end)[j, 0])
        above = None
        if level_ng_per_ml is not None:
            if not math.isfinite(level_ng_per_ml) or level_ng_per_ml < 0:
                raise ValueError(f"level must be a non-negative number, got {level_ng_per_ml}")
            above = time_above(t, c, level_ng_per_ml)
        starts = [s for s, _ in self.regimen.dosing_periods_min()[1:]]
        troughs = evaluate(self.response, np.asarray(starts, dtype=np.float64))[j, 0]
        return Summary(
            analyte=analyte,
            cmax_ng_per_ml=float(cand_c[k]),
            tmax_min=float(cand_t[k]),
            auc_ng_min_per_ml=auc,
            window_min=(start, end),
            level_ng_per_ml=level_ng_per_ml,
            time_above_level_min=above,
            before_next_infusion_ng_per_ml=tuple(
                (float(s), float(v)) for s, v in zip(starts, troughs, strict=True)
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``time_min`` and one list per analyte (``..._ng_per_ml``)."""
        out: dict[str, Any] = {"time_min": self.time_min.tolist()}
        for key, values in self.concentrations.items():
            out[key] = values.tolist()
        return out


def simulate(
    model: PKModel,
    regimen: Regimen,
    covariates: Covariates,
    time_min: Sequence[float] | FloatArray,
    *,
    ke0_per_min: float | None = None,
) -> SimulationResult:
    """Exact plasma (and effect-site, metabolite) concentrations of one typical patient.

    A racemic dose given to an S-ketamine model is halved, with a warning in
    ``result.warnings`` (see :meth:`Regimen.for_model`); ``result.regimen`` is the dose given.
    Using a model outside its population emits :class:`OutOfPopulationWarning` and lists the
    reasons in ``result.warnings``."""
    if regimen.is_empty:
        raise ValueError("the regimen has no doses")
    t = check_times(time_min)
    model = resolve_model(model, ke0_per_min)
    regimen, converted = regimen.for_model(model)
    cov = to_arrays(covariates)
    found = converted + model.check_population(cov)
    systems = build_systems(model, model.scaled_parameters(cov))
    response = modal_response(systems, regimen.piecewise())
    values = evaluate(response, t)[:, 0, :]
    return SimulationResult(
        model=model,
        regimen=regimen,
        covariates=covariates,
        time_min=t,
        concentrations={key: values[j] for j, key in enumerate(response.output_keys)},
        warnings=tuple(found),
        response=response,
    )
