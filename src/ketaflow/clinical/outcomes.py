"""Outcomes from a series of scores: change from baseline, response, remission, minimal important
and reliable change, and loss of response. Each classification explains itself.

Lower scores are better on every measure here. ``percent_change`` is ``(latest - baseline) /
baseline * 100`` as a float, unrounded (negative = improvement); *reduction* means its negative.
With a baseline of 0 the percent change is undefined and response cannot be judged (said so).
Definitions differ between trials (clinical.md s. 5-6), so every cut-point is a clinic setting.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ketaflow.clinical import sources
from ketaflow.clinical.common import Indication, count_text
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.clinical.instruments import FULL_SCALE, Instrument


class Measure(StrEnum):
    PCL5 = "pcl5"
    CAPS5 = "caps5"
    PHQ9 = "phq9"
    MADRS = "madrs"

    @property
    def domain(self) -> Indication:
        return Indication.PTSD if self in (Measure.PCL5, Measure.CAPS5) else Indication.DEPRESSION

    @property
    def max_score(self) -> int:
        # The instrument's full scale (ketaflow.clinical.instruments.FULL_SCALE).
        return FULL_SCALE[Instrument(self.value)]


@dataclass(frozen=True)
class MeasureRules:
    """Outcome definitions for one measure (``None`` = not defined for this measure)."""

    response_reduction_percent: float
    remission_at_or_below: int
    minimal_important_change: float | None
    reliable_change: float | None
    # Loss of response: reduction falls below this percentage on ``consecutive`` measurements.
    loss_below_reduction_percent: float
    sources: str

    def response_at_or_below(self, baseline: int) -> float | None:
        """The score that meets the response criterion from ``baseline`` (a reduction of
        ``response_reduction_percent``); ``None`` for a baseline of 0 (no percent change)."""
        if baseline == 0:
            return None
        return baseline * (1 - self.response_reduction_percent / 100)


def _default_rules() -> Mapping[Measure, MeasureRules]:
    return MappingProxyType(
        {
            Measure.PCL5: MeasureRules(
                response_reduction_percent=30.0,  # Feder 2021: >= 30% (CAPS-5), issue 3 default
                # Remission: PCL-5 < 31-33 [RECALLED] vs Marx 2022 end-state <= 28: stricter kept.
                remission_at_or_below=28,
                # MCID: VA 10 [RECALLED] vs Blanchard 2023 9-12: 10 (inside both).
                minimal_important_change=10.0,
                reliable_change=18.0,  # Marx 2022: 15-18, stricter end
                loss_below_reduction_percent=30.0,  # clinical.md s. 6: below 30% improvement
                sources=(
                    f"{sources.FEDER_2021}; {sources.PCL5_MARX_2022}; {sources.PCL5_MCID_VA}; "
                    "Blanchard et al. 2023, J Trauma Stress"
                ),
            ),
            Measure.CAPS5: MeasureRules(
                response_reduction_percent=30.0,  # Feder 2021: >= 30% CAPS-5 reduction
                remission_at_or_below=8,  # Marx 2022: end-state <= 8
                minimal_important_change=None,  # none found in the sources read
                reliable_change=13.0,  # Marx 2022: 12-13, stricter end
                loss_below_reduction_percent=30.0,  # clinical.md s. 6: below 30% improvement
                sources=f"{sources.FEDER_2021}; {sources.CAPS5_MARX_2022}",
            ),
            Measure.PHQ9: MeasureRules(
                response_reduction_percent=50.0,  # depression: >= 50% (Murrough 2013; ELEKT-D)
                remission_at_or_below=4,  # PHQ-9 minimal band 0-4 (Kroenke 2001)
                minimal_important_change=5.0,  # Lowe 2004 [RECALLED, unverified]
                reliable_change=None,
                loss_below_reduction_percent=50.0,  # no longer meeting the response criterion
                sources=(
                    f"{sources.MURROUGH_2013}; {sources.ELEKT_D_2023}; "
                    f"{sources.PHQ9_KROENKE_2001}; {sources.PHQ9_MCID_LOWE_2004}"
                ),
            ),
            Measure.MADRS: MeasureRules(
                response_reduction_percent=50.0,  # Murrough 2013; Fava 2018: >= 50% MADRS
                remission_at_or_below=10,  # KetECT <= 10 vs others <= 12: stricter kept
                minimal_important_change=None,  # none found in the sources read
                reliable_change=None,
                loss_below_reduction_percent=50.0,  # no longer meeting the response criterion
                sources=f"{sources.MURROUGH_2013}; {sources.MADRS_REMISSION_KETECT}",
            ),
        }
    )


@dataclass(frozen=True)
class OutcomeSettings:
    rules: Mapping[Measure, MeasureRules] = field(default_factory=_default_rules)
    # clinical.md s. 6: "falls below 30% improvement on 2 consecutive weekly measures".
    loss_consecutive_measurements: int = 2

    def __post_init__(self) -> None:
        if self.loss_consecutive_measurements < 1:
            raise ClinicalInputError("loss_consecutive_measurements must be 1 or more")


DEFAULT_OUTCOME_SETTINGS: Final = OutcomeSettings()


@dataclass(frozen=True)
class ScorePoint:
    on: datetime.date
    score: int


@dataclass(frozen=True)
class Classification:
    """One yes/no judgement; ``met`` is ``None`` when it cannot be judged (and says why)."""

    name: str
    met: bool | None
    explanation: str


@dataclass(frozen=True)
class OutcomeAssessment:
    measure: Measure
    baseline: ScorePoint
    latest: ScorePoint
    change: int
    percent_change: float | None
    response: Classification
    remission: Classification
    minimal_important_change: Classification
    reliable_change: Classification
    loss_of_response: Classification
    responded_on: datetime.date | None
    lost_on: datetime.date | None
    source: str


def _reduction(baseline: int, score: int) -> float | None:
    if baseline == 0:
        return None
    return (baseline - score) / baseline * 100.0


def assess_outcome(
    measure: Measure,
    series: Sequence[ScorePoint],
    settings: OutcomeSettings = DEFAULT_OUTCOME_SETTINGS,
    *,
    baseline: ScorePoint | None = None,
) -> OutcomeAssessment:
    """Assess a chronological series of scores (the first is the baseline unless one is given)."""
    points = list(series)
    if baseline is not None:
        points.insert(0, baseline)
    if len(points) < 1:
        raise ClinicalInputError(f"{measure.value}: no scores given")
    for i, p in enumerate(points):
        if isinstance(p.score, bool) or not isinstance(p.score, int):
            raise ClinicalInputError(
                f"{measure.value} score {i + 1}: {p.score!r} is not an integer"
            )
        if not 0 <= p.score <= measure.max_score:
            raise ClinicalInputError(
                f"{measure.value} score {i + 1} ({p.on}): {p.score} is outside "
                f"0-{measure.max_score}"
            )
        if i and p.on < points[i - 1].on:
            raise ClinicalInputError(
                f"{measure.value} score {i + 1} ({p.on}) is earlier than score {i} "
                f"({points[i - 1].on}); give the scores in date order"
            )
    rules = settings.rules[measure]
    first, last = points[0], points[-1]
    change = last.score - first.score
    reduction = _reduction(first.score, last.score)
    percent_change = None if reduction is None else -reduction

    # Response
    threshold = rules.response_reduction_percent
    if reduction is None:
        response = Classification(
            "response", None, "Baseline is 0, so percent change is undefined."
        )
    else:
        met = reduction >= threshold
        response = Classification(
            "response",
            met,
            f"Reduction {reduction:.1f}% from baseline {first.score} to {last.score} "
            f"{'meets' if met else 'does not meet'} the {threshold:g}% response criterion.",
        )

    # Remission
    remitted = last.score <= rules.remission_at_or_below
    remission = Classification(
        "remission",
        remitted,
        f"Latest score {last.score} is {'at or below' if remitted else 'above'} the remission "
        f"cut-point {rules.remission_at_or_below}.",
    )

    improvement = first.score - last.score
    mic = _change_classification(
        "minimal_important_change", improvement, rules.minimal_important_change, "minimal important"
    )
    reliable = _change_classification(
        "reliable_change", improvement, rules.reliable_change, "reliable"
    )

    # Loss of response after a response
    responded_on: datetime.date | None = None
    lost_on: datetime.date | None = None
    n = settings.loss_consecutive_measurements
    below_run = 0
    if first.score > 0:
        for p in points[1:]:
            red = (first.score - p.score) / first.score * 100.0
            if responded_on is None:
                if red >= threshold:
                    responded_on = p.on
                continue
            if red < rules.loss_below_reduction_percent:
                below_run += 1
                if below_run >= n and lost_on is None:
                    lost_on = p.on
            else:
                below_run = 0
                lost_on = None
    if responded_on is None:
        loss = Classification(
            "loss_of_response", False, "No response yet, so there is no response to lose."
        )
    elif lost_on is not None:
        loss = Classification(
            "loss_of_response",
            True,
            f"Responded on {responded_on}; since then the reduction has been below "
            f"{rules.loss_below_reduction_percent:g}% on "
            f"{count_text(below_run, 'consecutive measurement')} "
            f"(rule: {n}), first meeting the rule on {lost_on}.",
        )
    else:
        loss = Classification(
            "loss_of_response",
            False,
            f"Responded on {responded_on}; the reduction has not been below "
            f"{rules.loss_below_reduction_percent:g}% on {n} consecutive measurements.",
        )
    return OutcomeAssessment(
        measure=measure,
        baseline=first,
        latest=last,
        change=change,
        percent_change=percent_change,
        response=response,
        remission=remission,
        minimal_important_change=mic,
        reliable_change=reliable,
        loss_of_response=loss,
        responded_on=responded_on,
        lost_on=lost_on,
        source=rules.sources,
    )


def _change_classification(
    name: str, improvement: int, threshold: float | None, label: str
) -> Classification:
    if threshold is None:
        return Classification(name, None, f"No {label} change is configured for this measure.")
    met = improvement >= threshold
    return Classification(
        name,
        met,
        f"Improvement of {count_text(improvement, 'point')} "
        f"{'reaches' if met else 'does not reach'} the "
        f"{label} change of {threshold:g} points.",
    )
