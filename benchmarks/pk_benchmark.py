"""ketaflow.pk against scipy.integrate.solve_ivp (LSODA, rtol 1e-8) on the same model, one run.

    .venv/bin/python benchmarks/pk_benchmark.py            # everything, prints a Markdown report
    .venv/bin/python benchmarks/pk_benchmark.py --quick    # smaller solve_ivp subsample

Scenario (as in shared/reference/pk.md §3): Domino 1984, 70 kg, 35 mg (0.5 mg/kg) over 40 min,
24 h on a 10-second grid (8641 points). The population has 10,000 virtual patients with the
model's stated default variability (30 % CV log-normal on V1-V3, CL, Q2, Q3). The solve_ivp
population is timed on a subsample of patients and extrapolated linearly (stated in the output).
The million-patient memory figure is measured in a fresh subprocess (peak RSS of that process).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.integrate import solve_ivp

from ketaflow.pk import (
    Covariates,
    Regimen,
    WeightDistribution,
    get_model,
    plan_course,
    simulate,
    simulate_population,
    time_grid,
)
from ketaflow.pk.models import CovariateArrays
from ketaflow.pk.population import sample_parameters
from ketaflow.pk.solver import build_systems

FloatArray = npt.NDArray[np.float64]

MODEL = get_model("domino")
WEIGHT_KG = 70.0
REGIMEN = Regimen.single_infusion(dose_mg=0.5 * WEIGHT_KG, over_min=40.0)
GRID_24H = time_grid(until_min=1440.0, step_min=10.0 / 60.0)  # 8641 points
COURSE = plan_course(dose_mg=0.5 * WEIGHT_KG, over_min=40.0, infusions=6, every_min=2 * 1440.0)
GRID_COURSE = time_grid(until_min=6 * 2 * 1440.0, step_min=10.0 / 60.0)  # 12 days, 103,681 pts
N_POPULATION = 10_000
PERCENTILES = (5.0, 50.0, 95.0)


def times_of(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(times_of(fn, repeats))


# The command as a user types it (its defaults: 400 min at 1-min steps, all cores), start-up
# included, in a fresh interpreter each time.
CLI = [
    "pk",
    "population",
    "--model",
    "domino",
    "--n",
    "10000",
    "--weight-kg",
    "70",
    "--dose-mg-per-kg",
    "0.5",
    "--over-min",
    "40",
]


def cli_times(repeats: int, *, bytecode_cached: bool) -> list[float]:
    """Wall time of ``ketaflow pk population ...``. ``bytecode_cached``: as after an ordinary
    install (.pyc files written and reused); otherwise every module is compiled at start-up,
    as where PYTHONDONTWRITEBYTECODE is set."""
    script = os.path.join(os.path.dirname(sys.executable), "ketaflow")
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not bytecode_cached:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp()  # empty: no .pyc found or written
    else:
        # our own console script with fixed arguments
        subprocess.run([script, *CLI], env=env, check=True, capture_output=True)

    def run() -> None:
        subprocess.run([script, *CLI], env=env, check=True, capture_output=True)

    return times_of(run, repeats)


def lsoda_plasma(a: FloatArray, v1_l: float, regimen: Regimen, grid: FloatArray) -> FloatArray:
    """Plasma ng/mL by solve_ivp LSODA (rtol 1e-8, atol 1e-12, analytic Jacobian), restarted at
    every rate change, on the same rate matrix."""
    pw = regimen.piecewise()
    edges = np.concatenate((pw.breaks_min, [grid[-1] + 1.0]))
    x = np.zeros(a.shape[0])
    out = np.zeros(grid.shape[0])

    def jacobian(_t: float, _y: FloatArray) -> FloatArray:
        return a

    for m in range(pw.breaks_min.shape[0]):
        lo, hi = float(edges[m]), float(edges[m + 1])
        rate = float(pw.rates_mg_per_min[m])
        x[0] += pw.boluses_mg[m]
        sel = np.flatnonzero((grid >= lo) & (grid < hi))

        def rhs(_t: float, y: FloatArray, rate: float = rate) -> FloatArray:
            dy = a @ y
            dy[0] += rate
            return dy

        sol = solve_ivp(
            rhs,
            (lo, hi),
            x,
            method="LSODA",
            rtol=1e-8,
            atol=1e-12,
            t_eval=np.append(grid[sel], hi),
            jac=jacobian,
        )
        states = np.asarray(sol.y)
        out[sel] = 1000.0 * states[0, :-1] / v1_l
        x = states[:, -1].copy()
    return out


def typical_matrix() -> tuple[FloatArray, float]:
    cov = CovariateArrays(np.array([WEIGHT_KG]), None, False)
    params = MODEL.scaled_parameters(cov)
    return build_systems(MODEL, params).rate_matrix_per_min[0], float(params["v1_l"][0])


def peak_rss_mib() -> float:
    """This process's peak RSS plus, for each worker it may have forked, the largest worker's
    (an upper bound: pages shared with the parent after the fork are counted twice)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    workers = min(os.cpu_count() or 1, 8) if worker else 0
    return (own + workers * worker) / 1024.0  # Linux: KiB


def million(n: int, step_min: float) -> dict[str, float]:
    """Run in a fresh process: one population of ``n``; time and that process's peak RSS."""
    grid = time_grid(1440.0, step_min)
    start = time.perf_counter()
    result = simulate_population(
        MODEL,
        REGIMEN,
        grid,
        n_subjects=n,
        weight=WeightDistribution(WEIGHT_KG, 0.2),
        seed=1,
        dose_reference_weight_kg=WEIGHT_KG,
    )
    elapsed = time.perf_counter() - start
    return {
        "n": n,
        "points": int(grid.shape[0]),
        "seconds": elapsed,
        "peak_rss_mib": peak_rss_mib(),
        "cmax_p50": result.cmax_percentiles()["p50"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller solve_ivp subsample")
    parser.add_argument(
        "--million-step-min",
        type=float,
        default=10.0 / 60.0,
        help="grid step for the 1,000,000-patient run (default 10 s)",
    )
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    a, v1 = typical_matrix()
    cov = Covariates(WEIGHT_KG)

    # --- one 24-hour simulation -------------------------------------------------------------
    ours = simulate(MODEL, REGIMEN, cov, GRID_24H)["plasma_ng_per_ml"]
    ref = lsoda_plasma(a, v1, REGIMEN, GRID_24H)
    mask = ours > 1e-6 * ours.max()
    report["single_rel_err_vs_lsoda"] = float(np.max(np.abs(ref[mask] - ours[mask]) / ours[mask]))
    report["single_ms"] = 1e3 * median_time(lambda: simulate(MODEL, REGIMEN, cov, GRID_24H), 51)
    report["single_lsoda_ms"] = 1e3 * median_time(lambda: lsoda_plasma(a, v1, REGIMEN, GRID_24H), 7)

    # --- one patient's six-infusion course -------------------------------------------------
    report["course_points"] = int(GRID_COURSE.shape[0])
    report["course_ms"] = 1e3 * median_time(lambda: simulate(MODEL, COURSE, cov, GRID_COURSE), 31)
    report["course_lsoda_ms"] = 1e3 * median_time(
        lambda: lsoda_plasma(a, v1, COURSE, GRID_COURSE), 3
    )

    # --- 10,000 patients, 24 h at 10 s, 5/50/95 bands ---------------------------------------
    def population() -> object:
        return simulate_population(
            MODEL,
            REGIMEN,
            GRID_24H,
            n_subjects=N_POPULATION,
            weight=WeightDistribution(WEIGHT_KG),
            percentiles=PERCENTILES,
            seed=1,
        )

    def population_one_thread() -> object:
        return simulate_population(
            MODEL,
            REGIMEN,
            GRID_24H,
            n_subjects=N_POPULATION,
            weight=WeightDistribution(WEIGHT_KG),
            percentiles=PERCENTILES,
            seed=1,
            threads=1,
        )

    population()  # warm-up (thread pool, imports)
    runs = times_of(population, 7)
    report["population_s"] = statistics.median(runs)
    report["population_range_s"] = (min(runs), max(runs))
    report["population_1thread_s"] = median_time(population_one_thread, 5)
    cached = cli_times(5, bytecode_cached=True)
    uncached = cli_times(3, bytecode_cached=False)
    report["cli_s"] = statistics.median(cached)
    report["cli_range_s"] = (min(cached), max(cached))
    report["cli_uncompiled_s"] = statistics.median(uncached)
    subsample = 20 if args.quick else 100
    rng = np.random.default_rng(1)
    params = sample_parameters(
        MODEL, CovariateArrays(np.full(subsample, WEIGHT_KG), None, False), rng
    )
    mats = build_systems(MODEL, params).rate_matrix_per_min
    start = time.perf_counter()
    lsoda_rows = [
        lsoda_plasma(mats[s], float(params["v1_l"][s]), REGIMEN, GRID_24H) for s in range(subsample)
    ]
    per_patient = (time.perf_counter() - start) / subsample
    np.percentile(np.array(lsoda_rows), PERCENTILES, axis=0)
    report["population_lsoda_subsample"] = subsample
    report["population_lsoda_s_extrapolated"] = per_patient * N_POPULATION
    report["population_speedup"] = (
        report["population_lsoda_s_extrapolated"] / report["population_s"]
    )

    # --- 1,000,000 patients: peak memory in a fresh process --------------------------------
    if not args.skip_million:
        spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: its own peak RSS
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            report["million"] = pool.submit(million, 1_000_000, args.million_step_min).result()

    print_report(report)
    return 0


def print_report(r: dict[str, Any]) -> None:
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, numpy {np.__version__}"
    )
    print("scenario: Domino 1984, 70 kg, 35 mg over 40 min, 24 h on a 10-s grid (8641 points)\n")
    print("| measurement | ketaflow.pk | solve_ivp LSODA (rtol 1e-8) | target |")
    print("|---|---|---|---|")
    print(f"| one 24-h simulation | {r['single_ms']:.2f} ms | {r['single_lsoda_ms']:.1f} ms | - |")
    print(
        f"| six-infusion course, 12 days at 10 s ({r['course_points']:,} points) | "
        f"{r['course_ms']:.2f} ms | {r['course_lsoda_ms']:.0f} ms | <= 10 ms |"
    )
    print(
        f"| 10,000 patients, 24 h at 10 s, 5/50/95 bands | {r['population_s']:.3f} s | "
        f"{r['population_lsoda_s_extrapolated']:.0f} s (timed on "
        f"{r['population_lsoda_subsample']} patients, extrapolated linearly) | <= 0.25 s |"
    )
    print(f"| speed-up, population | {r['population_speedup']:.0f}x | | >= 600x |")
    low, high = r["population_range_s"]
    print(
        f"| population: spread of 7 runs; one thread | {low:.3f}-{high:.3f} s; "
        f"{r['population_1thread_s']:.3f} s | | - |"
    )
    low, high = r["cli_range_s"]
    print(
        f"| `ketaflow {' '.join(CLI)}`, start-up included | {r['cli_s']:.2f} s "
        f"({low:.2f}-{high:.2f} s); {r['cli_uncompiled_s']:.2f} s without .pyc files | | < 1 s |"
    )
    if "million" in r:
        m = r["million"]
        print(
            f"| {m['n']:,} patients, 24 h ({m['points']} points), bands | {m['seconds']:.1f} s, "
            f"peak RSS {m['peak_rss_mib']:.0f} MiB | | <= 2048 MiB |"
        )
    print(
        f"\nmax relative error of LSODA vs the closed form (values > 1e-6 of peak): "
        f"{r['single_rel_err_vs_lsoda']:.1e}"
    )


if __name__ == "__main__":
    sys.exit(main())
