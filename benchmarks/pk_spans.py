"""How the population's time grid is shared between threads: spans per worker, measured by CPU.

    .venv/bin/python benchmarks/pk_spans.py

The population's blocks differ in cost by an order of magnitude: during and just after the
infusion every subject is a candidate for a percentile, later only a few dozen are. With one span
per thread the thread holding the start of the grid works alone at the end. This script times
each span's evaluation by the CPU time of the thread that runs it (``time.thread_time``: what
else the machine is doing barely changes it, unlike wall time on a shared machine), for 1 to 12
spans per worker, and reports the total CPU and the finishing time of two workers taking spans
from one queue in order (as ``ThreadPoolExecutor`` does): the figure the choice of
``SPANS_PER_WORKER`` rests on. The scenario is that of ``pk_benchmark.py`` (Domino 1984, 10,000
patients, 24 h at 10 s, 5/50/95 bands).
"""

from __future__ import annotations

import heapq
import statistics
import time

import numpy as np
from pk_benchmark import GRID_24H, MODEL, N_POPULATION, PERCENTILES, REGIMEN, WEIGHT_KG

from ketaflow.pk import WeightDistribution
from ketaflow.pk.population import (
    SPANS_PER_WORKER,
    _spans,
    block_rows,
    evaluate_span,
    population_response,
)
from ketaflow.pk.recurrence import plan_blocks
from ketaflow.pk.simulate import check_times, resolve_model

WORKERS = 2
REPEATS = 5


def makespan(costs: list[float], workers: int = WORKERS) -> float:
    """When the last of ``workers`` finishes, each taking the next span from the queue."""
    free = [0.0] * workers
    for cost in costs:
        heapq.heappush(free, heapq.heappop(free) + cost)
    return max(free)


def main() -> int:
    model = resolve_model(MODEL, None)
    regimen, _ = REGIMEN.for_model(model)
    response, _, _ = population_response(
        model, regimen, n_subjects=N_POPULATION, weight=WeightDistribution(WEIGHT_KG), seed=1
    )
    t = check_times(GRID_24H)
    pct = np.asarray(PERCENTILES, dtype=np.float64)
    plan = plan_blocks(response, t, block_rows(N_POPULATION, t))
    print(f"{N_POPULATION:,} patients, {t.shape[0]} points, {plan.n_blocks} blocks of {plan.rows}")
    print(f"median of {REPEATS} runs; CPU seconds per thread (time.thread_time)\n")
    print("| spans per worker | spans | total CPU | finish, 2 workers | largest span |")
    print("|---|---|---|---|---|")
    for per_worker in (1, 2, 3, 4, 6, 8, 12):
        spans = _spans(t.shape[0], per_worker * WORKERS, plan.rows)
        totals, finishes, largest = [], [], []
        for _ in range(REPEATS):
            costs = []
            for a, b in spans:
                begin = time.thread_time()
                evaluate_span(response, t, pct, start=a, stop=b, plan=plan)
                costs.append(time.thread_time() - begin)
            totals.append(sum(costs))
            finishes.append(makespan(costs))
            largest.append(max(costs))
        mark = " (the setting)" if per_worker == SPANS_PER_WORKER else ""
        print(
            f"| {per_worker}{mark} | {len(spans)} | {statistics.median(totals):.3f} s "
            f"| {statistics.median(finishes):.3f} s | {statistics.median(largest):.3f} s |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
