"""A virtual population: inter-individual variability, exact percentile bands, bounded memory.

Each subject's closed-form coefficients (a few dozen numbers) are computed once, in chunks of
subjects. Concentrations are then evaluated in blocks of time points across *all* subjects, so
every percentile at every time point is exact (an order statistic of all N values, interpolated
linearly as ``numpy.percentile`` does), while memory holds only the coefficients and one block.

Speed: on a uniform grid inside one input interval the terms are carried from block to block
and point to point by recurrence (no exponential per point), and each subject's bounds over a
block pick the few subjects that can hold a wanted rank; only those are evaluated and
partitioned (see :mod:`ketaflow.pk.recurrence`). Other blocks are evaluated with ``exp`` per point
and selected by :func:`exact_order_statistics`. Either way every band value is an exact order
statistic of all subjects' values. Time spans run on forked worker processes for large
populations (see :data:`PROCESS_MIN_ELEMENTS`), on threads otherwise, or as tasks on a Dask
cluster with the same call (``client=``); blocks are aligned on the whole grid,
so the result is the same, bit for bit, whatever the number of threads or tasks.

Variability: log-normal exp(eta) on each parameter with the source's variance (and covariance)
where it gives one; models whose source gives none use the stated default
:data:`ketaflow.pk.models.DEFAULT_IIV_CV` on every volume and clearance.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketaflow.pk.models import (
    WEIGHT_KG_POSSIBLE,
    CovariateArrays,
    OutOfPopulationWarning,
    PKModel,
)
from ketaflow.pk.recurrence import (
    BlockPlan,
    Brackets,
    Chain,
    exact_order_statistics,
    plan_blocks,
    select_from_bounds,
)
from ketaflow.pk.regimen import Regimen
from ketaflow.pk.simulate import PLASMA_KEY, check_times, prediction_facts, resolve_model
from ketaflow.pk.solver import (
    ModalResponse,
    build_systems,
    evaluate_time_major,
    modal_response,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DEFAULT_PERCENTILES = (5.0, 50.0, 95.0)
SUBJECT_CHUNK = 50_000  # subjects per eigendecomposition batch (bounds the temporaries)
BLOCK_BYTES = 1 << 22  # about 4 MiB of concentrations per evaluated block
BLOCK_ROWS = 32  # time points per block (fewer for large populations, see BLOCK_BYTES)
BLOCK_SPAN_MIN = 16.0 / 3.0  # aim for blocks this long (32 points of a 10-s grid)
MIN_BLOCK_ROWS = 8  # never fewer: the per-block selection work is amortised over the rows
SPANS_PER_WORKER = 3
"""Time spans per thread (or Dask worker), taken from one queue. Blocks differ in cost by an
order of magnitude (during and just after an infusion every subject is a candidate for a rank;
later only a few dozen are), so one span per worker leaves a worker idle while the other
finishes the expensive start; a span costs a chain start (a few ms), so not too many.
Measured in benchmarks/pk_spans.py (docs/performance-pk.md)."""
PROGRESS_AUTO_ELEMENTS = 2_000_000_000  # show a progress bar by default above N x T of this
PROCESS_MIN_ELEMENTS = 10_000_000
"""Subject-time points (N x T) from which the spans run in forked worker processes rather than
threads. The per-block selection work between NumPy calls holds the GIL, so two threads gained
only ~9 % over one; processes run truly in parallel, but forking and joining them costs a few
milliseconds each, which a small population (the command's default 400-min grid, 4e6 points
for 10,000 patients) does not repay. Measured in docs/performance-pk.md."""


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


def block_rows(n_subjects: int, time_min: FloatArray) -> int:
    """Time points per block: about :data:`BLOCK_SPAN_MIN` of the grid's mean step (values
    move little within a block, so few subjects are candidates for a rank), at most
    :data:`BLOCK_BYTES` of values. A function of the population size and the grid only, so the
    blocks (and the rounding of every value) are the same however the grid is split."""
    n_times = time_min.shape[0]
    step = float(time_min[-1] - time_min[0]) / (n_times - 1) if n_times > 1 else 0.0
    by_span = round(BLOCK_SPAN_MIN / step) if step > 0 else BLOCK_ROWS
    return max(MIN_BLOCK_ROWS, min(BLOCK_ROWS, BLOCK_BYTES // (8 * n_subjects), by_span))


def evaluate_span(
    response: ModalResponse,
    time_min: FloatArray,
    percentiles: FloatArray,
    progress: Callable[[int], object] | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
    plan: BlockPlan | None = None,
) -> SpanResult:
    """Exact percentile bands and per-subject Cmax/Tmax for points ``start:stop`` of the grid
    ``time_min`` (``start`` on a block boundary). Blocks on a uniform grid inside one input
    interval use the recurrence and bounds of :mod:`ketaflow.pk.recurrence`; others are
    evaluated with ``exp`` per point and selected by :func:`exact_order_statistics`."""
    n = response.n_subjects
    n_out = len(response.output_keys)
    stop = time_min.shape[0] if stop is None else stop
    plan = plan if plan is not None else plan_blocks(response, time_min, block_rows(n, time_min))
    rows = plan.rows
    if start % rows:
        raise ValueError(f"a span must start on a block boundary (a multiple of {rows})")
    lo, hi, frac = _quantile_plan(n, percentiles)
    ranks = np.concatenate((lo, hi))
    n_q = percentiles.shape[0]
    bands = np.empty((n_out, n_q, stop - start), dtype=np.float64)
    cmax = np.full((n_out, n), -np.inf)
    tmax = np.zeros((n_out, n))
    hints: list[Brackets] = [{} for _ in range(n_out)]
    slopes = [0.0] * n_out
    chain: Chain | None = None
    for k in range(start // rows, -(-stop // rows)):
        b0 = k * rows
        t = time_min[b0 : min(b0 + rows, stop)]
        where = slice(b0 - start, b0 - start + t.shape[0])
        if plan.chain_start[k] < 0:
            y = evaluate_time_major(response, t)  # (n_out, B, N)
            for j in range(n_out):
                _update_cmax(cmax[j], tmax[j], y[j], t, np.arange(n))
                stats, hints[j] = exact_order_statistics(y[j], ranks, hints[j])
                bands[j, :, where] = _interpolate(stats, n_q, frac)
        else:
            if chain is None or chain.anchor != plan.chain_start[k]:
                chain = Chain(response, plan, time_min, k)
            chain.advance_to(k)
            count = t.shape[0]
            for j in range(n_out):
                low, high = chain.bounds(j, count, slopes[j])
                # the undivided values are at most high * max(1, exp(slope (count - 1)))
                grown = high * math.exp(slopes[j] * (count - 1))
                better = np.flatnonzero(np.maximum(high, grown, out=grown) > cmax[j])
                values = _Values(chain, j, count, everyone=better.shape[0] > n // 4)
                if better.shape[0]:
                    _update_cmax(cmax[j], tmax[j], values(better), t, better)
                stats, hints[j], slopes[j] = select_from_bounds(low, high, ranks, values, hints[j])
                bands[j, :, where] = _interpolate(stats, n_q, frac)
        if progress is not None:
            progress(int(t.shape[0]))
    return SpanResult(bands, cmax, tmax)


class _Values:
    """Values of a chain block for subsets of subjects; of everyone at once when many are
    wanted (the Cmax update and the selection then slice one evaluation, and a selection
    among most subjects takes it whole, without a gather)."""

    def __init__(self, chain: Chain, j: int, count: int, *, everyone: bool) -> None:
        self.chain, self.j, self.count = chain, j, count
        self.all = chain.values(j, count) if everyone else None

    def __call__(self, subjects: IntArray) -> FloatArray:
        if self.all is None and subjects.shape[0] > self.chain.n_subjects // 4:
            self.all = self.chain.values(self.j, self.count)
        if self.all is None:
            return self.chain.values(self.j, self.count, subjects)
        if subjects.shape[0] == self.all.shape[1]:
            return self.all  # everyone, in order (callers never write to it)
        return np.ascontiguousarray(self.all[:, subjects])


def _update_cmax(
    cmax: FloatArray, tmax: FloatArray, y: FloatArray, t: FloatArray, subjects: IntArray
) -> None:
    """Raise the running maximum of ``subjects`` (first time of a maximum kept on ties)."""
    block_max = y.max(axis=0)
    better = np.flatnonzero(block_max > cmax[subjects])
    if better.shape[0]:
        cmax[subjects[better]] = block_max[better]
        tmax[subjects[better]] = t[y[:, better].argmax(axis=0)]


def _interpolate(stats: FloatArray, n_q: int, frac: FloatArray) -> FloatArray:
    """Between the floor and ceil order statistics as ``numpy.percentile`` does (its lerp,
    from the nearer end), so the bands equal it bit for bit."""
    v_lo, v_hi = stats[:, :n_q], stats[:, n_q:]
    diff = v_hi - v_lo
    band: FloatArray = np.where(frac >= 0.5, v_hi - diff * (1 - frac), v_lo + diff * frac).T
    return band


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


def _spans(n_times: int, n_spans: int, rows: int) -> list[tuple[int, int]]:
    """``n_spans`` nearly equal spans of the grid, each starting on a block boundary."""
    n_blocks = -(-n_times // rows)
    edges = np.minimum(np.linspace(0, n_blocks, n_spans + 1).round().astype(int) * rows, n_times)
    edges[-1] = n_times
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


class _Progress:
    """A tqdm bar on stderr when shown; nothing at all (tqdm not even imported) otherwise."""

    def __init__(self, show: bool, total: int, desc: str) -> None:
        self._bar: Any = None
        if show:
            from tqdm import tqdm  # imported only when a bar is shown (start-up time)

            self._bar = tqdm(total=total, unit="time points", file=sys.stderr, desc=desc)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


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
    processes: bool | None = None,
    client: Any = None,
) -> PopulationResult:
    """Simulate ``n_subjects`` virtual patients and return exact percentile bands.

    ``dose_reference_weight_kg``: weight-based dosing; each subject receives the regimen's doses
    times (own weight / this weight), e.g. a 0.5 mg/kg plan built for 70 kg.
    ``progress``: a tqdm bar on stderr; ``None`` shows it only for long runs.
    ``threads``: workers (default: the cores, at most 8). ``processes``: run the time spans in
    forked worker processes instead of threads (``None``: when there is more than one worker,
    the population is at least :data:`PROCESS_MIN_ELEMENTS` subject-time points and this
    process runs no other thread). The result is the same, bit for bit, either way.
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
    plan = plan_blocks(response, t, block_rows(n_subjects, t))
    desc = f"{model.key} x {n_subjects}"
    if client is not None:
        bar = _Progress(show, int(t.shape[0]), desc)
        try:
            results = _run_dask(client, response, t, pct, plan, bar)
        finally:
            bar.close()
    else:
        workers = threads if threads is not None else min(os.cpu_count() or 1, 8)
        if processes is None:
            processes = (
                workers > 1
                and n_subjects * t.shape[0] >= PROCESS_MIN_ELEMENTS
                and _can_fork(alone=True)
            )
        elif processes and not _can_fork(alone=False):
            raise ValueError("worker processes need the 'fork' start method (Linux)")
        spans = _spans(t.shape[0], SPANS_PER_WORKER * workers, plan.rows)
        if processes:
            results = _run_processes(workers, spans, response, t, pct, plan, show, desc)
        else:
            bar = _Progress(show, int(t.shape[0]), desc)
            try:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    futures = [
                        pool.submit(
                            evaluate_span, response, t, pct, bar.update, start=a, stop=b, plan=plan
                        )
                        for a, b in spans
                    ]
                    results = [(a, b, f.result()) for (a, b), f in zip(spans, futures, strict=True)]
            finally:
                bar.close()
    return _merge(model, regimen, n_subjects, seed, t, pct, response, results, weights, found)


def _can_fork(*, alone: bool) -> bool:
    """Whether worker processes can be forked; ``alone``: and this process runs no other thread
    (forking copies only the calling thread, so a lock another thread holds, e.g. in a web
    server, would stay locked in the child: there threads are used instead)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not alone or threading.active_count() == 1


_SHARED: tuple[ModalResponse, FloatArray, FloatArray, BlockPlan] | None = None


def _share(response: ModalResponse, t: FloatArray, pct: FloatArray, plan: BlockPlan) -> None:
    """A forked worker's initializer: its inputs come with the fork (copy-on-write memory),
    never pickled; only the span bounds go to it and each span's result comes back."""
    global _SHARED
    _SHARED = (response, t, pct, plan)


def _evaluate_shared(start: int, stop: int) -> SpanResult:
    if _SHARED is None:
        raise RuntimeError("a population worker started without its inputs")
    response, t, pct, plan = _SHARED
    return evaluate_span(response, t, pct, start=start, stop=stop, plan=plan)


def _run_processes(
    workers: int,
    spans: list[tuple[int, int]],
    response: ModalResponse,
    t: FloatArray,
    pct: FloatArray,
    plan: BlockPlan,
    show: bool,
    desc: str,
) -> list[tuple[int, int, SpanResult]]:
    """The spans on ``workers`` forked processes taking them from one queue. The workers are
    forked at the first submission, before any thread of the pool or the progress bar starts."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_share,
        initargs=(response, t, pct, plan),
    )
    with pool:
        futures: dict[Future[SpanResult], tuple[int, int]] = {
            pool.submit(_evaluate_shared, a, b): (a, b) for a, b in spans
        }
        bar = _Progress(show, int(t.shape[0]), desc)
        try:
            done: dict[tuple[int, int], SpanResult] = {}
            for future in as_completed(futures):
                a, b = futures[future]
                done[a, b] = future.result()
                bar.update(b - a)
        finally:
            bar.close()
    return [(a, b, done[a, b]) for a, b in spans]


def _run_dask(
    client: Any,
    response: ModalResponse,
    t: FloatArray,
    pct: FloatArray,
    plan: BlockPlan,
    bar: _Progress,
) -> list[tuple[int, int, SpanResult]]:
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    spans = _spans(t.shape[0], SPANS_PER_WORKER * n_workers, plan.rows)
    shared = client.scatter(response, broadcast=True)
    futures = {
        client.submit(evaluate_span, shared, t, pct, start=a, stop=b, plan=plan, pure=False): (a, b)
        for a, b in spans
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
