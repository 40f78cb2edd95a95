"""Dosing regimens: constant-rate infusion segments and boluses, in absolute minutes.

A regimen is immutable. Infusions may overlap (their rates add: two pumps), so a recorded session
with rate changes, pauses and stops and a planned course of weeks are the same object.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ketaflow.pk.models import ANALYTE_NAMES, Drug, PKModel

MINUTES_PER_DAY = 1440.0


# Entry guard: no regimen gives more than 10 g of ketamine in one bolus or at more than 1 g/min;
# anything larger is a typing mistake (and overflows the concentrations it would predict).
MAX_BOLUS_MG: Final = 10_000.0
MAX_RATE_MG_PER_MIN: Final = 1_000.0


# Entry guard: ten years in minutes; a time beyond it is a unit mistake (and overflows the
# exponentials of the solution).
MAX_TIME_MIN: Final = 10 * 365.25 * 24 * 60


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")


def _time(name: str, value: float) -> None:
    _finite(name, value)
    if abs(value) > MAX_TIME_MIN:
        raise ValueError(
            f"{name} must lie within {MAX_TIME_MIN:,.0f} minutes (ten years), got {value:g}: "
            "check the units"
        )


@dataclass(frozen=True)
class Infusion:
    """A constant-rate infusion from ``start_min`` for ``duration_min``."""

    start_min: float
    duration_min: float
    rate_mg_per_min: float

    def __post_init__(self) -> None:
        _time("start_min", self.start_min)
        _time("duration_min", self.duration_min)
        _finite("rate_mg_per_min", self.rate_mg_per_min)
        if self.duration_min <= 0:
            raise ValueError(f"an infusion needs a positive duration, got {self.duration_min} min")
        if self.rate_mg_per_min < 0:
            raise ValueError(f"infusion rate must not be negative, got {self.rate_mg_per_min}")
        if self.rate_mg_per_min > MAX_RATE_MG_PER_MIN:
            raise ValueError(
                f"infusion rate {self.rate_mg_per_min:g} mg/min is above the entry guard "
                f"{MAX_RATE_MG_PER_MIN:g} mg/min: check the units"
            )

    @property
    def end_min(self) -> float:
        return self.start_min + self.duration_min

    @property
    def dose_mg(self) -> float:
        return self.rate_mg_per_min * self.duration_min


@dataclass(frozen=True)
class Bolus:
    time_min: float
    dose_mg: float

    def __post_init__(self) -> None:
        _time("time_min", self.time_min)
        _finite("dose_mg", self.dose_mg)
        if self.dose_mg < 0:
            raise ValueError(f"bolus dose must not be negative, got {self.dose_mg} mg")
        if self.dose_mg > MAX_BOLUS_MG:
            raise ValueError(
                f"bolus dose {self.dose_mg:g} mg is above the entry guard {MAX_BOLUS_MG:g} mg: "
                "check the units"
            )


@dataclass(frozen=True)
class PiecewiseInput:
    """The regimen as piecewise-constant input: on [breaks_min[m], breaks_min[m+1]) the rate is
    ``rates_mg_per_min[m]``; ``boluses_mg[m]`` is given at ``breaks_min[m]``. The last interval
    extends to infinity with rate 0."""

    breaks_min: npt.NDArray[np.float64]
    rates_mg_per_min: npt.NDArray[np.float64]
    boluses_mg: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Regimen:
    """Doses in mg of ``drug``: racemic ketamine unless stated as S-ketamine
    (``drug=Drug.ESKETAMINE``); see :meth:`for_model`."""

    infusions: tuple[Infusion, ...] = ()
    boluses: tuple[Bolus, ...] = ()
    drug: Drug = Drug.RACEMIC_KETAMINE

    def __post_init__(self) -> None:
        if not isinstance(self.drug, Drug):
            raise ValueError(f"drug must be one of {', '.join(d.name for d in Drug)}")
        object.__setattr__(
            self, "infusions", tuple(sorted(self.infusions, key=lambda i: i.start_min))
        )
        object.__setattr__(self, "boluses", tuple(sorted(self.boluses, key=lambda b: b.time_min)))

    # ---- construction --------------------------------------------------------------------

    @classmethod
    def single_infusion(cls, dose_mg: float, over_min: float, start_min: float = 0.0) -> Regimen:
        """``dose_mg`` at a constant rate over ``over_min`` minutes."""
        return plan_course(dose_mg=dose_mg, over_min=over_min, start_min=start_min)

    @classmethod
    def from_rate_changes(cls, events: Iterable[tuple[float, float]]) -> Regimen:
        """From a recorded session: ``(time_min, rate_mg_per_min)`` pairs, each rate holding until
        the next change. The last change must be a stop (rate 0): a rate without a duration is
        an error, never extended silently."""
        pairs = [(float(t), float(r)) for t, r in events]
        if not pairs:
            raise ValueError("no rate changes given")
        for t, r in pairs:
            _finite("time_min", t)
            _finite("rate_mg_per_min", r)
            if r < 0:
                raise ValueError(f"rate must not be negative, got {r} mg/min at {t} min")
        for (t0, _), (t1, _) in itertools.pairwise(pairs):
            if t1 <= t0:
                raise ValueError(f"rate change times must increase, got {t1} min after {t0} min")
        if pairs[-1][1] != 0:
            t, r = pairs[-1]
            raise ValueError(
                f"rate {r} mg/min at {t} min has no duration: end the record with a stop (rate 0)"
            )
        infusions = tuple(
            Infusion(t0, t1 - t0, r) for (t0, r), (t1, _) in itertools.pairwise(pairs) if r > 0
        )
        return cls(infusions=infusions)

    def stated_as(self, drug: Drug) -> Regimen:
        """The same doses, stated as mg of ``drug``."""
        return Regimen(self.infusions, self.boluses, drug)

    def for_model(self, model: PKModel) -> tuple[Regimen, list[str]]:
        """The doses the model's analyte receives, with a warning when converted.

        A racemic dose given to an S-ketamine model is halved (racemic ketamine is half
        S-ketamine); a dose stated as S-ketamine cannot drive a racemic model."""
        if self.drug is model.drug:
            return self, []
        if model.drug is Drug.ESKETAMINE and self.drug is Drug.RACEMIC_KETAMINE:
            converted = self.scaled(0.5).stated_as(Drug.ESKETAMINE)
            return converted, [
                f"{model.key}: an S-ketamine model given a racemic ketamine dose; converted "
                f"{self.total_dose_mg:g} mg racemic ketamine to {converted.total_dose_mg:g} mg "
                "S-ketamine (half of a racemic dose is S-ketamine). State the dose as "
                "S-ketamine (--dose-is-s-ketamine) if it is."
            ]
        raise ValueError(
            f"dose: stated as {ANALYTE_NAMES[self.drug]}, but model {model.key} predicts "
            f"{model.analyte}; choose an S-ketamine model or a racemic dose"
        )

    def plus(self, other: Regimen) -> Regimen:
        if other.drug is not self.drug:
            raise ValueError("dose: cannot combine racemic ketamine and S-ketamine doses")
        return Regimen(self.infusions + other.infusions, self.boluses + other.boluses, self.drug)

    def shifted(self, by_min: float) -> Regimen:
        return Regimen(
            tuple(
                Infusion(i.start_min + by_min, i.duration_min, i.rate_mg_per_min)
                for i in self.infusions
            ),
            tuple(Bolus(b.time_min + by_min, b.dose_mg) for b in self.boluses),
            self.drug,
        )

    def scaled(self, factor: float) -> Regimen:
        """Every dose and rate times ``factor`` (e.g. weight-based dosing)."""
        if not (math.isfinite(factor) and factor >= 0):
            raise ValueError(f"scale factor must be a non-negative number, got {factor}")
        return Regimen(
            tuple(
                Infusion(i.start_min, i.duration_min, i.rate_mg_per_min * factor)
                for i in self.infusions
            ),
            tuple(Bolus(b.time_min, b.dose_mg * factor) for b in self.boluses),
            self.drug,
        )

    # ---- queries -------------------------------------------------------------------------

    @property
    def is_empty(self) -> bool:
        return not self.infusions and not self.boluses

    @property
    def total_dose_mg(self) -> float:
        return sum(i.dose_mg for i in self.infusions) + sum(b.dose_mg for b in self.boluses)

    @property
    def start_min(self) -> float:
        times = [i.start_min for i in self.infusions] + [b.time_min for b in self.boluses]
        if not times:
            raise ValueError("the regimen has no doses")
        return min(times)

    @property
    def end_min(self) -> float:
        """When the last dose has been given."""
        times = [i.end_min for i in self.infusions] + [b.time_min for b in self.boluses]
        if not times:
            raise ValueError("the regimen has no doses")
        return max(times)

    def dosing_periods_min(self) -> list[tuple[float, float]]:
        """Merged [start, end] periods during which something is infused (for shading and for
        'concentration at the start of the next infusion'); a bolus is a zero-length period."""
        spans = sorted(
            [(i.start_min, i.end_min) for i in self.infusions if i.rate_mg_per_min > 0]
            + [(b.time_min, b.time_min) for b in self.boluses if b.dose_mg > 0]
        )
        merged: list[tuple[float, float]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def piecewise(self) -> PiecewiseInput:
        """Breakpoints, the total rate on each interval, and bolus amounts at each breakpoint."""
        times = {i.start_min for i in self.infusions} | {i.end_min for i in self.infusions}
        times |= {b.time_min for b in self.boluses}
        breaks = np.array(sorted(times), dtype=np.float64)
        rates = np.zeros(breaks.shape[0], dtype=np.float64)
        boluses = np.zeros(breaks.shape[0], dtype=np.float64)
        for inf in self.infusions:
            lo = int(np.searchsorted(breaks, inf.start_min))
            hi = int(np.searchsorted(breaks, inf.end_min))
            rates[lo:hi] += inf.rate_mg_per_min
        for b in self.boluses:
            boluses[int(np.searchsorted(breaks, b.time_min))] += b.dose_mg
        return PiecewiseInput(breaks, rates, boluses)


def plan_course(
    *,
    dose_mg: float,
    over_min: float,
    infusions: int = 1,
    every_min: float | None = None,
    start_min: float = 0.0,
    starts_min: Sequence[float] | None = None,
) -> Regimen:
    """A planned course: ``infusions`` identical infusions of ``dose_mg`` over ``over_min``,
    ``every_min`` apart from ``start_min`` (e.g. six every 2 days: ``every_min=2 * 1440``), or at
    the explicit ``starts_min``."""
    _finite("dose_mg", dose_mg)
    _finite("over_min", over_min)
    if dose_mg < 0:
        raise ValueError(f"dose must not be negative, got {dose_mg} mg")
    if over_min <= 0:
        raise ValueError(f"infusion duration must be positive, got {over_min} min")
    if starts_min is None:
        if infusions < 1:
            raise ValueError(f"number of infusions must be at least 1, got {infusions}")
        if infusions > 1:
            if every_min is None:
                raise ValueError("several infusions need an interval between them")
            _finite("every_min", every_min)
            if every_min < over_min:
                raise ValueError(
                    f"infusions every {every_min} min would overlap infusions of {over_min} min"
                )
        step = every_min if every_min is not None else 0.0
        starts = [start_min + k * step for k in range(infusions)]
    else:
        starts = sorted(float(s) for s in starts_min)
        if not starts:
            raise ValueError("an explicit schedule needs at least one start time")
        for a, b in itertools.pairwise(starts):
            if b - a < over_min:
                raise ValueError(f"infusions starting at {a} and {b} min would overlap")
    rate = dose_mg / over_min
    return Regimen(infusions=tuple(Infusion(s, over_min, rate) for s in starts))
