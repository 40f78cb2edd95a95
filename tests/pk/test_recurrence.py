"""The population's fast path: exponentials by recurrence on uniform grids, bands selected from
per-subject bounds, and the same answer whatever the number of threads.

Tolerances (stated in docs/performance-pk.md): against ``exp`` per point, every value within
1e-12 of its subject's peak on a 24-h grid at 10 s (measured: 5e-15 for Domino, 7e-13 for Fanta's
norketamine) and within 1e-11 of the peak over a 12-day course at 10 s (measured 8e-13: the
terms are carried over up to 3,240 blocks); against LSODA (rtol 1e-10) within 1e-6 relative
wherever the value exceeds 1e-6 of the peak. Bands are exact order statistics of the values
the fast path computes: equal, bit for bit, to ``numpy.percentile`` over all of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy.integrate import solve_ivp

from ketaflow.pk import (
    Infusion,
    Regimen,
    WeightDistribution,
    get_model,
    plan_course,
    simulate_population,
    time_grid,
)
from ketaflow.pk.models import CovariateArrays
from ketaflow.pk.population import block_rows, population_response, sample_parameters
from ketaflow.pk.recurrence import chain_values, plan_blocks, select_from_bounds
from ketaflow.pk.solver import build_systems, evaluate_time_major, modal_response

FloatArray = npt.NDArray[np.float64]

SESSION = Regimen.single_infusion(35.0, 40.0)
DAY_10S = time_grid(1440.0, 10.0 / 60.0)  # 8641 points
COURSE = plan_course(dose_mg=35.0, over_min=40.0, infusions=6, every_min=2880.0)
COURSE_10S = time_grid(6 * 2880.0, 10.0 / 60.0)  # 103,681 points


def _response(key: str, regimen: Regimen, n: int, seed: int = 3) -> Any:
    model = get_model(key)
    response, _, _ = population_response(
        model,
        regimen.stated_as(model.drug),
        n_subjects=n,
        weight=WeightDistribution(70.0, 0.2),
        seed=seed,
    )
    return response


@pytest.mark.parametrize(
    ("key", "regimen", "grid", "n", "bound"),
    [
        ("domino", SESSION, DAY_10S, 300, 1e-12),
        ("fanta", SESSION, DAY_10S, 100, 1e-12),
        ("domino", COURSE, COURSE_10S, 12, 1e-11),
    ],
)
def test_recurrence_agrees_with_exp_per_point(
    key: str, regimen: Regimen, grid: FloatArray, n: int, bound: float
) -> None:
    """The rounding the recurrence accumulates, measured against exp per point and bounded."""
    response = _response(key, regimen, n)
    rows = block_rows(n, grid)
    plan = plan_blocks(response, grid, rows)
    chained = sum(1 for c in plan.chain_start if c >= 0)
    assert chained >= plan.n_blocks - 2 * len(regimen.infusions) - 1  # the fast path is used
    fast = chain_values(response, grid, rows)
    reference = evaluate_time_major(response, grid)
    peak = np.max(np.abs(reference), axis=1, keepdims=True)
    error = np.max(np.abs(fast - reference) / peak)
    assert error <= bound, f"{key}: {error:.2e} of the peak"
    assert error > 0  # not the same computation (else this test would test nothing)


def _lsoda(a: FloatArray, c: FloatArray, regimen: Regimen, grid: FloatArray) -> FloatArray:
    """Outputs (n_out, T) by solve_ivp LSODA, restarted at every rate change."""
    pw = regimen.piecewise()
    edges = np.concatenate((pw.breaks_min, [grid[-1] + 1.0]))
    x = np.zeros(a.shape[0])
    out = np.zeros((c.shape[0], grid.shape[0]))
    for m in range(pw.breaks_min.shape[0]):
        lo, hi, rate = float(edges[m]), float(edges[m + 1]), float(pw.rates_mg_per_min[m])
        x[0] += pw.boluses_mg[m]
        sel = np.flatnonzero((grid >= lo) & (grid < hi))

        def rhs(_t: float, y: FloatArray, rate: float = rate) -> FloatArray:
            dy: FloatArray = a @ y
            dy[0] += rate
            return dy

        sol = solve_ivp(
            rhs,
            (lo, hi),
            x,
            method="LSODA",
            rtol=1e-10,
            atol=1e-14,
            t_eval=np.append(grid[sel], hi),
        )
        states = np.asarray(sol.y)
        out[:, sel] = c @ states[:, :-1]
        x = states[:, -1].copy()
    return out


def test_fast_path_agrees_with_lsoda() -> None:
    """Three virtual patients of the population against the LSODA loop of the benchmark."""
    model = get_model("domino")
    rng = np.random.default_rng(11)
    params = sample_parameters(model, CovariateArrays(np.full(3, 70.0), None, False), rng)
    systems = build_systems(model, params)
    response = modal_response(systems, SESSION.piecewise())
    fast = chain_values(response, DAY_10S, 32)
    for s in range(3):
        expected = _lsoda(
            systems.rate_matrix_per_min[s], systems.output_matrix[s], SESSION, DAY_10S
        )[0]
        big = expected > 1e-6 * expected.max()
        np.testing.assert_allclose(fast[0, big, s], expected[big], rtol=1e-6)


@pytest.mark.parametrize("key", ["domino", "fanta"])
def test_bands_are_exact_order_statistics_of_the_fast_values(key: str) -> None:
    """Bit for bit numpy.percentile over every subject's value as the fast path computes it,
    including the metabolite, a rate change and a second session (new chains)."""
    model = get_model(key)
    regimen = Regimen(
        infusions=(Infusion(0.0, 20.0, 1.0), Infusion(20.0, 20.0, 0.5), Infusion(600.0, 30.0, 0.8))
    ).stated_as(model.drug)
    grid = time_grid(900.0, 0.25)
    pct = (2.5, 5.0, 50.0, 95.0, 97.5)
    kwargs: dict[str, Any] = {"n_subjects": 800, "weight": WeightDistribution(70.0, 0.2), "seed": 4}
    result = simulate_population(model, regimen, grid, percentiles=pct, threads=2, **kwargs)
    response, _, _ = population_response(model, regimen, **kwargs)
    everything = chain_values(response, grid, block_rows(800, grid))
    for j, out in enumerate(response.output_keys):
        expected = np.percentile(everything[j], pct, axis=1)
        np.testing.assert_array_equal(result.bands[out], expected)
        np.testing.assert_array_equal(result.cmax_ng_per_ml[out], everything[j].max(axis=0))
        np.testing.assert_array_equal(result.tmax_min[out], grid[everything[j].argmax(axis=0)])


def test_same_result_bit_for_bit_whatever_the_thread_count() -> None:
    common: dict[str, Any] = {
        "n_subjects": 1500,
        "weight": WeightDistribution(70.0, 0.2),
        "seed": 7,
        "dose_reference_weight_kg": 70.0,
    }
    runs = [
        simulate_population(get_model("fanta"), SESSION, DAY_10S, threads=k, **common)
        for k in (1, 2, 3, 8)
    ]
    for other in runs[1:]:
        for key in runs[0].bands:
            np.testing.assert_array_equal(other.bands[key], runs[0].bands[key])
            np.testing.assert_array_equal(other.cmax_ng_per_ml[key], runs[0].cmax_ng_per_ml[key])
            np.testing.assert_array_equal(other.tmax_min[key], runs[0].tmax_min[key])
    different_seed = simulate_population(
        get_model("fanta"), SESSION, DAY_10S, threads=2, **{**common, "seed": 8}
    )
    assert not np.array_equal(
        different_seed.bands["plasma_ng_per_ml"], runs[0].bands["plasma_ng_per_ml"]
    )


@pytest.mark.parametrize("slope", [0.0, -0.01, 0.02])
def test_select_from_bounds_equals_sorting_with_any_hint(slope: float) -> None:
    """Bounds that hold (here: the true extremes, widened) give the exact order statistics;
    right, wrong and absurd hints all give the same answer (they are checked by counting)."""
    rng = np.random.default_rng(5)
    n, count = 500, 16
    values = np.exp(rng.normal(0.0, 0.4, n))[None, :] * np.exp(
        (slope + rng.normal(0.0, 0.01, n))[None, :] * np.arange(count)[:, None]
    )
    values[:, :20] = values[0, 20]  # ties
    divided = values * np.exp(-slope * np.arange(count))[:, None]
    low = divided.min(axis=0) - 1e-9
    high = divided.max(axis=0) + 1e-9
    ranks = np.array([24, 25, 249, 250, 474, 475], dtype=np.intp)
    expected = np.sort(values, axis=1)[:, ranks]

    def evaluate(subjects: npt.NDArray[np.intp]) -> FloatArray:
        return np.ascontiguousarray(values[:, subjects])

    actual, brackets, _ = select_from_bounds(low, high, ranks, evaluate)
    np.testing.assert_array_equal(actual, expected)
    for shift in (-0.5, 0.0, 0.01, 3.0):
        hint = {g: (lo + shift, hi - shift) for g, (lo, hi) in brackets.items()}
        again, _, _ = select_from_bounds(low, high, ranks, evaluate, hint)
        np.testing.assert_array_equal(again, expected)


def test_coarse_or_irregular_grids_fall_back_to_exp_per_point() -> None:
    response = _response("domino", SESSION, 50)
    irregular = np.unique(np.concatenate((time_grid(120.0, 0.5), [7.3, 55.55, 99.9])))
    assert -1 in plan_blocks(response, irregular, 32).chain_start
    # a step so coarse that a mode would decay past the subnormal range within a block
    coarse = time_grid(100_000.0, 600.0, start_min=50.0)
    assert set(plan_blocks(response, coarse, 8).chain_start) == {-1}
    result = simulate_population(
        get_model("domino"),
        SESSION,
        irregular,
        n_subjects=50,
        weight=WeightDistribution(70.0, 0.2),
        seed=3,
    )
    expected = np.percentile(evaluate_time_major(response, irregular)[0], (5, 50, 95), axis=1)
    np.testing.assert_allclose(result.bands["plasma_ng_per_ml"], expected, rtol=1e-11, atol=1e-12)


def test_a_span_must_start_on_a_block_boundary() -> None:
    from ketaflow.pk.population import evaluate_span

    response = _response("domino", SESSION, 40)
    with pytest.raises(ValueError, match="block boundary"):
        evaluate_span(response, DAY_10S, np.array([50.0]), start=5)
