"""The reads behind the FHIR resources. Every function takes a patient the caller found with
``patients.access.patient_for_user`` (or a row id that it resolves to its patient, which the
caller then checks the same way): nothing here decides who may see what."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import QuerySet

from ketaflow.accounts.models import Clinic
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.selectors import entries_filtered
from ketaflow.candidacy.models import Consent
from ketaflow.fhir import build
from ketaflow.fhir.build import Built
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from ketaflow.infusions.services import effective_vitals
from ketaflow.patients.models import Allergy, Diagnosis, Patient

# The patient-compartment types, in the order $everything and $export give them.
PATIENT_TYPES = (
    "Patient",
    "Condition",
    "AllergyIntolerance",
    "Observation",
    "QuestionnaireResponse",
    "MedicationAdministration",
    "Procedure",
    "Consent",
)
OBSERVATION_PREFIXES = ("vitals", "bp", "hr", "spo2", "rr", "score")


def _sessions(patient: Patient) -> list[InfusionSession]:
    return [
        s
        for s in InfusionSession.objects.filter(patient=patient)
        .select_related("started_by")
        .order_by("created_at", "pk")
        if build.infused(s)
    ]


def _observations(patient: Patient) -> Iterator[Built]:
    sessions = InfusionSession.objects.filter(patient=patient).order_by("created_at", "pk")
    for session in sessions:
        for entry in effective_vitals(session):
            entry.session = session
            yield from build.vitals(entry)
    for response in patient.responses.order_by("taken_at", "pk"):
        built = build.score(response)
        if built is not None:
            yield built


def resources(patient: Patient, kind: str) -> list[Built]:
    """Every resource of type ``kind`` about ``patient``."""
    makers: dict[str, Callable[[], list[Built]]] = {
        "Patient": lambda: [build.patient(patient)],
        "Condition": lambda: [build.condition(d) for d in patient.diagnosis_set.order_by("pk")],
        "AllergyIntolerance": lambda: [
            build.allergy(a) for a in patient.allergy_set.order_by("pk")
        ],
        "Observation": lambda: list(_observations(patient)),
        "QuestionnaireResponse": lambda: [
            build.questionnaire_response(r) for r in patient.responses.order_by("taken_at", "pk")
        ],
        "MedicationAdministration": lambda: [
            build.medication_administration(s) for s in _sessions(patient)
        ],
        "Procedure": lambda: [build.procedure(s) for s in _sessions(patient)],
        "Consent": lambda: [
            build.consent(c) for c in patient.consents.select_related("form").order_by("pk")
        ],
    }
    return makers[kind]()


def patient_of(kind: str, resource_id: str) -> int | None:
    """The patient a resource id belongs to (None: no such resource). The caller checks the
    patient with the access function before building anything."""
    prefix, _, number = resource_id.rpartition("-")
    if not number.isdigit() or len(number) > 18:
        return None
    pk = int(number)
    if kind == "Observation":
        if prefix == "score":
            return _first(InstrumentResponse.objects.filter(pk=pk), "patient_id")
        if prefix in OBSERVATION_PREFIXES:
            return _first(VitalsEntry.objects.filter(pk=pk), "session__patient_id")
        return None
    if prefix:
        return None
    rows = {
        "Patient": (Patient.objects.filter(pk=pk), "pk"),
        "Condition": (Diagnosis.objects.filter(pk=pk), "patient_id"),
        "AllergyIntolerance": (Allergy.objects.filter(pk=pk), "patient_id"),
        "QuestionnaireResponse": (InstrumentResponse.objects.filter(pk=pk), "patient_id"),
        "MedicationAdministration": (InfusionSession.objects.filter(pk=pk), "patient_id"),
        "Procedure": (InfusionSession.objects.filter(pk=pk), "patient_id"),
        "Consent": (Consent.objects.filter(pk=pk), "patient_id"),
    }
    if kind not in rows:
        return None
    queryset, column = rows[kind]
    return _first(queryset, column)


def _first(queryset: QuerySet[Any], column: str) -> int | None:
    value = queryset.values_list(column, flat=True).first()
    return int(value) if value is not None else None


def one(patient: Patient, kind: str, resource_id: str) -> Built | None:
    """The resource ``kind/resource_id`` of ``patient`` (whom the caller was allowed to see)."""
    return next((b for b in resources(patient, kind) if b.id == resource_id), None)


def audit_entry(clinic: Clinic, resource_id: str) -> AuditEntry | None:
    """The clinic's audit entry ``resource_id`` (None: not the clinic's, or none)."""
    if not resource_id.isdigit() or len(resource_id) > 18:
        return None
    return entries_filtered(clinic).filter(pk=int(resource_id)).first()


def audit_events(clinic_id: int, clinic_slug: str, entries: list[AuditEntry]) -> list[Built]:
    return [build.audit_event(e, clinic_slug) for e in entries if e.clinic_id == clinic_id]


__all__ = [
    "PATIENT_TYPES",
    "audit_entry",
    "audit_events",
    "entries_filtered",
    "one",
    "patient_of",
    "resources",
]
