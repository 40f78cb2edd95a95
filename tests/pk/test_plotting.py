"""Pictures: PNG bytes, written when a path is given."""

from __future__ import annotations

from pathlib import Path

from ketaflow.pk import (
    Covariates,
    Regimen,
    WeightDistribution,
    get_model,
    plan_course,
    plot_population,
    plot_simulation,
    simulate,
    simulate_population,
    time_grid,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_simulation_png_bytes_and_file(tmp_path: Path) -> None:
    course = plan_course(dose_mg=35.0, over_min=40.0, infusions=3, every_min=2880.0)
    result = simulate(get_model("simons"), course, Covariates(70.0, 25.0), time_grid(6000, 5))
    data = plot_simulation(result, occupancy=True)
    assert data.startswith(PNG_MAGIC)
    target = tmp_path / "sim.png"
    assert plot_simulation(result, target) == target.read_bytes()


def test_recorded_session_with_bolus(tmp_path: Path) -> None:
    regimen = Regimen.from_rate_changes([(0, 0.5), (10, 0), (15, 1.0), (40, 0)])
    result = simulate(get_model("kamp"), regimen, Covariates(70.0), time_grid(120, 1))
    assert plot_simulation(result, tmp_path / "s.png").startswith(PNG_MAGIC)


def test_population_png() -> None:
    result = simulate_population(
        get_model("domino"),
        Regimen.single_infusion(35, 40),
        time_grid(240, 2),
        n_subjects=200,
        weight=WeightDistribution(70.0, 0.1),
    )
    assert plot_population(result).startswith(PNG_MAGIC)
