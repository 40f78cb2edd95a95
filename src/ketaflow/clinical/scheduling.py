"""Course scheduling on clinic days: the induction series and the booster taper.

Dates are :class:`datetime.date` (no times, no time zones). Clinic days are weekdays the clinic is
open (:class:`Weekday`) minus explicit closed dates. Nothing is moved silently: a visit that falls
on a closed day moves to the next open day and records how far it moved.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from ketaflow.clinical import sources
from ketaflow.clinical.errors import ClinicalInputError

_HORIZON_DAYS: Final = 400  # search limit: a plan that cannot fit in about a year is refused


class Weekday(IntEnum):
    """ISO weekday numbers as ``datetime.date.weekday()`` gives them (Monday = 0)."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


@dataclass(frozen=True)
class InductionSettings:
    """An induction series: how many infusions, how many per calendar week, minimum spacing."""

    infusions: int = 6  # Feder 2021; Albott 2018; Murrough 2013: six infusions
    per_week: int = 3  # Feder 2021: 3 a week over 2 consecutive weeks
    min_days_between: int = 2  # Albott 2018: Mon-Wed-Fri, i.e. a day off between infusions
    source: str = f"{sources.FEDER_2021}; {sources.ALBOTT_2018}"

    def __post_init__(self) -> None:
        if self.infusions < 1:
            raise ClinicalInputError("induction needs at least 1 infusion")
        if not 1 <= self.per_week <= 7:
            raise ClinicalInputError("per_week must be 1-7")
        if self.min_days_between < 1:
            raise ClinicalInputError("min_days_between must be at least 1 (one infusion a day)")


THREE_A_WEEK: Final = InductionSettings()
# ELEKT-D 2023: twice weekly for 3 weeks (6 infusions); 3-day spacing (e.g. Mon/Thu) is clinic
# policy so the two weekly infusions are spread out.
TWICE_A_WEEK: Final = InductionSettings(
    infusions=6, per_week=2, min_days_between=3, source=sources.ELEKT_D_2023
)


@dataclass(frozen=True)
class InductionPlan:
    dates: tuple[datetime.date, ...]
    settings: InductionSettings
    warnings: tuple[str, ...]
    explanation: str


def _open_days(open_weekdays: Iterable[Weekday | int]) -> frozenset[int]:
    days = frozenset(int(Weekday(d)) for d in open_weekdays)
    if not days:
        raise ClinicalInputError("the clinic has no open weekdays")
    return days


def _is_open(
    day: datetime.date, open_days: frozenset[int], closed: frozenset[datetime.date]
) -> bool:
    return day.weekday() in open_days and day not in closed


def plan_induction(
    start: datetime.date,
    open_weekdays: Iterable[Weekday | int],
    settings: InductionSettings = THREE_A_WEEK,
    *,
    closed_dates: Iterable[datetime.date] = (),
) -> InductionPlan:
    """Plan the induction series from ``start`` (inclusive) on open clinic days.

    Each infusion goes on the earliest open day that is at least ``min_days_between`` days after
    the previous one and keeps the calendar week (Monday-Sunday) at or under ``per_week``.
    """
    open_days = _open_days(open_weekdays)
    closed = frozenset(closed_dates)
    dates: list[datetime.date] = []
    day = start
    limit = start + datetime.timedelta(days=_HORIZON_DAYS)
    while len(dates) < settings.infusions:
        if day > limit:
            raise ClinicalInputError(
                f"cannot fit {settings.infusions} infusions within {_HORIZON_DAYS} days of {start}"
            )
        in_week = sum(1 for d in dates if d.isocalendar()[:2] == day.isocalendar()[:2])
        spaced = not dates or (day - dates[-1]).days >= settings.min_days_between
        if _is_open(day, open_days, closed) and spaced and in_week < settings.per_week:
            dates.append(day)
        day += datetime.timedelta(days=1)
    warnings: list[str] = []
    planned_weeks = math.ceil(settings.infusions / settings.per_week)
    weeks_used = len({d.isocalendar()[:2] for d in dates})
    if weeks_used > planned_weeks + (0 if start.weekday() == 0 else 1):
        warnings.append(
            f"The series spans {weeks_used} calendar weeks instead of about {planned_weeks} "
            "because of the clinic's open days or closures."
        )
    return InductionPlan(
        dates=tuple(dates),
        settings=settings,
        warnings=tuple(warnings),
        explanation=(
            f"{settings.infusions} infusions, up to {settings.per_week} a week, at least "
            f"{settings.min_days_between} days apart, from {dates[0]} to {dates[-1]} "
            f"({settings.source})."
        ),
    )


@dataclass(frozen=True)
class TaperPhase:
    name: str
    interval_days: int
    visits: int


# Canadian ketamine-vs-ECT trial protocol (PMC7265624): weekly x 1 month, every 2 weeks x 2
# months, monthly x 3 months. A "month" is taken as 4 weeks (28 days) so visits keep the weekday.
DEFAULT_TAPER: Final = (
    TaperPhase("weekly", 7, 4),
    TaperPhase("every 2 weeks", 14, 4),
    TaperPhase("monthly", 28, 3),
)


@dataclass(frozen=True)
class BoosterVisit:
    on: datetime.date
    phase: str
    phase_index: int
    moved_days: int  # days moved later because the target day was closed


@dataclass(frozen=True)
class BoosterPlan:
    visits: tuple[BoosterVisit, ...]
    taper: tuple[TaperPhase, ...]
    explanation: str
    source: str = sources.CANADIAN_KETAMINE_ECT_PROTOCOL


def _validate_taper(taper: Sequence[TaperPhase]) -> None:
    if not taper:
        raise ClinicalInputError("the booster taper has no phases")
    for i, phase in enumerate(taper):
        if phase.interval_days < 1 or phase.visits < 1:
            raise ClinicalInputError(
                f"taper phase {i + 1} ({phase.name}): interval_days and visits must be 1 or more"
            )


def plan_boosters(
    after: datetime.date,
    open_weekdays: Iterable[Weekday | int],
    taper: Sequence[TaperPhase] = DEFAULT_TAPER,
    *,
    start_phase: int = 0,
    closed_dates: Iterable[datetime.date] = (),
) -> BoosterPlan:
    """Plan boosters after ``after`` (the last induction infusion or the day the taper restarts).

    Targets follow the phase intervals from the previous *target* (so a moved visit does not
    shift the rest); a target on a closed day moves to the next open day.
    """
    _validate_taper(taper)
    if not 0 <= start_phase < len(taper):
        raise ClinicalInputError(f"start_phase must be 0-{len(taper) - 1}, got {start_phase}")
    open_days = _open_days(open_weekdays)
    closed = frozenset(closed_dates)
    visits: list[BoosterVisit] = []
    target = after
    for index in range(start_phase, len(taper)):
        phase = taper[index]
        for _ in range(phase.visits):
            target += datetime.timedelta(days=phase.interval_days)
            actual = target
            while not _is_open(actual, open_days, closed) or (visits and actual <= visits[-1].on):
                actual += datetime.timedelta(days=1)
                if (actual - target).days > _HORIZON_DAYS:
                    raise ClinicalInputError("no open clinic day found for a booster visit")
            visits.append(BoosterVisit(actual, phase.name, index, (actual - target).days))
    names = ", then ".join(f"{p.name} x {p.visits}" for p in taper[start_phase:])
    return BoosterPlan(
        visits=tuple(visits),
        taper=tuple(taper),
        explanation=f"Booster taper from {after}: {names}.",
    )


def step_back_on_loss(
    plan: BoosterPlan,
    loss_date: datetime.date,
    open_weekdays: Iterable[Weekday | int],
    *,
    closed_dates: Iterable[datetime.date] = (),
) -> BoosterPlan:
    """On loss of response, restart the taper one phase more frequent than the current one.

    The current phase is that of the last visit on or before ``loss_date`` (the first phase if
    none happened yet). From the first phase there is nowhere to step back to: the plan restarts
    weekly and the explanation asks for a clinician review (e.g. of a repeat induction).
    """
    past = [v for v in plan.visits if v.on <= loss_date]
    current = past[-1].phase_index if past else plan.visits[0].phase_index if plan.visits else 0
    new_phase = max(current - 1, 0)
    restarted = plan_boosters(
        loss_date, open_weekdays, plan.taper, start_phase=new_phase, closed_dates=closed_dates
    )
    taper = plan.taper
    if current == 0:
        why = (
            f"Loss of response on {loss_date} during the '{taper[0].name}' phase: there is no more "
            f"frequent phase, so the taper restarts '{taper[0].name}'; a clinician should review "
            "whether a repeat induction is needed."
        )
    else:
        why = (
            f"Loss of response on {loss_date} during the '{taper[current].name}' phase: stepping "
            f"back to '{taper[new_phase].name}'."
        )
    return BoosterPlan(
        visits=restarted.visits,
        taper=taper,
        explanation=f"{why} {restarted.explanation}",
    )
