"""The audited reads of the registry: the chart, an edit form, the list, and the exports
(the chart as JSON, the complete record for the right of access)."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.patients.models import ClinicalNote, Patient
from ketaflow.patients.services.base import _PATIENT_FIELDS, RECORD_KINDS, snapshot


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
