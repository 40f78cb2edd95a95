"""The clinical sub-records of a chart (allergies, medications, diagnoses, treatment history)
added, changed and removed with a reason, and clinical notes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.patients.models import ClinicalNote, Patient, PatientRecord
from ketaflow.patients.services.base import RECORD_KINDS, R, _diff, snapshot


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
    note = ClinicalNote(patient=patient, author=actor.person(), kind=kind, text=text)
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
