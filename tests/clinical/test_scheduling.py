"""Course scheduling: induction series (Feder 2021 3/week x 2 weeks; Albott 2018 Mon-Wed-Fri;
ELEKT-D twice weekly x 3 weeks) and the booster taper with step-back (PMC7265624)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical import scheduling as sc
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.clinical.scheduling import Weekday

MON = datetime.date(2025, 3, 3)  # a Monday
WEEKDAYS = [Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY]


def _d(offset: int) -> datetime.date:
    return MON + datetime.timedelta(days=offset)


def test_three_a_week_mon_wed_fri() -> None:
    plan = sc.plan_induction(MON, WEEKDAYS)
    assert plan.dates == (_d(0), _d(2), _d(4), _d(7), _d(9), _d(11))  # 12 days (Albott 2018)
    assert plan.warnings == ()
    assert "6 infusions" in plan.explanation


def test_twice_a_week_three_weeks() -> None:
    plan = sc.plan_induction(MON, WEEKDAYS, sc.TWICE_A_WEEK)
    assert plan.dates == (_d(0), _d(3), _d(7), _d(10), _d(14), _d(17))
    assert len({d.isocalendar()[1] for d in plan.dates}) == 3


def test_only_open_days_and_closures() -> None:
    plan = sc.plan_induction(MON, [Weekday.TUESDAY, Weekday.THURSDAY], closed_dates=[_d(3)])
    assert all(d.weekday() in (1, 3) for d in plan.dates)
    assert _d(3) not in plan.dates
    assert plan.warnings  # two open days a week cannot hold 3 a week


def test_refuses_impossible_plans() -> None:
    with pytest.raises(ClinicalInputError, match="no open weekdays"):
        sc.plan_induction(MON, [])
    with pytest.raises(ClinicalInputError, match="at least 1"):
        sc.InductionSettings(infusions=0)
    with pytest.raises(ClinicalInputError, match="per_week"):
        sc.InductionSettings(per_week=8)


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(datetime.date(2025, 1, 1), datetime.date(2026, 12, 31)),
    open_days=st.sets(st.sampled_from(list(Weekday)), min_size=1),
    infusions=st.integers(1, 8),
    per_week=st.integers(1, 3),
    spacing=st.integers(1, 3),
)
def test_induction_invariants(
    start: datetime.date, open_days: set[Weekday], infusions: int, per_week: int, spacing: int
) -> None:
    cfg = sc.InductionSettings(infusions=infusions, per_week=per_week, min_days_between=spacing)
    plan = sc.plan_induction(start, open_days, cfg)
    assert len(plan.dates) == infusions
    assert plan.dates[0] >= start
    assert all(d.weekday() in {int(w) for w in open_days} for d in plan.dates)
    assert all((b - a).days >= spacing for a, b in zip(plan.dates, plan.dates[1:], strict=False))
    weeks = [d.isocalendar()[:2] for d in plan.dates]
    assert all(weeks.count(w) <= per_week for w in weeks)


def test_default_booster_taper() -> None:
    plan = sc.plan_boosters(_d(11), WEEKDAYS)  # last induction infusion on a Friday
    gaps = [(b.on - a.on).days for a, b in zip(plan.visits, plan.visits[1:], strict=False)]
    assert [v.phase for v in plan.visits] == ["weekly"] * 4 + ["every 2 weeks"] * 4 + [
        "monthly"
    ] * 3
    assert gaps == [7, 7, 7, 14, 14, 14, 14, 28, 28, 28]
    assert plan.visits[0].on == _d(18)
    assert all(v.moved_days == 0 for v in plan.visits)


def test_booster_on_closed_day_moves_later_and_says_so() -> None:
    plan = sc.plan_boosters(_d(11), WEEKDAYS, closed_dates=[_d(18)])
    assert plan.visits[0].on == _d(21)  # Friday closed -> next Monday
    assert plan.visits[0].moved_days == 3
    assert plan.visits[1].on == _d(25)  # cadence kept from the target date


def test_step_back_from_monthly_to_every_two_weeks() -> None:
    plan = sc.plan_boosters(_d(11), WEEKDAYS)
    monthly_visit = next(v for v in plan.visits if v.phase == "monthly")
    loss = monthly_visit.on + datetime.timedelta(days=10)
    stepped = sc.step_back_on_loss(plan, loss, WEEKDAYS)
    assert stepped.visits[0].phase == "every 2 weeks"
    assert "stepping back to 'every 2 weeks'" in stepped.explanation
    assert stepped.visits[0].on >= loss


def test_step_back_from_weekly_stays_weekly_and_asks_review() -> None:
    plan = sc.plan_boosters(_d(11), WEEKDAYS)
    stepped = sc.step_back_on_loss(plan, plan.visits[1].on, WEEKDAYS)
    assert stepped.visits[0].phase == "weekly"
    assert "repeat induction" in stepped.explanation


def test_bad_taper_refused() -> None:
    with pytest.raises(ClinicalInputError, match="no phases"):
        sc.plan_boosters(MON, WEEKDAYS, ())
    with pytest.raises(ClinicalInputError, match="phase 1"):
        sc.plan_boosters(MON, WEEKDAYS, (sc.TaperPhase("x", 0, 1),))
    with pytest.raises(ClinicalInputError, match="start_phase"):
        sc.plan_boosters(MON, WEEKDAYS, start_phase=3)


def test_more_refusals() -> None:
    with pytest.raises(ClinicalInputError, match="min_days_between"):
        sc.InductionSettings(min_days_between=0)
    with pytest.raises(ClinicalInputError, match="cannot fit 100 infusions"):
        sc.plan_induction(MON, WEEKDAYS, sc.InductionSettings(infusions=100, per_week=1))
    closed = [_d(i) for i in range(500)]
    with pytest.raises(ClinicalInputError, match="no open clinic day"):
        sc.plan_boosters(MON, WEEKDAYS, closed_dates=closed)
