"""Scoring of the clinic's rating scales.

Scores are integers (every instrument here sums integer item ratings), so there is no rounding.
Answers are validated item by item: a missing item, an extra item, a non-integer or an out-of-range
rating is refused with a :class:`ClinicalInputError` that names the instrument and the item; nothing
is filled in.

Licensing: PCL-5, PHQ-9 and GAD-7 are public domain. CAPS-5, MADRS, C-SSRS and CADSS item text is
licensed, so this module stores ratings/answers with short labels or codes only (clinical.md s. 5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ketaflow.clinical import sources
from ketaflow.clinical.common import count_text
from ketaflow.clinical.errors import ClinicalInputError


class Instrument(StrEnum):
    """The instruments this module scores (values are the CLI names)."""

    PCL5 = "pcl5"
    PHQ9 = "phq9"
    GAD7 = "gad7"
    CSSRS = "cssrs"
    CAPS5 = "caps5"
    MADRS = "madrs"
    CADSS = "cadss"
    ALDRETE = "aldrete"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: Final[Mapping[Instrument, str]] = MappingProxyType(
    {
        Instrument.PCL5: "PCL-5",
        Instrument.PHQ9: "PHQ-9",
        Instrument.GAD7: "GAD-7",
        Instrument.CSSRS: "C-SSRS screener",
        Instrument.CAPS5: "CAPS-5",
        Instrument.MADRS: "MADRS",
        Instrument.CADSS: "CADSS",
        Instrument.ALDRETE: "Modified Aldrete",
    }
)


@dataclass(frozen=True)
class ItemRange:
    """How many items an instrument has and the inclusive range of each rating."""

    count: int
    minimum: int
    maximum: int

    @property
    def max_total(self) -> int:
        return self.count * self.maximum


# Item counts and ranges, each from the instrument's publication (clinical.md section 5 / 4.4-4.5).
PCL5_ITEMS: Final = ItemRange(20, 0, 4)  # Weathers 2013; Blevins 2015: 20 items rated 0-4
CAPS5_ITEMS: Final = ItemRange(20, 0, 4)  # Weathers 2018: 20 symptom severities 0-4
PHQ9_ITEMS: Final = ItemRange(9, 0, 3)  # Kroenke 2001: 9 items rated 0-3
GAD7_ITEMS: Final = ItemRange(7, 0, 3)  # Spitzer 2006: 7 items rated 0-3
MADRS_ITEMS: Final = ItemRange(10, 0, 6)  # Montgomery & Asberg 1979: 10 items rated 0-6
ALDRETE_ITEMS: Final = ItemRange(5, 0, 2)  # Aldrete 1995: 5 items rated 0-2
CSSRS_ITEM_COUNT: Final = 6  # Posner 2011 screener: up to six yes/no questions


class CadssVersion(StrEnum):
    """CADSS versions differ in item count (clinical.md 4.4); the version is always explicit."""

    ITEMS_23 = "23"  # 23-item version used in the ketamine literature (2024 validation abstract)
    ITEMS_28 = "28"  # full 28-item scale, subjective + observer (Bremner 2014 instructions)

    @property
    def items(self) -> ItemRange:
        # Items rated 0-4 "not at all" to "extremely" (Bremner 1998) [RECALLED, unverified].
        return ItemRange(int(self.value), 0, 4)


# PTSD symptom clusters by item number, the same for PCL-5 and CAPS-5 (Blevins 2015; Weathers 2018).
PTSD_CLUSTERS: Final[Mapping[str, range]] = MappingProxyType(
    {"B": range(1, 6), "C": range(6, 8), "D": range(8, 15), "E": range(15, 21)}
)
# Provisional DSM-5 diagnosis: endorsed items per cluster needed (Weathers 2013; Weathers 2018).
PTSD_CLUSTER_MINIMUM: Final[Mapping[str, int]] = MappingProxyType({"B": 1, "C": 1, "D": 2, "E": 2})
# An item rated 2 ("moderately"/threshold) or more counts as endorsed (Weathers 2013; 2018).
PTSD_ENDORSED_MIN_RATING: Final = 2

# CAPS-5 symptom codes (short labels only; the item text is licensed).
CAPS5_ITEM_CODES: Final = tuple(
    f"{cluster}{i + 1}" for cluster, items in PTSD_CLUSTERS.items() for i in range(len(items))
)
MADRS_ITEM_LABELS: Final = (
    "apparent sadness",
    "reported sadness",
    "inner tension",
    "reduced sleep",
    "reduced appetite",
    "concentration difficulties",
    "lassitude",
    "inability to feel",
    "pessimistic thoughts",
    "suicidal thoughts",
)
ALDRETE_ITEM_LABELS: Final = (
    "activity",
    "respiration",
    "circulation",
    "consciousness",
    "oxygen saturation",
)
CSSRS_ITEM_LABELS: Final = (
    "wish to be dead",
    "non-specific active suicidal thoughts",
    "active ideation with method, no intent",
    "active ideation with some intent, no plan",
    "active ideation with plan and intent",
    "suicidal behaviour",
)


@dataclass(frozen=True)
class InstrumentSettings:
    """Clinic-configurable cut-points for scoring.

    ``pcl5_probable_ptsd_cutpoint``: a PCL-5 total at or above it is "probable PTSD". The VA
    National Center for PTSD gives 31-33; the default 33 is the value named in issue 3 (the upper
    end: fewer false positives; a clinic may lower it to 31 for screening sensitivity). Values
    outside the published 31-33 are refused.
    ``aldrete_discharge_minimum``: total needed for discharge readiness, 9 (Aldrete 1995).
    """

    pcl5_probable_ptsd_cutpoint: int = 33  # VA NCPTSD range 31-33; default 33 per issue 3
    aldrete_discharge_minimum: int = 9  # Aldrete 1995 revision: discharge at 9 or more of 10

    def __post_init__(self) -> None:
        if not 31 <= self.pcl5_probable_ptsd_cutpoint <= 33:
            raise ClinicalInputError(
                "pcl5_probable_ptsd_cutpoint must be within the published range 31-33, got "
                f"{self.pcl5_probable_ptsd_cutpoint}"
            )
        if not 1 <= self.aldrete_discharge_minimum <= ALDRETE_ITEMS.max_total:
            raise ClinicalInputError(
                f"aldrete_discharge_minimum must be 1-10, got {self.aldrete_discharge_minimum}"
            )


DEFAULT_INSTRUMENT_SETTINGS: Final = InstrumentSettings()


class Severity(StrEnum):
    """Severity bands of PHQ-9 and GAD-7 (GAD-7 has no "moderately severe")."""

    MINIMAL = "minimal"
    MILD = "mild"
    MODERATE = "moderate"
    MODERATELY_SEVERE = "moderately severe"
    SEVERE = "severe"


class SuicideRisk(StrEnum):
    """C-SSRS screener triage level (Columbia triage version)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"

    @property
    def label(self) -> str:
        return self.value.capitalize()


_RISK_ORDER: Final = (SuicideRisk.LOW, SuicideRisk.MODERATE, SuicideRisk.HIGH)
# A C-SSRS screener at these levels raises the suicide-risk flag and opens the urgent safety
# pathway, wherever it is answered (consultation, clinic, portal; Posner 2011, clinical.md s. 3, 5).
URGENT_SUICIDE_RISKS: Final = frozenset({SuicideRisk.MODERATE, SuicideRisk.HIGH})
# PHQ-9 item 9 (thoughts of being better off dead or of self-harm) rated above 0 raises the
# suicide-risk flag (Kroenke 2001; clinical.md s. 5).
PHQ9_SUICIDE_ITEM: Final = 9


@dataclass(frozen=True)
class Pcl5Result:
    instrument: Instrument
    total: int
    clusters: Mapping[str, int]
    provisional_diagnosis: bool
    probable_ptsd: bool
    cutpoint: int
    item_scores: tuple[int, ...]
    explanation: tuple[str, ...]
    source: str = sources.PCL5_WEATHERS_2013


@dataclass(frozen=True)
class Caps5Result:
    """CAPS-5 total symptom severity; ``provisional_diagnosis`` covers criteria B-E only."""

    instrument: Instrument
    total: int
    clusters: Mapping[str, int]
    provisional_diagnosis: bool
    item_scores: Mapping[str, int]
    explanation: tuple[str, ...]
    source: str = sources.CAPS5_WEATHERS_2018


@dataclass(frozen=True)
class Phq9Result:
    instrument: Instrument
    total: int
    severity: Severity
    suicide_risk_flag: bool
    item_scores: tuple[int, ...]
    explanation: tuple[str, ...]
    source: str = sources.PHQ9_KROENKE_2001


@dataclass(frozen=True)
class Gad7Result:
    instrument: Instrument
    total: int
    severity: Severity
    item_scores: tuple[int, ...]
    explanation: tuple[str, ...]
    source: str = sources.GAD7_SPITZER_2006


@dataclass(frozen=True)
class CssrsResult:
    """C-SSRS screener. ``total`` is the number of "yes" answers (not a severity score)."""

    instrument: Instrument
    total: int
    risk: SuicideRisk
    answers: Mapping[str, bool]
    behaviour_within_3_months: bool | None
    explanation: tuple[str, ...]
    source: str = sources.CSSRS_POSNER_2011


@dataclass(frozen=True)
class MadrsResult:
    instrument: Instrument
    total: int
    item_scores: Mapping[str, int]
    explanation: tuple[str, ...]
    source: str = sources.MADRS_1979


@dataclass(frozen=True)
class CadssResult:
    instrument: Instrument
    total: int
    version: CadssVersion
    max_total: int
    item_scores: tuple[int, ...]
    explanation: tuple[str, ...]
    source: str = sources.CADSS_BREMNER_1998


@dataclass(frozen=True)
class AldreteResult:
    instrument: Instrument
    total: int
    discharge_ready: bool
    discharge_minimum: int
    item_scores: Mapping[str, int]
    explanation: tuple[str, ...]
    source: str = sources.ALDRETE_1995


ScoreResult = (
    Pcl5Result
    | Caps5Result
    | Phq9Result
    | Gad7Result
    | CssrsResult
    | MadrsResult
    | CadssResult
    | AldreteResult
)


def validate_ratings(
    instrument: Instrument, answers: Sequence[int], spec: ItemRange
) -> tuple[int, ...]:
    """Check count, type and range of every rating; refuse naming the first bad item (1-based)."""
    if len(answers) != spec.count:
        raise ClinicalInputError(
            f"{instrument.label} needs exactly {spec.count} item ratings, got {len(answers)}"
            + (f" (item {len(answers) + 1} is missing)" if len(answers) < spec.count else "")
        )
    for number, value in enumerate(answers, start=1):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ClinicalInputError(
                f"{instrument.label} item {number}: {value!r} is not a whole-number rating"
            )
        if not spec.minimum <= value <= spec.maximum:
            raise ClinicalInputError(
                f"{instrument.label} item {number}: rating {value} is outside "
                f"{spec.minimum}-{spec.maximum}"
            )
    return tuple(answers)


def _ptsd_clusters(items: tuple[int, ...]) -> tuple[dict[str, int], bool, list[str]]:
    clusters: dict[str, int] = {}
    met_all = True
    notes: list[str] = []
    for name, numbers in PTSD_CLUSTERS.items():
        ratings = [items[n - 1] for n in numbers]
        clusters[name] = sum(ratings)
        endorsed = sum(1 for r in ratings if r >= PTSD_ENDORSED_MIN_RATING)
        needed = PTSD_CLUSTER_MINIMUM[name]
        met = endorsed >= needed
        met_all = met_all and met
        notes.append(
            f"Cluster {name}: {count_text(endorsed, 'item')} rated {PTSD_ENDORSED_MIN_RATING}+ "
            f"(needs {needed}) - {'met' if met else 'not met'}."
        )
    return clusters, met_all, notes


def score_pcl5(
    answers: Sequence[int], settings: InstrumentSettings = DEFAULT_INSTRUMENT_SETTINGS
) -> Pcl5Result:
    """PCL-5: total 0-80, clusters B/C/D/E, provisional DSM-5 diagnosis, probable PTSD."""
    items = validate_ratings(Instrument.PCL5, answers, PCL5_ITEMS)
    clusters, provisional, notes = _ptsd_clusters(items)
    total = sum(items)
    probable = total >= settings.pcl5_probable_ptsd_cutpoint
    explanation = (
        f"Total {total} of 80.",
        *notes,
        "Provisional DSM-5 diagnosis "
        + ("met" if provisional else "not met")
        + " (items rated 2+ endorsed; needs 1 B, 1 C, 2 D, 2 E).",
        f"Probable PTSD {'yes' if probable else 'no'}: total {total} "
        f"{'>=' if probable else '<'} cut-point {settings.pcl5_probable_ptsd_cutpoint} "
        "(VA range 31-33).",
    )
    return Pcl5Result(
        instrument=Instrument.PCL5,
        total=total,
        clusters=MappingProxyType(clusters),
        provisional_diagnosis=provisional,
        probable_ptsd=probable,
        cutpoint=settings.pcl5_probable_ptsd_cutpoint,
        item_scores=items,
        explanation=explanation,
    )


def score_caps5(answers: Sequence[int]) -> Caps5Result:
    """CAPS-5 (clinician-entered symptom severities B1-E6, 0-4): total 0-80 and clusters.

    ``provisional_diagnosis`` means the symptom criteria B-E are met (severity 2+ counts); a CAPS-5
    diagnosis also needs criterion A, duration over one month and distress/impairment, which the
    clinician records separately.
    """
    items = validate_ratings(Instrument.CAPS5, answers, CAPS5_ITEMS)
    clusters, provisional, notes = _ptsd_clusters(items)
    total = sum(items)
    return Caps5Result(
        instrument=Instrument.CAPS5,
        total=total,
        clusters=MappingProxyType(clusters),
        provisional_diagnosis=provisional,
        item_scores=MappingProxyType(dict(zip(CAPS5_ITEM_CODES, items, strict=True))),
        explanation=(
            f"Total symptom severity {total} of 80.",
            *notes,
            "Symptom criteria B-E " + ("met" if provisional else "not met") + "; a diagnosis also "
            "needs criterion A, duration over 1 month and distress or impairment.",
        ),
    )


# PHQ-9 bands 0-4 / 5-9 / 10-14 / 15-19 / 20-27 (Kroenke 2001); lower bound of each band.
PHQ9_BANDS: Final = (
    (20, Severity.SEVERE),
    (15, Severity.MODERATELY_SEVERE),
    (10, Severity.MODERATE),
    (5, Severity.MILD),
    (0, Severity.MINIMAL),
)
# GAD-7 bands at 5 / 10 / 15 (Spitzer 2006).
GAD7_BANDS: Final = (
    (15, Severity.SEVERE),
    (10, Severity.MODERATE),
    (5, Severity.MILD),
    (0, Severity.MINIMAL),
)


def _band(total: int, bands: tuple[tuple[int, Severity], ...]) -> Severity:
    """The band whose lower bound is the highest one not above ``total`` (bands end at 0)."""
    return next((severity for lower, severity in bands if total >= lower), bands[-1][1])


def score_phq9(answers: Sequence[int]) -> Phq9Result:
    """PHQ-9: total 0-27, severity band, and a suicide-risk flag if item 9 is above 0."""
    items = validate_ratings(Instrument.PHQ9, answers, PHQ9_ITEMS)
    total = sum(items)
    severity = _band(total, PHQ9_BANDS)
    # Item 9 any score > 0 -> suicide risk assessment, e.g. C-SSRS (Kroenke 2001; clinical.md s. 5).
    flag = items[PHQ9_SUICIDE_ITEM - 1] > 0
    return Phq9Result(
        instrument=Instrument.PHQ9,
        total=total,
        severity=severity,
        suicide_risk_flag=flag,
        item_scores=items,
        explanation=(
            f"Total {total} of 27: {severity.value} (bands 0-4, 5-9, 10-14, 15-19, 20-27).",
            (
                f"Item 9 rated {items[PHQ9_SUICIDE_ITEM - 1]}: suicide-risk flag raised; a "
                "clinician must complete a suicide risk assessment (e.g. C-SSRS) before anything "
                "else."
                if flag
                else "Item 9 rated 0: no suicide-risk flag."
            ),
        ),
    )


def score_gad7(answers: Sequence[int]) -> Gad7Result:
    """GAD-7: total 0-21 and band (minimal, mild 5+, moderate 10+, severe 15+)."""
    items = validate_ratings(Instrument.GAD7, answers, GAD7_ITEMS)
    total = sum(items)
    severity = _band(total, GAD7_BANDS)
    return Gad7Result(
        instrument=Instrument.GAD7,
        total=total,
        severity=severity,
        item_scores=items,
        explanation=(f"Total {total} of 21: {severity.value} (cut-points 5, 10, 15).",),
    )


def score_cssrs(
    answers: Sequence[bool], *, behaviour_within_3_months: bool | None = None
) -> CssrsResult:
    """C-SSRS screener triage from six yes/no answers (clinician-administered).

    Triage (Columbia, clinical.md s. 5): a "yes" to item 1 or 2 is low risk; item 3 moderate;
    item 4 or 5 high; item 6 (behaviour) moderate if more than 3 months ago, high if within 3
    months.
    No "yes" at all is reported as low (the lowest triage level), and says so.

    Skip logic: items 3-5 are only asked when item 2 is "yes"; a "yes" on 3-5 with item 2 "no" is
    refused as an entry error. If item 6 is "yes" and ``behaviour_within_3_months`` is not given,
    the behaviour is treated as recent (high risk, the safer reading) and the explanation says so.
    """
    if len(answers) != CSSRS_ITEM_COUNT:
        raise ClinicalInputError(
            f"C-SSRS screener needs exactly {CSSRS_ITEM_COUNT} yes/no answers, got {len(answers)}"
        )
    for number, value in enumerate(answers, start=1):
        if not isinstance(value, bool):
            raise ClinicalInputError(f"C-SSRS screener item {number}: {value!r} is not yes/no")
    if not answers[1]:
        for number in (3, 4, 5):
            if answers[number - 1]:
                raise ClinicalInputError(
                    f"C-SSRS screener item {number}: answered yes although item 2 is no "
                    "(items 3-5 are only asked after a yes to item 2)"
                )
    if behaviour_within_3_months is not None and not answers[5]:
        raise ClinicalInputError(
            "C-SSRS screener item 6: behaviour timing given although item 6 is no"
        )
    risk = SuicideRisk.LOW
    reasons: list[str] = []
    if answers[0] or answers[1]:
        reasons.append("Item 1 or 2 yes (ideation without method): low risk.")
    if answers[2]:
        risk = SuicideRisk.MODERATE
        reasons.append("Item 3 yes (ideation with method): moderate risk.")
    if answers[3] or answers[4]:
        risk = SuicideRisk.HIGH
        reasons.append("Item 4 or 5 yes (intent, or intent with plan): high risk.")
    if answers[5]:
        if behaviour_within_3_months is False:
            risk = max(risk, SuicideRisk.MODERATE, key=_RISK_ORDER.index)
            reasons.append("Item 6 yes, behaviour more than 3 months ago: moderate risk.")
        else:
            risk = SuicideRisk.HIGH
            reasons.append(
                "Item 6 yes, behaviour within the past 3 months: high risk."
                if behaviour_within_3_months
                else "Item 6 yes, timing not recorded: treated as within 3 months (high risk)."
            )
    if not any(answers):
        reasons.append("No item answered yes: lowest triage level (low).")
    if risk is not SuicideRisk.LOW:
        reasons.append("A clinician must follow the clinic's suicide-risk pathway now.")
    return CssrsResult(
        instrument=Instrument.CSSRS,
        total=sum(answers),
        risk=risk,
        answers=MappingProxyType(dict(zip(CSSRS_ITEM_LABELS, answers, strict=True))),
        behaviour_within_3_months=behaviour_within_3_months,
        explanation=tuple(reasons),
    )


def score_madrs(answers: Sequence[int]) -> MadrsResult:
    """MADRS: ten clinician ratings 0-6, total 0-60 (labels only; item text is licensed)."""
    items = validate_ratings(Instrument.MADRS, answers, MADRS_ITEMS)
    total = sum(items)
    return MadrsResult(
        instrument=Instrument.MADRS,
        total=total,
        item_scores=MappingProxyType(dict(zip(MADRS_ITEM_LABELS, items, strict=True))),
        explanation=(f"Total {total} of 60.",),
    )


def score_cadss(
    answers: Sequence[int], version: CadssVersion = CadssVersion.ITEMS_23
) -> CadssResult:
    """CADSS: item scores 0-4 and total for the stated version (23 or 28 items)."""
    spec = version.items
    items = validate_ratings(Instrument.CADSS, answers, spec)
    total = sum(items)
    return CadssResult(
        instrument=Instrument.CADSS,
        total=total,
        version=version,
        max_total=spec.max_total,
        item_scores=items,
        explanation=(f"Total {total} of {spec.max_total} ({version.value}-item version).",),
    )


def score_aldrete(
    answers: Sequence[int], settings: InstrumentSettings = DEFAULT_INSTRUMENT_SETTINGS
) -> AldreteResult:
    """Modified Aldrete: five items 0-2 (activity, respiration, circulation, consciousness,
    oxygen saturation), total 0-10; ready for discharge at 9 or more (Aldrete 1995)."""
    items = validate_ratings(Instrument.ALDRETE, answers, ALDRETE_ITEMS)
    total = sum(items)
    ready = total >= settings.aldrete_discharge_minimum
    low = [label for label, v in zip(ALDRETE_ITEM_LABELS, items, strict=True) if v == 0]
    explanation = [
        f"Total {total} of 10: {'ready' if ready else 'not ready'} for discharge "
        f"(needs {settings.aldrete_discharge_minimum} or more)."
    ]
    if low:
        explanation.append("Scored 0: " + ", ".join(low) + ".")
    return AldreteResult(
        instrument=Instrument.ALDRETE,
        total=total,
        discharge_ready=ready,
        discharge_minimum=settings.aldrete_discharge_minimum,
        item_scores=MappingProxyType(dict(zip(ALDRETE_ITEM_LABELS, items, strict=True))),
        explanation=tuple(explanation),
    )


def parse_ratings(text: str) -> list[int]:
    """Parse ``"0,1,2"`` into integers, naming the item that is not a whole number."""
    parts = [p.strip() for p in text.split(",")]
    if parts == [""]:
        raise ClinicalInputError("no answers given")
    values: list[int] = []
    for number, part in enumerate(parts, start=1):
        if part == "":
            raise ClinicalInputError(f"item {number}: empty answer")
        try:
            values.append(int(part, 10))
        except ValueError:
            raise ClinicalInputError(f"item {number}: {part!r} is not a whole number") from None
    return values


_YES: Final = frozenset({"y", "yes", "true", "1"})
_NO: Final = frozenset({"n", "no", "false", "0"})


def parse_yes_no(text: str, *, what: str = "item") -> bool:
    """Parse one yes/no answer (y/yes/n/no, any case); refuse anything else."""
    value = text.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise ClinicalInputError(f"{what}: {text!r} is not y or n")


def parse_yes_no_list(text: str) -> list[bool]:
    """Parse ``"y,n,n,..."``, naming the item that is not y/n."""
    parts = text.split(",")
    return [parse_yes_no(p, what=f"item {n}") for n, p in enumerate(parts, start=1)]


def score(
    instrument: Instrument,
    answers: Sequence[int],
    *,
    settings: InstrumentSettings = DEFAULT_INSTRUMENT_SETTINGS,
    cadss_version: CadssVersion = CadssVersion.ITEMS_23,
    cssrs_behaviour_within_3_months: bool | None = None,
) -> ScoreResult:
    """Score any instrument by name: C-SSRS takes booleans (yes/no), all others integer ratings
    (a boolean given as a rating is refused, naming the item)."""
    if instrument is Instrument.CSSRS:
        flags: list[bool] = []
        for number, value in enumerate(answers, start=1):
            if not isinstance(value, bool):
                raise ClinicalInputError(f"C-SSRS screener item {number}: {value!r} is not yes/no")
            flags.append(value)
        return score_cssrs(flags, behaviour_within_3_months=cssrs_behaviour_within_3_months)
    if instrument is Instrument.PCL5:
        return score_pcl5(answers, settings)
    if instrument is Instrument.PHQ9:
        return score_phq9(answers)
    if instrument is Instrument.GAD7:
        return score_gad7(answers)
    if instrument is Instrument.CAPS5:
        return score_caps5(answers)
    if instrument is Instrument.MADRS:
        return score_madrs(answers)
    if instrument is Instrument.CADSS:
        return score_cadss(answers, cadss_version)
    return score_aldrete(answers, settings)


# The full scale of each instrument's total (the most it can score), from its item ranges above.
# C-SSRS has no total scale (its total counts "yes" answers); CADSS depends on the version.
FULL_SCALE: Final[Mapping[Instrument, int]] = MappingProxyType(
    {
        Instrument.PCL5: PCL5_ITEMS.max_total,  # 80
        Instrument.PHQ9: PHQ9_ITEMS.max_total,  # 27
        Instrument.GAD7: GAD7_ITEMS.max_total,  # 21
        Instrument.CAPS5: CAPS5_ITEMS.max_total,  # 80
        Instrument.MADRS: MADRS_ITEMS.max_total,  # 60
        Instrument.ALDRETE: ALDRETE_ITEMS.max_total,  # 10
    }
)


def suicide_risk(result: ScoreResult) -> tuple[bool, SuicideRisk | None]:
    """Whether a scored response raises the suicide-risk flag, and the C-SSRS triage level if it
    has one: PHQ-9 by item 9, the C-SSRS screener at moderate or high risk."""
    if isinstance(result, CssrsResult):
        return result.risk in URGENT_SUICIDE_RISKS, result.risk
    if isinstance(result, Phq9Result):
        return result.suicide_risk_flag, None
    return False, None
