"""Regimens: plans, recorded rate changes, validation, superposition."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.pk import (
    MINUTES_PER_DAY,
    Bolus,
    Covariates,
    Infusion,
    Regimen,
    get_model,
    plan_course,
    simulate,
    time_grid,
)


def test_plan_course_six_infusions_every_two_days() -> None:
    regimen = plan_course(dose_mg=35.0, over_min=40.0, infusions=6, every_min=2 * MINUTES_PER_DAY)
    assert [i.start_min for i in regimen.infusions] == [k * 2880.0 for k in range(6)]
    assert regimen.total_dose_mg == pytest.approx(6 * 35.0)
    assert regimen.dosing_periods_min()[1] == (2880.0, 2920.0)


def test_explicit_schedule() -> None:
    regimen = plan_course(dose_mg=35.0, over_min=40.0, starts_min=[0, 2880, 5760, 10080])
    assert regimen.end_min == 10120.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dose_mg": -1.0, "over_min": 40.0}, "dose must not be negative"),
        ({"dose_mg": 35.0, "over_min": 0.0}, "duration must be positive"),
        ({"dose_mg": 35.0, "over_min": 40.0, "infusions": 3}, "need an interval"),
        ({"dose_mg": 35.0, "over_min": 40.0, "infusions": 2, "every_min": 20.0}, "overlap"),
        ({"dose_mg": 35.0, "over_min": 40.0, "starts_min": [0.0, 30.0]}, "overlap"),
        ({"dose_mg": 35.0, "over_min": 40.0, "infusions": 0}, "at least 1"),
    ],
)
def test_plan_course_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_course(**kwargs)


def test_recorded_session_with_pause_and_rate_change() -> None:
    regimen = Regimen.from_rate_changes([(0, 0.5), (10, 0), (20, 1.0), (30, 0.25), (50, 0)])
    assert regimen.infusions == (
        Infusion(0.0, 10.0, 0.5),
        Infusion(20.0, 10.0, 1.0),
        Infusion(30.0, 20.0, 0.25),
    )
    assert regimen.total_dose_mg == pytest.approx(5 + 10 + 5)
    assert regimen.dosing_periods_min() == [(0.0, 10.0), (20.0, 50.0)]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([(0.0, 0.5)], "has no duration"),
        ([(0.0, 0.5), (40.0, 0.3)], "has no duration"),
        ([(0.0, 0.5), (0.0, 0.0)], "must increase"),
        ([(0.0, -0.5), (10.0, 0.0)], "must not be negative"),
        ([], "no rate changes"),
    ],
)
def test_recorded_session_rejects(events: list[tuple[float, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Regimen.from_rate_changes(events)


def test_infusion_and_bolus_validation() -> None:
    with pytest.raises(ValueError, match="positive duration"):
        Infusion(0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="must not be negative"):
        Bolus(0.0, -1.0)
    with pytest.raises(ValueError, match="finite"):
        Infusion(float("inf"), 1.0, 1.0)


def test_piecewise_input_adds_overlapping_pumps() -> None:
    regimen = Regimen(
        infusions=(Infusion(0, 40, 1.0), Infusion(20, 40, 0.5)), boluses=(Bolus(20, 3.0),)
    )
    pw = regimen.piecewise()
    assert pw.breaks_min.tolist() == [0, 20, 40, 60]
    assert pw.rates_mg_per_min.tolist() == [1.0, 1.5, 0.5, 0.0]
    assert pw.boluses_mg.tolist() == [0, 3.0, 0, 0]


MODEL = get_model("kamp")
COV = Covariates(70.0, 40.0)
T = time_grid(600.0, 2.5)


@settings(max_examples=25, deadline=None)
@given(
    start=st.floats(0, 100),
    split=st.floats(0.05, 0.95),
    duration=st.floats(5, 120),
    rate=st.floats(0.01, 5),
    factor=st.floats(0.1, 10),
)
def test_superposition_and_linearity(
    start: float, split: float, duration: float, rate: float, factor: float
) -> None:
    """One infusion equals the same infusion split in two adjacent segments; doubling every
    rate doubles every concentration (the system is linear)."""
    whole = Regimen((Infusion(start, duration, rate),))
    cut = duration * split
    parts = Regimen((Infusion(start, cut, rate), Infusion(start + cut, duration - cut, rate)))
    a = simulate(MODEL, whole, COV, T)["plasma_ng_per_ml"]
    b = simulate(MODEL, parts, COV, T)["plasma_ng_per_ml"]
    c = simulate(MODEL, whole.scaled(factor), COV, T)["plasma_ng_per_ml"]
    peak = float(np.max(a))
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12 * peak)
    np.testing.assert_allclose(c, factor * a, rtol=1e-9, atol=1e-12 * peak)


def test_shifted_regimen_shifts_the_curve() -> None:
    regimen = Regimen.single_infusion(35, 40)
    a = simulate(MODEL, regimen, COV, T)["plasma_ng_per_ml"]
    b = simulate(MODEL, regimen.shifted(100.0), COV, T + 100.0)["plasma_ng_per_ml"]
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
