"""Treatment resistance: which prior trials were adequate and failed, and whether that is enough.

The trial types mirror what the patients registry stores: a psychotherapy course (modality,
sessions completed, start and end dates, outcome) and a medication trial (drug, dose in mg/day,
duration in weeks, outcome, reason stopped). Adequacy thresholds are clinic settings: the published
values are recalled ranges (clinical.md s. 3), so each default names its source and its tag.

A trial *counts* toward resistance when it was adequate (enough sessions, or enough dose for long
enough) and did not work (no response or partial response). A trial stopped for intolerance, one
that worked, or one whose outcome is unknown does not count, and the judgement says why. A drug
counts once however often it was tried: trials are matched case-insensitively by generic name, a
brand name standing for its generic (``ketaflow.clinical.medicines``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ketaflow.clinical import medicines, sources
from ketaflow.clinical.common import Indication, count_text
from ketaflow.clinical.errors import ClinicalInputError


class PsychotherapyModality(StrEnum):
    """First-line trauma-focused psychotherapies (VA/DoD 2023 PTSD CPG) and "other"."""

    PE = "PE"  # prolonged exposure
    CPT = "CPT"  # cognitive processing therapy
    EMDR = "EMDR"  # eye movement desensitisation and reprocessing
    OTHER = "other"


class TrialOutcome(StrEnum):
    """Outcome of a prior treatment as recorded in the registry."""

    NO_RESPONSE = "no_response"
    PARTIAL_RESPONSE = "partial_response"
    RESPONSE = "response"
    REMISSION = "remission"
    NOT_TOLERATED = "not_tolerated"
    UNKNOWN = "unknown"


_FAILED: Final = frozenset({TrialOutcome.NO_RESPONSE, TrialOutcome.PARTIAL_RESPONSE})


@dataclass(frozen=True)
class PsychotherapyTrial:
    modality: PsychotherapyModality
    sessions_completed: int
    outcome: TrialOutcome
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None

    def __post_init__(self) -> None:
        if isinstance(self.sessions_completed, bool) or self.sessions_completed < 0:
            raise ClinicalInputError(
                f"psychotherapy {self.modality.value}: sessions_completed must be 0 or more"
            )
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ClinicalInputError(
                f"psychotherapy {self.modality.value}: end_date is before start_date"
            )

    @property
    def label(self) -> str:
        return f"{self.modality.value} ({self.sessions_completed} sessions)"


@dataclass(frozen=True)
class MedicationTrial:
    """A medication trial. ``in_current_episode`` matters for TRD (None = not recorded)."""

    drug: str
    dose_mg_per_day: float
    duration_weeks: float
    outcome: TrialOutcome
    reason_stopped: str = ""
    in_current_episode: bool | None = None

    def __post_init__(self) -> None:
        if not self.drug.strip():
            raise ClinicalInputError("medication trial: drug name is blank")
        if not self.dose_mg_per_day > 0:
            raise ClinicalInputError(f"medication trial {self.drug}: dose_mg_per_day must be > 0")
        if not self.duration_weeks > 0:
            raise ClinicalInputError(f"medication trial {self.drug}: duration_weeks must be > 0")

    @property
    def key(self) -> str:
        """The drug's generic name: brand and generic are one drug (``medicines``)."""
        return medicines.generic_name(self.drug)

    @property
    def label(self) -> str:
        return f"{self.drug} {self.dose_mg_per_day:g} mg/day for {self.duration_weeks:g} weeks"


@dataclass(frozen=True)
class ResistanceSettings:
    """Clinic-configurable adequacy rules and how many failed trials make a patient resistant."""

    # Trauma-focused psychotherapy >=8-12 sessions; CPT protocol 12 sessions; PE ~8-15
    # (clinical.md s. 3 [RECALLED, unverified]): lower bound 8, CPT its full 12-session protocol.
    min_sessions: Mapping[PsychotherapyModality, int] = field(
        default_factory=lambda: MappingProxyType(
            {
                PsychotherapyModality.PE: 8,
                PsychotherapyModality.CPT: 12,
                PsychotherapyModality.EMDR: 8,
            }
        )
    )
    # First-line PTSD medications (VA/DoD 2023 CPG) with the lower end of the "therapeutic dose"
    # ranges in clinical.md s. 3 [RECALLED, unverified].
    ptsd_min_dose_mg_per_day: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"sertraline": 100.0, "paroxetine": 20.0, "venlafaxine": 150.0}
        )
    )
    # Antidepressants for TRD: the three above plus common ones at their usual effective dose
    # (FDA prescribing information [RECALLED, unverified]); drugs not listed cannot be judged.
    depression_min_dose_mg_per_day: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {
                "sertraline": 100.0,  # clinical.md s. 3 [RECALLED]
                "paroxetine": 20.0,  # clinical.md s. 3 [RECALLED]
                "venlafaxine": 150.0,  # clinical.md s. 3 [RECALLED]
                "fluoxetine": 20.0,  # FDA label [RECALLED, unverified]
                "citalopram": 20.0,  # FDA label [RECALLED, unverified]
                "escitalopram": 10.0,  # FDA label [RECALLED, unverified]
                "duloxetine": 60.0,  # FDA label [RECALLED, unverified]
                "desvenlafaxine": 50.0,  # FDA label [RECALLED, unverified]
                "bupropion": 300.0,  # FDA label [RECALLED, unverified]
                "mirtazapine": 15.0,  # FDA label [RECALLED, unverified]
            }
        )
    )
    # SSRI/SNRI >=8-12 weeks (clinical.md s. 3 [RECALLED]) vs "4-6 weeks" [SECONDARY]: the stricter
    # lower bound, 8 weeks, for both indications.
    min_duration_weeks: float = 8.0
    # PTSD has no standard definition (clinical.md s. 3); Abdallah 2022 used one failed
    # antidepressant treatment. Default: 1 failed adequate first-line trial (therapy or drug).
    ptsd_min_failed_trials: int = 1
    ptsd_require_psychotherapy: bool = False  # clinic may require a failed trauma-focused therapy
    # TRD: >=2 adequate antidepressant trials (Fava 2018; ELEKT-D 2023; ATHF-SF2).
    depression_min_failed_trials: int = 2
    # TRD counts trials in the current episode; None (not recorded) is counted but flagged.
    depression_require_current_episode: bool = True


DEFAULT_RESISTANCE_SETTINGS: Final = ResistanceSettings()


@dataclass(frozen=True)
class TrialJudgement:
    """Whether one prior trial counts toward resistance, and why."""

    kind: str  # "psychotherapy" or "medication"
    trial: str
    adequate: bool
    counts: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ResistanceAssessment:
    indication: Indication
    resistant: bool
    failed_adequate_trials: int
    required_trials: int
    judgements: tuple[TrialJudgement, ...]
    explanation: str
    source: str

    @property
    def counted(self) -> tuple[TrialJudgement, ...]:
        return tuple(j for j in self.judgements if j.counts)


def judge_psychotherapy(
    trial: PsychotherapyTrial, settings: ResistanceSettings = DEFAULT_RESISTANCE_SETTINGS
) -> TrialJudgement:
    """Judge one psychotherapy course (only PE, CPT and EMDR are first-line)."""
    reasons: list[str] = []
    needed = settings.min_sessions.get(trial.modality)
    if needed is None:
        reasons.append(
            f"{trial.modality.value} is not a first-line trauma-focused therapy (PE, CPT, EMDR)."
        )
        adequate = False
    else:
        adequate = trial.sessions_completed >= needed
        reasons.append(
            f"{trial.sessions_completed} sessions completed; {needed} needed for an adequate "
            f"{trial.modality.value} trial - {'adequate' if adequate else 'not adequate'}."
        )
    failed = trial.outcome in _FAILED
    reasons.append(_outcome_reason(trial.outcome))
    return TrialJudgement(
        kind="psychotherapy",
        trial=trial.label,
        adequate=adequate,
        counts=adequate and failed,
        reasons=tuple(reasons),
    )


def judge_medication(
    trial: MedicationTrial,
    indication: Indication,
    settings: ResistanceSettings = DEFAULT_RESISTANCE_SETTINGS,
) -> TrialJudgement:
    """Judge one medication trial by the dose and duration configured for the indication."""
    table = (
        settings.ptsd_min_dose_mg_per_day
        if indication is Indication.PTSD
        else settings.depression_min_dose_mg_per_day
    )
    reasons: list[str] = []
    min_dose = table.get(trial.key)
    if min_dose is None:
        what = "first-line PTSD medication" if indication is Indication.PTSD else "antidepressant"
        reasons.append(
            f"{trial.drug} has no configured adequate dose as a {what}; it cannot be counted."
        )
        adequate = False
    else:
        dose_ok = trial.dose_mg_per_day >= min_dose
        weeks_ok = trial.duration_weeks >= settings.min_duration_weeks
        adequate = dose_ok and weeks_ok
        reasons.append(
            f"Dose {trial.dose_mg_per_day:g} mg/day "
            + (">=" if dose_ok else "<")
            + f" {min_dose:g} mg/day; duration {trial.duration_weeks:g} weeks "
            + (">=" if weeks_ok else "<")
            + f" {settings.min_duration_weeks:g} weeks - "
            + ("adequate." if adequate else "not adequate.")
        )
    failed = trial.outcome in _FAILED
    reasons.append(_outcome_reason(trial.outcome))
    counts = adequate and failed
    if (
        indication is Indication.DEPRESSION
        and counts
        and settings.depression_require_current_episode
    ):
        if trial.in_current_episode is False:
            counts = False
            reasons.append("Not in the current episode, so it does not count for TRD.")
        elif trial.in_current_episode is None:
            reasons.append("Episode not recorded: counted, but confirm it was the current episode.")
    if trial.reason_stopped.strip():
        reasons.append(f"Reason stopped: {trial.reason_stopped.strip()}.")
    return TrialJudgement(
        kind="medication",
        trial=trial.label,
        adequate=adequate,
        counts=counts,
        reasons=tuple(reasons),
    )


def _outcome_reason(outcome: TrialOutcome) -> str:
    if outcome in _FAILED:
        return f"Outcome {outcome.value.replace('_', ' ')}: the trial did not work."
    if outcome is TrialOutcome.NOT_TOLERATED:
        return "Stopped because not tolerated: not a failure of an adequate trial."
    if outcome is TrialOutcome.UNKNOWN:
        return "Outcome unknown: cannot count as failed."
    return f"Outcome {outcome.value}: the trial worked, so it does not show resistance."


def _count_drugs_once(
    trials: Sequence[MedicationTrial], judgements: Sequence[TrialJudgement]
) -> list[TrialJudgement]:
    """Only the first counting trial of each drug counts; a repeat says which drug it repeats."""
    seen: set[str] = set()
    out: list[TrialJudgement] = []
    for trial, judgement in zip(trials, judgements, strict=True):
        if judgement.counts and trial.key in seen:
            judgement = replace(
                judgement,
                counts=False,
                reasons=(
                    *judgement.reasons,
                    f"{trial.key} already counted: a drug counts once however often it was "
                    "tried (brand and generic names are one drug).",
                ),
            )
        elif judgement.counts:
            seen.add(trial.key)
        out.append(judgement)
    return out


def assess_resistance(
    indication: Indication,
    psychotherapy: Sequence[PsychotherapyTrial],
    medications: Sequence[MedicationTrial],
    settings: ResistanceSettings = DEFAULT_RESISTANCE_SETTINGS,
) -> ResistanceAssessment:
    """Decide whether prior treatment shows resistance for the indication, trial by trial."""
    med_judgements = _count_drugs_once(
        medications, [judge_medication(t, indication, settings) for t in medications]
    )
    if indication is Indication.PTSD:
        therapy_judgements = [judge_psychotherapy(t, settings) for t in psychotherapy]
        judgements = (*therapy_judgements, *med_judgements)
        failed = sum(1 for j in judgements if j.counts)
        required = settings.ptsd_min_failed_trials
        therapy_ok = not settings.ptsd_require_psychotherapy or any(
            j.counts for j in therapy_judgements
        )
        resistant = failed >= required and therapy_ok
        explanation = (
            f"{count_text(failed, 'adequate first-line trial')} failed, each drug counted once; "
            f"{required} "
            "required"
            + (
                " including a trauma-focused psychotherapy"
                if settings.ptsd_require_psychotherapy
                else ""
            )
            + f" - {'treatment-resistant' if resistant else 'resistance not shown'}."
        )
        source = (
            f"{sources.VA_DOD_PTSD_CPG_2023}; {sources.ABDALLAH_2022}; "
            f"{sources.ADEQUACY_RECALLED}; {sources.BRAND_NAMES_FDA}"
        )
    else:
        judgements = tuple(med_judgements)
        failed = sum(1 for j in judgements if j.counts)
        required = settings.depression_min_failed_trials
        resistant = failed >= required
        explanation = (
            f"{count_text(failed, 'distinct antidepressant')} failed an adequate trial (each drug "
            "counted "
            f"once); {required} required for TRD - "
            f"{'treatment-resistant' if resistant else 'resistance not shown'}."
        )
        if psychotherapy:
            explanation += " Psychotherapy courses are not counted toward TRD."
        source = f"{sources.TRD_DEFINITION}; {sources.ADEQUACY_RECALLED}; {sources.BRAND_NAMES_FDA}"
    return ResistanceAssessment(
        indication=indication,
        resistant=resistant,
        failed_adequate_trials=failed,
        required_trials=required,
        judgements=tuple(judgements),
        explanation=explanation,
        source=source,
    )
