"""Exponentials on a uniform time grid by recurrence, and exact order statistics from bounds.

The grid is cut into blocks of B consecutive time points, aligned on the whole grid (block k is
points kB .. kB+B-1), so a block is the same whatever thread or Dask task evaluates it. A run of
blocks that are equally spaced with step dt and lie inside one input interval m is a *chain*.
At its first block each mode's term ``amplitude[m] * exp(lambda tau)`` is computed with ``exp``
(the anchor); each later block's terms are the previous block's times ``R = exp(lambda B dt)``,
and inside a block the term at point b is the block's term times ``r**b`` (``r = exp(lambda
dt)``, powers by repeated multiplication). No exponential is taken per point.

Rounding: each multiplication adds at most half an ulp of relative error to a term, so after k
blocks and b points a term is within about (k + b) ulp (k + b <= 8,640 + 1 on the 24-h 10-s
grid, about 1e-12 relative) of ``exp`` per point; ``tests/pk/test_recurrence.py`` measures it
and bounds it. Terms that fall below :data:`DEAD_TERM` are set to zero (never subnormal).

Each term is monotonic within a block (an exponential times a constant), and stays so after
dividing every subject's values by a common exp(slope b) (the population's trend, which changes
no rank), so a subject's divided value anywhere in the block lies between the sums of its terms'
smaller and larger endpoint values; these bounds are widened by :data:`BOUND_MARGIN`, far more
than the rounding of the values. :func:`select_from_bounds` uses them to pick the few subjects
that can hold a wanted rank and evaluates only those: the bands are exact order statistics of
the computed values of all subjects, and the population costs a few operations per subject per
block rather than per point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketaflow.pk.solver import EXP_FLOOR, ModalResponse, evaluate_time_major, interval_index

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DEAD_TERM = 1e-250
"""ng/mL. A term below this is set to zero: it cannot matter, and smaller numbers would
eventually become subnormal, which are many times slower to multiply."""

MAX_BLOCK_DECAY = 50.0
"""Largest |lambda| B dt of a chain: a term above :data:`DEAD_TERM` then stays far above the
subnormal range (1e-250 * exp(-50) = 2e-272) within the block. Beyond it (very coarse grids or
very fast modes) blocks are evaluated with ``exp`` per point."""

BOUND_MARGIN = 1e-12
"""Relative widening of a subject's bounds (of the sum of its terms' magnitudes): far above the
rounding of the values (a few dozen ulp, 1e-14), so the bounds hold for the computed values."""

HINT_WIDENING = 2.0
"""When a block's brackets, foreseen from the last block, miss a rank: widen them on each side by
this many times their width and count again before selecting them exactly. Any width is
exact (it is verified by counting); wider brackets only admit more candidates. Measured on the
benchmark population (10,000 patients, 24 h at 10 s): partitions of all subjects fell from 338
to 54 (1 Dec 2026, docs/performance-pk.md)."""

GRID_TOLERANCE = 1e-12
"""Relative tolerance (of the largest |time|) for a point to count as on the uniform grid."""

Brackets = dict[tuple[int, ...], tuple[float, float]]


@dataclass(frozen=True)
class BlockPlan:
    """How each block of the grid is evaluated: ``chain_start[k]`` is the anchor block of the
    chain block k belongs to, or -1 when block k is evaluated with ``exp`` per point;
    ``interval[k]`` its input interval; ``step_min[k]`` its chain's time step."""

    rows: int
    chain_start: list[int]
    interval: list[int]
    step_min: list[float]

    @property
    def n_blocks(self) -> int:
        return len(self.chain_start)


def plan_blocks(response: ModalResponse, time_min: FloatArray, rows: int) -> BlockPlan:
    """Classify the blocks of ``time_min`` (ascending) into chains and the rest."""
    n_times = time_min.shape[0]
    n_blocks = -(-n_times // rows)
    tol = GRID_TOLERANCE * max(1.0, float(np.max(np.abs(time_min)))) if n_times else 0.0
    fastest = float(np.max(np.abs(response.eigenvalues_per_min))) if response.n_subjects else 0.0
    first = interval_index(response.breaks_min, time_min[::rows])
    last = interval_index(
        response.breaks_min,
        time_min[np.minimum(np.arange(rows - 1, n_blocks * rows, rows), n_times - 1)],
    )
    chain_start = [-1] * n_blocks
    interval = first.tolist()
    steps = [0.0] * n_blocks
    t = time_min.tolist()
    for k in range(n_blocks):
        a = k * rows
        b = min(a + rows, n_times)
        if b - a < 2 or interval[k] < 0 or interval[k] != int(last[k]):
            continue
        block = time_min[a:b]
        step = (t[b - 1] - t[a]) / (b - a - 1)
        if not step > 0 or fastest * rows * step > MAX_BLOCK_DECAY:
            continue
        if np.max(np.abs(block - (t[a] + step * np.arange(b - a)))) > tol:
            continue
        c = chain_start[k - 1] if k else -1
        if (
            c >= 0
            and interval[k - 1] == interval[k]
            and abs(steps[c] - step) <= tol / rows
            and abs(t[c * rows] + (k - c) * rows * steps[c] - t[a]) <= tol
        ):
            chain_start[k], steps[k] = c, steps[c]
        else:
            chain_start[k], steps[k] = k, step
    return BlockPlan(rows, chain_start, interval, steps)


def _flush(terms: FloatArray) -> None:
    terms[np.abs(terms) < DEAD_TERM] = 0.0


class Chain:
    """The per-subject terms of the current block of a chain, for every output:
    ``terms[j, i, s]`` is output j's mode i of subject s at the block's first point, and
    ``powers[b, i, s]`` is r**b for the points of a block."""

    def __init__(self, response: ModalResponse, plan: BlockPlan, time_min: FloatArray, k: int):
        self.plan = plan
        self.n_times = int(time_min.shape[0])
        self.n_subjects = response.n_subjects
        self.anchor = plan.chain_start[k]
        m = plan.interval[k]
        step = plan.step_min[k]
        rows = plan.rows
        lam = response.eigenvalues_per_min
        tau = float(time_min[self.anchor * rows]) - float(response.breaks_min[m])
        self.offset = response.offset[m]  # (n_out, N)
        self.has_offset = [bool(np.any(row)) for row in self.offset]
        r = np.exp(np.maximum(lam * step, EXP_FLOOR))
        self.powers = np.empty((rows, *r.shape), dtype=np.float64)
        self.powers[0] = 1.0
        for b in range(1, rows):
            np.multiply(self.powers[b - 1], r, out=self.powers[b])
        self.big_r = np.exp(np.maximum(lam * (step * rows), EXP_FLOOR))
        # terms decay by at most exp(-MAX_BLOCK_DECAY) a block: flushing every few blocks is
        # enough to keep them out of the subnormal range (1e-250 * exp(-100) = 4e-294)
        fastest = float(np.max(np.abs(lam))) * step * rows
        self.flush_every = max(1, int(100.0 // max(fastest, 1e-300)))
        self.terms = response.amplitude[m] * np.exp(np.maximum(lam * tau, EXP_FLOOR))[None]
        _flush(self.terms)
        self.block = self.anchor
        self.advance_to(k)

    def advance_to(self, k: int) -> None:
        """Step the terms to block k of the same chain (the same multiplications in the same
        order wherever the chain is entered: results do not depend on how the grid is split)."""
        while self.block < k:
            self.terms *= self.big_r[None]
            self.block += 1
            if (self.block - self.anchor) % self.flush_every == 0:
                _flush(self.terms)

    def count(self, k: int) -> int:
        return min(self.plan.rows, self.n_times - k * self.plan.rows)

    def bounds(self, j: int, count: int, slope: float = 0.0) -> tuple[FloatArray, FloatArray]:
        """Each subject's smallest and largest value of output j times exp(-slope b) over the
        block's points b (the common trend divided out: it changes no rank), widened by
        :data:`BOUND_MARGIN` of the subject's largest term (rounding)."""
        start = self.terms[j]
        decay = math.exp(-slope * (count - 1))
        end = start * self.powers[count - 1]
        end *= decay
        low = np.minimum(start, end)
        high = np.maximum(start, end, out=end)
        size = np.abs(start).sum(axis=0)
        offset = self.offset[j] if self.has_offset[j] else None  # none after an infusion
        if offset is not None:
            size += np.abs(offset)
        size *= BOUND_MARGIN * max(1.0, decay)
        lo = low.sum(axis=0)
        hi = high.sum(axis=0)
        if offset is not None:
            lo += np.minimum(offset, offset * decay)
            hi += np.maximum(offset, offset * decay)
        lo -= size
        hi += size
        return lo, hi

    def values(self, j: int, count: int, subjects: IntArray | None = None) -> FloatArray:
        """Output j of ``subjects`` (default: all) at the block's points, shape (count,
        subjects); the same sums in the same order as :meth:`bounds`."""
        if subjects is None:
            p, terms, offset = self.powers[:count], self.terms[j], self.offset[j]
        else:
            p = self.powers[:count, :, subjects]
            terms, offset = self.terms[j][:, subjects], self.offset[j][subjects]
        y: FloatArray = terms[0] * p[:, 0]
        if terms.shape[0] > 1:
            term = np.empty_like(y)  # one temporary for every mode
            for i in range(1, terms.shape[0]):
                y += np.multiply(terms[i], p[:, i], out=term)
        y += offset
        return y


def select_from_bounds(
    low: FloatArray,
    high: FloatArray,
    ranks: IntArray,
    values: Callable[[IntArray], FloatArray],
    hint: Brackets | None = None,
) -> tuple[FloatArray, Brackets, float]:
    """The ``ranks``-th smallest value at every point of a block, exactly, from per-subject
    bounds ``low <= value * exp(-slope b) <= high`` over the block's points b (any slope) and
    ``values(subjects)`` (points x subjects).

    Dividing every subject's value at a point by the same positive number changes no rank, so
    for each group of adjacent ranks r1..r2, any a with at most r1 subjects' ``low`` below it
    and b with more than r2 subjects' ``high`` at or below it (e.g. the r1-th smallest ``low``
    and the r2-th smallest ``high``) bracket the group's (divided) order statistics at every
    point. A subject whose bounds miss every group's bracket lies wholly below or wholly above
    it, so only the union of the candidates is evaluated (one gather for all percentiles), and
    their own order statistics are selected by :func:`exact_order_statistics`. ``hint`` (from
    the last block) is used when counting confirms it, otherwise a and b are selected.
    Returns (values, brackets for the next block, the trend per point of the middle rank)."""
    uniq = np.unique(ranks)
    groups = rank_groups(uniq)
    chosen: list[tuple[float, float]] = []
    exact: tuple[FloatArray, FloatArray] | None = None
    for group in groups:
        r1, r2 = group[0], group[-1]
        guess = hint.get(group) if hint else None
        if guess is not None and not _brackets(low, high, r1, r2, guess):
            # the ranks moved more than foreseen: a wider guess, counted again, is far cheaper
            # than selecting (two partitions of every subject) and seldom takes many more
            a, b = guess
            wide = HINT_WIDENING * (b - a)
            guess = (a - wide, b + wide)
            if not _brackets(low, high, r1, r2, guess):
                guess = None
        if guess is None:
            if exact is None:
                exact = (
                    np.partition(low, [g[0] for g in groups]),
                    np.partition(high, [g[-1] for g in groups]),
                )
            guess = (float(exact[0][r1]), float(exact[1][r2]))
        chosen.append(guess)
    mask = np.zeros(low.shape[0], dtype=bool)
    for a, b in chosen:
        mask |= (high >= a) & (low <= b)
    subjects = np.flatnonzero(mask)
    outside_high = high[~mask]
    below = [int(np.count_nonzero(outside_high < a)) for a, _ in chosen]
    local: dict[int, int] = {}
    for group, n_below in zip(groups, below, strict=True):
        for r in group:
            local[r] = r - n_below
    local_ranks = np.fromiter((local[r] for r in ranks.tolist()), dtype=np.intp)
    if subjects.shape[0] > 3 * low.shape[0] // 4:
        # most subjects are candidates (a steep rise): select among everyone at the ranks
        # themselves, which spares gathering the candidates (the same order statistics)
        out, _ = exact_order_statistics(values(np.arange(low.shape[0])), ranks)
    else:
        out, _ = exact_order_statistics(values(subjects), local_ranks)
    # the subjects outside the candidates lie below a (so below every bracket value) or above
    # b: the tightest brackets of this block are order statistics of the candidates' bounds
    low_c = np.partition(low[subjects], [g[0] - nb for g, nb in zip(groups, below, strict=True)])
    high_c = np.partition(high[subjects], [g[-1] - nb for g, nb in zip(groups, below, strict=True)])
    count = out.shape[0]
    slope = _trend(out[:, int(np.argsort(ranks)[ranks.shape[0] // 2])])
    brackets: Brackets = {}
    for group, n_below in zip(groups, below, strict=True):
        # each group's brackets move as its own values do, to the next block's first point
        scale = math.exp(_trend(out[:, int(np.flatnonzero(ranks == group[0])[0])]) * count)
        a = float(low_c[group[0] - n_below]) * scale
        b = float(high_c[group[-1] - n_below]) * scale
        slack = 2e-3 * max(abs(a), abs(b))
        brackets[group] = (a - slack, b + slack)
    return out, brackets, slope


def _brackets(
    low: FloatArray, high: FloatArray, r1: int, r2: int, guess: tuple[float, float]
) -> bool:
    """Whether (a, b) brackets ranks r1..r2: at most r1 lower bounds below a, more than r2
    upper bounds at or below b."""
    a, b = guess
    return bool(np.count_nonzero(low < a) <= r1 and np.count_nonzero(high <= b) > r2)


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
    for group in rank_groups(uniq):
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


def _trend(values: FloatArray) -> float:
    """The mean log-slope per point of a positive series (0 otherwise)."""
    first, last = float(values[0]), float(values[-1])
    if values.shape[0] < 2 or not first > 0 < last:
        return 0.0
    return math.log(last / first) / (int(values.shape[0]) - 1)


def rank_groups(uniq: IntArray) -> list[tuple[int, ...]]:
    """Adjacent ranks (the floor/ceil pair of one percentile) share one bracket."""
    groups: list[list[int]] = []
    for r in uniq.tolist():
        if groups and r - groups[-1][-1] <= 1:
            groups[-1].append(r)
        else:
            groups.append([r])
    return [tuple(g) for g in groups]


def chain_values(response: ModalResponse, time_min: FloatArray, rows: int) -> FloatArray:
    """Every subject's outputs at every point, computed as the population path computes them
    (recurrence on chains, ``exp`` per point elsewhere), shape (n_out, T, N). For tests and
    error measurement: it holds the whole matrix."""
    plan = plan_blocks(response, time_min, rows)
    n_out = len(response.output_keys)
    out = np.empty((n_out, time_min.shape[0], response.n_subjects), dtype=np.float64)
    chain: Chain | None = None
    for k in range(plan.n_blocks):
        where = slice(k * rows, min((k + 1) * rows, time_min.shape[0]))
        if plan.chain_start[k] < 0:
            out[:, where] = evaluate_time_major(response, time_min[where])
            continue
        if chain is None or chain.anchor != plan.chain_start[k]:
            chain = Chain(response, plan, time_min, k)
        chain.advance_to(k)
        for j in range(n_out):
            out[j, where] = chain.values(j, chain.count(k))
    return out
