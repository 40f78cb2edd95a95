"""Scoring of the rating scales: table tests citing the published cut-points, refusal of bad
answers naming the item, and property tests of the invariants (totals within range)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical import instruments as ins
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.clinical.instruments import (
    CadssVersion,
    Instrument,
    InstrumentSettings,
    Severity,
    SuicideRisk,
)

FAST = settings(max_examples=60, deadline=None)


def _pcl5(b: int, c: int, d: int, e: int, *, base: int = 0) -> list[int]:
    """PCL-5 answers with the first b/c/d/e items of each cluster rated 2, the rest ``base``."""
    answers = [base] * 20
    for start, count in ((0, b), (5, c), (7, d), (14, e)):
        for i in range(count):
            answers[start + i] = 2
    return answers


# --- PCL-5 (Weathers 2013; Blevins 2015; VA NCPTSD cut-point 31-33) ---------------------------


def test_pcl5_clusters_follow_published_item_mapping() -> None:
    # B = items 1-5, C = 6-7, D = 8-14, E = 15-20 (Blevins 2015): rate item n as 1 in cluster X.
    answers = [1] * 5 + [2] * 2 + [3] * 7 + [4] * 6
    result = ins.score_pcl5(answers)
    assert dict(result.clusters) == {"B": 5, "C": 4, "D": 21, "E": 24}
    assert result.total == 54


@pytest.mark.parametrize(
    ("b", "c", "d", "e", "expected"),
    [
        (1, 1, 2, 2, True),  # the DSM-5 minimum: 1 B, 1 C, 2 D, 2 E (Weathers 2013)
        (0, 1, 2, 2, False),
        (1, 0, 2, 2, False),
        (1, 1, 1, 2, False),
        (1, 1, 2, 1, False),
        (5, 2, 7, 6, True),
    ],
)
def test_pcl5_provisional_diagnosis(b: int, c: int, d: int, e: int, expected: bool) -> None:
    assert ins.score_pcl5(_pcl5(b, c, d, e)).provisional_diagnosis is expected


def test_pcl5_rating_of_one_is_not_endorsed() -> None:
    # Items rated 1 ("a little bit") do not count; 2 or more do (Weathers 2013).
    assert ins.score_pcl5([1] * 20).provisional_diagnosis is False


@pytest.mark.parametrize(
    ("total", "cutpoint", "probable"),
    [(32, 33, False), (33, 33, True), (30, 31, False), (31, 31, True), (80, 33, True)],
)
def test_pcl5_probable_ptsd_cutpoint(total: int, cutpoint: int, probable: bool) -> None:
    # VA National Center for PTSD: probable PTSD at 31-33; default 33 (issue 3).
    result = ins.score_pcl5(
        _fill(total, 20, 4), InstrumentSettings(pcl5_probable_ptsd_cutpoint=cutpoint)
    )
    assert result.total == total
    assert result.probable_ptsd is probable


def test_pcl5_default_cutpoint_is_33() -> None:
    assert InstrumentSettings().pcl5_probable_ptsd_cutpoint == 33


@pytest.mark.parametrize("cutpoint", [30, 34, 0])
def test_pcl5_cutpoint_outside_published_range_refused(cutpoint: int) -> None:
    with pytest.raises(ClinicalInputError, match="31-33"):
        InstrumentSettings(pcl5_probable_ptsd_cutpoint=cutpoint)


def test_pcl5_missing_item_named() -> None:
    with pytest.raises(ClinicalInputError, match="item 20 is missing"):
        ins.score_pcl5([0] * 19)


def test_pcl5_extra_item_refused() -> None:
    with pytest.raises(ClinicalInputError, match="exactly 20"):
        ins.score_pcl5([0] * 21)


def test_pcl5_out_of_range_item_named() -> None:
    answers = [0] * 20
    answers[6] = 5
    with pytest.raises(ClinicalInputError, match=r"PCL-5 item 7: rating 5 is outside 0-4"):
        ins.score_pcl5(answers)


def test_negative_rating_named() -> None:
    with pytest.raises(ClinicalInputError, match="item 1: rating -1"):
        ins.score_gad7([-1] + [0] * 6)


def test_boolean_is_not_a_rating() -> None:
    with pytest.raises(ClinicalInputError, match="item 2"):
        ins.score_phq9([0, True, 0, 0, 0, 0, 0, 0, 0])


@FAST
@given(st.lists(st.integers(0, 4), min_size=20, max_size=20))
def test_pcl5_invariants(answers: list[int]) -> None:
    result = ins.score_pcl5(answers)
    assert 0 <= result.total <= 80
    assert sum(result.clusters.values()) == result.total
    assert result.clusters["B"] <= 20
    assert result.clusters["C"] <= 8
    assert result.clusters["D"] <= 28
    assert result.clusters["E"] <= 24
    assert result.probable_ptsd is (result.total >= 33)


# --- PHQ-9 (Kroenke 2001) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, Severity.MINIMAL),
        (4, Severity.MINIMAL),
        (5, Severity.MILD),
        (9, Severity.MILD),
        (10, Severity.MODERATE),
        (14, Severity.MODERATE),
        (15, Severity.MODERATELY_SEVERE),
        (19, Severity.MODERATELY_SEVERE),
        (20, Severity.SEVERE),
        (27, Severity.SEVERE),
    ],
)
def test_phq9_bands_kroenke_2001(total: int, band: Severity) -> None:
    result = ins.score_phq9(_fill(total, 9, 3))
    assert result.total == total
    assert result.severity is band


def _fill(total: int, count: int, maximum: int) -> list[int]:
    """Ratings summing to ``total``, filled from the first item."""
    return [min(maximum, max(0, total - maximum * i)) for i in range(count)]


@pytest.mark.parametrize(("item9", "flag"), [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_item9_suicide_flag(item9: int, flag: bool) -> None:
    # Any answer above 0 on item 9 -> suicide risk assessment (Kroenke 2001; clinical.md s. 5).
    result = ins.score_phq9([0] * 8 + [item9])
    assert result.suicide_risk_flag is flag
    assert ("suicide-risk flag raised" in " ".join(result.explanation)) is flag


@FAST
@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_phq9_invariants(answers: list[int]) -> None:
    result = ins.score_phq9(answers)
    assert 0 <= result.total <= 27
    assert result.suicide_risk_flag is (answers[8] > 0)


# --- GAD-7 (Spitzer 2006) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (4, Severity.MINIMAL),
        (5, Severity.MILD),
        (9, Severity.MILD),
        (10, Severity.MODERATE),
        (14, Severity.MODERATE),
        (15, Severity.SEVERE),
        (21, Severity.SEVERE),
    ],
)
def test_gad7_bands_spitzer_2006(total: int, band: Severity) -> None:
    result = ins.score_gad7(_fill(total, 7, 3))
    assert result.total == total
    assert result.severity is band


@FAST
@given(st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_gad7_total_within_range(answers: list[int]) -> None:
    assert 0 <= ins.score_gad7(answers).total <= 21


# --- C-SSRS screener (Posner 2011; Columbia triage) ------------------------------------------

Y, N = True, False


@pytest.mark.parametrize(
    ("answers", "recent", "risk"),
    [
        ([N, N, N, N, N, N], None, SuicideRisk.LOW),
        ([Y, N, N, N, N, N], None, SuicideRisk.LOW),
        ([Y, Y, N, N, N, N], None, SuicideRisk.LOW),
        ([Y, Y, Y, N, N, N], None, SuicideRisk.MODERATE),
        ([Y, Y, Y, Y, N, N], None, SuicideRisk.HIGH),
        ([Y, Y, N, N, Y, N], None, SuicideRisk.HIGH),
        ([N, N, N, N, N, Y], False, SuicideRisk.MODERATE),
        ([N, N, N, N, N, Y], True, SuicideRisk.HIGH),
        ([Y, Y, Y, Y, Y, Y], False, SuicideRisk.HIGH),
    ],
)
def test_cssrs_triage(answers: list[bool], recent: bool | None, risk: SuicideRisk) -> None:
    assert ins.score_cssrs(answers, behaviour_within_3_months=recent).risk is risk


def test_cssrs_behaviour_without_timing_is_treated_as_recent() -> None:
    result = ins.score_cssrs([N, N, N, N, N, Y])
    assert result.risk is SuicideRisk.HIGH
    assert "timing not recorded" in " ".join(result.explanation)


def test_cssrs_skip_logic_violation_names_item() -> None:
    with pytest.raises(ClinicalInputError, match="item 4: answered yes although item 2 is no"):
        ins.score_cssrs([Y, N, N, Y, N, N])


def test_cssrs_timing_without_behaviour_refused() -> None:
    with pytest.raises(ClinicalInputError, match="item 6"):
        ins.score_cssrs([N] * 6, behaviour_within_3_months=True)


def test_cssrs_wrong_count_and_type() -> None:
    with pytest.raises(ClinicalInputError, match="exactly 6"):
        ins.score_cssrs([N] * 5)
    with pytest.raises(ClinicalInputError, match="item 3"):
        ins.score(Instrument.CSSRS, [False, False, 1, False, False, False])


def test_cssrs_stores_short_labels_only() -> None:
    result = ins.score_cssrs([N] * 6)
    assert all(len(label) < 45 for label in result.answers)


# --- CAPS-5, MADRS, CADSS, modified Aldrete ------------------------------------------------


def test_caps5_uses_codes_and_clusters() -> None:
    result = ins.score_caps5(_pcl5(1, 1, 2, 2))
    assert list(result.item_scores)[:2] == ["B1", "B2"]
    assert list(result.item_scores)[-1] == "E6"
    assert result.provisional_diagnosis is True
    assert result.total == 12
    assert dict(result.clusters) == {"B": 2, "C": 2, "D": 4, "E": 4}


def test_madrs_range_and_labels() -> None:
    result = ins.score_madrs([6] * 10)
    assert result.total == 60
    with pytest.raises(ClinicalInputError, match="MADRS item 10: rating 7 is outside 0-6"):
        ins.score_madrs([0] * 9 + [7])


@pytest.mark.parametrize(("version", "count", "max_total"), [("23", 23, 92), ("28", 28, 112)])
def test_cadss_versions(version: str, count: int, max_total: int) -> None:
    result = ins.score_cadss([4] * count, CadssVersion(version))
    assert result.total == max_total == result.max_total


def test_cadss_wrong_version_count_refused() -> None:
    with pytest.raises(ClinicalInputError, match="exactly 23"):
        ins.score_cadss([0] * 28)


@pytest.mark.parametrize(("total", "ready"), [(10, True), (9, True), (8, False), (0, False)])
def test_aldrete_discharge_at_9(total: int, ready: bool) -> None:
    # Modified Aldrete: five items 0-2, discharge at 9 or more (Aldrete 1995).
    result = ins.score_aldrete(_fill(total, 5, 2))
    assert result.total == total
    assert result.discharge_ready is ready


def test_aldrete_names_items_scored_zero() -> None:
    result = ins.score_aldrete([2, 2, 2, 2, 0])
    assert "oxygen saturation" in result.explanation[-1]


@FAST
@given(
    st.sampled_from([i for i in Instrument if i is not Instrument.CSSRS]).flatmap(
        lambda inst: st.tuples(
            st.just(inst),
            st.lists(
                st.integers(_spec(inst).minimum, _spec(inst).maximum),
                min_size=_spec(inst).count,
                max_size=_spec(inst).count,
            ),
        )
    )
)
def test_every_total_within_range(case: tuple[Instrument, list[int]]) -> None:
    instrument, answers = case
    result = ins.score(instrument, answers)
    assert 0 <= result.total <= _spec(instrument).max_total


@FAST
@given(st.lists(st.integers(-3, 9), min_size=0, max_size=25))
def test_bad_answers_are_refused_never_filled(answers: list[int]) -> None:
    valid = len(answers) == 9 and all(0 <= a <= 3 for a in answers)
    if valid:
        assert ins.score_phq9(answers).total == sum(answers)
    else:
        with pytest.raises(ClinicalInputError, match="PHQ-9"):
            ins.score_phq9(answers)


def _spec(instrument: Instrument) -> ins.ItemRange:
    return {
        Instrument.PCL5: ins.PCL5_ITEMS,
        Instrument.PHQ9: ins.PHQ9_ITEMS,
        Instrument.GAD7: ins.GAD7_ITEMS,
        Instrument.CAPS5: ins.CAPS5_ITEMS,
        Instrument.MADRS: ins.MADRS_ITEMS,
        Instrument.CADSS: CadssVersion.ITEMS_23.items,
        Instrument.ALDRETE: ins.ALDRETE_ITEMS,
    }[instrument]


# --- parsing helpers -----------------------------------------------------------------------


def test_parse_ratings_names_bad_item() -> None:
    assert ins.parse_ratings("0, 1,2") == [0, 1, 2]
    with pytest.raises(ClinicalInputError, match="item 2: 'x' is not a whole number"):
        ins.parse_ratings("1,x")
    with pytest.raises(ClinicalInputError, match="item 2: empty"):
        ins.parse_ratings("1,,2")
    with pytest.raises(ClinicalInputError, match=r"item 1: '1\.5'"):
        ins.parse_ratings("1.5")


def test_parse_yes_no() -> None:
    assert ins.parse_yes_no_list("y,N,yes,no") == [True, False, True, False]
    with pytest.raises(ClinicalInputError, match="item 3: 'maybe' is not y or n"):
        ins.parse_yes_no_list("y,n,maybe")


def test_aldrete_minimum_setting_checked() -> None:
    with pytest.raises(ClinicalInputError, match="aldrete_discharge_minimum"):
        InstrumentSettings(aldrete_discharge_minimum=11)


def test_cssrs_direct_call_refuses_non_boolean() -> None:
    with pytest.raises(ClinicalInputError, match="item 1: 0 is not yes/no"):
        ins.score_cssrs(_untyped([0, False, False, False, False, False]))


def test_parse_ratings_refuses_empty() -> None:
    with pytest.raises(ClinicalInputError, match="no answers"):
        ins.parse_ratings("")


def _untyped(values: list[Any]) -> Any:
    """Hand the scoring functions a value the type checker would refuse (as JSON input can)."""
    return values


def test_full_scale_is_the_item_count_times_the_top_rating() -> None:
    # PCL-5 0-80, PHQ-9 0-27, GAD-7 0-21, CAPS-5 0-80, MADRS 0-60, modified Aldrete 0-10.
    assert dict(ins.FULL_SCALE) == {
        Instrument.PCL5: 80,
        Instrument.PHQ9: 27,
        Instrument.GAD7: 21,
        Instrument.CAPS5: 80,
        Instrument.MADRS: 60,
        Instrument.ALDRETE: 10,
    }


@pytest.mark.parametrize(
    ("instrument", "answers", "flag", "risk"),
    [
        (Instrument.PHQ9, [0] * 8 + [1], True, None),
        (Instrument.PHQ9, [3] * 8 + [0], False, None),
        (Instrument.CSSRS, [True, False, False, False, False, False], False, "low"),
        (Instrument.CSSRS, [True, True, True, False, False, False], True, "moderate"),
        (Instrument.CSSRS, [True, True, True, True, False, False], True, "high"),
        (Instrument.GAD7, [3] * 7, False, None),
    ],
)
def test_the_suicide_risk_flag_is_decided_once(
    instrument: Instrument, answers: list[int], flag: bool, risk: str | None
) -> None:
    assert ins.suicide_risk(ins.score(instrument, answers)) == (flag, risk)
