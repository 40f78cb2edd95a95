"""The registry of clinic-settable thresholds and the settings builder (issue 10, items 7, 10)."""

from __future__ import annotations

import re

import pytest

from ketaflow.clinical import clinic_settings as cs
from ketaflow.clinical import dosing, sources
from ketaflow.clinical.common import Indication, Sex
from ketaflow.clinical.dosing import InfusionRequest, WeightBasis, plan_infusion
from ketaflow.clinical.eligibility import DEFAULT_ELIGIBILITY_SETTINGS
from ketaflow.clinical.errors import HardLimitError
from ketaflow.clinical.monitoring import (
    DEFAULT_MONITORING_SETTINGS,
    AlertLevel,
    VitalSign,
    assess_vitals,
)
from ketaflow.clinical.resistance import (
    DEFAULT_RESISTANCE_SETTINGS,
    MedicationTrial,
    TrialOutcome,
    judge_medication,
)

SBP, DBP = VitalSign.SYSTOLIC_BP, VitalSign.DIASTOLIC_BP


def test_defaults_build_the_module_defaults() -> None:
    built = cs.build_settings()
    assert built.resistance == DEFAULT_RESISTANCE_SETTINGS
    assert built.eligibility == DEFAULT_ELIGIBILITY_SETTINGS
    assert built.monitoring.thresholds == DEFAULT_MONITORING_SETTINGS.thresholds
    assert built.monitoring.changes[SBP] == DEFAULT_MONITORING_SETTINGS.changes[SBP]
    assert built.drug_library == dosing.DRUG_LIBRARY
    assert built.weight_change_confirm_percent == dosing.WEIGHT_CHANGE_CONFIRM_PERCENT


def test_every_setting_is_complete_and_its_default_within_bounds() -> None:
    keys = [s.key for s in cs.REGISTRY]
    assert len(keys) == len(set(keys))
    for s in cs.REGISTRY:
        assert re.fullmatch(r"[a-z_]+\.[a-z0-9_.]+", s.key), s.key
        assert s.label
        assert s.source
        assert s.minimum < s.maximum
        assert "[" not in s.label
        assert s.key not in s.label
        if s.default is not None:
            assert s.minimum <= s.default <= s.maximum, s.key


def test_the_issue_thresholds_are_settings_needing_sign_off() -> None:
    """Item 7: adequate doses, the 0.4 factor, total-dose caps, duration limits, BP-rise alarm."""
    needing = {s.key for s in cs.REGISTRY if s.evidence.needs_sign_off}
    assert {
        "resistance.ptsd_dose.sertraline",
        "resistance.depression_dose.bupropion",
        "resistance.min_duration_weeks",
        "resistance.sessions.cpt",
        "dosing.adjusted_bw_factor",
        "dosing.total_dose_soft_max_mg",
        "dosing.total_dose_hard_max_mg",
        "dosing.duration_hard_min",
        "dosing.duration_hard_max",
        "monitoring.bp_rise_critical_percent",
        "monitoring.bp_rise_critical_mmhg",
        "monitoring.systolic_critical_mmhg",
        "monitoring.spo2_emergency_percent",
    } <= needing
    assert cs.spec("dosing.duration_soft_min").evidence is cs.Evidence.SOURCED
    assert cs.Evidence.RECALLED.label == "recalled - needs director sign-off"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dosing.adjusted_bw_factor": 0.9}, "Adjusted body weight.*0.9 is outside .*0.2-0.5"),
        ({"monitoring.bp_rise_critical_percent": 5}, r"\(percent\): 5 % is outside .*15-50 %"),
        ({"resistance.sessions.cpt": 12.5}, "cognitive processing therapy.*whole number"),
        ({"resistance.ptsd_dose.sertraline": 10}, "sertraline dose for PTSD: 10 mg/day"),
        ({"dosing.total_dose_soft_max_mg": float("nan")}, "not a finite number"),
        ({"monitoring.systolic_critical_mmhg": None}, "Systolic .*: a value is required"),
        ({"no.such.key": 1}, "unknown clinic setting 'no.such.key'"),
        (
            {"dosing.total_dose_soft_max_mg": 100, "dosing.total_dose_hard_max_mg": 90},
            "needs an override: 100 mg must be below total dose: above this is refused",
        ),
        (
            {"monitoring.spo2_emergency_percent": 89, "monitoring.spo2_critical_percent": 88},
            "emergency: 89 % must be below",
        ),
    ],
)
def test_out_of_bounds_or_inconsistent_values_are_refused(
    overrides: dict[str, float | None], message: str
) -> None:
    with pytest.raises(cs.ClinicSettingError, match=message):
        cs.build_settings(overrides)


def test_overrides_reach_each_rule() -> None:
    built = cs.build_settings(
        {
            "resistance.ptsd_dose.sertraline": 150,
            "resistance.min_duration_weeks": 12,
            "dosing.adjusted_bw_factor": 0.3,
            "dosing.total_dose_hard_max_mg": 60,
            "monitoring.bp_rise_critical_percent": 20,
            "eligibility.bp_hard_stop_systolic_mmhg": 170,
        }
    )
    trial = MedicationTrial("sertraline", 100, 10, TrialOutcome.NO_RESPONSE)
    assert judge_medication(trial, Indication.PTSD).adequate  # the defaults: 100 mg, 8 weeks
    judged = judge_medication(trial, Indication.PTSD, built.resistance)
    assert not judged.adequate
    assert "150 mg/day" in judged.reasons[0]
    assert "12 weeks" in judged.reasons[0]
    assert built.eligibility.resistance is built.resistance
    assert built.eligibility.hard_stop_systolic_at_or_above_mmhg == 170
    # Adjusted weight 0.3: IBW 73 kg at 177.8 cm male (Devine), 120 kg -> 73 + 0.3 x 47 = 87.1.
    request = InfusionRequest(
        indication=Indication.PTSD,
        weight_kg=120,
        weight_basis=WeightBasis.ADJUSTED,
        dose_mg_per_kg=0.5,
        vial_concentration_mg_per_ml=10,
        final_volume_ml=100,
        duration_min=40,
        height_cm=177.8,
        sex=Sex.MALE,
    )
    plan = plan_infusion(request, built.drug_library[Indication.PTSD])
    assert plan.weight_basis_kg == pytest.approx(87.1)
    assert plan_infusion(request).weight_basis_kg == pytest.approx(91.8)  # 0.4 by default
    heavy = InfusionRequest(
        indication=Indication.PTSD,
        weight_kg=130,
        weight_basis=WeightBasis.ACTUAL,
        dose_mg_per_kg=0.5,
        vial_concentration_mg_per_ml=10,
        final_volume_ml=100,
        duration_min=40,
    )
    with pytest.raises(HardLimitError, match="total dose 65 mg is above the hard maximum 60"):
        plan_infusion(heavy, built.drug_library[Indication.PTSD])


def test_bp_rise_rule_by_percent_or_mmhg_is_the_clinics_choice() -> None:
    """Item 10 (clinical.md s. 4.2: "20-30% above baseline" [RECALLED]; Yip 2022): +24 mmHg from
    120/80 is abnormal by default, critical when the clinic chose 20% or a 20 mmHg rise."""
    reading, baseline = {SBP: 144.0, DBP: 84.0}, {SBP: 120.0, DBP: 80.0}
    by_default = assess_vitals(reading, baseline=baseline, settings=cs.build_settings().monitoring)
    assert by_default.level is AlertLevel.ABNORMAL
    for chosen in (
        {"monitoring.bp_rise_critical_percent": 20},
        {"monitoring.bp_rise_critical_percent": None, "monitoring.bp_rise_critical_mmhg": 20},
    ):
        monitoring = cs.build_settings(chosen).monitoring
        result = assess_vitals(reading, baseline=baseline, settings=monitoring)
        assert result.level is AlertLevel.CRITICAL, chosen


def test_patient_page_source_drops_evidence_tags() -> None:
    text = f"{sources.TRD_DEFINITION}; {sources.ADEQUACY_RECALLED}; {sources.CLINIC_POLICY}"
    shown = cs.source_for_patient_page(text)
    assert "RECALLED" not in shown
    assert "clinic must set" not in shown
    assert "Clinic policy default" not in shown
    assert shown.startswith("TRD = >=2 adequate antidepressant trials")
    assert shown.endswith("clinic setting")


@pytest.mark.parametrize(
    ("cited", "read"),
    [
        (
            "trial exclusions (clinical.md s. 3)",
            "trial exclusions (KetaFlow clinical reference, section 3)",
        ),
        (
            "Yip 2022; clinical.md s. 2.2 and 4.2",
            "Yip 2022; KetaFlow clinical reference, sections 2.2 and 4.2",
        ),
        ("clinical.md section 7", "KetaFlow clinical reference, section 7"),
        ("see pk.md §5", "see KetaFlow pharmacokinetic reference, section 5"),
        ("clinical.md", "KetaFlow clinical reference"),
    ],
)
def test_the_reference_documents_are_cited_by_title(cited: str, read: str) -> None:
    assert cs.source_for_patient_page(cited) == read


def test_no_rule_source_on_a_patient_page_names_a_file() -> None:
    from ketaflow.clinical import eligibility, monitoring

    texts = [
        value
        for module in (sources, eligibility, monitoring)
        for value in vars(module).values()
        if isinstance(value, str)
    ] + [spec.source for spec in cs.REGISTRY]
    for text in texts:
        assert ".md" not in cs.source_for_patient_page(text), text


def test_settings_for_a_rule() -> None:
    keys = {s.key for s in cs.specs_for_rule("resistance.ptsd.not_shown")}
    assert "resistance.ptsd_dose.sertraline" in keys
    assert "resistance.depression_dose.bupropion" not in keys
    assert {s.key for s in cs.specs_for_rule("vitals.bp_very_high")} == {
        "eligibility.bp_hard_stop_systolic_mmhg",
        "eligibility.bp_hard_stop_diastolic_mmhg",
    }


def test_every_rule_a_setting_names_exists() -> None:
    """A setting's rule prefixes match rule ids the eligibility rules produce."""
    import inspect

    from ketaflow.clinical import eligibility

    text = inspect.getsource(eligibility)
    for s in cs.REGISTRY:
        for prefix in s.rules:
            assert f'"{prefix}' in text or f'f"{prefix.split(".")[0]}.' in text, (s.key, prefix)
