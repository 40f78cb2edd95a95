"""The CapabilityStatement: exactly what ``fhir.api`` implements, from the same tables."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from ketaflow.fhir import codes

# The search parameters each type takes (the API refuses any other, naming it).
SEARCH_PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {
    "Patient": {
        "_id": ("token", "The patient's id."),
        "name": ("string", "A name, as on the Patients page."),
        "identifier": ("token", "The medical record number."),
    },
    **{
        kind: {
            "patient": ("reference", "Required: Patient/<id> or <id>."),
            "date": (
                "date",
                "YYYY-MM-DD (the clinic's day) or a dateTime; ge, le, gt, lt, eq, ne.",
            ),
            **({date_name: ("date", "The same as date.")} if date_name != "date" else {}),
            "code": ("token", "system|code or code; commas for any of several."),
        }
        for kind, date_name in (
            ("Condition", "onset-date"),
            ("AllergyIntolerance", "date"),
            ("Observation", "date"),
            ("QuestionnaireResponse", "authored"),
            ("MedicationAdministration", "effective-time"),
            ("Procedure", "date"),
            ("Consent", "date"),
        )
    },
    "AuditEvent": {
        "patient": ("reference", "Entries naming the patient."),
        "date": ("date", "YYYY-MM-DD; ge, le, gt, lt, eq."),
    },
}
SEARCH_PARAMETERS["Observation"]["subject"] = ("reference", "The same as patient.")
TYPES = tuple(SEARCH_PARAMETERS)
EXPORT_TYPES = TYPES

_DOCS = {
    "Patient": "US Core Patient. Scope fhir:read; the role must see demographics.",
    "Condition": "Diagnoses, ICD-10-CM.",
    "AllergyIntolerance": "Allergies as recorded (the substance as text).",
    "Observation": (
        "Vital signs (panel 85353-1 with blood pressure 85354-9, heart rate 8867-4, SpO2 "
        "59408-5/2708-6, respiratory rate 9279-1; ids vitals-, bp-, hr-, spo2-, rr-<entry>) "
        "and questionnaire results (PHQ-9 44261-6, GAD-7 70274-6, PCL-5 101698-9, C-SSRS "
        "risk level 93374-7; ids score-<response>)."
    ),
    "QuestionnaireResponse": (
        "Answers (linkId = item number); create imports a PHQ-9, GAD-7 or PCL-5 (scope "
        "fhir:write): scored by the clinic, a PHQ-9 item 9 above 0 raises the urgent task."
    ),
    "MedicationAdministration": "Ketamine infusions: delivered dose (mg), IV route, rate (mL/h).",
    "Procedure": "The infusion.",
    "Consent": "Informed consent to treatment, with its form version.",
    "AuditEvent": "The clinic's audit trail: scopes fhir:read and audit:read (medical director).",
}


def statement(base: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for kind in TYPES:
        entry: dict[str, Any] = {
            "type": kind,
            "documentation": _DOCS[kind],
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": name, "type": kind_, "documentation": doc}
                for name, (kind_, doc) in SEARCH_PARAMETERS[kind].items()
            ],
        }
        if kind in codes.PROFILES:
            entry["supportedProfile"] = codes.PROFILES[kind]
        if kind == "QuestionnaireResponse":
            entry["interaction"].append({"code": "create"})
        if kind == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    "documentation": "Every resource of the patient the token may read.",
                }
            ]
        resources.append(entry)
    data = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-01",
        "publisher": "KetaFlow",
        "kind": "instance",
        "implementation": {"description": "KetaFlow FHIR R4", "url": base},
        "software": {"name": "KetaFlow"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Bearer tokens (Authorization: Bearer <token>) from `ketaflow api token "
                    "create` or the API tokens page, scopes fhir:read, fhir:write, fhir:export "
                    "(medical director) and audit:read; a token reaches its clinic only; every "
                    "call is audited and throttled per token."
                ),
                "security": {
                    "service": [{"text": "Bearer token"}],
                    "description": "A token of one clinic; another clinic's ids are not found.",
                },
                "resource": resources,
                "operation": [
                    {
                        "name": "export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                        "documentation": (
                            "GET /fhir/$export (scope fhir:export, the medical director): a "
                            "manifest of one NDJSON file per type, each built when fetched "
                            "(synchronous)."
                        ),
                    }
                ],
            }
        ],
    }
    checked: dict[str, Any] = json.loads(
        CapabilityStatement.model_validate(data).model_dump_json(exclude_none=True)
    )
    return checked
