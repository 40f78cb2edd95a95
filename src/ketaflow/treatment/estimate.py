"""The predicted plasma concentration of a planned course, from ``ketaflow.pk``.

A population of virtual patients of the patient's planning weight and age, with the model's
inter-individual variability, receives the planned dose on the planned days; the band is the
5th-95th percentile and the line the median. It is an estimate from a published model, not a
measurement: the page says so and names the model's citation.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from ketaflow.pk import (
    DEFAULT_MODEL,
    DayWindow,
    OutOfPopulationWarning,
    PKModel,
    PopulationResult,
    WeightDistribution,
    day_windows,
    get_model,
    plan_course,
    simulate_population,
)
from ketaflow.treatment.models import Course
from ketaflow.treatment.services import course_dose

# Small enough that the page's picture is computed in well under a second (about 0.1-0.2 s
# measured on the test machine), large enough for stable 5th/95th percentiles.
POPULATION_SIZE: Final = 500
SEED: Final = 0  # the same picture every time for the same plan
DENSE_STEP_MIN: Final = 2.0  # around each infusion
DENSE_AFTER_MIN: Final = 12 * 60.0  # about five half-lives of racemic ketamine after each start
COARSE_STEP_MIN: Final = 60.0  # between infusions, where the concentration is near zero
TAIL_MIN: Final = 24 * 60.0  # the picture ends a day after the last infusion starts
FIRST_INFUSION_WINDOW_MIN: Final = 6 * 60.0  # the close-up of one infusion and its recovery


@dataclass(frozen=True)
class CourseEstimate:
    model: PKModel
    population: PopulationResult
    dose_mg: float
    basis_weight_kg: float
    starts_day: tuple[int, ...]
    warnings: tuple[str, ...]

    @property
    def median_peak_ng_per_ml(self) -> float:
        return self.population.cmax_percentiles()["p50"]

    @property
    def peak_range_ng_per_ml(self) -> tuple[float, float]:
        cmax = self.population.cmax_percentiles()
        return cmax["p5"], cmax["p95"]

    @property
    def starts_min(self) -> list[float]:
        return [day * 1440.0 for day in self.starts_day]

    def days(self) -> list[tuple[int, DayWindow]]:
        """Each infusion's day (0 = the first) with its peak and the level before it."""
        return list(
            zip(self.starts_day, day_windows(self.population, self.starts_min), strict=True)
        )


def _grid(starts_min: list[float]) -> npt.NDArray[np.float64]:
    end = starts_min[-1] + TAIL_MIN
    points = [np.arange(0.0, end + COARSE_STEP_MIN, COARSE_STEP_MIN)]
    points += [np.arange(s, s + DENSE_AFTER_MIN, DENSE_STEP_MIN) for s in starts_min]
    grid: npt.NDArray[np.float64] = np.unique(np.concatenate(points))
    return grid[grid <= end]


def course_estimate(course: Course, *, first_only: bool = False) -> CourseEstimate:
    """Simulate the planned course (day 0 = the first planned infusion), or only its first
    infusion over the hours after it (``first_only``)."""
    dose = course_dose(course)
    return plan_estimate(
        dose_mg=dose.dose_mg,
        basis_weight_kg=dose.basis_weight_kg,
        duration_min=float(course.duration_min),
        weight_kg=float(course.weight_kg or 0),
        dates=[dt.date.fromisoformat(d) for d in course.planned_dates],
        age_on=course.patient.age_on,
        first_only=first_only,
    )


def plan_estimate(
    *,
    dose_mg: float,
    basis_weight_kg: float,
    duration_min: float,
    weight_kg: float,
    dates: list[dt.date],
    age_on: Callable[[dt.date], int | float],
    first_only: bool = False,
) -> CourseEstimate:
    """The same estimate for a plan not saved yet (the planning page's preview)."""
    return _estimate(
        dose_mg=dose_mg,
        basis_weight_kg=basis_weight_kg,
        duration_min=duration_min,
        weight_kg=weight_kg,
        dates=tuple(dates[:1] if first_only else dates),
        age_yr=float(age_on(dates[0])),
        first_only=first_only,
    )


@lru_cache(maxsize=64)
def _estimate(
    *,
    dose_mg: float,
    basis_weight_kg: float,
    duration_min: float,
    weight_kg: float,
    dates: tuple[dt.date, ...],
    age_yr: float,
    first_only: bool,
) -> CourseEstimate:
    """Computed once per plan (its inputs) in a process: the course page, its preview and their
    reloads draw the same seeded population instead of simulating it again."""
    starts_day = tuple((d - dates[0]).days for d in dates)
    starts_min = [day * 1440.0 for day in starts_day]
    regimen = plan_course(dose_mg=dose_mg, over_min=duration_min, starts_min=starts_min)
    grid = np.arange(0.0, FIRST_INFUSION_WINDOW_MIN + 1.0, 1.0) if first_only else _grid(starts_min)
    model = get_model(DEFAULT_MODEL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutOfPopulationWarning)
        population = simulate_population(
            model,
            regimen,
            grid,
            n_subjects=POPULATION_SIZE,
            weight=WeightDistribution(median_kg=weight_kg),
            seed=SEED,
            age_yr=age_yr,
            progress=False,
            threads=1,
        )
    found = [str(w.message) for w in caught if issubclass(w.category, OutOfPopulationWarning)]
    return CourseEstimate(
        model=model,
        population=population,
        dose_mg=dose_mg,
        basis_weight_kg=basis_weight_kg,
        starts_day=starts_day,
        warnings=tuple(dict.fromkeys([*found, *population.warnings])),
    )
