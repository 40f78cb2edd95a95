"""Builds the structured intake that ``ketaflow.clinical.intake_from_dict`` reads from the
patient's registry record (diagnoses, allergies, medications, prior treatment) and the answers of
the consultation form (history, pregnancy, vitals)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from ketaflow.clinical import MedicalHistory, PsychiatricHistory, SubstanceUse
from ketaflow.patients.models import (
    Allergy,
    CurrentMedication,
    Diagnosis,
    MedicationTrial,
    Patient,
    PsychotherapyTrial,
    TrialOutcome,
)

# The yes/no questions of each history section, straight from the clinical dataclasses, so a
# rule added there appears on the form without a second list to keep in step.
MEDICAL_FLAGS = [f.name for f in dataclasses.fields(MedicalHistory) if f.type in (bool, "bool")]
MEDICAL_MONTHS = [f.name for f in dataclasses.fields(MedicalHistory) if f.name.endswith("_ago")]
PSYCHIATRIC_FLAGS = [f.name for f in dataclasses.fields(PsychiatricHistory)]
SUBSTANCE_FLAGS = [f.name for f in dataclasses.fields(SubstanceUse)]

# Registry outcome -> intake outcome. "Discontinued early" says nothing about benefit: unknown.
_OUTCOME = {
    TrialOutcome.REMISSION: "remission",
    TrialOutcome.RESPONSE: "response",
    TrialOutcome.PARTIAL: "partial_response",
    TrialOutcome.NO_RESPONSE: "no_response",
    TrialOutcome.NOT_TOLERATED: "not_tolerated",
    TrialOutcome.DISCONTINUED: "unknown",
    TrialOutcome.UNKNOWN: "unknown",
}
_MODALITY = {"PE": "PE", "CPT": "CPT", "EMDR": "EMDR"}  # CBT and others count as "other"
_DAILY = {"daily", "once daily", "qd", "every day", "once a day"}


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _number(value: Decimal | float | None) -> float | None:
    return float(value) if value is not None else None


def registry_part(patient: Patient) -> dict[str, Any]:
    """The parts of the intake that come from the patient's registry record."""
    diagnoses = Diagnosis.objects.filter(
        patient=patient, status__in=[Diagnosis.Status.ACTIVE, Diagnosis.Status.IN_REMISSION]
    )
    medications = []
    for med in CurrentMedication.objects.filter(patient=patient):
        per_day = None
        if med.dose_unit == "mg" and med.frequency.strip().lower() in _DAILY:
            per_day = _number(med.dose_amount)
        medications.append({"name": med.name, "dose_mg_per_day": per_day})
    return {
        "diagnoses": [{"code": d.code, "description": d.description} for d in diagnoses],
        "allergies": [
            {"substance": a.substance, "reaction": a.reaction}
            for a in Allergy.objects.filter(patient=patient)
        ],
        "current_medications": medications,
        "psychotherapy_trials": [
            {
                "modality": _MODALITY.get(t.modality, "other"),
                "sessions_completed": t.sessions_completed,
                "start_date": _iso(t.started_on),
                "end_date": _iso(t.ended_on),
                "outcome": _OUTCOME[TrialOutcome(t.outcome)],
            }
            for t in PsychotherapyTrial.objects.filter(patient=patient)
        ],
        "medication_trials": [
            {
                "drug": t.drug,
                "dose_mg_per_day": float(t.dose_mg_per_day),
                "duration_weeks": float(t.duration_weeks),
                "outcome": _OUTCOME[TrialOutcome(t.outcome)],
                "reason_stopped": t.get_reason_stopped_display(),
                "in_current_episode": None,
            }
            for t in MedicationTrial.objects.filter(patient=patient)
        ],
    }


def _tristate(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def build_intake(patient: Patient, answers: dict[str, Any], *, today: dt.date) -> dict[str, Any]:
    """The full intake dictionary from the registry and the cleaned consultation form."""
    vitals = None
    if answers.get("systolic_bp_mmhg") is not None:
        vitals = {
            "systolic_bp_mmhg": float(answers["systolic_bp_mmhg"]),
            "diastolic_bp_mmhg": float(answers["diastolic_bp_mmhg"]),
            "heart_rate_bpm": float(answers["heart_rate_bpm"]),
        }
    medical: dict[str, Any] = {name: bool(answers.get(name)) for name in MEDICAL_FLAGS}
    for name in MEDICAL_MONTHS:
        medical[name] = _number(answers.get(name))
    intake: dict[str, Any] = {
        "age_years": patient.age_on(today),
        "sex": answers["sex"],
        "pregnant": _tristate(answers["pregnant"]),
        "breastfeeding": _tristate(answers["breastfeeding"]),
        "weight_kg": _number(answers.get("weight_kg")),
        "height_cm": _number(answers.get("height_cm")),
        "medical": medical,
        "psychiatric": {name: bool(answers.get(name)) for name in PSYCHIATRIC_FLAGS},
        "substance_use": {name: bool(answers.get(name)) for name in SUBSTANCE_FLAGS},
        "vitals": vitals,
        "cssrs_risk": answers.get("cssrs_risk") or None,
    }
    intake.update(registry_part(patient))
    return intake
