"""Population simulation: exact percentiles, chunking invariance, weights, warnings, progress."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ketaflow.pk import (
    Covariates,
    OutOfPopulationWarning,
    Regimen,
    WeightDistribution,
    get_model,
    plan_course,
    simulate,
    simulate_population,
    time_grid,
)
from ketaflow.pk import population as population_module
from ketaflow.pk.population import population_response
from ketaflow.pk.recurrence import exact_order_statistics
from ketaflow.pk.solver import evaluate_time_major

ZARATE = Regimen.single_infusion(35.0, 40.0)
GRID = np.concatenate((time_grid(120.0, 0.5), time_grid(2000.0, 7.0, start_min=121.0)))


@pytest.mark.parametrize("key", ["domino", "fanta", "perez-ruixo"])
def test_bands_are_exact_percentiles(key: str) -> None:
    """Every band value equals numpy.percentile over all subjects' concentrations."""
    model = get_model(key)
    pct = (2.5, 5.0, 50.0, 95.0, 97.5)
    kwargs: dict[str, Any] = {
        "n_subjects": 700,
        "weight": WeightDistribution(70.0, 0.1),
        "seed": 5,
        "age_yr": 40.0,
    }
    result = simulate_population(
        model, ZARATE.stated_as(model.drug), GRID, percentiles=pct, threads=2, **kwargs
    )
    response, _, _ = population_response(model, ZARATE.stated_as(model.drug), **kwargs)
    everything = evaluate_time_major(response, GRID)  # (n_out, T, N)
    # the population path evaluates exp(l t0) * exp(l b dt) on regular blocks: rounding differs
    # from exp(l (t0 + b dt)) by ~1e-13 of each term, hence rtol 1e-11 rather than equality; where
    # the terms cancel (the first minutes, a value far below its terms) the difference is one of
    # the terms' size, so the absolute tolerance follows the peak (numpy's SIMD exp rounds
    # differently on different CPUs: 4.5e-12 at 0.088 ng/mL, peak ~1 ng/mL, on one machine)
    for j, key_out in enumerate(response.output_keys):
        expected = np.percentile(everything[j], pct, axis=1)
        atol = 1e-11 * float(np.abs(everything[j]).max())
        np.testing.assert_allclose(result.bands[key_out], expected, rtol=1e-11, atol=atol)
        np.testing.assert_allclose(
            result.cmax_ng_per_ml[key_out], everything[j].max(axis=0), rtol=1e-11
        )
        tmax = GRID[everything[j].argmax(axis=0)]
        assert np.mean(result.tmax_min[key_out] == tmax) > 0.99  # ties broken by rounding


def test_chunking_and_threads_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    model = get_model("kamp")
    common: dict[str, Any] = {
        "n_subjects": 900,
        "weight": WeightDistribution(80.0, 0.25),
        "seed": 2,
    }
    one = simulate_population(model, ZARATE, GRID, threads=1, **common)
    monkeypatch.setattr(population_module, "SUBJECT_CHUNK", 128)
    monkeypatch.setattr(population_module, "BLOCK_BYTES", 8 * 900 * 3)
    other = simulate_population(model, ZARATE, GRID, threads=3, **common)
    # block sizes differ, so the same sums are evaluated in a different order: rounding only
    np.testing.assert_allclose(
        one.bands["plasma_ng_per_ml"], other.bands["plasma_ng_per_ml"], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        one.cmax_ng_per_ml["plasma_ng_per_ml"], other.cmax_ng_per_ml["plasma_ng_per_ml"], rtol=1e-12
    )


def _spy_on_workers(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Each evaluated span writes the id of the process that evaluated it (a forked worker
    inherits the spy)."""
    real = population_module.evaluate_span

    def spy(*args: Any, **kwargs: Any) -> population_module.SpanResult:
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(population_module, "evaluate_span", spy)


def _workers(log: Path) -> set[int]:
    found = {int(line) for line in log.read_text().split()}
    log.unlink()
    return found


def test_processes_give_the_threads_result_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "pids"
    _spy_on_workers(monkeypatch, log)
    common: dict[str, Any] = {
        "n_subjects": 700,
        "weight": WeightDistribution(75.0, 0.2),
        "seed": 4,
        "threads": 2,
        "dose_reference_weight_kg": 70.0,
    }
    model = get_model("fanta")  # two outputs (ketamine and norketamine)
    threads = simulate_population(model, ZARATE, GRID, processes=False, **common)
    assert _workers(log) == {os.getpid()}
    forked = simulate_population(model, ZARATE, GRID, processes=True, progress=True, **common)
    pids = _workers(log)
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    assert "fanta x 700" in capsys.readouterr().err  # the bar follows the finished spans
    for key in threads.bands:
        assert np.array_equal(threads.bands[key], forked.bands[key])
        assert np.array_equal(threads.cmax_ng_per_ml[key], forked.cmax_ng_per_ml[key])
        assert np.array_equal(threads.tmax_min[key], forked.tmax_min[key])


def test_processes_are_chosen_for_large_populations_in_a_single_threaded_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "pids"
    _spy_on_workers(monkeypatch, log)
    model = get_model("domino")
    common: dict[str, Any] = {"n_subjects": 300, "weight": WeightDistribution(70.0), "threads": 2}
    size = 300 * GRID.shape[0]
    monkeypatch.setattr(population_module, "PROCESS_MIN_ELEMENTS", size + 1)
    simulate_population(model, ZARATE, GRID, **common)
    assert _workers(log) == {os.getpid()}  # too small to repay forking
    monkeypatch.setattr(population_module, "PROCESS_MIN_ELEMENTS", size)
    if threading.active_count() == 1:
        simulate_population(model, ZARATE, GRID, **common)
        assert os.getpid() not in _workers(log)
    simulate_population(model, ZARATE, GRID, **{**common, "threads": 1})
    assert _workers(log) == {os.getpid()}  # one worker: no pool at all
    # another thread running (a web server's, say): forking could copy a held lock, so threads
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        simulate_population(model, ZARATE, GRID, **common)
    finally:
        stop.set()
        other.join()
    assert _workers(log) == {os.getpid()}


def test_processes_need_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    with pytest.raises(ValueError, match="'fork' start method"):
        simulate_population(
            get_model("domino"),
            ZARATE,
            GRID,
            n_subjects=10,
            weight=WeightDistribution(70.0),
            processes=True,
        )


def test_no_variability_reproduces_the_typical_patient() -> None:
    """A one-subject population with zero IIV would need a model without IIV; instead, with the
    weight fixed, the median band of a large population stays near the typical curve and
    every subject's Cmax is positive."""
    result = simulate_population(
        get_model("domino"), ZARATE, GRID, n_subjects=2000, weight=WeightDistribution(70.0), seed=1
    )
    typical = simulate(get_model("domino"), ZARATE, Covariates(70.0), [40.0])
    p50_at_40 = result.band("plasma_ng_per_ml", 50.0)[int(np.searchsorted(GRID, 40.0))]
    assert p50_at_40 == pytest.approx(float(typical["plasma_ng_per_ml"][0]), rel=0.05)
    assert np.all(result.cmax_ng_per_ml["plasma_ng_per_ml"] > 0)


def test_weight_based_dosing_scales_each_subject() -> None:
    """With doses per kg, a subject's dose is proportional to its weight; for Domino (all
    volumes and clearances linear in weight) every subject then has the same concentrations."""
    model = get_model("domino").with_effect_site(1.0, "test")
    no_iiv = type(model)(
        **{
            **{
                f: getattr(model, f)
                for f in (
                    "key",
                    "title",
                    "drug",
                    "citation",
                    "population",
                    "compartments",
                    "flows",
                    "dosing_compartment",
                    "analytes",
                    "covariate_scaling",
                    "covariate_description",
                    "effect_site",
                )
            },
            "parameters": tuple(
                p.__class__(p.name, p.typical_value, p.weight_exponent, p.source)
                for p in model.parameters
            ),
        }
    )
    result = simulate_population(
        no_iiv,
        ZARATE,
        GRID,
        n_subjects=300,
        weight=WeightDistribution(70.0, 0.3),
        seed=4,
        dose_reference_weight_kg=70.0,
    )
    band = result.bands["plasma_ng_per_ml"]
    np.testing.assert_allclose(band[0], band[-1], rtol=1e-9, atol=1e-12)
    assert np.std(result.weights_kg) > 5


def test_out_of_population_weights_warn() -> None:
    with pytest.warns(OutOfPopulationWarning, match=r"simons: \d+ of 500 subjects weigh more"):
        result = simulate_population(
            get_model("simons"),
            Regimen.single_infusion(20, 20),
            GRID,
            n_subjects=500,
            weight=WeightDistribution(90.0, 0.05),
            age_yr=25.0,
        )
    assert result.warnings


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    simulate_population(
        get_model("domino"),
        ZARATE,
        GRID,
        n_subjects=200,
        weight=WeightDistribution(70.0),
        progress=True,
    )
    captured = capsys.readouterr()
    assert "domino x 200" in captured.err
    assert captured.out == ""
    simulate_population(
        get_model("domino"), ZARATE, GRID, n_subjects=200, weight=WeightDistribution(70.0)
    )
    assert capsys.readouterr().err == ""


def test_course_band_and_json() -> None:
    course = plan_course(dose_mg=35.0, over_min=40.0, infusions=6, every_min=2880.0)
    t = time_grid(6 * 2880.0, 10.0)
    result = simulate_population(
        get_model("domino"),
        course,
        t,
        n_subjects=300,
        weight=WeightDistribution(70.0, 0.15),
        seed=9,
    )
    data = result.as_dict()
    assert data["percentiles"] == [5.0, 50.0, 95.0]
    assert len(data["plasma_ng_per_ml"]["p50"]) == t.shape[0]
    assert data["cmax_plasma_ng_per_ml"]["p5"] < data["cmax_plasma_ng_per_ml"]["p95"]
    band = result.bands["plasma_ng_per_ml"]
    assert np.all(band[0] <= band[1])
    assert np.all(band[1] <= band[2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_subjects": 0}, "at least 1"),
        ({"n_subjects": 10, "percentiles": (5.0, 150.0)}, "between 0 and 100"),
    ],
)
def test_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate_population(
            get_model("domino"), ZARATE, GRID, weight=WeightDistribution(70.0), **kwargs
        )


def test_weight_distribution_validation() -> None:
    with pytest.raises(ValueError, match=r"median weight must be between 0\.2 and 700 kg"):
        WeightDistribution(0.0)
    with pytest.raises(ValueError, match="weight CV"):
        WeightDistribution(70.0, -0.1)
    with pytest.raises(ValueError, match="weight CV must be between 0 and 2"):
        WeightDistribution(70.0, 1e308)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(64, 400)),
        elements=st.floats(-5, 1000, allow_nan=False).map(lambda x: round(x, 1)),
    ),
    st.lists(st.floats(0, 100), min_size=1, max_size=5),
)
def test_exact_order_statistics_matches_sorting(block: np.ndarray, pct: list[float]) -> None:
    """The candidate-set selection equals full sorting, with ties and negative values."""
    n = block.shape[1]
    ranks = np.unique(np.floor((n - 1) * np.asarray(pct) / 100).astype(np.intp))
    expected = np.sort(block, axis=1)[:, ranks]
    actual, brackets = exact_order_statistics(block.copy(), ranks)
    np.testing.assert_array_equal(actual, expected)
    # any hint, right or wrong, gives the same exact answer (it is verified before use)
    for shift in (-0.5, 0.0, 0.01, 3.0):
        wrong = {g: (lo + shift, hi - shift) for g, (lo, hi) in brackets.items()}
        again, _ = exact_order_statistics(block.copy(), ranks, wrong)
        np.testing.assert_array_equal(again, expected)
