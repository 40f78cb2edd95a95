"""What the registry's writes and reads share: the record kinds of a chart by their URL name,
the demographic fields, a record's snapshot for the audit trail, the refusal of an inactive
record and the clinic's reading of typed dates."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.forms.models import model_to_dict

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.patients.models import (
    Allergy,
    CurrentMedication,
    Diagnosis,
    MedicationTrial,
    Patient,
    PatientRecord,
    PsychotherapyTrial,
    RegistrySettings,
)

R = TypeVar("R", bound=PatientRecord)

# The clinical sub-records of a chart, by the short name used in URLs.
RECORD_KINDS: dict[str, type[PatientRecord]] = {
    "allergy": Allergy,
    "medication": CurrentMedication,
    "diagnosis": Diagnosis,
    "psychotherapy": PsychotherapyTrial,
    "medication-trial": MedicationTrial,
}

_PATIENT_FIELDS = [
    "given_name",
    "family_name",
    "preferred_name",
    "date_of_birth",
    "sex_at_birth",
    "gender_identity",
    "pronouns",
    "phone",
    "email",
    "address_line",
    "city",
    "region",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "emergency_contact_phone",
    "escort_name",
    "escort_phone",
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    data = model_to_dict(obj, fields=fields)
    return {k: _jsonable(v) for k, v in data.items()}


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def require_active(patient: Patient, what: str) -> None:
    """Refuse ``what`` (e.g. "booked", "drawn for") for an inactive record."""
    if not patient.active:
        where = f", merged into {patient.merged_into.mrn}" if patient.merged_into else ""
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"{patient.display_name} ({patient.mrn}) is inactive{where}: not {what}"
                ]
            }
        )


def slashes_day_first(clinic_id: int) -> bool:
    found = RegistrySettings.objects.filter(clinic_id=clinic_id).first()
    return found is not None and found.slash_dates == RegistrySettings.SlashDates.DAY_FIRST


def patient_saved(
    *,
    actor: Actor,
    patient: Patient,
    summary: str,
    detail: dict[str, Any],
    update_fields: list[str] | None = None,
) -> Patient:
    """Check and save a changed ``patient``, with its audit entry (an update of the record)."""
    patient.full_clean()
    patient.save(update_fields=update_fields)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=summary,
        detail=detail,
    )
    return patient
