"""The thresholds a clinic sets, and the typed settings objects built from them.

Every number that ``sources.py`` tags as recalled, secondary or clinic policy (adequate doses and
durations, the adjusted-weight factor, total-dose caps, infusion-duration limits, the
rise-from-baseline alarm and the other monitoring thresholds without a published value) is a
:class:`SettingSpec` here: a stable key, a plain-English label, its unit, the safer default, the
bounds a clinic may choose within, its source and its evidence status. A clinic keeps only its
overrides (a mapping from key to value); :func:`build_settings` turns them into the settings
objects the rules take (:class:`EligibilitySettings`, :class:`ResistanceSettings`, the drug
library, :class:`MonitoringSettings`), refusing a value outside its bounds or an inconsistent set
(a soft cap above the hard cap) with a :class:`ClinicSettingError` naming the setting and the
rule. Sourced values that the medical director may change sit here too, marked "sourced".
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ketaflow.clinical import dosing, sources
from ketaflow.clinical.common import Indication
from ketaflow.clinical.dosing import DRUG_LIBRARY, DrugLibraryEntry, LimitSet
from ketaflow.clinical.eligibility import DEFAULT_ELIGIBILITY_SETTINGS, EligibilitySettings
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.clinical.monitoring import (
    DEFAULT_MONITORING_SETTINGS,
    ChangeThresholds,
    MonitoringSettings,
    VitalSign,
    VitalThresholds,
)
from ketaflow.clinical.resistance import (
    DEFAULT_RESISTANCE_SETTINGS,
    PsychotherapyModality,
    ResistanceSettings,
)


class ClinicSettingError(ClinicalInputError):
    """A clinic setting outside its bounds, unknown, or inconsistent with another setting."""


class Evidence(StrEnum):
    """How well the default is sourced (``docs/reference/clinical.md`` tags)."""

    SOURCED = "sourced"
    SECONDARY = "secondary"
    RECALLED = "recalled"
    CLINIC_POLICY = "clinic_policy"

    @property
    def label(self) -> str:
        return _EVIDENCE_LABELS[self]

    @property
    def needs_sign_off(self) -> bool:
        """The default itself needs the medical director's sign-off."""
        return self is not Evidence.SOURCED


_EVIDENCE_LABELS: Final[Mapping[Evidence, str]] = MappingProxyType(
    {
        Evidence.SOURCED: "sourced",
        Evidence.SECONDARY: "secondary source - needs director sign-off",
        Evidence.RECALLED: "recalled - needs director sign-off",
        Evidence.CLINIC_POLICY: "clinic policy - needs director sign-off",
    }
)


class Group(StrEnum):
    RESISTANCE = "resistance"
    DOSING = "dosing"
    MONITORING = "monitoring"
    ELIGIBILITY = "eligibility"

    @property
    def label(self) -> str:
        return _GROUP_LABELS[self]


_GROUP_LABELS: Final[Mapping[Group, str]] = MappingProxyType(
    {
        Group.RESISTANCE: "Treatment resistance: adequate earlier treatment",
        Group.DOSING: "Dosing and the infusion",
        Group.MONITORING: "Vital signs during the infusion",
        Group.ELIGIBILITY: "Candidacy",
    }
)


@dataclass(frozen=True)
class SettingSpec:
    """One clinic-settable threshold. ``default`` ``None`` means the rule is off by default;
    ``may_be_off`` lets the clinic turn the rule off (a blank value). ``rules`` are the prefixes
    of the eligibility rule ids (``Finding.rule_id``) whose result the setting changes."""

    key: str
    group: Group
    label: str
    unit: str
    default: float | None
    minimum: float
    maximum: float
    source: str
    evidence: Evidence
    integer: bool = False
    may_be_off: bool = False
    rules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.default is None and not self.may_be_off:
            raise ClinicSettingError(f"{self.key}: a default of off needs may_be_off")
        if self.default is not None:
            self.check(self.default)

    def check(self, value: float | None) -> float | None:
        """The value if it is allowed, else :class:`ClinicSettingError` naming the rule."""
        if value is None:
            if not self.may_be_off:
                raise ClinicSettingError(f"{self.label}: a value is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ClinicSettingError(f"{self.label}: {value!r} is not a number")
        if not math.isfinite(value):
            raise ClinicSettingError(f"{self.label}: {value!r} is not a finite number")
        if self.integer and value != int(value):
            raise ClinicSettingError(f"{self.label}: must be a whole number, got {value:g}")
        if not self.minimum <= value <= self.maximum:
            unit = f" {self.unit}" if self.unit else ""
            raise ClinicSettingError(
                f"{self.label}: {value:g}{unit} is outside the allowed range "
                f"{self.minimum:g}-{self.maximum:g}{unit}"
            )
        return float(value)

    def show(self, value: float | None) -> str:
        """The value with its unit, as a person reads it ("off" for a rule turned off)."""
        if value is None:
            return "off"
        return f"{value:g} {self.unit}".strip()


_RES = DEFAULT_RESISTANCE_SETTINGS
_MON = DEFAULT_MONITORING_SETTINGS
_ELIG = DEFAULT_ELIGIBILITY_SETTINGS
_LIB = DRUG_LIBRARY[Indication.PTSD]
_SBP, _DBP = VitalSign.SYSTOLIC_BP, VitalSign.DIASTOLIC_BP
_HR, _SPO2 = VitalSign.HEART_RATE, VitalSign.SPO2

_ADEQUACY: Final = (
    "Adequate dose and duration: clinical.md s. 3 (therapeutic dose ranges recalled, not read)"
)
_SESSIONS_SOURCE: Final = (
    "Trauma-focused psychotherapy 8-12 sessions; CPT protocol 12 sessions; PE about 8-15 "
    "(clinical.md s. 3, recalled); VA/DoD PTSD CPG 2023"
)
_RESISTANCE_RULES: Final = ("resistance.",)


def _sessions(modality: PsychotherapyModality, name: str) -> SettingSpec:
    return SettingSpec(
        key=f"resistance.sessions.{modality.value.lower()}",
        group=Group.RESISTANCE,
        label=f"Adequate {name}: sessions completed",
        unit="sessions",
        default=float(_RES.min_sessions[modality]),
        minimum=4,
        maximum=30,
        source=_SESSIONS_SOURCE,
        evidence=Evidence.RECALLED,
        integer=True,
        rules=("resistance.ptsd.",),  # psychotherapy counts for PTSD only
    )


def _dose(table: str, drug: str, default: float, source: str) -> SettingSpec:
    what = "PTSD" if table == "ptsd" else "depression"
    return SettingSpec(
        key=f"resistance.{table}_dose.{drug}",
        group=Group.RESISTANCE,
        label=f"Adequate {drug} dose for {what}",
        unit="mg/day",
        default=default,
        # Never below half the default (a trial at a fraction of the usual dose is not adequate),
        # never above four times it (beyond any labelled maximum of these drugs).
        minimum=default / 2,
        maximum=default * 4,
        source=source,
        evidence=Evidence.RECALLED,
        rules=(f"resistance.{'ptsd' if table == 'ptsd' else 'depression'}.",),
    )


def _resistance_specs() -> tuple[SettingSpec, ...]:
    specs = [
        _sessions(PsychotherapyModality.PE, "prolonged exposure"),
        _sessions(PsychotherapyModality.CPT, "cognitive processing therapy"),
        _sessions(PsychotherapyModality.EMDR, "EMDR"),
    ]
    for drug, dose in _RES.ptsd_min_dose_mg_per_day.items():
        specs.append(_dose("ptsd", drug, dose, f"{_ADEQUACY}; {sources.VA_DOD_PTSD_CPG_2023}"))
    for drug, dose in _RES.depression_min_dose_mg_per_day.items():
        source = (
            _ADEQUACY
            if drug in _RES.ptsd_min_dose_mg_per_day
            else "FDA prescribing information, usual effective dose (recalled, not read)"
        )
        specs.append(_dose("depression", drug, dose, source))
    specs += [
        SettingSpec(
            key="resistance.min_duration_weeks",
            group=Group.RESISTANCE,
            label="Adequate medication trial: duration at that dose",
            unit="weeks",
            default=_RES.min_duration_weeks,
            minimum=4,
            maximum=26,
            source=(
                "SSRI/SNRI 8-12 weeks (clinical.md s. 3, recalled) vs 4-6 weeks (secondary): the "
                "stricter lower bound, 8 weeks"
            ),
            evidence=Evidence.RECALLED,
            rules=_RESISTANCE_RULES,
        ),
        SettingSpec(
            key="resistance.ptsd_min_failed_trials",
            group=Group.RESISTANCE,
            label="PTSD: failed adequate first-line trials needed",
            unit="trials",
            default=float(_RES.ptsd_min_failed_trials),
            minimum=1,
            maximum=4,
            source=(
                f"No standard definition for PTSD (clinical.md s. 3); {sources.ABDALLAH_2022} "
                "enrolled after one failed antidepressant treatment"
            ),
            evidence=Evidence.CLINIC_POLICY,
            integer=True,
            rules=("resistance.ptsd.",),
        ),
        SettingSpec(
            key="resistance.depression_min_failed_trials",
            group=Group.RESISTANCE,
            label="Depression: failed adequate antidepressant trials needed",
            unit="trials",
            default=float(_RES.depression_min_failed_trials),
            minimum=2,
            maximum=4,
            source=sources.TRD_DEFINITION,
            evidence=Evidence.SOURCED,
            integer=True,
            rules=("resistance.depression.",),
        ),
    ]
    return tuple(specs)


def _dosing_specs() -> tuple[SettingSpec, ...]:
    total, duration = _LIB.total_dose_mg_limits, _LIB.duration_min_limits
    total_source = (
        "Derived, no published cap: the dose limit in mg/kg x 115 kg, the upper weight enrolled "
        f"in {sources.ICU_TRIAL_NCT05803551}"
    )
    return (
        SettingSpec(
            key="dosing.adjusted_bw_factor",
            group=Group.DOSING,
            label="Adjusted body weight: share of the weight above ideal",
            unit="",
            default=_LIB.adjusted_bw_factor,
            minimum=0.2,
            maximum=0.5,
            source=(
                "Adjusted body weight = IBW + 0.4 x (actual - IBW): Pai & Paloucek 2000, Ann "
                "Pharmacother 34:1066-1069 (recalled, not read)"
            ),
            evidence=Evidence.RECALLED,
        ),
        SettingSpec(
            key="dosing.total_dose_soft_max_mg",
            group=Group.DOSING,
            label="Total dose: above this needs an override",
            unit="mg",
            default=total.soft_max,
            minimum=20,
            maximum=115,
            source=f"{total_source}, at 0.5 mg/kg ({sources.FEDER_2014})",
            evidence=Evidence.CLINIC_POLICY,
        ),
        SettingSpec(
            key="dosing.total_dose_hard_max_mg",
            group=Group.DOSING,
            label="Total dose: above this is refused",
            unit="mg",
            default=total.hard_max,
            minimum=40,
            maximum=150,
            source=f"{total_source}, at 1.0 mg/kg ({sources.FAVA_2018})",
            evidence=Evidence.CLINIC_POLICY,
        ),
        SettingSpec(
            key="dosing.duration_hard_min",
            group=Group.DOSING,
            label="Infusion duration: shorter than this is refused",
            unit="min",
            default=duration.hard_min,
            minimum=20,
            maximum=40,
            source=(
                "No published floor; rapid IV doses cause respiratory depression "
                f"({sources.KETAMINE_LABEL})"
            ),
            evidence=Evidence.CLINIC_POLICY,
        ),
        SettingSpec(
            key="dosing.duration_soft_min",
            group=Group.DOSING,
            label="Infusion duration: shorter than this needs an override",
            unit="min",
            default=duration.soft_min,
            minimum=30,
            maximum=60,
            source=f"{sources.FEDER_2014}; {sources.FAVA_2018}: 40 min",
            evidence=Evidence.SOURCED,
        ),
        SettingSpec(
            key="dosing.duration_soft_max",
            group=Group.DOSING,
            label="Infusion duration: longer than this needs an override",
            unit="min",
            default=duration.soft_max,
            minimum=40,
            maximum=120,
            source=f"{sources.ASKP_2018}: 40-60 min",
            evidence=Evidence.SOURCED,
        ),
        SettingSpec(
            key="dosing.duration_hard_max",
            group=Group.DOSING,
            label="Infusion duration: longer than this is refused",
            unit="min",
            default=duration.hard_max,
            minimum=60,
            maximum=240,
            source="No published ceiling: twice the longest usual duration (ASKP 2018: 60 min)",
            evidence=Evidence.CLINIC_POLICY,
        ),
        SettingSpec(
            key="dosing.weight_change_confirm_percent",
            group=Group.DOSING,
            label="Weight of the day: confirm a change from the last weight above",
            unit="%",
            default=dosing.WEIGHT_CHANGE_CONFIRM_PERCENT,
            minimum=5,
            maximum=20,
            source="No published value: catches a weight typed in pounds (a 120% change)",
            evidence=Evidence.CLINIC_POLICY,
        ),
    )


def _monitoring_specs() -> tuple[SettingSpec, ...]:
    bp_change = _MON.changes[_SBP]
    aldrete = (
        f"{sources.ALDRETE_1995}: circulation scores 2 within 15% of baseline (clinical.md "
        "s. 4.5; some versions use 20%)"
    )
    return (
        SettingSpec(
            key="monitoring.bp_rise_critical_percent",
            group=Group.MONITORING,
            label="Blood pressure rise from baseline that pauses the infusion (percent)",
            unit="%",
            default=bp_change.critical_rise_percent,
            minimum=15,
            maximum=50,
            source=(
                "Clinic SOPs pause at 20-30% above baseline (clinical.md s. 4.2, recalled); "
                "infusions raise BP transiently (Riva-Posse 2018; Vankawala 2021) and Yip 2022 "
                "treats an asymptomatic rise as urgency, so 30%: 180/110 and end-organ symptoms "
                "still escalate at once"
            ),
            evidence=Evidence.RECALLED,
            may_be_off=True,
        ),
        SettingSpec(
            key="monitoring.bp_rise_critical_mmhg",
            group=Group.MONITORING,
            label="Blood pressure rise from baseline that pauses the infusion (mmHg)",
            unit="mmHg",
            default=bp_change.critical_rise_mmhg,
            minimum=20,
            maximum=80,
            source=(
                "No published absolute rise (clinical.md s. 4.2); off unless the clinic sets "
                "one; either rise rule alone pauses"
            ),
            evidence=Evidence.CLINIC_POLICY,
            may_be_off=True,
        ),
        SettingSpec(
            key="monitoring.bp_change_abnormal_percent",
            group=Group.MONITORING,
            label="Blood pressure change from baseline that asks for a recheck",
            unit="%",
            default=bp_change.abnormal_change_percent,
            minimum=10,
            maximum=25,
            source=aldrete,
            evidence=Evidence.SOURCED,
        ),
        SettingSpec(
            key="monitoring.systolic_critical_mmhg",
            group=Group.MONITORING,
            label="Systolic pressure that pauses the infusion",
            unit="mmHg",
            default=_MON.thresholds[_SBP].critical_at_or_above,
            minimum=160,
            maximum=200,
            source=(
                "Practice 180/110 (clinical.md s. 3, 4.2 and 8); SBP > 180 out of range in ED "
                f"protocols; {sources.MURROUGH_2013} stopped at 180/115"
            ),
            evidence=Evidence.CLINIC_POLICY,
        ),
        SettingSpec(
            key="monitoring.diastolic_critical_mmhg",
            group=Group.MONITORING,
            label="Diastolic pressure that pauses the infusion",
            unit="mmHg",
            default=_MON.thresholds[_DBP].critical_at_or_above,
            minimum=95,
            maximum=120,
            source=f"Practice 180/110 (clinical.md s. 3, 4.2 and 8); {sources.MURROUGH_2013}",
            evidence=Evidence.CLINIC_POLICY,
        ),
        SettingSpec(
            key="monitoring.heart_rate_abnormal_bpm",
            group=Group.MONITORING,
            label="Heart rate above which a recheck is asked",
            unit="/min",
            default=_MON.thresholds[_HR].abnormal_above,
            minimum=90,
            maximum=119,
            source=(
                f"{sources.NEWS2_RCP_2017}: 111-130 scores 2; SOPs pause at 110-120 "
                "(clinical.md s. 4.2, recalled)"
            ),
            evidence=Evidence.RECALLED,
        ),
        SettingSpec(
            key="monitoring.heart_rate_critical_bpm",
            group=Group.MONITORING,
            label="Heart rate that pauses the infusion",
            unit="/min",
            default=_MON.thresholds[_HR].critical_at_or_above,
            minimum=100,
            maximum=150,
            source=f"{sources.ICU_TRIAL_NCT05803551}: HR > 120 (ED protocol > 150, stricter kept)",
            evidence=Evidence.SOURCED,
        ),
        SettingSpec(
            key="monitoring.spo2_critical_percent",
            group=Group.MONITORING,
            label="Oxygen saturation below which the infusion pauses",
            unit="%",
            default=_MON.thresholds[_SPO2].critical_below,
            minimum=86,
            maximum=94,
            source="SOPs stop if SpO2 < 90% not corrected (clinical.md s. 4.2, recalled)",
            evidence=Evidence.RECALLED,
        ),
        SettingSpec(
            key="monitoring.spo2_emergency_percent",
            group=Group.MONITORING,
            label="Oxygen saturation below which it is an emergency",
            unit="%",
            default=_MON.thresholds[_SPO2].emergency_below,
            minimum=75,
            maximum=89,
            source=(
                "Severe hypoxaemia SpO2 < 85% (sedation adverse-event definitions; clinical "
                "safety review, issue 10; recalled)"
            ),
            evidence=Evidence.RECALLED,
        ),
    )


def _eligibility_specs() -> tuple[SettingSpec, ...]:
    return (
        SettingSpec(
            key="eligibility.bp_hard_stop_systolic_mmhg",
            group=Group.ELIGIBILITY,
            label="Screening systolic pressure that stops candidacy",
            unit="mmHg",
            default=_ELIG.hard_stop_systolic_at_or_above_mmhg,
            minimum=160,
            maximum=200,
            source=(
                "Block >= 180/110 pending physician review (clinical.md s. 3); SBP > 180 in "
                f"{sources.ICU_TRIAL_NCT05803551}; {sources.MURROUGH_2013} stopped at 180/115"
            ),
            evidence=Evidence.CLINIC_POLICY,
            rules=("vitals.bp_very_high",),
        ),
        SettingSpec(
            key="eligibility.bp_hard_stop_diastolic_mmhg",
            group=Group.ELIGIBILITY,
            label="Screening diastolic pressure that stops candidacy",
            unit="mmHg",
            default=_ELIG.hard_stop_diastolic_at_or_above_mmhg,
            minimum=95,
            maximum=120,
            source="Block >= 180/110 pending physician review (clinical.md s. 3)",
            evidence=Evidence.CLINIC_POLICY,
            rules=("vitals.bp_very_high",),
        ),
        SettingSpec(
            key="eligibility.recent_cardiovascular_event_months",
            group=Group.ELIGIBILITY,
            label="Heart attack or stroke within this many months stops candidacy",
            unit="months",
            default=_ELIG.recent_cardiovascular_event_months,
            minimum=3,
            maximum=24,
            source=f"{sources.WESTPORT_CLINIC}: recent MI or stroke within 6 months",
            evidence=Evidence.SECONDARY,
            integer=True,
            rules=("cardiovascular.bp_rise_hazard",),
        ),
    )


REGISTRY: Final[tuple[SettingSpec, ...]] = (
    *_resistance_specs(),
    *_dosing_specs(),
    *_monitoring_specs(),
    *_eligibility_specs(),
)
SPECS: Final[Mapping[str, SettingSpec]] = MappingProxyType({s.key: s for s in REGISTRY})


def spec(key: str) -> SettingSpec:
    """The setting of ``key``; an unknown key is refused (never a silent default)."""
    try:
        return SPECS[key]
    except KeyError:
        raise ClinicSettingError(f"unknown clinic setting {key!r}") from None


def specs_for_rule(rule_id: str) -> tuple[SettingSpec, ...]:
    """The settings that change the result of an eligibility rule (``Finding.rule_id``)."""
    return tuple(s for s in REGISTRY if any(rule_id.startswith(p) for p in s.rules))


@dataclass(frozen=True)
class ClinicalSettings:
    """Everything the rules take, for one clinic."""

    eligibility: EligibilitySettings
    resistance: ResistanceSettings
    drug_library: Mapping[Indication, DrugLibraryEntry]
    monitoring: MonitoringSettings
    adjusted_bw_factor: float
    weight_change_confirm_percent: float
    values: Mapping[str, float | None]  # every key's effective value


def effective_values(overrides: Mapping[str, float | None]) -> Mapping[str, float | None]:
    """Every setting's value: the override where there is one (checked), else the default."""
    values = {s.key: s.default for s in REGISTRY}
    for key, value in overrides.items():
        values[key] = spec(key).check(value)
    return MappingProxyType(values)


def _required(values: Mapping[str, float | None], key: str) -> float:
    value = values[key]
    if value is None:  # only may_be_off settings are None, and none of those come here
        raise ClinicSettingError(f"{spec(key).label}: a value is required")
    return value


def _ordered(values: Mapping[str, float | None], pairs: Iterable[tuple[str, str]]) -> None:
    for low, high in pairs:
        a, b = values[low], values[high]
        if a is not None and b is not None and a >= b:
            raise ClinicSettingError(
                f"{spec(low).label}: {spec(low).show(a)} must be below "
                f"{spec(high).label.lower()} ({spec(high).show(b)})"
            )


def build_settings(overrides: Mapping[str, float | None] | None = None) -> ClinicalSettings:
    """The typed settings for a clinic's overrides (key -> value; ``None`` = rule off).

    Raises :class:`ClinicSettingError` for an unknown key, a value outside its bounds, or values
    that contradict each other (the soft total-dose cap above the hard one, the emergency SpO2
    above the critical one, ...)."""
    v = effective_values(overrides or {})
    _ordered(
        v,
        (
            ("dosing.total_dose_soft_max_mg", "dosing.total_dose_hard_max_mg"),
            ("dosing.duration_hard_min", "dosing.duration_soft_min"),
            ("dosing.duration_soft_min", "dosing.duration_soft_max"),
            ("dosing.duration_soft_max", "dosing.duration_hard_max"),
            ("monitoring.spo2_emergency_percent", "monitoring.spo2_critical_percent"),
            ("monitoring.heart_rate_abnormal_bpm", "monitoring.heart_rate_critical_bpm"),
            ("monitoring.bp_change_abnormal_percent", "monitoring.bp_rise_critical_percent"),
        ),
    )
    r = _RES
    resistance = dataclasses.replace(
        r,
        min_sessions=MappingProxyType(
            {m: int(_required(v, f"resistance.sessions.{m.value.lower()}")) for m in r.min_sessions}
        ),
        ptsd_min_dose_mg_per_day=MappingProxyType(
            {d: _required(v, f"resistance.ptsd_dose.{d}") for d in r.ptsd_min_dose_mg_per_day}
        ),
        depression_min_dose_mg_per_day=MappingProxyType(
            {
                d: _required(v, f"resistance.depression_dose.{d}")
                for d in r.depression_min_dose_mg_per_day
            }
        ),
        min_duration_weeks=_required(v, "resistance.min_duration_weeks"),
        ptsd_min_failed_trials=int(_required(v, "resistance.ptsd_min_failed_trials")),
        depression_min_failed_trials=int(_required(v, "resistance.depression_min_failed_trials")),
    )
    eligibility = dataclasses.replace(
        _ELIG,
        hard_stop_systolic_at_or_above_mmhg=_required(v, "eligibility.bp_hard_stop_systolic_mmhg"),
        hard_stop_diastolic_at_or_above_mmhg=_required(
            v, "eligibility.bp_hard_stop_diastolic_mmhg"
        ),
        recent_cardiovascular_event_months=_required(
            v, "eligibility.recent_cardiovascular_event_months"
        ),
        resistance=resistance,
    )
    library = MappingProxyType(
        {indication: _entry(entry, v) for indication, entry in DRUG_LIBRARY.items()}
    )
    return ClinicalSettings(
        eligibility=eligibility,
        resistance=resistance,
        drug_library=library,
        monitoring=_monitoring(v),
        adjusted_bw_factor=_required(v, "dosing.adjusted_bw_factor"),
        weight_change_confirm_percent=_required(v, "dosing.weight_change_confirm_percent"),
        values=v,
    )


def _entry(entry: DrugLibraryEntry, v: Mapping[str, float | None]) -> DrugLibraryEntry:
    try:
        total = dataclasses.replace(
            entry.total_dose_mg_limits,
            soft_max=_required(v, "dosing.total_dose_soft_max_mg"),
            hard_max=_required(v, "dosing.total_dose_hard_max_mg"),
        )
        duration = LimitSet(
            unit=entry.duration_min_limits.unit,
            hard_min=_required(v, "dosing.duration_hard_min"),
            soft_min=_required(v, "dosing.duration_soft_min"),
            soft_max=_required(v, "dosing.duration_soft_max"),
            hard_max=_required(v, "dosing.duration_hard_max"),
        )
        return dataclasses.replace(
            entry,
            total_dose_mg_limits=total,
            duration_min_limits=duration,
            adjusted_bw_factor=_required(v, "dosing.adjusted_bw_factor"),
        )
    except ClinicSettingError:
        raise
    except ClinicalInputError as exc:  # the default dose or duration outside the new limits
        raise ClinicSettingError(f"Dosing settings: {exc}") from None


def _monitoring(v: Mapping[str, float | None]) -> MonitoringSettings:
    t: dict[VitalSign, VitalThresholds] = dict(_MON.thresholds)
    t[_SBP] = dataclasses.replace(
        t[_SBP], critical_at_or_above=_required(v, "monitoring.systolic_critical_mmhg")
    )
    t[_DBP] = dataclasses.replace(
        t[_DBP], critical_at_or_above=_required(v, "monitoring.diastolic_critical_mmhg")
    )
    t[_HR] = dataclasses.replace(
        t[_HR],
        abnormal_above=_required(v, "monitoring.heart_rate_abnormal_bpm"),
        critical_at_or_above=_required(v, "monitoring.heart_rate_critical_bpm"),
    )
    t[_SPO2] = dataclasses.replace(
        t[_SPO2],
        critical_below=_required(v, "monitoring.spo2_critical_percent"),
        emergency_below=_required(v, "monitoring.spo2_emergency_percent"),
    )
    change = ChangeThresholds(
        abnormal_change_percent=_required(v, "monitoring.bp_change_abnormal_percent"),
        critical_rise_percent=v["monitoring.bp_rise_critical_percent"],
        critical_rise_mmhg=v["monitoring.bp_rise_critical_mmhg"],
        sources=_MON.changes[_SBP].sources,
    )
    return MonitoringSettings(
        thresholds=MappingProxyType(t),
        changes=MappingProxyType({**_MON.changes, _SBP: change, _DBP: change}),
    )


DEFAULT_CLINICAL_SETTINGS: Final = build_settings()

# Evidence tags of clinical.md ("[RECALLED, unverified - clinic must set]", "[SECONDARY]", ...)
# and the clinic-policy phrase: on a patient's page the setting's value and its sign-off stand
# in for them (the full sources stay on the director's settings page).
_TAG: Final = re.compile(r"\s*\[(?:RECALLED|SECONDARY|UNKNOWN|READ)[^\]]*\]")
_POLICY_PHRASES: Final = (
    sources.CLINIC_POLICY,
    "Clinic policy default",
    "clinic policy",
)


# The project's own reference documents, cited in sources by file name ("clinical.md s. 3",
# "pk.md §5"): on a page they read as a document's title and section, not a file.
_REFERENCE_DOC: Final = re.compile(
    r"\b(clinical|pk)\.md(?:\s*(?:s\.|section|§)\s*(\d[\d.]*(?:\s*(?:-|and)\s*\d[\d.]*)?))?"
)
_REFERENCE_TITLE: Final = {
    "clinical": "KetaFlow clinical reference",
    "pk": "KetaFlow pharmacokinetic reference",
}


def readable_citations(text: str) -> str:
    """Citations of the project's reference documents (docs/reference/clinical.md and pk.md)
    by title and section: "clinical.md s. 4.2" reads "KetaFlow clinical reference, section
    4.2"."""

    def title(match: re.Match[str]) -> str:
        name = _REFERENCE_TITLE[match.group(1)]
        section = match.group(2)
        if section is None:
            return name
        word = "sections" if ("-" in section or "and" in section) else "section"
        return f"{name}, {word} {section}"

    return _REFERENCE_DOC.sub(title, text)


def source_for_patient_page(text: str) -> str:
    """A rule's source as a prescriber reads it on a patient's page: the citations without the
    evidence tags and clinic-policy notes (the settings used are shown with their sign-off),
    the project's reference documents by title (:func:`readable_citations`)."""
    cleaned = readable_citations(_TAG.sub("", text))
    for phrase in _POLICY_PHRASES:
        cleaned = cleaned.replace(phrase, "clinic setting")
    parts: list[str] = []
    for part in (p.strip() for p in cleaned.split(";")):
        if part and part not in parts:
            parts.append(part)
    return "; ".join(parts)
