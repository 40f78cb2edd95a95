"""Outcome definitions: response (Feder 2021 >= 30% CAPS-5; Murrough 2013 >= 50% MADRS),
remission (KetECT MADRS <= 10; Marx 2022 PCL-5 end-state <= 28; PHQ-9 minimal band 0-4), minimal
important and reliable change, loss of response, each explaining itself."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical import outcomes as oc
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.clinical.outcomes import Measure, ScorePoint

D0 = datetime.date(2025, 3, 3)


def _series(*scores: int) -> list[ScorePoint]:
    return [ScorePoint(D0 + datetime.timedelta(weeks=i), s) for i, s in enumerate(scores)]


@pytest.mark.parametrize(
    ("measure", "baseline", "latest", "responded"),
    [
        (Measure.CAPS5, 50, 35, True),  # -30% exactly: Feder 2021 >= 30%
        (Measure.CAPS5, 50, 36, False),  # -28%
        (Measure.PCL5, 60, 42, True),  # -30%
        (Measure.PCL5, 60, 43, False),
        (Measure.MADRS, 30, 15, True),  # -50%: Murrough 2013 >= 50%
        (Measure.MADRS, 30, 16, False),
        (Measure.PHQ9, 20, 10, True),
        (Measure.PHQ9, 20, 11, False),
    ],
)
def test_response(measure: Measure, baseline: int, latest: int, responded: bool) -> None:
    result = oc.assess_outcome(measure, _series(baseline, latest))
    assert result.response.met is responded
    assert result.change == latest - baseline
    assert result.percent_change == pytest.approx((latest - baseline) / baseline * 100)
    assert "response criterion" in result.response.explanation


@pytest.mark.parametrize(
    ("measure", "latest", "remitted"),
    [
        (Measure.MADRS, 10, True),  # KetECT <= 10
        (Measure.MADRS, 11, False),  # would remit under <= 12; stricter default kept
        (Measure.PCL5, 28, True),  # Marx 2022 end-state <= 28
        (Measure.PCL5, 30, False),
        (Measure.PHQ9, 4, True),  # minimal band 0-4 (Kroenke 2001)
        (Measure.PHQ9, 5, False),
        (Measure.CAPS5, 8, True),
        (Measure.CAPS5, 9, False),
    ],
)
def test_remission(measure: Measure, latest: int, remitted: bool) -> None:
    result = oc.assess_outcome(measure, _series(measure.max_score // 2 + 5, latest))
    assert result.remission.met is remitted


def test_remission_cutpoint_configurable() -> None:
    rules = {**oc._default_rules()}
    rules[Measure.MADRS] = oc.MeasureRules(50.0, 12, None, None, 50.0, "other trials <= 12")
    result = oc.assess_outcome(Measure.MADRS, _series(30, 12), oc.OutcomeSettings(rules=rules))
    assert result.remission.met is True


def test_minimal_important_and_reliable_change_pcl5() -> None:
    # VA 10 points (MCID); Marx 2022 reliable change 15-18 (18 kept).
    result = oc.assess_outcome(Measure.PCL5, _series(50, 40))
    assert result.minimal_important_change.met is True
    assert result.reliable_change.met is False
    assert oc.assess_outcome(Measure.PCL5, _series(50, 32)).reliable_change.met is True
    assert oc.assess_outcome(Measure.PCL5, _series(50, 41)).minimal_important_change.met is False


def test_unconfigured_change_says_so() -> None:
    result = oc.assess_outcome(Measure.MADRS, _series(30, 10))
    assert result.minimal_important_change.met is None
    assert "No minimal important change" in result.minimal_important_change.explanation


def test_zero_baseline_cannot_judge_response() -> None:
    result = oc.assess_outcome(Measure.PHQ9, _series(0, 3))
    assert result.percent_change is None
    assert result.response.met is None
    assert "undefined" in result.response.explanation


def test_loss_of_response_two_consecutive() -> None:
    # Respond at week 1 (-50%), then two consecutive measures below 30% improvement.
    result = oc.assess_outcome(Measure.PCL5, _series(60, 30, 35, 45, 50))
    assert result.responded_on == D0 + datetime.timedelta(weeks=1)
    assert result.loss_of_response.met is True
    assert result.lost_on == D0 + datetime.timedelta(weeks=4)
    assert "2 consecutive" in result.loss_of_response.explanation


def test_single_bad_week_is_not_loss() -> None:
    result = oc.assess_outcome(Measure.PCL5, _series(60, 30, 50, 30))
    assert result.loss_of_response.met is False


def test_regained_response_clears_loss() -> None:
    result = oc.assess_outcome(Measure.PCL5, _series(60, 30, 50, 50, 30))
    assert result.loss_of_response.met is False
    assert result.lost_on is None


def test_no_response_no_loss() -> None:
    result = oc.assess_outcome(Measure.MADRS, _series(30, 28, 29))
    assert result.loss_of_response.met is False
    assert "No response yet" in result.loss_of_response.explanation


def test_loss_rule_configurable() -> None:
    strict = oc.OutcomeSettings(loss_consecutive_measurements=1)
    result = oc.assess_outcome(Measure.PCL5, _series(60, 30, 50), strict)
    assert result.loss_of_response.met is True
    with pytest.raises(ClinicalInputError):
        oc.OutcomeSettings(loss_consecutive_measurements=0)


def test_explicit_baseline() -> None:
    result = oc.assess_outcome(
        Measure.PHQ9, _series(10), baseline=ScorePoint(D0 - datetime.timedelta(days=7), 20)
    )
    assert result.baseline.score == 20
    assert result.response.met is True


@pytest.mark.parametrize(
    ("series", "message"),
    [
        ([], "no scores"),
        (_series(28), None),
        ([ScorePoint(D0, 81)], "score 1 .*81 is outside 0-80"),
        ([ScorePoint(D0, 40), ScorePoint(D0 - datetime.timedelta(days=1), 30)], "date order"),
    ],
)
def test_bad_series(series: list[ScorePoint], message: str | None) -> None:
    if message is None:
        assert oc.assess_outcome(Measure.PCL5, series).change == 0
        return
    with pytest.raises(ClinicalInputError, match=message):
        oc.assess_outcome(Measure.PCL5, series)


@settings(max_examples=60, deadline=None)
@given(
    measure=st.sampled_from(list(Measure)),
    data=st.data(),
)
def test_outcome_invariants(measure: Measure, data: st.DataObject) -> None:
    scores = data.draw(st.lists(st.integers(1, measure.max_score), min_size=1, max_size=8))
    result = oc.assess_outcome(measure, _series(*scores))
    assert result.change == scores[-1] - scores[0]
    assert result.percent_change is not None
    assert result.response.met is (
        -result.percent_change >= oc._default_rules()[measure].response_reduction_percent
    )
    if result.loss_of_response.met:
        assert result.responded_on is not None
        assert result.lost_on is not None
        assert result.lost_on > result.responded_on
    for c in (result.response, result.remission, result.loss_of_response):
        assert c.explanation


def test_measure_domains() -> None:
    assert Measure.PCL5.domain is Measure.CAPS5.domain
    assert Measure.PHQ9.domain.value == "depression"


def test_non_integer_score_refused() -> None:
    bad: Any = 12.5
    with pytest.raises(ClinicalInputError, match=r"score 2: 12\.5 is not an integer"):
        oc.assess_outcome(Measure.PHQ9, [ScorePoint(D0, 20), ScorePoint(D0, bad)])
