"""Eligibility rules, second pass (issue 10, items 1-6). Each rule fires and does not fire, with
its source cited:

1. C-SSRS not done -> caution (an unknown risk is not "no risk": Spravato label warning;
   Posner 2011);
2. psychosis by ICD-10-CM 2025 code: F20-F29 hard stop, psychotic features (mood episodes,
   substance-induced, due to a physiological condition) caution, the code named (trial
   exclusions NCT02727998, NCT03960658, JADR 2023; Spravato label);
3. bipolar depression needs review, never "no indication" (ASKP 2018 vs trial exclusions);
   current mania or hypomania a hard stop, by code or answer alike;
4. treatment resistance counts distinct drugs, brand = generic (TRD >= 2 adequate trials: Fava
   2018, ELEKT-D 2023);
5. medicines by generic and brand; benzodiazepines > 3 mg/day lorazepam-equivalent (JADR 2023,
   Ashton equivalents); sedative-hypnotics of the Spravato REMS form; naltrexone (Williams 2018);
6. hypotension SBP <= 90 (ED low-dose protocol < 90; NEWS2 <= 90 scores 3) and impossible
   pressures refused by the monitoring entry guard (kPa, swapped).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.clinical.builders import assess, base_intake, rules_of

from ketaflow.cli import main
from ketaflow.clinical import codes, medicines
from ketaflow.clinical import eligibility as el
from ketaflow.clinical import resistance as rs
from ketaflow.clinical.common import Indication
from ketaflow.clinical.eligibility import Decision, Tier
from ketaflow.clinical.errors import ClinicalInputError, ImpossibleValueError
from ketaflow.clinical.medicines import MedicineClass
from ketaflow.clinical.resistance import MedicationTrial, TrialOutcome


def _finding(result: el.EligibilityResult, rule: str) -> el.Finding:
    return next(f for f in result.findings if f.rule_id == rule)


def _with_codes(*codes_: str) -> dict[str, Any]:
    data = base_intake()
    data["diagnoses"] = [{"code": c} for c in codes_]
    return data


# --- 1. suicide-risk screen not done ------------------------------------------------------


@pytest.mark.parametrize(
    ("risk", "rule", "tier"),
    [
        (None, "suicide.screen_missing", Tier.CAUTION),  # unknown, not "no risk"
        ("low", None, None),
        ("moderate", "suicide.moderate_risk", Tier.INFO),
        ("high", "suicide.high_risk", Tier.CAUTION),
    ],
)
def test_suicide_screen(risk: str | None, rule: str | None, tier: Tier | None) -> None:
    data = base_intake()
    data["cssrs_risk"] = risk
    result = assess(data)
    suicide = {k: v for k, v in rules_of(result).items() if k.startswith("suicide.")}
    assert suicide == ({} if rule is None else {rule: tier})


def test_missing_screen_decision_and_source() -> None:
    data = base_intake()
    del data["cssrs_risk"]
    result = assess(data)
    assert result.decision is Decision.NEEDS_REVIEW
    finding = _finding(result, "suicide.screen_missing")
    assert "C-SSRS" in finding.message
    assert "Posner" in finding.source
    assert "Spravato" in finding.source


# --- 2. psychosis by code ---------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["F20.9", "F21", "F22", "F23", "F24", "F25.0", "F28", "F29", "f20.0"]
)
def test_psychotic_disorder_codes_are_a_hard_stop_naming_the_code(code: str) -> None:
    result = assess(_with_codes("F43.12", code))
    assert rules_of(result)["psychiatric.psychotic_disorder"] is Tier.HARD_STOP
    assert result.decision is Decision.NOT_ELIGIBLE
    finding = _finding(result, "psychiatric.psychotic_disorder")
    assert code.upper() in finding.message
    assert "ICD-10-CM 2025" in finding.source


@pytest.mark.parametrize(
    "code",
    [
        "F30.2",
        "F31.5",
        "F31.64",
        "F32.3",
        "F33.3",
        "F06.0",
        "F06.2",
        "F10.150",
        "F10.259",
        "F12.159",
        "F14.251",
        "F15.950",
        "F16.159",
        "F19.959",
    ],
)
def test_psychotic_features_need_review_naming_the_code(code: str) -> None:
    result = assess(_with_codes("F43.12", code))
    rules = rules_of(result)
    assert rules["psychiatric.psychosis_history"] is Tier.CAUTION
    assert "psychiatric.psychotic_disorder" not in rules
    assert code in _finding(result, "psychiatric.psychosis_history").message


@pytest.mark.parametrize(
    "code", ["F32.2", "F33.1", "F43.10", "F10.20", "F12.10", "F10.180", "F41.1", "F31.4"]
)
def test_codes_without_psychosis_do_not_fire(code: str) -> None:
    rules = rules_of(assess(_with_codes("F43.12", code)))
    assert "psychiatric.psychotic_disorder" not in rules
    assert "psychiatric.psychosis_history" not in rules


def test_active_psychosis_stays_a_hard_stop_and_history_answer_a_caution() -> None:
    data = _with_codes("F33.3")
    data["psychiatric"]["active_psychosis"] = True
    rules = rules_of(assess(data))
    assert rules["psychiatric.active_psychosis"] is Tier.HARD_STOP
    assert "psychiatric.psychosis_history" not in rules
    answered = base_intake()
    answered["psychiatric"]["psychotic_disorder_history"] = True
    result = assess(answered)
    assert rules_of(result)["psychiatric.psychosis_history"] is Tier.CAUTION
    assert "(" not in _finding(result, "psychiatric.psychosis_history").message  # no code


def test_code_lists_hold_the_reviewed_examples() -> None:
    # ICD-10-CM 2025 tabular list: the codes named in the clinical review (issue 10).
    for code in ("F30.2", "F31.2", "F31.5", "F32.3", "F33.3"):
        assert codes.matches([code], codes.PSYCHOTIC_FEATURES), code
    for category in ("F10", "F11", "F12", "F13", "F14", "F15", "F16", "F18", "F19"):
        for use in ("15", "25", "95"):
            assert f"{category}.{use}" in codes.PSYCHOTIC_FEATURES
    assert not codes.matches(["F17.210"], codes.PSYCHOTIC_FEATURES)  # nicotine: none
    assert {p[:3] for p in codes.PSYCHOTIC_DISORDERS} == {f"F2{d}" for d in "01234589"}


# --- 3. bipolar and mania ---------------------------------------------------------------


def test_bipolar_depression_code_needs_review_not_no_indication() -> None:
    result = assess(_with_codes("F31.4"))
    rules = rules_of(result)
    assert "indication.none" not in rules
    assert rules["psychiatric.bipolar"] is Tier.CAUTION
    assert result.decision is Decision.NEEDS_REVIEW
    assert result.indications == (Indication.DEPRESSION,)
    assert "F31.4" in _finding(result, "psychiatric.bipolar").message


def test_bipolar_by_code_or_answer_is_one_rule_and_one_outcome() -> None:
    by_code = assess(_with_codes("F31.4"))
    by_answer = _with_codes("F41.1")  # anxiety only: no indication without the answer
    assert rules_of(assess(by_answer))["indication.none"] is Tier.HARD_STOP
    by_answer["psychiatric"]["bipolar_disorder"] = True
    answered = assess(by_answer)
    assert answered.decision is by_code.decision is Decision.NEEDS_REVIEW
    assert answered.indications == by_code.indications
    assert {k for k in rules_of(answered) if k.startswith(("psychiatric.", "indication."))} == {
        k for k in rules_of(by_code) if k.startswith(("psychiatric.", "indication."))
    }
    assert "psychiatric.bipolar" not in rules_of(assess(_with_codes("F43.12", "F33.1")))


@pytest.mark.parametrize(
    "code", ["F30.10", "F30.2", "F30.9", "F31.0", "F31.11", "F31.2", "F31.62", "F31.64"]
)
def test_current_mania_or_hypomania_by_code_is_a_hard_stop(code: str) -> None:
    result = assess(_with_codes("F43.12", code))
    assert rules_of(result)["psychiatric.current_mania"] is Tier.HARD_STOP
    assert result.decision is Decision.NOT_ELIGIBLE
    assert code in _finding(result, "psychiatric.current_mania").message


@pytest.mark.parametrize("code", ["F30.3", "F30.4", "F31.4", "F31.73", "F31.74", "F31.81"])
def test_mania_in_remission_or_depressed_episode_is_not_current_mania(code: str) -> None:
    rules = rules_of(assess(_with_codes("F43.12", code)))
    assert "psychiatric.current_mania" not in rules


def test_current_mania_answer_is_the_same_rule() -> None:
    data = base_intake()
    data["psychiatric"]["current_mania"] = True
    result = assess(data)
    assert rules_of(result)["psychiatric.current_mania"] is Tier.HARD_STOP
    assert "hypomanic" in _finding(result, "psychiatric.current_mania").message


# --- 4. treatment resistance: distinct drugs ---------------------------------------------


def _trial(drug: str, dose: float = 150, outcome: TrialOutcome = TrialOutcome.NO_RESPONSE) -> Any:
    return MedicationTrial(drug, dose, 12, outcome, in_current_episode=True)


@pytest.mark.parametrize(
    ("drugs", "failed", "resistant"),
    [
        (["sertraline", "sertraline"], 1, False),  # the same drug twice is one failure
        (["Sertraline", "ZOLOFT"], 1, False),  # brand and generic are one drug
        (["sertraline", "escitalopram"], 2, True),  # TRD: >= 2 adequate trials (Fava 2018)
        (["Zoloft", "Lexapro"], 2, True),
    ],
)
def test_trd_counts_distinct_drugs(drugs: list[str], failed: int, resistant: bool) -> None:
    assessment = rs.assess_resistance(Indication.DEPRESSION, [], [_trial(d) for d in drugs])
    assert assessment.failed_adequate_trials == failed
    assert assessment.resistant is resistant
    assert "each drug counted once" in assessment.explanation
    assert sum(j.counts for j in assessment.judgements) == failed


def test_repeat_of_a_drug_says_why_it_does_not_count() -> None:
    assessment = rs.assess_resistance(
        Indication.PTSD, [], [_trial("sertraline"), _trial("Zoloft", 200)]
    )
    first, repeat = assessment.judgements
    assert first.counts
    assert not repeat.counts
    assert any("sertraline already counted" in r for r in repeat.reasons)


def test_a_repeat_that_failed_counts_when_the_first_did_not() -> None:
    tolerated = _trial("sertraline", outcome=TrialOutcome.NOT_TOLERATED)
    assessment = rs.assess_resistance(Indication.PTSD, [], [tolerated, _trial("sertraline")])
    assert assessment.failed_adequate_trials == 1
    assert [j.counts for j in assessment.judgements] == [False, True]


def test_brand_name_uses_the_generic_adequate_dose() -> None:
    # Zoloft is sertraline: 100 mg/day is adequate for PTSD (clinical.md s. 3 [RECALLED]).
    assert rs.judge_medication(_trial("Zoloft", 100), Indication.PTSD).counts is True
    assert rs.judge_medication(_trial("Zoloft", 50), Indication.PTSD).counts is False


# --- 5. medicines by generic and brand name ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "generic", "medicine_class"),
    [
        ("Xanax", "alprazolam", MedicineClass.BENZODIAZEPINE),
        ("KLONOPIN 0.5 mg", "clonazepam", MedicineClass.BENZODIAZEPINE),
        ("lorazepam", "lorazepam", MedicineClass.BENZODIAZEPINE),
        ("Ambien CR", "zolpidem", MedicineClass.SEDATIVE_HYPNOTIC),
        ("zolpidem tartrate", "zolpidem", MedicineClass.SEDATIVE_HYPNOTIC),
        ("Lunesta", "eszopiclone", MedicineClass.SEDATIVE_HYPNOTIC),
        ("Adderall XR", "amphetamine", MedicineClass.STIMULANT),
        ("Vyvanse", "lisdexamfetamine", MedicineClass.STIMULANT),
        ("Nardil", "phenelzine", MedicineClass.MAOI),
        ("Emsam patch", "selegiline", MedicineClass.MAOI),
        ("Lamictal", "lamotrigine", MedicineClass.NMDA_ACTING),
        ("Namenda", "memantine", MedicineClass.NMDA_ACTING),
        ("lithium carbonate", "lithium", MedicineClass.NMDA_ACTING),
        ("MS Contin", "morphine", MedicineClass.OPIOID),
        ("Suboxone", "buprenorphine", MedicineClass.OPIOID),
        ("Vivitrol", "naltrexone", MedicineClass.OPIOID_ANTAGONIST),
    ],
)
def test_medicines_recognised_by_generic_and_brand(
    name: str, generic: str, medicine_class: MedicineClass
) -> None:
    found = medicines.identify(name)
    assert found is not None
    assert (found.generic, found.medicine_class) == (generic, medicine_class)


@pytest.mark.parametrize("name", ["penicillin", "vitamin D", "", "Zyrtec"])
def test_unknown_medicines_are_not_recognised(name: str) -> None:
    assert medicines.identify(name) is None


def test_medicine_tables_are_consistent() -> None:
    brands = [b for _, names in medicines.MEDICINES.values() for b in names]
    assert len(brands) == len(set(brands)), "a brand maps to two generics"
    assert not set(brands) & set(medicines.MEDICINES), "a brand is also a generic"
    for generic in medicines.LORAZEPAM_EQUIVALENT_MG:
        assert medicines.MEDICINES[generic][0] is MedicineClass.BENZODIAZEPINE
    assert medicines.LORAZEPAM_EQUIVALENT_MG["lorazepam"] == 1.0


def _meds(*meds: tuple[str, float | None]) -> el.EligibilityResult:
    data = base_intake()
    data["current_medications"] = [{"name": n, "dose_mg_per_day": d} for n, d in meds]
    return assess(data)


@pytest.mark.parametrize(
    ("meds", "rule", "equivalent"),
    [
        ((("lorazepam", 3),), "medication.benzodiazepine", "3 mg/day"),  # at the limit
        ((("Ativan", 3.5),), "medication.benzodiazepine_high_dose", "3.5 mg/day"),
        ((("Xanax", 2),), "medication.benzodiazepine_high_dose", "4 mg/day"),  # 0.5 mg = 1 mg
        ((("diazepam", 30),), "medication.benzodiazepine", "3 mg/day"),  # 10 mg = 1 mg
        ((("clonazepam", 1), ("lorazepam", 1.5)), "medication.benzodiazepine_high_dose", "3.5"),
        ((("Klonopin", 1), ("Ativan", 1)), "medication.benzodiazepine", "3 mg/day"),
    ],
)
def test_benzodiazepine_limit_in_lorazepam_equivalents(
    meds: tuple[tuple[str, float], ...], rule: str, equivalent: str
) -> None:
    # JADR 2023: > 3 mg/day lorazepam-equivalent excluded; Ashton equivalents.
    result = _meds(*meds)
    benzo = {k: v for k, v in rules_of(result).items() if k.startswith("medication.benzo")}
    assert benzo == {rule: Tier.CAUTION}
    finding = _finding(result, rule)
    assert equivalent in finding.message
    assert "JADR 2023" in finding.source
    assert "Ashton" in finding.source


@pytest.mark.parametrize(("name", "dose"), [("lorazepam", None), ("midazolam", 5)])
def test_benzodiazepine_dose_unknown_is_said_so(name: str, dose: float | None) -> None:
    finding = _finding(_meds((name, dose)), "medication.benzodiazepine")
    assert finding.tier is Tier.CAUTION
    assert f"the daily dose of {name} is not recorded" in finding.message


@pytest.mark.parametrize(
    ("name", "rule", "tier"),
    [
        ("Ambien", "medication.sedative_hypnotic", Tier.CAUTION),  # Spravato REMS form
        ("zopiclone", "medication.sedative_hypnotic", Tier.CAUTION),
        ("Belsomra", "medication.sedative_hypnotic", Tier.CAUTION),
        ("Ritalin", "medication.stimulant", Tier.CAUTION),  # Spravato label, REMS form
        ("Parnate", "medication.maoi", Tier.CAUTION),
        ("OxyContin", "medication.opioid", Tier.CAUTION),  # JADR 2023
        ("Revia", "medication.naltrexone", Tier.CAUTION),  # Williams 2018 vs Yoon 2019
        ("Lamictal", "medication.nmda_acting", Tier.INFO),  # NCT05803551
    ],
)
def test_medicine_classes_fire_by_brand_or_generic(name: str, rule: str, tier: Tier) -> None:
    result = _meds((name, None))
    rules = {k: v for k, v in rules_of(result).items() if k.startswith("medication.")}
    assert rules == {rule: tier}
    finding = _finding(result, rule)
    assert name in finding.message
    assert finding.source


def test_no_medicine_rule_fires_for_unrelated_medicines() -> None:
    result = _meds(("sertraline", 150), ("penicillin", None), ("Zoloft", 100))
    assert not [k for k in rules_of(result) if k.startswith("medication.")]


# --- 6. vitals on the day ---------------------------------------------------------------


def _vitals(sbp: float, dbp: float, hr: float = 72) -> dict[str, Any]:
    data = base_intake()
    data["vitals"] = {"systolic_bp_mmhg": sbp, "diastolic_bp_mmhg": dbp, "heart_rate_bpm": hr}
    return data


@pytest.mark.parametrize(
    ("sbp", "dbp", "rule"),
    [
        (90, 60, "vitals.bp_low"),  # NEWS2: SBP <= 90 scores 3 (ED protocol: < 90)
        (78, 45, "vitals.bp_low"),
        (91, 60, None),
        (124, 78, None),
    ],
)
def test_hypotension_is_a_caution(sbp: float, dbp: float, rule: str | None) -> None:
    result = assess(_vitals(sbp, dbp))
    vitals = {k: v for k, v in rules_of(result).items() if k.startswith("vitals.")}
    assert vitals == ({} if rule is None else {rule: Tier.CAUTION})
    if rule:
        assert "NEWS2" in _finding(result, rule).source


@pytest.mark.parametrize(
    ("sbp", "dbp", "message"),
    [
        (16, 10, r"vitals\.systolic_bp_mmhg: .*It looks like kPa: 16 kPa is 120 mmHg"),
        (120, 10, r"vitals\.diastolic_bp_mmhg: .*It looks like kPa"),
        (120, 130, r"vitals\.diastolic_bp_mmhg: diastolic 130 is not below systolic 120; "),
        (500, 80, r"vitals\.systolic_bp_mmhg: .*500"),  # schema maximum, then the entry guard
    ],
)
def test_impossible_pressure_is_refused_naming_field_and_mistake(
    sbp: float, dbp: float, message: str
) -> None:
    with pytest.raises(ClinicalInputError, match=message):
        el.intake_from_dict(_vitals(sbp, dbp))
    with pytest.raises(ImpossibleValueError, match=message):
        el.ScreeningVitals(sbp, dbp, 72)


def test_screen_refuses_kpa_in_one_line_and_prints_new_findings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "intake.json"
    path.write_text(json.dumps(_vitals(16, 10)))
    assert main(["screen", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "vitals.systolic_bp_mmhg" in err
    assert "kPa" in err
    data = _vitals(88, 58)
    data["cssrs_risk"] = None
    data["diagnoses"] = [{"code": "F31.4"}]
    path.write_text(json.dumps(data))
    assert main(["screen", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Decision: needs review")
    for rule in ("vitals.bp_low", "suicide.screen_missing", "psychiatric.bipolar"):
        assert f"[caution] {rule}:" in out
    assert "indication.none" not in out
