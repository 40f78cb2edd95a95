"""pytest-benchmark figures for ketaflow.pk against scipy solve_ivp (run with ``make bench``).

Same scenario as ``benchmarks/pk_benchmark.py`` (which also measures the million-patient peak
memory and prints the report quoted in docs/performance-pk.md). These are measurements, not
timed tests: the only assertions are on agreement of the answers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pk_benchmark as pb

from ketaflow.pk import Covariates, WeightDistribution, simulate, simulate_population
from ketaflow.pk.models import CovariateArrays
from ketaflow.pk.population import sample_parameters
from ketaflow.pk.solver import build_systems

COV = Covariates(pb.WEIGHT_KG)


def test_single_24h_closed_form(benchmark: Any) -> None:
    result = benchmark(simulate, pb.MODEL, pb.REGIMEN, COV, pb.GRID_24H)
    assert result["plasma_ng_per_ml"].shape == (8641,)


def test_single_24h_solve_ivp_lsoda(benchmark: Any) -> None:
    a, v1 = pb.typical_matrix()
    ref = benchmark(pb.lsoda_plasma, a, v1, pb.REGIMEN, pb.GRID_24H)
    ours = simulate(pb.MODEL, pb.REGIMEN, COV, pb.GRID_24H)["plasma_ng_per_ml"]
    big = ours > 1e-6 * ours.max()
    assert np.max(np.abs(ref[big] - ours[big]) / ours[big]) < 1e-5


def test_six_infusion_course_closed_form(benchmark: Any) -> None:
    result = benchmark(simulate, pb.MODEL, pb.COURSE, COV, pb.GRID_COURSE)
    assert len(result.summary().before_next_infusion_ng_per_ml) == 5


def test_population_10000_closed_form(benchmark: Any) -> None:
    def run() -> object:
        return simulate_population(
            pb.MODEL,
            pb.REGIMEN,
            pb.GRID_24H,
            n_subjects=pb.N_POPULATION,
            weight=WeightDistribution(pb.WEIGHT_KG),
            percentiles=pb.PERCENTILES,
            seed=1,
        )

    result = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert result is not None


def test_population_solve_ivp_lsoda_per_patient(benchmark: Any) -> None:
    """One LSODA patient of the population; x 10,000 for the loop (extra_info)."""
    rng = np.random.default_rng(1)
    params = sample_parameters(
        pb.MODEL, CovariateArrays(np.full(5, pb.WEIGHT_KG), None, False), rng
    )
    mats = build_systems(pb.MODEL, params).rate_matrix_per_min

    def loop() -> list[np.ndarray[Any, Any]]:
        return [
            pb.lsoda_plasma(mats[s], float(params["v1_l"][s]), pb.REGIMEN, pb.GRID_24H)
            for s in range(5)
        ]

    rows = benchmark.pedantic(loop, rounds=3)
    benchmark.extra_info["patients_per_round"] = 5
    benchmark.extra_info["extrapolate_to"] = pb.N_POPULATION
    assert len(rows) == 5
