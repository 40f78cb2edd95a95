"""Writes and audited reads of the patient registry.

Every function takes the acting person (``actor``) and records what it did in the audit trail in
the same transaction. Each write calls ``full_clean()``: a record that breaks a rule is refused
with the field named and nothing stored.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any, TypeVar

from django.db import models, transaction
from django.forms.models import model_to_dict

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.patients.models import (
    Allergy,
    ClinicalNote,
    CurrentMedication,
    Diagnosis,
    MedicationTrial,
    Patient,
    PatientRecord,
    PsychotherapyTrial,
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


@transaction.atomic
def patient_register(*, actor: Actor, clinic_id: int, data: dict[str, Any]) -> Patient:
    patient = Patient(
        clinic_id=clinic_id, **{k: v for k, v in data.items() if k in _PATIENT_FIELDS}
    )
    patient.full_clean()
    patient.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"registered patient {patient.mrn}",
        detail={"fields": sorted(k for k in data if k in _PATIENT_FIELDS)},
    )
    return patient


@transaction.atomic
def patient_update(*, actor: Actor, patient: Patient, data: dict[str, Any]) -> Patient:
    before = snapshot(patient, _PATIENT_FIELDS)
    for key, value in data.items():
        if key in _PATIENT_FIELDS:
            setattr(patient, key, value)
    patient.full_clean()
    patient.save()
    changes = _diff(before, snapshot(patient, _PATIENT_FIELDS))
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"changed {', '.join(sorted(changes)) or 'nothing'}",
        detail={"changes": changes},
    )
    return patient


def record_kind_of(record: PatientRecord) -> str:
    for kind, model in RECORD_KINDS.items():
        if isinstance(record, model):
            return kind
    return type(record).__name__.lower()


@transaction.atomic
def record_add(*, actor: Actor, patient: Patient, record: R) -> R:
    """Add a clinical sub-record (allergy, medication, diagnosis, treatment trial) to a chart."""
    record.patient = patient
    record.full_clean()
    record.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type=record_kind_of(record),
        object_id=record.pk,
        patient_id=patient.pk,
        summary=f"added {record.label}: {record}",
        detail={"values": snapshot(record)},
    )
    return record


@transaction.atomic
def record_update(*, actor: Actor, record: R, data: dict[str, Any]) -> R:
    """Change a clinical sub-record (an allergy's severity, a medication's dose). Such records
    are corrected over time, so they are neither append-only nor sealed: instead every change's
    audit entry keeps each changed field's value before and after (``record_add`` and
    ``record_remove`` keep all values), and the hash-chained, checkpointed trail then shows what
    the chart said when, and who changed it."""
    before = snapshot(record)
    for key, value in data.items():
        setattr(record, key, value)
    record.full_clean()
    record.save()
    changes = _diff(before, snapshot(record))
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type=record_kind_of(record),
        object_id=record.pk,
        patient_id=record.patient_id,
        summary=f"changed {record.label}: {', '.join(sorted(changes)) or 'nothing'}",
        detail={"changes": changes},
    )
    return record


@transaction.atomic
def record_remove(*, actor: Actor, record: PatientRecord, reason: str) -> None:
    """Remove a sub-record entered in error. Its last values stay in the audit trail."""
    if not reason.strip():
        raise ValueError("reason: say why the record is removed")
    values = snapshot(record)
    kind, pk, patient_id, label = record_kind_of(record), record.pk, record.patient_id, str(record)
    record.delete()
    audit_record(
        actor=actor,
        action=Action.DELETE,
        object_type=kind,
        object_id=pk,
        patient_id=patient_id,
        summary=f"removed {record.label}: {label} ({reason.strip()[:120]})",
        detail={"values": values, "reason": reason.strip()},
    )


@transaction.atomic
def note_add(*, actor: Actor, patient: Patient, kind: str, text: str) -> ClinicalNote:
    if actor.user is None:
        raise ValueError("author: a note needs a person as its author")
    note = ClinicalNote(patient=patient, author=actor.user, kind=kind, text=text)
    note.full_clean()
    note.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="clinical_note",
        object_id=note.pk,
        patient_id=patient.pk,
        summary=f"wrote a {note.get_kind_display().lower()} note",
    )
    return note


def chart_viewed(*, actor: Actor, patient: Patient, sections: list[str]) -> None:
    """Record that ``actor`` opened ``patient``'s chart and which sections were shown."""
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"viewed chart ({', '.join(sections)})",
        detail={"sections": sections},
    )


def form_viewed(
    *, actor: Actor, patient: Patient, what: str, object_type: str, object_id: object
) -> None:
    """Record that an edit form showing ``patient``'s data was opened."""
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient.pk,
        summary=f"opened the edit form for {what}",
    )


def patient_list_viewed(*, actor: Actor, query: str, patient_ids: list[int]) -> None:
    audit_record(
        actor=actor,
        action=Action.SEARCH if query else Action.VIEW,
        object_type="patient_list",
        summary=(f"searched patients for {query!r}" if query else "listed patients")
        + f": {len(patient_ids)} shown",
        detail={"query": query, "patient_ids": patient_ids},
        patient_ids=patient_ids,
    )


def patient_export(*, actor: Actor, patient: Patient, include_clinical: bool) -> dict[str, Any]:
    """The chart as a JSON-ready dictionary; the export is audited."""
    data: dict[str, Any] = {
        "mrn": patient.mrn,
        "demographics": snapshot(patient, _PATIENT_FIELDS),
    }
    if include_clinical:
        for kind, model in RECORD_KINDS.items():
            data[kind] = [snapshot(r) for r in model._default_manager.filter(patient=patient)]
        data["notes"] = [
            {
                "at": n.recorded_at.isoformat(),
                "author": str(n.author),
                "kind": n.kind,
                "text": n.text,
            }
            for n in ClinicalNote.objects.filter(patient=patient).select_related("author")
        ]
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary="exported chart as JSON" + (" with clinical history" if include_clinical else ""),
    )
    return data


@transaction.atomic
def patient_record_export(
    *, actor: Actor, patient: Patient, file_format: str, for_the_patient: bool
) -> bytes:
    """The patient's complete record (right of access, HIPAA 164.524) as ``pdf`` or ``json``
    bytes; audited in the same transaction, saying who asked (staff on the patient's request, or
    the patient from the portal)."""
    from ketaflow.patients import right_of_access

    if file_format not in ("pdf", "json"):
        raise ValueError(f"file format: pdf or json, not {file_format!r}")
    record = right_of_access.complete_record(patient)
    if file_format == "pdf":
        data = right_of_access.as_pdf(record)
    else:
        data = json.dumps(right_of_access.as_json(record), indent=2, ensure_ascii=False).encode()
    who = "the patient, from the portal" if for_the_patient else "staff, on the patient's request"
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"exported the complete record as {file_format.upper()} (right of access; {who})",
        detail={
            "format": file_format,
            "for_the_patient": for_the_patient,
            "sections": {s.title: len(s.entries) for s in record.sections},
        },
    )
    return data


@transaction.atomic
def patient_link_login(*, actor: Actor, patient: Patient, user_id: int) -> Patient:
    """Give a patient their own portal login."""
    patient.user_id = user_id
    patient.full_clean()
    patient.save(update_fields=["user", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary="linked the patient's portal login",
        detail={"user_id": user_id},
    )
    return patient
