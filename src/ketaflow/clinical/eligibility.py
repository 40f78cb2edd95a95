"""Candidacy for IV ketamine: a structured intake in, a decision with its findings out.

Every finding has a tier (hard stop, caution, info), a stable rule id, a sentence a patient could
read, and its source. The decision is *not eligible* if any hard stop fires, *needs review* if any
caution fires, otherwise *eligible*. Missing information that matters (unknown pregnancy status, no
blood pressure, no suicide-risk screen) is a caution, never assumed to be fine. Thresholds live
in :class:`EligibilitySettings` with sourced defaults (clinical.md s. 2-3); ICD-10-CM code lists
in :mod:`ketaflow.clinical.codes`; medicines by generic and brand name in
:mod:`ketaflow.clinical.medicines`.

The intake mirrors what the patients registry stores (demographics, ICD-10-CM diagnoses, allergies,
current medications, psychotherapy courses and medication trials); :func:`intake_from_dict` builds
it from JSON after validating against :func:`intake_json_schema`.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from ketaflow.clinical import codes, medicines, sources
from ketaflow.clinical.common import Indication, Sex, count_text
from ketaflow.clinical.errors import ClinicalInputError, ImpossibleValueError
from ketaflow.clinical.instruments import SuicideRisk
from ketaflow.clinical.medicines import MedicineClass
from ketaflow.clinical.monitoring import VitalSign, check_possible
from ketaflow.clinical.resistance import (
    DEFAULT_RESISTANCE_SETTINGS,
    MedicationTrial,
    PsychotherapyModality,
    PsychotherapyTrial,
    ResistanceAssessment,
    ResistanceSettings,
    TrialOutcome,
    assess_resistance,
)

if TYPE_CHECKING:
    import jsonschema


class Tier(StrEnum):
    HARD_STOP = "hard_stop"
    CAUTION = "caution"
    INFO = "info"


class Decision(StrEnum):
    ELIGIBLE = "eligible"
    NEEDS_REVIEW = "needs_review"
    NOT_ELIGIBLE = "not_eligible"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


def _count(n: int, noun: str) -> str:
    """ "1 caution", "2 cautions", "0 hard stops"."""
    return count_text(n, noun)


@dataclass(frozen=True)
class Finding:
    tier: Tier
    rule_id: str
    message: str
    source: str


# --- the intake ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    """An ICD-10-CM diagnosis, e.g. F43.10 (PTSD, unspecified), F33.2, F31.4."""

    code: str
    description: str = ""

    @property
    def normalized(self) -> str:
        return self.code.strip().upper()


@dataclass(frozen=True)
class Allergy:
    substance: str
    reaction: str = ""


@dataclass(frozen=True)
class CurrentMedication:
    name: str
    dose_mg_per_day: float | None = None


@dataclass(frozen=True)
class ScreeningVitals:
    systolic_bp_mmhg: float
    diastolic_bp_mmhg: float
    heart_rate_bpm: float

    def __post_init__(self) -> None:
        """Refuse a reading that cannot be mmHg or beats per minute, naming the field and the
        likely mistake (kPa typed for mmHg, the two pressures swapped): the monitoring rules'
        own entry guard, the one the flowsheet and the intake form use."""
        for sign in (VitalSign.SYSTOLIC_BP, VitalSign.DIASTOLIC_BP, VitalSign.HEART_RATE):
            value = getattr(self, sign.value)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ClinicalInputError(f"vitals.{sign.value}: {value!r} is not a positive number")
            try:
                check_possible(sign, value)
            except ImpossibleValueError as exc:
                raise ImpossibleValueError(f"vitals.{sign.value}: {exc}") from None
        if self.diastolic_bp_mmhg >= self.systolic_bp_mmhg:
            raise ImpossibleValueError(
                f"vitals.diastolic_bp_mmhg: diastolic {self.diastolic_bp_mmhg:g} is not below "
                f"systolic {self.systolic_bp_mmhg:g}; check that the two were not swapped and "
                "re-measure (entry error)"
            )


@dataclass(frozen=True)
class MedicalHistory:
    """Medical history relevant to ketamine. Every field must be answered explicitly."""

    ketamine_hypersensitivity: bool
    aneurysmal_vascular_disease: bool
    arteriovenous_malformation: bool
    intracerebral_hemorrhage: bool
    unstable_angina: bool
    uncontrolled_hypertension: bool
    hypertensive_encephalopathy: bool
    arrhythmia_or_prolonged_qt: bool
    raised_intracranial_pressure: bool
    moderate_severe_brain_injury: bool
    cognitive_impairment: bool
    seizure_disorder: bool
    raised_intraocular_pressure: bool
    severe_hepatic_impairment: bool
    hyperthyroidism: bool
    lower_urinary_tract_disease: bool
    sleep_apnea_or_difficult_airway: bool
    myocardial_infarction_months_ago: float | None = None  # None = never
    stroke_months_ago: float | None = None  # None = never


@dataclass(frozen=True)
class PsychiatricHistory:
    active_psychosis: bool
    psychotic_disorder_history: bool
    current_mania: bool
    bipolar_disorder: bool


@dataclass(frozen=True)
class SubstanceUse:
    active_substance_use_disorder: bool
    ketamine_or_pcp_misuse: bool
    active_cocaine_use: bool


@dataclass(frozen=True)
class Intake:
    age_years: int
    sex: Sex
    pregnant: bool | None  # None = not known
    breastfeeding: bool | None  # None = not known
    diagnoses: tuple[Diagnosis, ...]
    medical: MedicalHistory
    psychiatric: PsychiatricHistory
    substance_use: SubstanceUse
    allergies: tuple[Allergy, ...] = ()
    current_medications: tuple[CurrentMedication, ...] = ()
    psychotherapy_trials: tuple[PsychotherapyTrial, ...] = ()
    medication_trials: tuple[MedicationTrial, ...] = ()
    vitals: ScreeningVitals | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    cssrs_risk: SuicideRisk | None = None


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EligibilitySettings:
    """Clinic-configurable thresholds, each default with its source."""

    min_age_years: int = 18  # Spravato label: not established under 18; trials enrolled 18+
    # Upper age is a trial choice, not a rule: Albott 18-75, Yale 21-75, ELEKT-D 21-75 -> info only.
    info_age_above_years: int = 75
    # Spravato label: pre-dose BP > 140/90 -> consider delaying.
    caution_systolic_above_mmhg: float = 140.0
    caution_diastolic_above_mmhg: float = 90.0
    # Hypotension: ED low-dose protocol "SBP < 90" out of range; NEWS2 scores SBP <= 90 with 3 (its
    # highest band). They differ at exactly 90: the safer, <= 90, is kept.
    caution_systolic_at_or_below_mmhg: float = 90.0
    # clinical.md s. 3 clinic policy default "block >= 180/110 pending physician review"
    # (SBP > 180 in NCT05803551 and the ED protocol; Murrough 2013 stopped at 180/115).
    hard_stop_systolic_at_or_above_mmhg: float = 180.0
    hard_stop_diastolic_at_or_above_mmhg: float = 110.0
    # HR < 50 or > 120 out of range in ICU trial NCT05803551 (ED protocol > 150; stricter kept).
    caution_heart_rate_below_bpm: float = 50.0
    caution_heart_rate_above_bpm: float = 120.0
    # Recent MI or stroke within 6 months excluded by a clinic [SECONDARY: westportketamine.com].
    recent_cardiovascular_event_months: float = 6.0
    # JADR 2023 excluded benzodiazepines > 3 mg/day lorazepam-equivalent; converted with the
    # Ashton equivalents (medicines.LORAZEPAM_EQUIVALENT_MG).
    benzodiazepine_above_lorazepam_eq_mg_per_day: float = 3.0
    # Weight 45-115 kg enrolled in the ICU trial NCT05803551 -> info outside that range.
    info_weight_range_kg: tuple[float, float] = (45.0, 115.0)
    # No resistance shown -> caution (needs review) rather than info; clinic may relax it.
    require_treatment_resistance: bool = True
    resistance: ResistanceSettings = field(default_factory=lambda: DEFAULT_RESISTANCE_SETTINGS)


DEFAULT_ELIGIBILITY_SETTINGS: Final = EligibilitySettings()


@dataclass(frozen=True)
class EligibilityResult:
    decision: Decision
    indications: tuple[Indication, ...]
    findings: tuple[Finding, ...]
    resistance: tuple[ResistanceAssessment, ...]
    summary: str


# --- classification tables ----------------------------------------------------------------

# The ICD-10-CM code lists (ICD-10-CM 2025) are in ketaflow.clinical.codes, and the medicines the
# rules recognise, by generic and brand name, in ketaflow.clinical.medicines.


def _find(rule: str, tier: Tier, message: str, source: str) -> Finding:
    return Finding(tier=tier, rule_id=rule, message=message, source=source)


def indications_of(
    diagnoses: Sequence[Diagnosis], *, bipolar: bool = False
) -> tuple[Indication, ...]:
    """The indications the clinic treats that the diagnoses support (PTSD first).

    Bipolar disorder, entered as an F31 code or as the history answer (``bipolar``), counts as
    depression (bipolar depression): an indication that needs review (rule
    ``psychiatric.bipolar``), never "no indication"."""
    codes_ = [d.code for d in diagnoses]
    found: list[Indication] = []
    if codes.matches(codes_, codes.PTSD):
        found.append(Indication.PTSD)
    if bipolar or codes.matches(codes_, codes.DEPRESSION) or codes.matches(codes_, codes.BIPOLAR):
        found.append(Indication.DEPRESSION)
    return tuple(found)


def _indications(intake: Intake) -> tuple[Indication, ...]:
    return indications_of(intake.diagnoses, bipolar=intake.psychiatric.bipolar_disorder)


_HARD, _CAUTION, _INFO = Tier.HARD_STOP, Tier.CAUTION, Tier.INFO


def _age_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Age."""
    if intake.age_years < settings.min_age_years:
        yield _find(
            "age.minimum",
            _HARD,
            f"Ketamine treatment here is only for adults aged {settings.min_age_years} or over.",
            sources.SPRAVATO_LABEL,
        )
    elif intake.age_years > settings.info_age_above_years:
        yield _find(
            "age.above_trial_range",
            _INFO,
            f"Studies mostly included people up to {settings.info_age_above_years}; your "
            "doctor will take your age into account.",
            f"{sources.ALBOTT_2018}; {sources.ELEKT_D_2023}",
        )


def _indication_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Indication."""
    if not _indications(intake):
        yield _find(
            "indication.none",
            _HARD,
            "The clinic's ketamine protocol covers PTSD and depression (including bipolar "
            "depression), and neither is recorded as a diagnosis.",
            sources.CLINIC_SCOPE,
        )


def _allergy_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Hypersensitivity."""
    allergic = intake.medical.ketamine_hypersensitivity or any(
        "ketamine" in a.substance.lower() for a in intake.allergies
    )
    if allergic:
        yield _find(
            "allergy.ketamine",
            _HARD,
            "An allergy or hypersensitivity to ketamine or esketamine is recorded.",
            f"{sources.KETAMINE_LABEL}; {sources.SPRAVATO_LABEL}",
        )


def _cardiovascular_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Cardiovascular and cerebrovascular history."""
    med = intake.medical
    if med.aneurysmal_vascular_disease or med.arteriovenous_malformation:
        yield _find(
            "cardiovascular.aneurysm_or_avm",
            _HARD,
            "An aneurysm or an arteriovenous malformation makes the rise in blood pressure "
            "during ketamine dangerous.",
            sources.SPRAVATO_LABEL,
        )
    if med.intracerebral_hemorrhage:
        yield _find(
            "cardiovascular.intracerebral_hemorrhage",
            _HARD,
            "A past bleed in the brain makes the rise in blood pressure during ketamine dangerous.",
            sources.SPRAVATO_LABEL,
        )
    bp_hazard = [
        (med.unstable_angina, "unstable angina"),
        (med.uncontrolled_hypertension, "uncontrolled high blood pressure"),
        (med.hypertensive_encephalopathy, "a past hypertensive encephalopathy"),
    ]
    months = settings.recent_cardiovascular_event_months
    if med.myocardial_infarction_months_ago is not None:
        bp_hazard.append(
            (
                med.myocardial_infarction_months_ago <= months,
                f"a heart attack in the last {months:g} months",
            )
        )
    if med.stroke_months_ago is not None:
        bp_hazard.append(
            (med.stroke_months_ago <= months, f"a stroke in the last {months:g} months")
        )
    for present, what in bp_hazard:
        if present:
            yield _find(
                "cardiovascular.bp_rise_hazard",
                _HARD,
                f"With {what}, a rise in blood pressure is a serious hazard.",
                f"{sources.KETAMINE_LABEL}; {sources.WESTPORT_CLINIC}",
            )

    if med.arrhythmia_or_prolonged_qt:
        yield _find(
            "cardiovascular.arrhythmia",
            _CAUTION,
            "A heart rhythm problem needs a doctor's review (and usually an ECG) first.",
            f"{sources.ICU_TRIAL_NCT05803551}; {sources.SANACORA_2017} [RECALLED]",
        )


def _vitals_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Blood pressure and pulse at screening."""
    if intake.vitals is None:
        yield _find(
            "vitals.missing",
            _CAUTION,
            "Blood pressure and pulse have not been recorded yet.",
            sources.SPRAVATO_LABEL,
        )
    else:
        v = intake.vitals
        if (
            v.systolic_bp_mmhg >= settings.hard_stop_systolic_at_or_above_mmhg
            or v.diastolic_bp_mmhg >= settings.hard_stop_diastolic_at_or_above_mmhg
        ):
            yield _find(
                "vitals.bp_very_high",
                _HARD,
                f"Blood pressure {v.systolic_bp_mmhg:g}/{v.diastolic_bp_mmhg:g} is too high "
                "for ketamine until it is brought under control.",
                f"{sources.CLINIC_POLICY}; {sources.ICU_TRIAL_NCT05803551}",
            )
        elif (
            v.systolic_bp_mmhg > settings.caution_systolic_above_mmhg
            or v.diastolic_bp_mmhg > settings.caution_diastolic_above_mmhg
        ):
            yield _find(
                "vitals.bp_high",
                _CAUTION,
                f"Blood pressure {v.systolic_bp_mmhg:g}/{v.diastolic_bp_mmhg:g} is above "
                f"{settings.caution_systolic_above_mmhg:g}/"
                f"{settings.caution_diastolic_above_mmhg:g}; a doctor will review it.",
                sources.SPRAVATO_LABEL,
            )
        elif v.systolic_bp_mmhg <= settings.caution_systolic_at_or_below_mmhg:
            yield _find(
                "vitals.bp_low",
                _CAUTION,
                f"Blood pressure {v.systolic_bp_mmhg:g}/{v.diastolic_bp_mmhg:g} is low (systolic "
                f"at or below {settings.caution_systolic_at_or_below_mmhg:g}); a doctor will "
                "review it before treatment.",
                f"{sources.ED_LOW_DOSE_PROTOCOL}; {sources.NEWS2_RCP_2017}",
            )

        if not (
            settings.caution_heart_rate_below_bpm
            <= v.heart_rate_bpm
            <= settings.caution_heart_rate_above_bpm
        ):
            yield _find(
                "vitals.heart_rate",
                _CAUTION,
                f"Pulse {v.heart_rate_bpm:g} per minute is outside "
                f"{settings.caution_heart_rate_below_bpm:g}-"
                f"{settings.caution_heart_rate_above_bpm:g}; a doctor will review it.",
                sources.ICU_TRIAL_NCT05803551,
            )


def _pregnancy_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Pregnancy and breastfeeding."""
    if intake.pregnant:
        yield _find(
            "pregnancy.pregnant",
            _HARD,
            "Ketamine may harm an unborn baby.",
            sources.SPRAVATO_LABEL,
        )
    elif intake.pregnant is None and intake.sex is Sex.FEMALE:
        yield _find(
            "pregnancy.unknown",
            _CAUTION,
            "Pregnancy needs to be ruled out (for example with a test) before treatment.",
            sources.SPRAVATO_LABEL,
        )
    if intake.breastfeeding:
        yield _find(
            "pregnancy.breastfeeding",
            _HARD,
            "Breastfeeding should be avoided with ketamine treatment.",
            sources.SPRAVATO_LABEL,
        )
    elif intake.breastfeeding is None and intake.sex is Sex.FEMALE:
        yield _find(
            "pregnancy.breastfeeding_unknown",
            _CAUTION,
            "Whether you are breastfeeding has not been recorded.",
            sources.SPRAVATO_LABEL,
        )


def _labels(found: Sequence[codes.CodeMatch]) -> str:
    return "; ".join(dict.fromkeys(m.label for m in found))


def _psychiatric_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Psychiatric history and suicide risk. A code and the matching history answer give one
    rule and one outcome (ICD-10-CM 2025 code lists in :mod:`ketaflow.clinical.codes`)."""
    psy = intake.psychiatric
    diagnosis_codes = [d.code for d in intake.diagnoses]
    icd = codes.SOURCE
    if psy.active_psychosis:
        yield _find(
            "psychiatric.active_psychosis",
            _HARD,
            "Ketamine can worsen psychosis, so it is not given during active psychosis.",
            sources.TRIAL_EXCLUSIONS_PSYCHOSIS,
        )
    disorders = codes.matches(diagnosis_codes, codes.PSYCHOTIC_DISORDERS)
    features = codes.matches(diagnosis_codes, codes.PSYCHOTIC_FEATURES)
    if disorders:
        yield _find(
            "psychiatric.psychotic_disorder",
            _HARD,
            f"Ketamine is not given to people with a psychotic disorder ({_labels(disorders)}).",
            f"{sources.TRIAL_EXCLUSIONS_PSYCHOSIS}; {icd}",
        )
    elif (psy.psychotic_disorder_history or features) and not psy.active_psychosis:
        what = f" ({_labels(features)})" if features else ""
        yield _find(
            "psychiatric.psychosis_history",
            _CAUTION,
            f"A past psychotic episode or psychotic features{what} need a psychiatrist's "
            "review first.",
            f"{sources.SPRAVATO_LABEL}; {sources.SANACORA_2017} [RECALLED]; {icd}",
        )
    mania = codes.matches(diagnosis_codes, codes.CURRENT_MANIA)
    if psy.current_mania or mania:
        what = f" ({_labels(mania)})" if mania else ""
        yield _find(
            "psychiatric.current_mania",
            _HARD,
            f"Ketamine is not given during a manic or hypomanic episode{what}.",
            f"{sources.TRIAL_EXCLUSIONS_PSYCHOSIS}; {icd}",
        )
    bipolar = codes.matches(diagnosis_codes, codes.BIPOLAR)
    if psy.bipolar_disorder or bipolar:
        what = f" ({_labels(bipolar)})" if bipolar else ""
        yield _find(
            "psychiatric.bipolar",
            _CAUTION,
            f"Bipolar depression{what} is treated here only after a psychiatrist's review: "
            "trials excluded bipolar disorder, but clinics do treat bipolar depression.",
            f"{sources.ASKP_2018}; trial exclusions (clinical.md s. 3); {icd}",
        )
    if intake.cssrs_risk is None:
        yield _find(
            "suicide.screen_missing",
            _CAUTION,
            "The suicide-risk screen (C-SSRS) has not been done; the risk is unknown until a "
            "clinician asks these questions.",
            sources.CSSRS_NOT_DONE,
        )
    elif intake.cssrs_risk is SuicideRisk.HIGH:
        yield _find(
            "suicide.high_risk",
            _CAUTION,
            "Your answers about suicidal thoughts mean a clinician will talk with you about "
            "safety before anything else.",
            sources.CSSRS_POSNER_2011,
        )
    elif intake.cssrs_risk is SuicideRisk.MODERATE:
        yield _find(
            "suicide.moderate_risk",
            _INFO,
            "A clinician will review your answers about suicidal thoughts with you.",
            sources.CSSRS_POSNER_2011,
        )


def _substance_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Substance use."""
    sub = intake.substance_use
    if sub.active_substance_use_disorder:
        yield _find(
            "substance.active_use_disorder",
            _CAUTION,
            "Current substance use needs review, because ketamine can be misused.",
            f"{sources.SPRAVATO_LABEL}; {sources.JADR_2023}",
        )
    if sub.ketamine_or_pcp_misuse:
        yield _find(
            "substance.ketamine_pcp_misuse",
            _CAUTION,
            "Past misuse of ketamine or PCP needs review before treatment.",
            f"{sources.JADR_2023}; {sources.SANACORA_2017} [RECALLED]",
        )
    if sub.active_cocaine_use:
        yield _find(
            "substance.cocaine",
            _CAUTION,
            "Cocaine use raises blood pressure further with ketamine and needs review.",
            sources.WESTPORT_CLINIC,
        )


# The classes whose concomitant use is a caution (or, for NMDA-acting drugs, a note): each with its
# message and source (Spravato REMS Patient Monitoring Form and label; JADR 2023; NCT05803551).
_MEDICINE_RULES: Final = (
    (
        MedicineClass.SEDATIVE_HYPNOTIC,
        "medication.sedative_hypnotic",
        _CAUTION,
        "Sleeping medicines (sedative-hypnotics) add to ketamine's sedation and need review",
        sources.SPRAVATO_REMS_FORM,
    ),
    (
        MedicineClass.MAOI,
        "medication.maoi",
        _CAUTION,
        "MAOI antidepressants need closer blood-pressure monitoring with ketamine",
        f"{sources.SPRAVATO_LABEL}; {sources.SPRAVATO_REMS_FORM}",
    ),
    (
        MedicineClass.STIMULANT,
        "medication.stimulant",
        _CAUTION,
        "Stimulant medicines need closer blood-pressure monitoring with ketamine",
        f"{sources.SPRAVATO_LABEL}; {sources.SPRAVATO_REMS_FORM}",
    ),
    (
        MedicineClass.OPIOID,
        "medication.opioid",
        _CAUTION,
        "Opioids add to sedation and breathing effects and need review",
        sources.JADR_2023,
    ),
    (
        MedicineClass.OPIOID_ANTAGONIST,
        "medication.naltrexone",
        _CAUTION,
        "Naltrexone may weaken ketamine's antidepressant effect (studies disagree); your "
        "doctor will review it",
        sources.NALTREXONE_WILLIAMS_2018,
    ),
    (
        MedicineClass.NMDA_ACTING,
        "medication.nmda_acting",
        _INFO,
        "Some medicines act on the same system as ketamine (NMDA receptors); your doctor will "
        "consider them",
        sources.ICU_TRIAL_NCT05803551,
    ),
)


def _named(found: Sequence[medicines.Medicine]) -> str:
    """Each recorded name once, with its generic if different: "Xanax (alprazolam), lorazepam"."""
    shown = [
        m.recorded.strip()
        if m.recorded.strip().lower() == m.generic
        else f"{m.recorded.strip()} ({m.generic})"
        for m in found
    ]
    return ", ".join(dict.fromkeys(shown))


def _benzodiazepine_rule(
    found: Sequence[tuple[CurrentMedication, medicines.Medicine]], settings: EligibilitySettings
) -> Iterator[Finding]:
    """Any benzodiazepine is a caution (Spravato REMS form; may blunt the response); above the
    JADR 2023 limit, > 3 mg/day lorazepam-equivalent, it is its own caution naming the total. A
    dose that is not recorded or cannot be converted is said to be unknown, never taken as low."""
    if not found:
        return
    limit = settings.benzodiazepine_above_lorazepam_eq_mg_per_day
    total = 0.0
    unknown: list[str] = []
    for med, drug in found:
        equivalent = (
            None
            if med.dose_mg_per_day is None
            else medicines.lorazepam_equivalent_mg(drug.generic, med.dose_mg_per_day)
        )
        if equivalent is None:
            unknown.append(med.name.strip())
        else:
            total += equivalent
    names = _named([drug for _, drug in found])
    source = f"{sources.JADR_2023}; {sources.ASHTON_BENZODIAZEPINE_EQUIVALENTS}"
    if total > limit:
        yield _find(
            "medication.benzodiazepine_high_dose",
            _CAUTION,
            f"Benzodiazepines at {total:.3g} mg/day lorazepam-equivalent, above the {limit:g} "
            f"mg/day a ketamine trial excluded: {names}. They may weaken ketamine's effect and "
            "add to sedation; the dose needs review.",
            f"{source}; {sources.SPRAVATO_REMS_FORM}",
        )
        return
    if unknown:
        dose = (
            f"the daily dose of {', '.join(unknown)} is not recorded in mg/day of a drug with a "
            f"known lorazepam equivalent, so it cannot be checked against {limit:g} mg/day"
        )
    else:
        dose = f"{total:.3g} mg/day lorazepam-equivalent, within the {limit:g} mg/day limit"
    yield _find(
        "medication.benzodiazepine",
        _CAUTION,
        f"Benzodiazepines may weaken ketamine's effect and add to sedation: {names}; {dose}.",
        f"{source}; {sources.SPRAVATO_REMS_FORM}",
    )


def _medications_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Current medications, recognised by generic or brand name (:mod:`medicines`)."""
    known = [
        (med, drug)
        for med in intake.current_medications
        if (drug := medicines.identify(med.name)) is not None
    ]
    yield from _benzodiazepine_rule(
        [(m, d) for m, d in known if d.medicine_class is MedicineClass.BENZODIAZEPINE], settings
    )
    for medicine_class, rule, tier, message, source in _MEDICINE_RULES:
        hits = [d for _, d in known if d.medicine_class is medicine_class]
        if hits:
            yield _find(
                rule, tier, f"{message}: {_named(hits)}.", f"{source}; {sources.BRAND_NAMES_FDA}"
            )


def _other_rules(intake: Intake, settings: EligibilitySettings) -> Iterator[Finding]:
    """Other medical conditions and weight."""
    med = intake.medical
    other = [
        (
            med.raised_intracranial_pressure,
            "neurological.raised_icp",
            "Raised pressure inside the skull needs review first.",
            sources.ICU_TRIAL_NCT05803551,
        ),
        (
            med.moderate_severe_brain_injury,
            "neurological.brain_injury",
            "A moderate or severe brain injury needs review first.",
            "NCT03960658; NCT02727998",
        ),
        (
            med.cognitive_impairment,
            "neurological.cognitive_impairment",
            "Memory or thinking problems need review first.",
            "NCT03960658; NCT02727998",
        ),
        (
            med.seizure_disorder,
            "neurological.seizure_disorder",
            "A seizure disorder needs review first.",
            sources.WESTPORT_CLINIC,
        ),
        (
            med.raised_intraocular_pressure,
            "eye.raised_intraocular_pressure",
            "Ketamine slightly raises eye pressure, so glaucoma needs review.",
            sources.KETAMINE_LABEL,
        ),
        (
            med.severe_hepatic_impairment,
            "liver.severe_impairment",
            "Severe liver disease needs review first.",
            "droracle summary [SECONDARY]",
        ),
        (
            med.hyperthyroidism,
            "endocrine.hyperthyroidism",
            "An overactive thyroid needs review first.",
            "clinical.md s. 3 [RECALLED, unverified]",
        ),
        (
            med.lower_urinary_tract_disease,
            "urinary.lower_tract_disease",
            "Bladder problems need review because repeated ketamine can irritate the bladder.",
            sources.KETAMINE_LABEL,
        ),
        (
            med.sleep_apnea_or_difficult_airway,
            "airway.sleep_apnea",
            "Sleep apnea or a difficult airway needs review (bring your CPAP device).",
            sources.ICU_TRIAL_NCT05803551,
        ),
    ]
    for present, rule, message, source in other:
        if present:
            yield (_find(rule, _CAUTION, message, source))

    if intake.weight_kg is not None:
        low, high = settings.info_weight_range_kg
        if not low <= intake.weight_kg <= high:
            yield _find(
                "weight.outside_trial_range",
                _INFO,
                f"Your weight is outside the {low:g}-{high:g} kg range studied in one "
                "trial; the prescriber will choose the weight the dose is based on.",
                sources.ICU_TRIAL_NCT05803551,
            )


_RULE_GROUPS: Final = (
    _age_rules,
    _indication_rules,
    _allergy_rules,
    _cardiovascular_rules,
    _vitals_rules,
    _pregnancy_rules,
    _psychiatric_rules,
    _substance_rules,
    _medications_rules,
    _other_rules,
)


def assess_eligibility(
    intake: Intake, settings: EligibilitySettings = DEFAULT_ELIGIBILITY_SETTINGS
) -> EligibilityResult:
    """Apply every rule group to the intake, judge treatment resistance, and decide."""
    findings = [finding for group in _RULE_GROUPS for finding in group(intake, settings)]
    indications = _indications(intake)
    assessments = tuple(
        assess_resistance(
            indication, intake.psychotherapy_trials, intake.medication_trials, settings.resistance
        )
        for indication in indications
    )
    for assessment in assessments:
        counted = "; ".join(j.trial for j in assessment.counted) or "none"
        name = assessment.indication.value
        label = assessment.indication.label  # "PTSD", "Treatment-resistant depression"
        words = label if label.isupper() else label[:1].lower() + label[1:]
        if assessment.resistant:
            findings.append(
                _find(
                    f"resistance.{name}.shown",
                    _INFO,
                    f"Earlier treatments for {words} that were tried properly without enough "
                    f"benefit: {counted}.",
                    assessment.source,
                )
            )
        else:
            findings.append(
                _find(
                    f"resistance.{name}.not_shown",
                    _CAUTION if settings.require_treatment_resistance else _INFO,
                    f"Earlier treatment for {words} does not yet show resistance "
                    f"({assessment.explanation}) Counted: {counted}.",
                    assessment.source,
                )
            )

    tiers = {f.tier for f in findings}
    if Tier.HARD_STOP in tiers:
        decision = Decision.NOT_ELIGIBLE
    elif Tier.CAUTION in tiers:
        decision = Decision.NEEDS_REVIEW
    else:
        decision = Decision.ELIGIBLE
    counts = {t: sum(1 for f in findings if f.tier is t) for t in Tier}
    summary = (
        f"{decision.value.replace('_', ' ')}: {_count(counts[Tier.HARD_STOP], 'hard stop')}, "
        f"{_count(counts[Tier.CAUTION], 'caution')}, {_count(counts[Tier.INFO], 'note')}."
    )
    return EligibilityResult(
        decision=decision,
        indications=indications,
        findings=tuple(findings),
        resistance=assessments,
        summary=summary,
    )


# --- JSON intake --------------------------------------------------------------------------

_BOOL: Final = {"type": "boolean"}
_NULLABLE_BOOL: Final = {"type": ["boolean", "null"]}
_DATE: Final = {"type": ["string", "null"], "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_MEDICAL_FLAGS: Final = (
    "ketamine_hypersensitivity",
    "aneurysmal_vascular_disease",
    "arteriovenous_malformation",
    "intracerebral_hemorrhage",
    "unstable_angina",
    "uncontrolled_hypertension",
    "hypertensive_encephalopathy",
    "arrhythmia_or_prolonged_qt",
    "raised_intracranial_pressure",
    "moderate_severe_brain_injury",
    "cognitive_impairment",
    "seizure_disorder",
    "raised_intraocular_pressure",
    "severe_hepatic_impairment",
    "hyperthyroidism",
    "lower_urinary_tract_disease",
    "sleep_apnea_or_difficult_airway",
)
_PSYCH_FLAGS: Final = (
    "active_psychosis",
    "psychotic_disorder_history",
    "current_mania",
    "bipolar_disorder",
)
_SUBSTANCE_FLAGS: Final = (
    "active_substance_use_disorder",
    "ketamine_or_pcp_misuse",
    "active_cocaine_use",
)


def _object(props: Mapping[str, Any], required: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": dict(props),
        "required": list(required),
        "additionalProperties": False,
    }


def intake_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the intake accepted by :func:`intake_from_dict`.

    History flags are required booleans: an unanswered question is an error, never "no".
    """
    months = {"type": ["number", "null"], "minimum": 0}
    medical_props: dict[str, Any] = dict.fromkeys(_MEDICAL_FLAGS, _BOOL)
    medical_props["myocardial_infarction_months_ago"] = months
    medical_props["stroke_months_ago"] = months
    outcome = {"enum": [o.value for o in TrialOutcome]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ketaflow.org/schemas/intake.json",
        "title": "KetaFlow eligibility intake",
        **_object(
            {
                "age_years": {"type": "integer", "minimum": 0, "maximum": 130},
                "sex": {"enum": [s.value for s in Sex]},
                "pregnant": _NULLABLE_BOOL,
                "breastfeeding": _NULLABLE_BOOL,
                "weight_kg": {"type": ["number", "null"], "exclusiveMinimum": 0},
                "height_cm": {"type": ["number", "null"], "exclusiveMinimum": 0},
                "diagnoses": {
                    "type": "array",
                    "items": _object(
                        {
                            "code": {
                                "type": "string",
                                "pattern": r"^[A-Za-z][0-9][0-9A-Za-z](\.[0-9A-Za-z]{1,4})?$",
                            },
                            "description": {"type": "string"},
                        },
                        ["code"],
                    ),
                },
                "medical": _object(medical_props, _MEDICAL_FLAGS),
                "psychiatric": _object(dict.fromkeys(_PSYCH_FLAGS, _BOOL), _PSYCH_FLAGS),
                "substance_use": _object(dict.fromkeys(_SUBSTANCE_FLAGS, _BOOL), _SUBSTANCE_FLAGS),
                "vitals": {
                    "oneOf": [
                        {"type": "null"},
                        _object(
                            {
                                "systolic_bp_mmhg": {
                                    "type": "number",
                                    "exclusiveMinimum": 0,
                                    "maximum": 400,
                                },
                                "diastolic_bp_mmhg": {
                                    "type": "number",
                                    "exclusiveMinimum": 0,
                                    "maximum": 400,
                                },
                                "heart_rate_bpm": {
                                    "type": "number",
                                    "exclusiveMinimum": 0,
                                    "maximum": 350,
                                },
                            },
                            ["systolic_bp_mmhg", "diastolic_bp_mmhg", "heart_rate_bpm"],
                        ),
                    ]
                },
                "allergies": {
                    "type": "array",
                    "items": _object(
                        {
                            "substance": {"type": "string", "minLength": 1},
                            "reaction": {"type": "string"},
                        },
                        ["substance"],
                    ),
                },
                "current_medications": {
                    "type": "array",
                    "items": _object(
                        {
                            "name": {"type": "string", "minLength": 1},
                            "dose_mg_per_day": {"type": ["number", "null"], "exclusiveMinimum": 0},
                        },
                        ["name"],
                    ),
                },
                "psychotherapy_trials": {
                    "type": "array",
                    "items": _object(
                        {
                            "modality": {"enum": [m.value for m in PsychotherapyModality]},
                            "sessions_completed": {"type": "integer", "minimum": 0},
                            "start_date": _DATE,
                            "end_date": _DATE,
                            "outcome": outcome,
                        },
                        ["modality", "sessions_completed", "outcome"],
                    ),
                },
                "medication_trials": {
                    "type": "array",
                    "items": _object(
                        {
                            "drug": {"type": "string", "minLength": 1},
                            "dose_mg_per_day": {"type": "number", "exclusiveMinimum": 0},
                            "duration_weeks": {"type": "number", "exclusiveMinimum": 0},
                            "outcome": outcome,
                            "reason_stopped": {"type": "string"},
                            "in_current_episode": _NULLABLE_BOOL,
                        },
                        ["drug", "dose_mg_per_day", "duration_weeks", "outcome"],
                    ),
                },
                "cssrs_risk": {"enum": [*(r.value for r in SuicideRisk), None]},
            },
            [
                "age_years",
                "sex",
                "pregnant",
                "breastfeeding",
                "diagnoses",
                "medical",
                "psychiatric",
                "substance_use",
            ],
        ),
    }


def _path(error: jsonschema.ValidationError) -> str:
    parts = ["intake", *(f"[{p}]" if isinstance(p, int) else p for p in error.absolute_path)]
    return ".".join(parts).replace(".[", "[")


def _date(value: Any, where: str) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ClinicalInputError(f"{where}: {value!r} is not a valid date (YYYY-MM-DD)") from None


def intake_from_dict(data: Any) -> Intake:
    """Validate JSON-like data against the schema and build an :class:`Intake`.

    Raises :class:`ClinicalInputError` naming the first offending field.
    """
    import jsonschema  # only when an intake is validated: it is slow to import

    validator = jsonschema.Draft202012Validator(intake_json_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        raise ClinicalInputError(f"{_path(error)}: {error.message}")
    vitals = data.get("vitals")
    therapies = []
    for i, t in enumerate(data.get("psychotherapy_trials", [])):
        where = f"intake.psychotherapy_trials[{i}]"
        therapies.append(
            PsychotherapyTrial(
                modality=PsychotherapyModality(t["modality"]),
                sessions_completed=t["sessions_completed"],
                outcome=TrialOutcome(t["outcome"]),
                start_date=_date(t.get("start_date"), f"{where}.start_date"),
                end_date=_date(t.get("end_date"), f"{where}.end_date"),
            )
        )
    cssrs = data.get("cssrs_risk")
    return Intake(
        age_years=data["age_years"],
        sex=Sex(data["sex"]),
        pregnant=data["pregnant"],
        breastfeeding=data["breastfeeding"],
        diagnoses=tuple(Diagnosis(d["code"], d.get("description", "")) for d in data["diagnoses"]),
        medical=MedicalHistory(**data["medical"]),
        psychiatric=PsychiatricHistory(**data["psychiatric"]),
        substance_use=SubstanceUse(**data["substance_use"]),
        allergies=tuple(
            Allergy(a["substance"], a.get("reaction", "")) for a in data.get("allergies", [])
        ),
        current_medications=tuple(
            CurrentMedication(m["name"], m.get("dose_mg_per_day"))
            for m in data.get("current_medications", [])
        ),
        psychotherapy_trials=tuple(therapies),
        medication_trials=tuple(
            MedicationTrial(
                drug=m["drug"],
                dose_mg_per_day=m["dose_mg_per_day"],
                duration_weeks=m["duration_weeks"],
                outcome=TrialOutcome(m["outcome"]),
                reason_stopped=m.get("reason_stopped", ""),
                in_current_episode=m.get("in_current_episode"),
            )
            for m in data.get("medication_trials", [])
        ),
        vitals=ScreeningVitals(**vitals) if vitals is not None else None,
        weight_kg=data.get("weight_kg"),
        height_cm=data.get("height_cm"),
        cssrs_risk=SuicideRisk(cssrs) if cssrs is not None else None,
    )
