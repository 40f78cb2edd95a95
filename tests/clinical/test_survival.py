"""The Kaplan-Meier estimator and its Greenwood intervals against a published worked example.

Data: the classic 6-mercaptopurine (6-MP) arm of the acute leukaemia remission trial,
Freireich EJ et al. (1963) Blood 21:699-716, as tabulated by Gehan EA (1965) Biometrika
52:203-223: weeks in remission of 21 patients, + = censored (still in remission):
6, 6, 6, 6+, 7, 9+, 10, 10+, 11+, 13, 16, 17+, 19+, 20+, 22, 23, 25+, 32+, 32+, 34+, 35+.
Placebo arm (no censoring): 1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23.

Expected values: the product-limit table of the 6-MP arm in Kleinbaum DG, Klein M (2012)
"Survival Analysis: A Self-Learning Text", 3rd ed., Springer, chapter 2 (S(t) = 0.8571, 0.8067,
0.7529, 0.6902, 0.6275, 0.5378, 0.4482 at t = 6, 7, 10, 13, 16, 22, 23), and the same table from
R ``survival::survfit(Surv(time, cens) ~ treat, data = MASS::gehan)`` (Therneau), which prints the
Greenwood standard errors 0.0764, 0.0869, 0.0963, 0.1068, 0.1141, 0.1282, 0.1346 and the default
("log") 95% limits below. Median remission: 23 weeks (6-MP), 8 weeks (placebo).

Tolerance: the published figures are rounded to 3-4 decimals, so each is checked to half a unit
of its last printed digit (abs 0.0005 for 3 decimals, 0.00005 for 4).
"""

from __future__ import annotations

import math

import pytest

from ketaflow.clinical import ClinicalInputError, Observation, kaplan_meier

SIX_MP = [
    (6, True), (6, True), (6, True), (6, False), (7, True), (9, False), (10, True), (10, False),
    (11, False), (13, True), (16, True), (17, False), (19, False), (20, False), (22, True),
    (23, True), (25, False), (32, False), (32, False), (34, False), (35, False),
]  # fmt: skip
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]

# time, at risk, events, S(t) (4 d.p.), Greenwood SE (4 d.p.), lower, upper (3 d.p., log CI)
PUBLISHED = [
    (6, 21, 3, 0.8571, 0.0764, 0.720, 1.000),
    (7, 17, 1, 0.8067, 0.0869, 0.653, 0.996),
    (10, 15, 1, 0.7529, 0.0963, 0.586, 0.968),
    (13, 12, 1, 0.6902, 0.1068, 0.510, 0.935),
    (16, 11, 1, 0.6275, 0.1141, 0.439, 0.896),
    (22, 7, 1, 0.5378, 0.1282, 0.337, 0.858),
    (23, 6, 1, 0.4482, 0.1346, 0.249, 0.807),
]
TOL4 = 0.00005
TOL3 = 0.0005


def six_mp() -> list[Observation]:
    return [Observation(float(t), e) for t, e in SIX_MP]


def test_product_limit_table_of_the_6mp_arm() -> None:
    km = kaplan_meier(six_mp())
    assert km.n == 21
    assert km.events == 9
    assert len(km.steps) == len(PUBLISHED)
    for step, (t, n, d, s, se, lo, hi) in zip(km.steps, PUBLISHED, strict=True):
        assert step.time == t
        assert step.at_risk == n
        assert step.events == d
        assert step.survival == pytest.approx(s, abs=TOL4)
        assert step.std_err is not None
        assert step.std_err == pytest.approx(se, abs=TOL4)
        assert step.lower == pytest.approx(lo, abs=TOL3)
        assert step.upper == pytest.approx(hi, abs=TOL3)


def test_median_and_survival_at() -> None:
    km = kaplan_meier(six_mp())
    assert km.median == 23
    assert km.survival_at(0) == 1.0
    assert km.survival_at(9.5) == pytest.approx(0.8067, abs=TOL4)
    assert km.survival_at(100) == pytest.approx(0.4482, abs=TOL4)
    assert km.censored_times == (6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35)


def test_placebo_arm_without_censoring_is_the_empirical_survival() -> None:
    km = kaplan_meier([Observation(float(t), True) for t in PLACEBO])
    assert km.median == 8
    # Without censoring S(t) is the fraction still in remission: after week 8, 8 of 21.
    assert km.survival_at(8) == pytest.approx(8 / 21, abs=1e-12)
    # The last two events empty the risk set: S = 0, Greenwood variance undefined.
    last = km.steps[-1]
    assert last.survival == 0.0
    assert last.std_err is None
    assert (last.lower, last.upper) == (0.0, 0.0)


def test_plain_greenwood_interval() -> None:
    km = kaplan_meier(six_mp(), conf_type="plain")
    first = km.steps[0]
    assert first.std_err is not None
    z = 1.959963984540054
    assert first.lower == pytest.approx(0.8571 - z * 0.0764, abs=TOL3)
    assert first.upper == 1.0  # cut at 1
    assert all(0.0 <= s.lower <= s.survival <= s.upper <= 1.0 for s in km.steps)


def test_greenwood_formula_by_hand() -> None:
    # Two steps: S = (1 - 1/4) (1 - 1/2); Var = S^2 (1/(4*3) + 1/(2*1)).
    km = kaplan_meier(
        [Observation(1, True), Observation(2, False), Observation(3, True), Observation(4, False)]
    )
    s = 0.75 * 0.5
    assert km.steps[-1].survival == pytest.approx(s)
    assert km.steps[-1].std_err == pytest.approx(s * math.sqrt(1 / 12 + 1 / 2))


def test_empty_and_censored_only() -> None:
    assert kaplan_meier([]).steps == ()
    km = kaplan_meier([Observation(5, False), Observation(7, False)])
    assert km.steps == ()
    assert km.median is None
    assert km.survival_at(10) == 1.0


@pytest.mark.parametrize(
    ("observations", "confidence", "message"),
    [
        ([Observation(-1, True)], 0.95, "must be 0 or more"),
        ([Observation(math.nan, True)], 0.95, "must be 0 or more"),
        ([Observation(1, True)], 1.0, "confidence"),
    ],
)
def test_bad_input_is_refused(
    observations: list[Observation], confidence: float, message: str
) -> None:
    with pytest.raises(ClinicalInputError, match=message):
        kaplan_meier(observations, confidence=confidence)
