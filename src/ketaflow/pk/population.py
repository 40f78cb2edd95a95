"""A virtual population: inter-individual variability, exact percentile bands, bounded memory.

Each subject's closed-form coefficients (a few dozen numbers) are computed once, in chunks of
subjects. Concentrations are then evaluated in blocks of time points across *all* subjects, so
every percentile at every time point is exact (an order statistic of all N values, interpolated
linearly as ``numpy.percentile`` does), while memory holds only the coefficients and one block.

Speed: on a regular grid a block is evaluated from a table of exp(lambda b dt) (no exponential
per point), and the exact selection partitions only the few subjects that can hold a given rank
in the block (see :func:`exact_order_statistics`), instead of all N per time point. Time spans
run on threads (NumPy releases the GIL), or as tasks on a Dask cluster with the same call
(``client=``).

Variability: log-normal exp(eta) on each parameter with the source's variance (and covariance)
where it gives one; models whose source gives none use the stated default
:data:`ketaflow.pk.models.DEFAULT_IIV_CV` on every volume and clearance.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from ketaflow.pk.models import (
    WEIGHT_KG_POSSIBLE,
    CovariateArrays,
    OutOfPopulationWarning,
    PKModel,
)
from ketaflow.pk.regimen import Regimen
from ketaflow.pk.simulate import PLASMA_KEY, check_times, prediction_facts, resolve_model
from ketaflow.pk.solver import (
    EXP_FLOOR,
    ModalResponse,
    build_systems,
    evaluate_time_major,
    interval_index,
    modal_response,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DEFAULT_PERCENTILES = (5.0, 50.0, 95.0)
SUBJECT_CHUNK = 50_000  # subjects per eigendecomposition batch (bounds the temporaries)
BLOCK_BYTES = 1 << 22  # about 4 MiB of concentrations per evaluated block
BLOCK_ROWS = 32  # time points per block (fewer for large populations, see BLOCK_BYTES)
DEAD_MODE_NG_PER_ML = 1e-250  # modes contributing less than this are skipped (decayed)
MIN_BLOCK_ROWS = 8  # never fewer: the per-block selection work is amortised over the rows
PROGRESS_AUTO_ELEMENTS = 2_000_000_000  # show a progress bar by default above N x T of this


# A weight CV above 2 (200 %) describes no adult population; it is a typing mistake (e.g. 20 for
# 20 %) and would overflow the log-normal's sigma.
MAX_WEIGHT_CV = 2.0
MAX_THREADS = 256  # more worker threads than this is a typing mistake on any machine


@dataclass(frozen=True)
class WeightDistribution:
    """Body weight of the virtual patients: log-normal with this median and coefficient of
    variation (``cv=0``: everyone weighs the median). Weights outside a model's population are
    reported as a warning, never clamped."""

    median_kg: float
    cv: float = 0.0

    def __post_init__(self) -> None:
        low, high = WEIGHT_KG_POSSIBLE
        if not (math.isfinite(self.median_kg) and low <= self.median_kg <= high):
            raise ValueError(
                f"median weight must be between {low:g} and {high:g} kg, got {self.median_kg:g}"
            )
        if not (math.isfinite(self.cv) and 0 <= self.cv <= MAX_WEIGHT_CV):
            raise ValueError(
                f"weight CV must be between 0 and {MAX_WEIGHT_CV:g} (a fraction, 0.2 = 20 %), "
                f"got {self.cv:g}"
            )

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        if self.cv == 0:
            return np.full(n, self.median_kg, dtype=np.float64)
        sigma = math.sqrt(math.log1p(self.cv**2))
        return self.median_kg * np.exp(sigma * rng.standard_normal(n))


def sample_parameters(
    model: PKModel, cov: CovariateArrays, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Covariate-scaled typical values times exp(eta), eta ~ N(0, Omega) with the model's
    published variances and covariances (or the stated default where none are published)."""
    scaled = model.scaled_parameters(cov)
    varied = [p for p in model.parameters if p.iiv_omega2]
    if not varied:
        return scaled
    names = [p.name for p in varied]
    omega = np.diag([p.iiv_omega2 or 0.0 for p in varied])
    for a, b, covariance in model.iiv_covariances:
        i, j = names.index(a), names.index(b)
        omega[i, j] = omega[j, i] = covariance
    chol = np.linalg.cholesky(omega)
    n = cov.weight_kg.shape[0]
    eta = rng.standard_normal((n, len(names))) @ chol.T
    out = dict(scaled)
    for k, name in enumerate(names):
        out[name] = scaled[name] * np.exp(eta[:, k])
    return out


@dataclass(frozen=True)
class SpanResult:
    bands: FloatArray  # (n_out, Q, T_span)
    cmax: FloatArray  # (n_out, N), original subject order
    tmax: FloatArray  # (n_out, N)


def _quantile_plan(n: int, percentiles: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """numpy's 'linear' method: position h = (n-1) q/100, interpolate between floor and ceil."""
    h = (n - 1) * percentiles / 100.0
    lo = np.floor(h).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, h - lo


Brackets = dict[tuple[int, ...], tuple[float, float]]


def _rank_groups(uniq: IntArray) -> list[tuple[int, ...]]:
    """Adjacent ranks (the floor/ceil pair of one percentile) share one candidate set."""
    groups: list[list[int]] = []
    for r in uniq.tolist():
        if groups and r - groups[-1][-1] <= 1:
            groups[-1].append(r)
        else:
            groups.append([r])
    return [tuple(g) for g in groups]


def exact_order_statistics(
    block: FloatArray, ranks: IntArray, hint: Brackets | None = None
) -> tuple[FloatArray, Brackets]:
    """The ``ranks``-th smallest value of every row of ``block`` (B times x N subjects), exactly.

    Rank order within a row is unchanged by dividing the row by a positive number, so each row
    is divided by its mean; a subject's normalised value then moves little across the block.
    With lo_s and hi_s the subject's smallest and largest normalised value in the block, take
    any a <= A (the r1-th smallest lo) and b >= B (the r2-th smallest hi): every row's r1..r2-th
    order statistics lie in [a, b]. Subjects with hi_s < a are below them in every row, those
    with lo_s > b above, so only the remaining candidates are partitioned, on the original
    values: the result is exact. ``hint`` (the previous block's normalised brackets, returned
    by the last call) gives a and b without selecting A and B; it is used only after counting
    confirms a <= A and b >= B, otherwise A and B are selected. Rows that cannot be normalised
    (a mean that is not positive) use a plain partition. Returns (values, brackets)."""
    n_rows, n = block.shape
    uniq = np.unique(ranks)
    scale = block.mean(axis=1)
    if n < 64 or not np.all(np.isfinite(scale) & (scale > 0)):
        part: FloatArray = np.partition(block, uniq, axis=1)
        return np.ascontiguousarray(part[:, ranks]), {}
    inv = 1.0 / scale
    normalised = block * inv[:, None]
    lo_s = normalised.min(axis=0)
    hi_s = normalised.max(axis=0)
    out = np.empty((n_rows, ranks.shape[0]), dtype=np.float64)
    brackets: Brackets = {}
    exact_a: FloatArray | None = None
    exact_b: FloatArray | None = None
    for group in _rank_groups(uniq):
        r1, r2 = group[0], group[-1]
        guess = hint.get(group) if hint else None
        if guess is not None and not (
            np.count_nonzero(lo_s < guess[0]) <= r1 and np.count_nonzero(hi_s <= guess[1]) > r2
        ):
            guess = None
        if guess is None:
            if exact_a is None or exact_b is None:
                exact_a = np.partition(lo_s, uniq)
                exact_b = np.partition(hi_s, uniq)
            a, b = float(exact_a[r1]), float(exact_b[r2])
        else:
            a, b = guess
        below = int(np.count_nonzero(hi_s < a))
        candidates = np.flatnonzero((hi_s >= a) & (lo_s <= b))
        sub = block[:, candidates]
        local = np.asarray(group, dtype=np.intp) - below
        sub.partition(local, axis=1)
        for r, r_local in zip(group, local.tolist(), strict=True):
            out[:, ranks == r] = sub[:, r_local][:, None]
        # next block's guess: this block's normalised range, widened by its own width
        seen = sub[:, local] * inv[:, None]
        low, high = float(seen.min()), float(seen.max())
        width = (high - low) + 5e-3 * max(abs(low), abs(high))
        brackets[group] = (low - width, high + width)
    return out, brackets


class _RegularBlocks:
    """Fast exact evaluation of blocks of B equally spaced times inside one input interval:
    exp(lambda (tau0 + b dt)) = exp(lambda tau0) * table[b], with the table computed once.
    Used only where a block's offsets match the table's to rounding level."""

    def __init__(self, offsets_min: FloatArray, response: ModalResponse) -> None:
        self.offsets_min = offsets_min
        lam = response.eigenvalues_per_min  # (n, N)
        self.table = np.exp(offsets_min[None, :, None] * lam[:, None, :])  # (n, B, N)

    def matches(self, t: FloatArray) -> bool:
        if t.shape[0] != self.offsets_min.shape[0]:
            return False
        scale = 1e-12 * max(1.0, float(np.max(np.abs(t))))
        return bool(np.all(np.abs((t - t[0]) - self.offsets_min) <= scale))

    def evaluate(self, response: ModalResponse, m: int, tau0: float) -> FloatArray:
        lam = response.eigenvalues_per_min
        n_out = len(response.output_keys)
        rows = self.offsets_min.shape[0]
        out = np.empty((n_out, rows, response.n_subjects), dtype=np.float64)
        work = np.empty((rows, response.n_subjects), dtype=np.float64)
        start = np.exp(np.maximum(lam * tau0, EXP_FLOOR))  # (n, N)
        for j in range(n_out):
            coef = response.amplitude[m, j] * start  # (n, N): each mode at the block's start
            # a mode whose every term is below DEAD_MODE_NG_PER_ML is left out (decayed)
            live = [i for i in range(lam.shape[0]) if np.max(np.abs(coef[i])) > DEAD_MODE_NG_PER_ML]
            if not live:
                out[j] = response.offset[m, j]
                continue
            np.multiply(self.table[live[0]], coef[live[0]], out=out[j])
            for i in live[1:]:
                np.multiply(self.table[i], coef[i], out=work)
                out[j] += work
            out[j] += response.offset[m, j]
        return out


def evaluate_span(
    response: ModalResponse,
    time_min: FloatArray,
    percentiles: FloatArray,
    progress: Callable[[int], object] | None = None,
) -> SpanResult:
    """Exact percentile bands and per-subject Cmax/Tmax for a span of time points."""
    n = response.n_subjects
    n_out = len(response.output_keys)
    lo, hi, frac = _quantile_plan(n, percentiles)
    ranks = np.concatenate((lo, hi))
    n_q = percentiles.shape[0]
    rows = max(MIN_BLOCK_ROWS, min(BLOCK_ROWS, BLOCK_BYTES // (8 * n)))
    bands = np.empty((n_out, n_q, time_min.shape[0]), dtype=np.float64)
    cmax = np.full((n_out, n), -np.inf)
    tmax = np.zeros((n_out, n))
    regular = _RegularBlocks(time_min[:rows] - time_min[0], response)
    breaks = response.breaks_min
    hints: list[Brackets] = [{} for _ in range(n_out)]
    for b0 in range(0, time_min.shape[0], rows):
        t = time_min[b0 : b0 + rows]
        idx = interval_index(breaks, t[[0, -1]])
        if idx[0] == idx[-1] and idx[0] >= 0 and regular.matches(t):
            y = regular.evaluate(response, int(idx[0]), float(t[0] - breaks[idx[0]]))
        else:
            y = evaluate_time_major(response, t)  # (n_out, B, N)
        for j in range(n_out):
            yj = y[j]
            block_max = yj.max(axis=0)
            better = np.flatnonzero(block_max > cmax[j])
            if better.shape[0]:
                cmax[j, better] = block_max[better]
                tmax[j, better] = t[yj[:, better].argmax(axis=0)]
            stats, hints[j] = exact_order_statistics(yj, ranks, hints[j])
            v_lo, v_hi = stats[:, :n_q], stats[:, n_q:]
            bands[j, :, b0 : b0 + t.shape[0]] = (v_lo + frac * (v_hi - v_lo)).T
        if progress is not None:
            progress(int(t.shape[0]))
    return SpanResult(bands, cmax, tmax)


def _label(p: float) -> str:
    return f"p{p:g}"


@dataclass(frozen=True)
class PopulationResult:
    """Percentile bands over time (ng/mL) and the distribution of Cmax over subjects."""

    model: PKModel
    regimen: Regimen
    n_subjects: int
    seed: int
    time_min: FloatArray
    percentiles: tuple[float, ...]
    bands: Mapping[str, FloatArray]  # analyte -> (Q, T)
    cmax_ng_per_ml: Mapping[str, FloatArray]  # analyte -> (N,)
    tmax_min: Mapping[str, FloatArray]  # analyte -> (N,)
    weights_kg: FloatArray
    warnings: tuple[str, ...]

    def band(self, analyte: str, percentile: float) -> FloatArray:
        band: FloatArray = self.bands[analyte][self.percentiles.index(float(percentile))]
        return band

    def cmax_percentiles(self, analyte: str = PLASMA_KEY) -> dict[str, float]:
        values = np.percentile(self.cmax_ng_per_ml[analyte], self.percentiles)
        return {_label(p): float(v) for p, v in zip(self.percentiles, values, strict=True)}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model.key,
            **prediction_facts(self.model),
            "variability_source": self.model.variability_source,
            "n": self.n_subjects,
            "seed": self.seed,
            "percentiles": list(self.percentiles),
            "time_min": self.time_min.tolist(),
        }
        for key, band in self.bands.items():
            out[key] = {_label(p): band[q].tolist() for q, p in enumerate(self.percentiles)}
        for key, cmax in self.cmax_ng_per_ml.items():
            name = key.removesuffix("_ng_per_ml")
            out[f"cmax_{name}_ng_per_ml"] = {
                **self.cmax_percentiles(key),
                "mean": float(np.mean(cmax)),
                "min": float(np.min(cmax)),
                "max": float(np.max(cmax)),
            }
        out["warnings"] = list(self.warnings)
        return out


def population_response(
    model: PKModel,
    regimen: Regimen,
    *,
    n_subjects: int,
    weight: WeightDistribution,
    seed: int,
    age_yr: float | None = None,
    asian_race: bool = False,
    dose_reference_weight_kg: float | None = None,
) -> tuple[ModalResponse, FloatArray, list[str]]:
    """Sample N subjects and compute their closed-form coefficients in chunks."""
    rng = np.random.default_rng(seed)
    weights = weight.sample(n_subjects, rng)
    ages = None if age_yr is None else np.full(n_subjects, float(age_yr))
    cov = CovariateArrays(weights, ages, asian_race)
    found = model.population_warnings(cov)
    params = sample_parameters(model, cov, rng)
    scale = None
    if dose_reference_weight_kg is not None:
        if not (math.isfinite(dose_reference_weight_kg) and dose_reference_weight_kg > 0):
            raise ValueError("dose reference weight must be positive")
        scale = weights / dose_reference_weight_kg
    piecewise = regimen.piecewise()
    parts: list[ModalResponse] = []
    for c0 in range(0, n_subjects, SUBJECT_CHUNK):
        chunk = {k: v[c0 : c0 + SUBJECT_CHUNK] for k, v in params.items()}
        systems = build_systems(model, chunk)
        parts.append(
            modal_response(
                systems, piecewise, None if scale is None else scale[c0 : c0 + SUBJECT_CHUNK]
            )
        )
    response = parts[0] if len(parts) == 1 else ModalResponse.concatenate(parts)
    return response, weights, found


def _spans(n_times: int, n_spans: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n_times, n_spans + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def simulate_population(
    model: PKModel,
    regimen: Regimen,
    time_min: Sequence[float] | FloatArray,
    *,
    n_subjects: int,
    weight: WeightDistribution,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    seed: int = 0,
    age_yr: float | None = None,
    asian_race: bool = False,
    dose_reference_weight_kg: float | None = None,
    ke0_per_min: float | None = None,
    progress: bool | None = None,
    threads: int | None = None,
    client: Any = None,
) -> PopulationResult:
    """Simulate ``n_subjects`` virtual patients and return exact percentile bands.

    ``dose_reference_weight_kg``: weight-based dosing; each subject receives the regimen's doses
    times (own weight / this weight), e.g. a 0.5 mg/kg plan built for 70 kg.
    ``progress``: a tqdm bar on stderr; ``None`` shows it only for long runs.
    ``client``: a ``dask.distributed.Client``; time spans then run as tasks on its cluster."""
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be between 1 and {MAX_THREADS}, got {threads}")
    if isinstance(n_subjects, bool) or n_subjects < 1:
        raise ValueError(f"population size must be at least 1, got {n_subjects}")
    if regimen.is_empty:
        raise ValueError("the regimen has no doses")
    t = check_times(time_min)
    pct = np.asarray(sorted({float(p) for p in percentiles}), dtype=np.float64)
    if pct.shape[0] == 0 or np.any((pct < 0) | (pct > 100)) or not np.all(np.isfinite(pct)):
        raise ValueError("percentiles must be between 0 and 100")
    model = resolve_model(model, ke0_per_min)
    regimen, converted = regimen.for_model(model)
    response, weights, found = population_response(
        model,
        regimen,
        n_subjects=n_subjects,
        weight=weight,
        seed=seed,
        age_yr=age_yr,
        asian_race=asian_race,
        dose_reference_weight_kg=dose_reference_weight_kg,
    )
    for message in found:
        warnings.warn(message, OutOfPopulationWarning, stacklevel=2)
    found = converted + found
    show = progress if progress is not None else n_subjects * t.shape[0] >= PROGRESS_AUTO_ELEMENTS
    bar = tqdm(
        total=int(t.shape[0]),
        unit="time points",
        file=sys.stderr,
        disable=not show,
        desc=f"{model.key} x {n_subjects}",
    )
    try:
        if client is not None:
            results = _run_dask(client, response, t, pct, bar)
        else:
            workers = threads if threads is not None else min(os.cpu_count() or 1, 8)
            spans = _spans(t.shape[0], max(1, workers))
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                futures = [
                    pool.submit(evaluate_span, response, t[a:b], pct, bar.update) for a, b in spans
                ]
                results = [(a, b, f.result()) for (a, b), f in zip(spans, futures, strict=True)]
    finally:
        bar.close()
    return _merge(model, regimen, n_subjects, seed, t, pct, response, results, weights, found)


def _run_dask(
    client: Any, response: ModalResponse, t: FloatArray, pct: FloatArray, bar: tqdm[Any]
) -> list[tuple[int, int, SpanResult]]:
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    spans = _spans(t.shape[0], 2 * n_workers)
    shared = client.scatter(response, broadcast=True)
    futures = {
        client.submit(evaluate_span, shared, t[a:b], pct, pure=False): (a, b) for a, b in spans
    }
    results: list[tuple[int, int, SpanResult]] = []
    for future, (a, b) in futures.items():
        span: SpanResult = future.result()
        results.append((a, b, span))
        bar.update(b - a)
    return results


def _merge(
    model: PKModel,
    regimen: Regimen,
    n_subjects: int,
    seed: int,
    t: FloatArray,
    pct: FloatArray,
    response: ModalResponse,
    results: list[tuple[int, int, SpanResult]],
    weights: FloatArray,
    found: list[str],
) -> PopulationResult:
    n_out = len(response.output_keys)
    bands = np.empty((n_out, pct.shape[0], t.shape[0]))
    cmax = np.full((n_out, n_subjects), -np.inf)
    tmax = np.zeros((n_out, n_subjects))
    for a, b, span in results:
        bands[:, :, a:b] = span.bands
        better = span.cmax > cmax
        cmax = np.where(better, span.cmax, cmax)
        tmax = np.where(better, span.tmax, tmax)
    keys = response.output_keys
    return PopulationResult(
        model=model,
        regimen=regimen,
        n_subjects=n_subjects,
        seed=seed,
        time_min=t,
        percentiles=tuple(float(p) for p in pct),
        bands={k: bands[j] for j, k in enumerate(keys)},
        cmax_ng_per_ml={k: cmax[j] for j, k in enumerate(keys)},
        tmax_min={k: tmax[j] for j, k in enumerate(keys)},
        weights_kg=weights,
        warnings=tuple(found),
    )
