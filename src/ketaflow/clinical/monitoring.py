"""Vital-sign rules during and after an infusion.

Each reading is classified as normal, abnormal (flag, recheck) or critical (alert with actions),
by absolute thresholds and by change from the patient's baseline; a physiologically impossible
value is refused as an entry error (:class:`ImpossibleValueError`), never classified. A high
blood pressure with any end-organ symptom is an emergency (Yip 2022: hypertensive emergency versus
asymptomatic urgency; Spravato label: hypertensive-crisis symptoms -> emergency care).

Apnoea, a respiratory rate at or below NEWS2's highest-risk band, a severe desaturation, a seizure
or reduced consciousness are emergencies of their own, whose first actions are to stop the
infusion and support the airway (Ketalar label: respiratory depression and apnoea; Spravato label:
sedation and loss of consciousness). Within a result, actions are ordered by urgency
(:data:`ACTION_URGENCY`), never "recheck" before "stop".

No authoritative numeric stop rule exists (clinical.md s. 4.2 and s. 8 item 1): every threshold is
a clinic setting in :class:`MonitoringSettings`, its default's source named next to it, and needs
the medical director's sign-off. Values are floats in the units named by each field; comparisons
are exactly as documented per field (``*_below`` strict <, ``abnormal_above`` strict >,
``critical_at_or_above`` >=).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ketaflow.clinical import sources
from ketaflow.clinical.errors import ClinicalInputError, ImpossibleValueError


class VitalSign(StrEnum):
    SYSTOLIC_BP = "systolic_bp_mmhg"
    DIASTOLIC_BP = "diastolic_bp_mmhg"
    HEART_RATE = "heart_rate_bpm"
    SPO2 = "spo2_percent"
    RESPIRATORY_RATE = "respiratory_rate_per_min"

    @property
    def label(self) -> str:
        return _VITAL_LABELS[self]


_VITAL_LABELS: Final[Mapping[VitalSign, str]] = MappingProxyType(
    {
        VitalSign.SYSTOLIC_BP: "systolic BP (mmHg)",
        VitalSign.DIASTOLIC_BP: "diastolic BP (mmHg)",
        VitalSign.HEART_RATE: "heart rate (/min)",
        VitalSign.SPO2: "SpO2 (%)",
        VitalSign.RESPIRATORY_RATE: "respiratory rate (/min)",
    }
)


class AlertLevel(StrEnum):
    NORMAL = "normal"
    ABNORMAL = "abnormal"
    CRITICAL = "critical"
    EMERGENCY = "emergency"


_LEVEL_ORDER: Final = (
    AlertLevel.NORMAL,
    AlertLevel.ABNORMAL,
    AlertLevel.CRITICAL,
    AlertLevel.EMERGENCY,
)


class Action(StrEnum):
    """Recommended actions (a result lists them in :data:`ACTION_URGENCY` order)."""

    RECHECK = "recheck"
    PAUSE_INFUSION = "pause_infusion"
    STOP_INFUSION = "stop_infusion"
    SUPPORT_BREATHING = "support_breathing"  # stimulate, oxygen, airway manoeuvres
    CALL_PRESCRIBER = "call_prescriber"
    EMERGENCY_CARE = "emergency_care"  # activate emergency response / transfer

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


_ACTION_LABELS: Final[Mapping[Action, str]] = MappingProxyType(
    {
        Action.RECHECK: "Recheck the vitals now",
        Action.PAUSE_INFUSION: "Pause the infusion",
        Action.STOP_INFUSION: "Stop the infusion",
        Action.SUPPORT_BREATHING: "Support breathing: stimulate, oxygen, airway",
        Action.CALL_PRESCRIBER: "Call the prescriber",
        Action.EMERGENCY_CARE: "Activate emergency care",
    }
)


# The order in which a nurse takes the actions: what protects the airway and stops the drug
# first, "recheck" last. A result that says stop does not also say pause.
ACTION_URGENCY: Final = (
    Action.STOP_INFUSION,
    Action.SUPPORT_BREATHING,
    Action.PAUSE_INFUSION,
    Action.EMERGENCY_CARE,
    Action.CALL_PRESCRIBER,
    Action.RECHECK,
)


class EndOrganSymptom(StrEnum):
    """Symptoms checked with every reading: those that suggest end-organ damage with a high
    pressure (Yip 2022; clinical.md s. 2.2 and 4.2), and those that are emergencies whatever
    the pressure (:data:`EMERGENCY_SYMPTOMS`)."""

    CHEST_PAIN = "chest_pain"
    DYSPNEA = "dyspnea"
    SEVERE_HEADACHE = "severe_headache"
    VISUAL_CHANGE = "visual_change"
    NEUROLOGICAL_DEFICIT = "neurological_deficit"
    CONFUSION = "confusion"
    SEIZURE = "seizure"
    REDUCED_CONSCIOUSNESS = "reduced_consciousness"

    @property
    def label(self) -> str:
        return _SYMPTOM_LABELS[self]


_SYMPTOM_LABELS: Final[Mapping[EndOrganSymptom, str]] = MappingProxyType(
    {
        EndOrganSymptom.CHEST_PAIN: "Chest pain",
        EndOrganSymptom.DYSPNEA: "Shortness of breath",
        EndOrganSymptom.SEVERE_HEADACHE: "Severe headache",
        EndOrganSymptom.VISUAL_CHANGE: "Change in vision",
        EndOrganSymptom.NEUROLOGICAL_DEFICIT: "Neurological deficit",
        EndOrganSymptom.CONFUSION: "Confusion",
        EndOrganSymptom.SEIZURE: "Seizure",
        EndOrganSymptom.REDUCED_CONSCIOUSNESS: "Reduced consciousness (not rousable to voice)",
    }
)

# Emergencies whatever the blood pressure: a seizure (Ketalar label: seizure disorder and
# hypertensive encephalopathy) and reduced consciousness (Spravato label: sedation and loss of
# consciousness, 0.3-0.4 % on MOAA/S in trials; clinical.md s. 2.3).
EMERGENCY_SYMPTOMS: Final = frozenset(
    {EndOrganSymptom.SEIZURE, EndOrganSymptom.REDUCED_CONSCIOUSNESS}
)


@dataclass(frozen=True)
class VitalThresholds:
    """Thresholds for one vital sign; ``None`` means no threshold on that side.

    impossible: ``value < impossible_below`` or ``value > impossible_above`` (entry error);
    emergency: ``value <= emergency_at_or_below`` or ``value < emergency_below``;
    critical: ``value < critical_below`` or ``value >= critical_at_or_above``;
    abnormal: ``value < abnormal_below`` or ``value > abnormal_above``.
    """

    impossible_below: float
    impossible_above: float
    critical_below: float | None
    abnormal_below: float | None
    abnormal_above: float | None
    critical_at_or_above: float | None
    sources: str
    emergency_at_or_below: float | None = None
    emergency_below: float | None = None

    def __post_init__(self) -> None:
        low = [
            v
            for v in (
                self.impossible_below,
                self.emergency_at_or_below,
                self.emergency_below,
                self.critical_below,
                self.abnormal_below,
            )
            if v is not None
        ]
        high = [
            v
            for v in (self.abnormal_above, self.critical_at_or_above, self.impossible_above)
            if v is not None
        ]
        if low != sorted(low) or high != sorted(high) or max(low) > min(high):
            raise ClinicalInputError(f"thresholds are not ordered: low {low}, high {high}")


@dataclass(frozen=True)
class ChangeThresholds:
    """Change from the patient's own baseline (``None`` = not used).

    ``abnormal_change_percent``: abnormal when ``abs(change) > value`` percent of baseline;
    ``critical_rise_percent``: critical when the rise is ``>= value`` percent of baseline;
    ``critical_rise_mmhg``: critical when the rise is ``>= value`` in the vital's unit (mmHg).
    Either critical rule alone makes a reading critical.
    """

    abnormal_change_percent: float | None
    critical_rise_percent: float | None
    sources: str
    critical_rise_mmhg: float | None = None


def _default_thresholds() -> Mapping[VitalSign, VitalThresholds]:
    return MappingProxyType(
        {
            VitalSign.SYSTOLIC_BP: VitalThresholds(
                # Entry guard: 30-400 mmHg; the highest recorded human BP is about 370/360, and
                # a cuff does not read a systolic below 30 (a value there is kPa or a typo).
                impossible_below=30.0,
                impossible_above=400.0,
                critical_below=90.0,  # ED low-dose protocol: SBP < 90 out of range
                abnormal_below=100.0,  # NEWS2: SBP 91-100 scores 2
                abnormal_above=140.0,  # Spravato label: > 140/90
                critical_at_or_above=180.0,  # clinic policy >= 180/110 (clinical.md s. 3, 4.2)
                sources=(
                    f"{sources.ED_LOW_DOSE_PROTOCOL}; {sources.NEWS2_RCP_2017}; "
                    f"{sources.SPRAVATO_LABEL}; {sources.CLINIC_POLICY}"
                ),
            ),
            VitalSign.DIASTOLIC_BP: VitalThresholds(
                impossible_below=15.0,  # ENTRY_GUARD (below: kPa or a typo)
                impossible_above=400.0,  # ENTRY_GUARD
                critical_below=None,
                abnormal_below=None,
                abnormal_above=90.0,  # Spravato label: > 140/90
                critical_at_or_above=110.0,  # clinic policy >= 180/110 (clinical.md s. 3)
                sources=f"{sources.SPRAVATO_LABEL}; {sources.CLINIC_POLICY}",
            ),
            VitalSign.HEART_RATE: VitalThresholds(
                impossible_below=0.0,  # ENTRY_GUARD (0 is asystole: real, critical)
                impossible_above=350.0,  # ENTRY_GUARD
                critical_below=40.0,  # NEWS2: HR <= 40 scores 3
                abnormal_below=50.0,  # NCT05803551 and ED protocol: HR < 50 out of range
                abnormal_above=110.0,  # NEWS2: 111-130 scores 2; SOPs pause at 110-120 [RECALLED]
                critical_at_or_above=120.0,  # NCT05803551: HR > 120 (ED: > 150; stricter kept)
                sources=(
                    f"{sources.NEWS2_RCP_2017}; {sources.ICU_TRIAL_NCT05803551}; "
                    f"{sources.ED_LOW_DOSE_PROTOCOL}"
                ),
            ),
            VitalSign.SPO2: VitalThresholds(
                # ENTRY_GUARD: an oximeter does not read a living patient below 20 %; a value of
                # 1 or less is a fraction typed for a percentage.
                impossible_below=20.0,
                impossible_above=100.0,  # a saturation cannot exceed 100 %
                emergency_below=85.0,  # severe hypoxaemia [RECALLED, unverified]
                critical_below=90.0,  # SOPs: stop if SpO2 < 90% not corrected [RECALLED]
                abnormal_below=95.0,  # NCT05803551: SpO2 < 95% out of range
                abnormal_above=None,
                critical_at_or_above=None,
                sources=(
                    f"{sources.ICU_TRIAL_NCT05803551}; clinical.md s. 4.2 [RECALLED]; "
                    f"{sources.SEVERE_HYPOXAEMIA_RECALLED}"
                ),
            ),
            VitalSign.RESPIRATORY_RATE: VitalThresholds(
                impossible_below=0.0,  # ENTRY_GUARD (0 is apnoea: real, an emergency)
                impossible_above=80.0,  # ENTRY_GUARD: beyond any adult's breathing rate
                emergency_at_or_below=8.0,  # NEWS2: RR <= 8 scores 3 (its highest band); apnoea
                critical_below=10.0,  # protocols: RR < 10 out of range (NEWS2 <= 8 scores 3)
                abnormal_below=12.0,  # NEWS2: RR 12-20 scores 0
                abnormal_above=20.0,  # NEWS2: RR 12-20 scores 0
                critical_at_or_above=30.0,  # protocols: RR > 30 out of range (>= kept, stricter)
                sources=f"{sources.ICU_TRIAL_NCT05803551}; {sources.NEWS2_RCP_2017}",
            ),
        }
    )


def _default_changes() -> Mapping[VitalSign, ChangeThresholds]:
    bp = ChangeThresholds(
        # Modified Aldrete circulation 2 = within 15% of baseline (repo notes; some use 20%): a rise
        # or fall beyond it is abnormal, recheck.
        abnormal_change_percent=15.0,
        # Issue 10 item 10. A rise alone pauses the infusion only at 30% of baseline: SOPs pause at
        # "20-30% above baseline" [RECALLED, unverified] and no source gives an mmHg rise. Infusions
        # raise BP transiently (Riva-Posse 2018, Vankawala 2021), and Yip 2022 warns that such
        # rises are treated too aggressively: an asymptomatic rise is urgency, not emergency. The
        # absolute critical limits (180/110) and the end-organ symptom rule still escalate at
        # once, so a +24 mmHg rise from 120 (20%) is abnormal, recheck, not critical, pause.
        critical_rise_percent=30.0,
        sources=f"{sources.ALDRETE_1995}; {sources.BP_RISE_FROM_BASELINE}",
        critical_rise_mmhg=None,  # a clinic may add an absolute rise (clinic setting, off)
    )
    return MappingProxyType({VitalSign.SYSTOLIC_BP: bp, VitalSign.DIASTOLIC_BP: bp})


# Actions per (vital, side) when critical; abnormal readings always get RECHECK.
_CRITICAL_ACTIONS: Final[Mapping[tuple[VitalSign, str], tuple[Action, ...]]] = MappingProxyType(
    {
        # High BP without symptoms is urgency: pause, recheck, call (Yip 2022; SOPs [RECALLED]).
        (VitalSign.SYSTOLIC_BP, "high"): (
            Action.PAUSE_INFUSION,
            Action.RECHECK,
            Action.CALL_PRESCRIBER,
        ),
        (VitalSign.DIASTOLIC_BP, "high"): (
            Action.PAUSE_INFUSION,
            Action.RECHECK,
            Action.CALL_PRESCRIBER,
        ),
        (VitalSign.SYSTOLIC_BP, "low"): (Action.STOP_INFUSION, Action.CALL_PRESCRIBER),
        (VitalSign.HEART_RATE, "high"): (
            Action.PAUSE_INFUSION,
            Action.RECHECK,
            Action.CALL_PRESCRIBER,
        ),
        (VitalSign.HEART_RATE, "low"): (Action.STOP_INFUSION, Action.CALL_PRESCRIBER),
        # SpO2 < 90%: stimulate/oxygen; stop if not corrected (SOPs [RECALLED]).
        (VitalSign.SPO2, "low"): (
            Action.PAUSE_INFUSION,
            Action.SUPPORT_BREATHING,
            Action.RECHECK,
            Action.CALL_PRESCRIBER,
        ),
        (VitalSign.RESPIRATORY_RATE, "low"): (
            Action.PAUSE_INFUSION,
            Action.SUPPORT_BREATHING,
            Action.RECHECK,
            Action.CALL_PRESCRIBER,
        ),
        (VitalSign.RESPIRATORY_RATE, "high"): (
            Action.PAUSE_INFUSION,
            Action.RECHECK,
            Action.CALL_PRESCRIBER,
        ),
    }
)
_DEFAULT_CRITICAL_ACTIONS: Final = (Action.PAUSE_INFUSION, Action.RECHECK, Action.CALL_PRESCRIBER)


def _critical_actions(sign: VitalSign, side: str) -> tuple[Action, ...]:
    return _CRITICAL_ACTIONS.get((sign, side), _DEFAULT_CRITICAL_ACTIONS)


_EMERGENCY_ACTIONS: Final = (Action.STOP_INFUSION, Action.CALL_PRESCRIBER, Action.EMERGENCY_CARE)
# Symptoms alone (normal BP): stop and call (SOPs: chest pain, severe headache, neuro change
# [RECALLED, unverified]).
_SYMPTOM_ACTIONS: Final = (Action.STOP_INFUSION, Action.CALL_PRESCRIBER)
# Apnoea, a very low breathing rate, severe desaturation, a seizure, reduced consciousness: stop
# the drug, support the airway, get help (Ketalar label: respiratory depression, apnoea;
# clinical.md s. 4.3: stimulation, oxygen, airway).
_AIRWAY_EMERGENCY_ACTIONS: Final = (
    Action.STOP_INFUSION,
    Action.SUPPORT_BREATHING,
    Action.EMERGENCY_CARE,
    Action.CALL_PRESCRIBER,
)


@dataclass(frozen=True)
class MonitoringSettings:
    thresholds: Mapping[VitalSign, VitalThresholds] = field(default_factory=_default_thresholds)
    changes: Mapping[VitalSign, ChangeThresholds] = field(default_factory=_default_changes)

    def __post_init__(self) -> None:
        missing = [sign.value for sign in VitalSign if sign not in self.thresholds]
        if missing:
            raise ClinicalInputError(f"monitoring thresholds missing for: {', '.join(missing)}")


DEFAULT_MONITORING_SETTINGS: Final = MonitoringSettings()


@dataclass(frozen=True)
class VitalAssessment:
    sign: VitalSign
    value: float
    level: AlertLevel
    actions: tuple[Action, ...]
    reasons: tuple[str, ...]
    change_percent: float | None
    source: str


@dataclass(frozen=True)
class MonitoringAssessment:
    level: AlertLevel
    actions: tuple[Action, ...]
    vitals: tuple[VitalAssessment, ...]
    symptoms: frozenset[EndOrganSymptom]
    reasons: tuple[str, ...]


def _worse(a: AlertLevel, b: AlertLevel) -> AlertLevel:
    return a if _LEVEL_ORDER.index(a) >= _LEVEL_ORDER.index(b) else b


def _merge(*groups: Iterable[Action]) -> tuple[Action, ...]:
    """The actions of every group, once each, most urgent first; stopping makes pausing moot."""
    seen = {a for group in groups for a in group}
    if Action.STOP_INFUSION in seen:
        seen.discard(Action.PAUSE_INFUSION)
    return tuple(a for a in ACTION_URGENCY if a in seen)


def _unit_hint(sign: VitalSign, value: float) -> str:
    """The likely unit mistake behind an impossible value, if there is an obvious one."""
    if sign is VitalSign.SPO2 and 0 < value <= 1:
        return f" It looks like a fraction: enter the percentage ({value * 100:g})."
    if sign in (VitalSign.SYSTOLIC_BP, VitalSign.DIASTOLIC_BP) and 0 < value <= 40:
        return f" It looks like kPa: {value:g} kPa is {value * 7.50062:.0f} mmHg; enter mmHg."
    return ""


def check_possible(
    sign: VitalSign, value: float, settings: MonitoringSettings = DEFAULT_MONITORING_SETTINGS
) -> None:
    """Refuse a value that cannot be real (non-finite or outside the entry guard)."""
    t = settings.thresholds[sign]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ImpossibleValueError(f"{sign.label}: {value!r} is not a number")
    if value < t.impossible_below or value > t.impossible_above:
        raise ImpossibleValueError(
            f"{sign.label}: {value:g} is not physiologically possible "
            f"(accepted {t.impossible_below:g}-{t.impossible_above:g}); check the entry and "
            f"re-measure.{_unit_hint(sign, value)}"
        )


def classify_vital(
    sign: VitalSign,
    value: float,
    *,
    baseline: float | None = None,
    settings: MonitoringSettings = DEFAULT_MONITORING_SETTINGS,
) -> VitalAssessment:
    """Classify one reading by absolute thresholds and, if a baseline is given, by its change."""
    check_possible(sign, value, settings)
    t = settings.thresholds[sign]
    level = AlertLevel.NORMAL
    actions: list[Action] = []
    reasons: list[str] = []
    if t.emergency_at_or_below is not None and value <= t.emergency_at_or_below:
        level = AlertLevel.EMERGENCY
        actions += _AIRWAY_EMERGENCY_ACTIONS
        apnoea = "Apnoea: " if sign is VitalSign.RESPIRATORY_RATE and value == 0 else ""
        reasons.append(
            f"{apnoea}{sign.label} {value:g} is at or below the emergency limit "
            f"{t.emergency_at_or_below:g}."
        )
    elif t.emergency_below is not None and value < t.emergency_below:
        level = AlertLevel.EMERGENCY
        actions += _AIRWAY_EMERGENCY_ACTIONS
        reasons.append(
            f"{sign.label} {value:g} is below the emergency limit {t.emergency_below:g}."
        )
    elif t.critical_below is not None and value < t.critical_below:
        level = AlertLevel.CRITICAL
        actions += _critical_actions(sign, "low")
        reasons.append(f"{sign.label} {value:g} is below the critical limit {t.critical_below:g}.")
    elif t.critical_at_or_above is not None and value >= t.critical_at_or_above:
        level = AlertLevel.CRITICAL
        actions += _critical_actions(sign, "high")
        reasons.append(
            f"{sign.label} {value:g} is at or above the critical limit {t.critical_at_or_above:g}."
        )
    elif t.abnormal_below is not None and value < t.abnormal_below:
        level = AlertLevel.ABNORMAL
        actions.append(Action.RECHECK)
        reasons.append(f"{sign.label} {value:g} is below {t.abnormal_below:g}.")
    elif t.abnormal_above is not None and value > t.abnormal_above:
        level = AlertLevel.ABNORMAL
        actions.append(Action.RECHECK)
        reasons.append(f"{sign.label} {value:g} is above {t.abnormal_above:g}.")

    change_percent: float | None = None
    change = settings.changes.get(sign)
    if baseline is not None:
        check_possible(sign, baseline, settings)
        if baseline <= 0:
            raise ClinicalInputError(f"{sign.label}: baseline {baseline:g} must be above 0")
        change_percent = (value - baseline) / baseline * 100.0
        rise = value - baseline
        if change is not None:
            if (
                change.critical_rise_percent is not None
                and change_percent >= change.critical_rise_percent
            ):
                level = _worse(level, AlertLevel.CRITICAL)
                actions += _critical_actions(sign, "high")
                reasons.append(
                    f"{sign.label} rose {change_percent:.1f}% from baseline {baseline:g} "
                    f"(critical at {change.critical_rise_percent:g}%)."
                )
            elif change.critical_rise_mmhg is not None and rise >= change.critical_rise_mmhg:
                level = _worse(level, AlertLevel.CRITICAL)
                actions += _critical_actions(sign, "high")
                reasons.append(
                    f"{sign.label} rose {rise:g} from baseline {baseline:g} "
                    f"(critical at a rise of {change.critical_rise_mmhg:g})."
                )
            elif (
                change.abnormal_change_percent is not None
                and abs(change_percent) > change.abnormal_change_percent
            ):
                level = _worse(level, AlertLevel.ABNORMAL)
                actions.append(Action.RECHECK)
                direction = "rose" if change_percent > 0 else "fell"
                reasons.append(
                    f"{sign.label} {direction} {abs(change_percent):.1f}% from baseline "
                    f"{baseline:g} (more than {change.abnormal_change_percent:g}%)."
                )
    source = t.sources + (
        f"; {change.sources}" if change is not None and baseline is not None else ""
    )
    if level is AlertLevel.NORMAL:
        reasons.append(f"{sign.label} {value:g} is within the clinic's limits.")
    return VitalAssessment(
        sign=sign,
        value=float(value),
        level=level,
        actions=_merge(actions),
        reasons=tuple(reasons),
        change_percent=change_percent,
        source=source,
    )


def assess_vitals(
    readings: Mapping[VitalSign, float],
    *,
    baseline: Mapping[VitalSign, float] | None = None,
    symptoms: Iterable[EndOrganSymptom] = (),
    settings: MonitoringSettings = DEFAULT_MONITORING_SETTINGS,
) -> MonitoringAssessment:
    """Classify a set of readings together, with the end-organ symptom checklist.

    A high blood pressure (abnormal or critical, absolute or from baseline) together with any
    end-organ symptom is an emergency: stop, call the prescriber, emergency care (Yip 2022;
    Spravato label). Symptoms with a normal pressure still stop the infusion ([RECALLED] SOPs).
    """
    if not readings:
        raise ClinicalInputError("no vital signs given")
    sbp = readings.get(VitalSign.SYSTOLIC_BP)
    dbp = readings.get(VitalSign.DIASTOLIC_BP)
    if sbp is not None and dbp is not None:
        check_possible(VitalSign.SYSTOLIC_BP, sbp, settings)
        check_possible(VitalSign.DIASTOLIC_BP, dbp, settings)
        if dbp >= sbp:
            raise ImpossibleValueError(
                f"diastolic BP (mmHg): {dbp:g} is not below the systolic {sbp:g}; check that "
                "the two were not swapped and re-measure"
            )
    base = baseline or {}
    assessed = tuple(
        classify_vital(sign, value, baseline=base.get(sign), settings=settings)
        for sign, value in sorted(readings.items(), key=lambda kv: list(VitalSign).index(kv[0]))
    )
    symptom_set = frozenset(symptoms)
    level = AlertLevel.NORMAL
    for a in assessed:
        level = _worse(level, a.level)
    actions = _merge(*(a.actions for a in assessed))
    reasons = [r for a in assessed if a.level is not AlertLevel.NORMAL for r in a.reasons]
    emergencies = symptom_set & EMERGENCY_SYMPTOMS
    if emergencies:
        level = AlertLevel.EMERGENCY
        actions = _merge(actions, _AIRWAY_EMERGENCY_ACTIONS)
        names = ", ".join(sorted(s.label.lower() for s in emergencies))
        reasons.append(f"Emergency: {names}.")
        symptom_set_rest = symptom_set - emergencies
    else:
        symptom_set_rest = symptom_set
    bp_high = any(
        a.sign in (VitalSign.SYSTOLIC_BP, VitalSign.DIASTOLIC_BP)
        and a.level is not AlertLevel.NORMAL
        and (
            (a.change_percent is not None and a.change_percent > 0) or _above_abnormal(a, settings)
        )
        for a in assessed
    )
    if symptom_set_rest:
        names = ", ".join(sorted(s.label.lower() for s in symptom_set_rest))
        if bp_high:
            level = AlertLevel.EMERGENCY
            actions = _merge(actions, _EMERGENCY_ACTIONS)
            reasons.append(
                f"High blood pressure with end-organ symptoms ({names}): hypertensive emergency."
            )
        else:
            level = _worse(level, AlertLevel.CRITICAL)
            actions = _merge(actions, _SYMPTOM_ACTIONS)
            reasons.append(f"Symptoms needing a prescriber now: {names}.")
    if not reasons:
        reasons.append("All readings are within the clinic's limits.")
    return MonitoringAssessment(
        level=level,
        actions=actions,
        vitals=assessed,
        symptoms=symptom_set,
        reasons=tuple(reasons),
    )


def _above_abnormal(a: VitalAssessment, settings: MonitoringSettings) -> bool:
    t = settings.thresholds[a.sign]
    return t.abnormal_above is not None and a.value > t.abnormal_above


# The vitals schedule of an infusion day: every 10 min during the infusion, every 15 min after it
# (Riva-Posse 2018; clinical.md s. 4.1).
VITALS_EVERY_MIN_DURING: Final = 10
VITALS_EVERY_MIN_AFTER: Final = 15
# Pregnancy test on the day, where it applies (clinical.md s. 3: pregnancy is a contraindication;
# trial registries require a test). Clinic policy: anyone not recorded male at birth aged 12 to 55
# inclusive, wider than WHO's reproductive age 15-49.
PREGNANCY_TEST_AGES: Final = (12, 55)
