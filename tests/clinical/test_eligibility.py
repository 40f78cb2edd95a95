"""Eligibility rules and treatment resistance: every rule fires with its tier, and the decision
follows the worst tier. Thresholds cited: Spravato label (>140/90), clinic policy (>=180/110),
NCT05803551 (HR 50-120), VA/DoD 2023 first-line treatments, TRD >= 2 adequate trials."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.clinical.builders import assess, base_intake, rules_of

from ketaflow.clinical import eligibility as el
from ketaflow.clinical import resistance as rs
from ketaflow.clinical.common import Indication
from ketaflow.clinical.eligibility import Decision, Tier
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.clinical.resistance import (
    MedicationTrial,
    PsychotherapyModality,
    PsychotherapyTrial,
    TrialOutcome,
)


def test_example_intake_is_eligible() -> None:
    result = assess(base_intake())
    assert result.decision is Decision.ELIGIBLE
    assert result.indications == (Indication.PTSD,)
    assert rules_of(result) == {"resistance.ptsd.shown": Tier.INFO}
    assert "CPT (12 sessions)" in result.findings[0].message
    assert "sertraline 150 mg/day for 16 weeks" in result.findings[0].message


def _set(path: str, value: object) -> dict[str, Any]:
    data = base_intake()
    target = data
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "rule", "tier"),
    [
        ("age_years", 17, "age.minimum", Tier.HARD_STOP),
        ("age_years", 80, "age.above_trial_range", Tier.INFO),
        ("diagnoses", [{"code": "F41.1"}], "indication.none", Tier.HARD_STOP),
        ("medical.ketamine_hypersensitivity", True, "allergy.ketamine", Tier.HARD_STOP),
        ("allergies", [{"substance": "Esketamine"}], "allergy.ketamine", Tier.HARD_STOP),
        (
            "medical.aneurysmal_vascular_disease",
            True,
            "cardiovascular.aneurysm_or_avm",
            Tier.HARD_STOP,
        ),
        (
            "medical.arteriovenous_malformation",
            True,
            "cardiovascular.aneurysm_or_avm",
            Tier.HARD_STOP,
        ),
        (
            "medical.intracerebral_hemorrhage",
            True,
            "cardiovascular.intracerebral_hemorrhage",
            Tier.HARD_STOP,
        ),
        ("medical.unstable_angina", True, "cardiovascular.bp_rise_hazard", Tier.HARD_STOP),
        (
            "medical.uncontrolled_hypertension",
            True,
            "cardiovascular.bp_rise_hazard",
            Tier.HARD_STOP,
        ),
        (
            "medical.hypertensive_encephalopathy",
            True,
            "cardiovascular.bp_rise_hazard",
            Tier.HARD_STOP,
        ),
        (
            "medical.myocardial_infarction_months_ago",
            6,
            "cardiovascular.bp_rise_hazard",
            Tier.HARD_STOP,
        ),
        ("medical.stroke_months_ago", 2, "cardiovascular.bp_rise_hazard", Tier.HARD_STOP),
        ("medical.arrhythmia_or_prolonged_qt", True, "cardiovascular.arrhythmia", Tier.CAUTION),
        ("pregnant", True, "pregnancy.pregnant", Tier.HARD_STOP),
        ("pregnant", None, "pregnancy.unknown", Tier.CAUTION),
        ("breastfeeding", True, "pregnancy.breastfeeding", Tier.HARD_STOP),
        ("breastfeeding", None, "pregnancy.breastfeeding_unknown", Tier.CAUTION),
        ("psychiatric.active_psychosis", True, "psychiatric.active_psychosis", Tier.HARD_STOP),
        ("psychiatric.current_mania", True, "psychiatric.current_mania", Tier.HARD_STOP),
        (
            "psychiatric.psychotic_disorder_history",
            True,
            "psychiatric.psychosis_history",
            Tier.CAUTION,
        ),
        ("psychiatric.bipolar_disorder", True, "psychiatric.bipolar", Tier.CAUTION),
        (
            "substance_use.active_substance_use_disorder",
            True,
            "substance.active_use_disorder",
            Tier.CAUTION,
        ),
        (
            "substance_use.ketamine_or_pcp_misuse",
            True,
            "substance.ketamine_pcp_misuse",
            Tier.CAUTION,
        ),
        ("substance_use.active_cocaine_use", True, "substance.cocaine", Tier.CAUTION),
        ("current_medications", [{"name": "Lorazepam"}], "medication.benzodiazepine", Tier.CAUTION),
        ("current_medications", [{"name": "phenelzine"}], "medication.maoi", Tier.CAUTION),
        (
            "current_medications",
            [{"name": "methylphenidate"}],
            "medication.stimulant",
            Tier.CAUTION,
        ),
        ("current_medications", [{"name": "oxycodone"}], "medication.opioid", Tier.CAUTION),
        ("current_medications", [{"name": "lamotrigine"}], "medication.nmda_acting", Tier.INFO),
        ("medical.raised_intracranial_pressure", True, "neurological.raised_icp", Tier.CAUTION),
        ("medical.moderate_severe_brain_injury", True, "neurological.brain_injury", Tier.CAUTION),
        ("medical.cognitive_impairment", True, "neurological.cognitive_impairment", Tier.CAUTION),
        ("medical.seizure_disorder", True, "neurological.seizure_disorder", Tier.CAUTION),
        (
            "medical.raised_intraocular_pressure",
            True,
            "eye.raised_intraocular_pressure",
            Tier.CAUTION,
        ),
        ("medical.severe_hepatic_impairment", True, "liver.severe_impairment", Tier.CAUTION),
        ("medical.hyperthyroidism", True, "endocrine.hyperthyroidism", Tier.CAUTION),
        ("medical.lower_urinary_tract_disease", True, "urinary.lower_tract_disease", Tier.CAUTION),
        ("medical.sleep_apnea_or_difficult_airway", True, "airway.sleep_apnea", Tier.CAUTION),
        ("cssrs_risk", "high", "suicide.high_risk", Tier.CAUTION),
        ("cssrs_risk", "moderate", "suicide.moderate_risk", Tier.INFO),
        ("weight_kg", 130, "weight.outside_trial_range", Tier.INFO),
        ("vitals", None, "vitals.missing", Tier.CAUTION),
    ],
)
def test_each_rule(path: str, value: object, rule: str, tier: Tier) -> None:
    result = assess(_set(path, value))
    assert rules_of(result).get(rule) is tier
    finding = next(f for f in result.findings if f.rule_id == rule)
    assert finding.message
    assert finding.source
    expected = {
        Tier.HARD_STOP: Decision.NOT_ELIGIBLE,
        Tier.CAUTION: Decision.NEEDS_REVIEW,
        Tier.INFO: Decision.ELIGIBLE,
    }[tier]
    assert result.decision is expected


def test_old_heart_attack_is_not_a_hard_stop() -> None:
    # Recent = within 6 months [SECONDARY: westportketamine.com], a clinic setting.
    assert "cardiovascular.bp_rise_hazard" not in rules_of(
        assess(_set("medical.myocardial_infarction_months_ago", 7))
    )


def test_schizophrenia_code_is_hard_stop_and_bipolar_code_caution() -> None:
    data = base_intake()
    data["diagnoses"] = [{"code": "F43.10"}, {"code": "f20.9"}, {"code": "F31.4"}]
    rules = rules_of(assess(data))
    assert rules["psychiatric.psychotic_disorder"] is Tier.HARD_STOP
    assert rules["psychiatric.bipolar"] is Tier.CAUTION


@pytest.mark.parametrize(
    ("sbp", "dbp", "hr", "rule", "tier"),
    [
        (140, 90, 72, None, None),  # Spravato: above 140/90 -> caution; 140/90 itself is fine
        (141, 80, 72, "vitals.bp_high", Tier.CAUTION),
        (130, 91, 72, "vitals.bp_high", Tier.CAUTION),
        (179, 109, 72, "vitals.bp_high", Tier.CAUTION),
        (180, 100, 72, "vitals.bp_very_high", Tier.HARD_STOP),  # clinic policy >= 180/110
        (150, 110, 72, "vitals.bp_very_high", Tier.HARD_STOP),
        (120, 80, 49, "vitals.heart_rate", Tier.CAUTION),  # NCT05803551: HR < 50
        (120, 80, 121, "vitals.heart_rate", Tier.CAUTION),  # NCT05803551: HR > 120
        (120, 80, 120, None, None),
    ],
)
def test_screening_vitals(
    sbp: float, dbp: float, hr: float, rule: str | None, tier: Tier | None
) -> None:
    result = assess(
        _set("vitals", {"systolic_bp_mmhg": sbp, "diastolic_bp_mmhg": dbp, "heart_rate_bpm": hr})
    )
    vitals_rules = {k: v for k, v in rules_of(result).items() if k.startswith("vitals.")}
    assert vitals_rules == ({} if rule is None else {rule: tier})


def test_male_pregnancy_unknown_is_not_flagged() -> None:
    data = _set("sex", "male")
    data["pregnant"] = None
    data["breastfeeding"] = None
    assert assess(data).decision is Decision.ELIGIBLE


def test_no_resistance_is_caution_or_info_by_setting() -> None:
    intake = el.intake_from_dict(_set("medication_trials", []))
    intake = el.Intake(**{**intake.__dict__, "psychotherapy_trials": ()})
    strict = el.assess_eligibility(intake)
    assert rules_of(strict)["resistance.ptsd.not_shown"] is Tier.CAUTION
    assert strict.decision is Decision.NEEDS_REVIEW
    assert "Counted: none" in strict.findings[-1].message
    relaxed = el.assess_eligibility(
        intake, el.EligibilitySettings(require_treatment_resistance=False)
    )
    assert rules_of(relaxed)["resistance.ptsd.not_shown"] is Tier.INFO
    assert relaxed.decision is Decision.ELIGIBLE


def test_depression_needs_two_adequate_trials() -> None:
    data = _set("diagnoses", [{"code": "F33.2"}])
    result = assess(data)
    # one adequate failed sertraline trial; psychotherapy does not count for TRD
    assert rules_of(result)["resistance.depression.not_shown"] is Tier.CAUTION
    assert result.resistance[0].failed_adequate_trials == 1
    data["medication_trials"].append(
        {
            "drug": "Escitalopram",
            "dose_mg_per_day": 20,
            "duration_weeks": 10,
            "outcome": "no_response",
            "in_current_episode": True,
        }
    )
    assert rules_of(assess(data))["resistance.depression.shown"] is Tier.INFO


def test_both_indications_assessed() -> None:
    data = _set("diagnoses", [{"code": "F43.10"}, {"code": "F32.2"}])
    result = assess(data)
    assert result.indications == (Indication.PTSD, Indication.DEPRESSION)
    assert [a.indication for a in result.resistance] == [Indication.PTSD, Indication.DEPRESSION]


# --- JSON validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("medical"), "'medical' is a required property"),
        (lambda d: d["medical"].pop("seizure_disorder"), "intake.medical: 'seizure_disorder'"),
        (lambda d: d["medical"].update(seizure_disorder="no"), "intake.medical.seizure_disorder"),
        (lambda d: d.update(age_years=42.5), "intake.age_years"),
        (lambda d: d.update(sex="x"), "intake.sex"),
        (lambda d: d["diagnoses"].append({"code": "PTSD"}), r"intake.diagnoses\[1\].code"),
        (
            lambda d: d["medication_trials"][0].update(dose_mg_per_day=0),
            r"intake.medication_trials\[0\].dose_mg_per_day",
        ),
        (
            lambda d: d["psychotherapy_trials"][0].update(start_date="2024-02-30"),
            r"psychotherapy_trials\[0\].start_date: '2024-02-30' is not a valid date",
        ),
        (lambda d: d.update(unexpected=1), "unexpected"),
        (
            lambda d: d.update(
                vitals={"systolic_bp_mmhg": 80, "diastolic_bp_mmhg": 90, "heart_rate_bpm": 70}
            ),
            "diastolic 90 is not below systolic 80",
        ),
    ],
)
def test_invalid_intake_refused_naming_field(mutate: Any, message: str) -> None:
    data = base_intake()
    mutate(data)
    with pytest.raises(ClinicalInputError, match=message):
        el.intake_from_dict(data)


def test_schema_is_valid_json_schema() -> None:
    import jsonschema

    schema = el.intake_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["required"]) >= {"age_years", "medical", "diagnoses"}


@settings(max_examples=40, deadline=None)
@given(flags=st.dictionaries(st.sampled_from(list(el._MEDICAL_FLAGS)), st.booleans()))
def test_decision_follows_worst_tier(flags: dict[str, bool]) -> None:
    data = copy.deepcopy(base_intake())
    data["medical"].update(flags)
    result = assess(data)
    tiers = {f.tier for f in result.findings}
    if Tier.HARD_STOP in tiers:
        assert result.decision is Decision.NOT_ELIGIBLE
    elif Tier.CAUTION in tiers:
        assert result.decision is Decision.NEEDS_REVIEW
    else:
        assert result.decision is Decision.ELIGIBLE
    assert all(f.rule_id and f.message and f.source for f in result.findings)


# --- treatment resistance ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modality", "sessions", "outcome", "counts"),
    [
        (PsychotherapyModality.CPT, 12, TrialOutcome.NO_RESPONSE, True),  # CPT protocol 12
        (PsychotherapyModality.CPT, 11, TrialOutcome.NO_RESPONSE, False),
        (PsychotherapyModality.PE, 8, TrialOutcome.PARTIAL_RESPONSE, True),  # PE ~8-15
        (PsychotherapyModality.PE, 7, TrialOutcome.NO_RESPONSE, False),
        (PsychotherapyModality.EMDR, 8, TrialOutcome.NO_RESPONSE, True),
        (PsychotherapyModality.EMDR, 10, TrialOutcome.RESPONSE, False),
        (PsychotherapyModality.EMDR, 10, TrialOutcome.NOT_TOLERATED, False),
        (PsychotherapyModality.PE, 10, TrialOutcome.UNKNOWN, False),
        (PsychotherapyModality.OTHER, 30, TrialOutcome.NO_RESPONSE, False),
    ],
)
def test_psychotherapy_adequacy(
    modality: PsychotherapyModality, sessions: int, outcome: TrialOutcome, counts: bool
) -> None:
    judgement = rs.judge_psychotherapy(PsychotherapyTrial(modality, sessions, outcome))
    assert judgement.counts is counts
    assert judgement.reasons


@pytest.mark.parametrize(
    ("drug", "dose", "weeks", "counts"),
    [
        ("sertraline", 100, 8, True),  # >= 100 mg/day for >= 8 weeks
        ("sertraline", 50, 12, False),
        ("Paroxetine", 20, 8, True),
        ("paroxetine", 20, 7.5, False),
        ("venlafaxine", 150, 12, True),
        ("venlafaxine", 75, 12, False),
        ("fluoxetine", 40, 12, False),  # not first-line for PTSD (VA/DoD 2023)
    ],
)
def test_ptsd_medication_adequacy(drug: str, dose: float, weeks: float, counts: bool) -> None:
    trial = MedicationTrial(drug, dose, weeks, TrialOutcome.NO_RESPONSE)
    judgement = rs.judge_medication(trial, Indication.PTSD)
    assert judgement.counts is counts


def test_trd_current_episode_rule() -> None:
    old = MedicationTrial("fluoxetine", 40, 12, TrialOutcome.NO_RESPONSE, in_current_episode=False)
    unknown = MedicationTrial("citalopram", 40, 12, TrialOutcome.NO_RESPONSE)
    assert rs.judge_medication(old, Indication.DEPRESSION).counts is False
    judged = rs.judge_medication(unknown, Indication.DEPRESSION)
    assert judged.counts is True
    assert any("confirm" in r for r in judged.reasons)


def test_ptsd_can_require_psychotherapy() -> None:
    meds = [MedicationTrial("sertraline", 200, 12, TrialOutcome.NO_RESPONSE)]
    strict = rs.ResistanceSettings(ptsd_require_psychotherapy=True)
    assert rs.assess_resistance(Indication.PTSD, [], meds).resistant is True
    assessment = rs.assess_resistance(Indication.PTSD, [], meds, strict)
    assert assessment.resistant is False
    assert "trauma-focused psychotherapy" in assessment.explanation


def test_bad_trials_refused() -> None:
    with pytest.raises(ClinicalInputError, match="sessions_completed"):
        PsychotherapyTrial(PsychotherapyModality.PE, -1, TrialOutcome.NO_RESPONSE)
    with pytest.raises(ClinicalInputError, match="dose_mg_per_day"):
        MedicationTrial("sertraline", 0, 8, TrialOutcome.NO_RESPONSE)
    with pytest.raises(ClinicalInputError, match="duration_weeks"):
        MedicationTrial("sertraline", 100, 0, TrialOutcome.NO_RESPONSE)
    with pytest.raises(ClinicalInputError, match="blank"):
        MedicationTrial(" ", 100, 8, TrialOutcome.NO_RESPONSE)


def test_screening_vitals_refuse_non_positive() -> None:
    with pytest.raises(ClinicalInputError, match=r"vitals\.heart_rate_bpm"):
        el.ScreeningVitals(120, 80, 0)


def test_null_trial_dates_allowed() -> None:
    data = base_intake()
    data["psychotherapy_trials"][0]["start_date"] = None
    intake = el.intake_from_dict(data)
    assert intake.psychotherapy_trials[0].start_date is None


def test_trial_dates_order_and_reason_stopped() -> None:
    with pytest.raises(ClinicalInputError, match="end_date is before start_date"):
        PsychotherapyTrial(
            PsychotherapyModality.PE,
            10,
            TrialOutcome.NO_RESPONSE,
            start_date=datetime.date(2024, 5, 1),
            end_date=datetime.date(2024, 4, 1),
        )
    trial = MedicationTrial("sertraline", 50, 4, TrialOutcome.NOT_TOLERATED, "nausea")
    judged = rs.judge_medication(trial, Indication.PTSD)
    assert judged.counts is False
    assert "Reason stopped: nausea." in judged.reasons
    assert any("not tolerated" in r for r in judged.reasons)
