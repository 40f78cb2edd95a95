"""The clinic's records as FHIR R4 resources. Each builder returns a ``Built``: the resource as
JSON-ready data, validated by its ``fhir.resources.R4B`` model (a builder that produced an
invalid resource fails here, not at the client), with what search filters on (the date and
the codes).

Doses and rates are given exactly as stored (never rounded); times are instants with their
offset (UTC), as FHIR's ``instant`` and ``dateTime`` carry them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.consent import Consent as FhirConsent
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.resource import Resource

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.models import AuditEntry
from ketaflow.candidacy.models import Consent
from ketaflow.clinical import Instrument
from ketaflow.fhir import codes
from ketaflow.fhir.codes import Code
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from ketaflow.patients.models import Allergy, Diagnosis, Patient
from ketaflow.portal.questionnaires import PORTAL_QUESTIONNAIRES

MODELS: dict[str, type[Resource]] = {
    "Patient": FhirPatient,
    "Condition": Condition,
    "AllergyIntolerance": AllergyIntolerance,
    "Observation": Observation,
    "QuestionnaireResponse": QuestionnaireResponse,
    "MedicationAdministration": MedicationAdministration,
    "Procedure": Procedure,
    "Consent": FhirConsent,
    "AuditEvent": AuditEvent,
}


@dataclass(frozen=True)
class Built:
    resource: dict[str, Any]
    when: dt.datetime | dt.date | None = None  # what the type's date search parameter reads
    codes: frozenset[str] = field(default_factory=frozenset)  # "system|code" and "code"

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def id(self) -> str:
        return str(self.resource["id"])


def _built(data: dict[str, Any], when: dt.datetime | dt.date | None = None) -> Built:
    model = MODELS[data["resourceType"]]
    checked = json.loads(model.model_validate(data).model_dump_json(exclude_none=True))
    found: set[str] = set()
    for coding in (data.get("code") or {}).get("coding", []):
        found |= {f"{coding['system']}|{coding['code']}", coding["code"]}
    return Built(resource=checked, when=when, codes=frozenset(found))


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def _ref(kind: str, pk: object, display: str = "") -> dict[str, str]:
    ref = {"reference": f"{kind}/{pk}"}
    if display:
        ref["display"] = display
    return ref


def _concept(*items: Code, text: str = "") -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [c.coding() for c in items]}
    if text:
        concept["text"] = text
    return concept


def _meta(kind: str) -> dict[str, Any]:
    return {"profile": codes.PROFILES[kind]}


# ---- Patient, Condition, AllergyIntolerance -------------------------------------------------

_GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}


def patient(p: Patient) -> Built:
    name: dict[str, Any] = {"use": "official", "family": p.family_name, "given": [p.given_name]}
    names = [name]
    if p.preferred_name:
        names.append({"use": "usual", "family": p.family_name, "given": [p.preferred_name]})
    telecom = [{"system": "phone", "value": p.phone}]
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(p.pk),
        "meta": _meta("Patient"),
        "identifier": [
            {
                "use": "usual",
                "type": {"text": "Medical record number"},
                "system": f"{codes.MRN_SYSTEM}/{p.clinic.slug}",
                "value": p.mrn,
            }
        ],
        "active": p.active,
        "name": names,
        "telecom": telecom,
        "gender": _GENDER.get(p.sex_at_birth, "unknown"),
        "birthDate": p.date_of_birth.isoformat(),
    }
    if p.address_line or p.city or p.region or p.postal_code:
        address = {
            "line": [p.address_line] if p.address_line else None,
            "city": p.city or None,
            "state": p.region or None,
            "postalCode": p.postal_code or None,
        }
        data["address"] = [{k: v for k, v in address.items() if v}]
    data["contact"] = [
        {
            "relationship": [{"text": p.emergency_contact_relationship}],
            "name": {"text": p.emergency_contact_name},
            "telecom": [{"system": "phone", "value": p.emergency_contact_phone}],
        }
    ]
    return _built(data)


_CONDITION_STATUS = {
    "active": "active",
    "remission": "remission",
    "resolved": "resolved",
    "historical": "inactive",
}


def condition(d: Diagnosis) -> Built:
    data: dict[str, Any] = {
        "resourceType": "Condition",
        "id": str(d.pk),
        "meta": _meta("Condition"),
        "clinicalStatus": {
            "coding": [{"system": codes.CONDITION_CLINICAL, "code": _CONDITION_STATUS[d.status]}],
            "text": d.get_status_display(),
        },
        "verificationStatus": {
            "coding": [{"system": codes.CONDITION_VERIFICATION, "code": "confirmed"}]
        },
        "category": [
            {"coding": [{"system": codes.CONDITION_CATEGORY, "code": "problem-list-item"}]}
        ],
        "code": {
            "coding": [{"system": codes.ICD10CM, "code": d.code, "display": d.description}],
            "text": d.description,
        },
        "subject": _ref("Patient", d.patient_id),
        "recordedDate": _iso(d.recorded_at),
    }
    if d.onset_on:
        data["onsetDateTime"] = d.onset_on.isoformat()
    return _built(data, d.onset_on or d.recorded_at)


# The registry's severities in FHIR's reaction severity (R4 codesystem reaction-event-severity);
# "unknown" has no counterpart and is left out.
_REACTION_SEVERITY: dict[str, str] = {
    Allergy.Severity.MILD: "mild",
    Allergy.Severity.MODERATE: "moderate",
    Allergy.Severity.SEVERE: "severe",
}


def allergy(a: Allergy) -> Built:
    data: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": str(a.pk),
        "meta": _meta("AllergyIntolerance"),
        "clinicalStatus": {"coding": [{"system": codes.ALLERGY_CLINICAL, "code": "active"}]},
        "verificationStatus": {
            "coding": [{"system": codes.ALLERGY_VERIFICATION, "code": "confirmed"}]
        },
        # The substance as the clinic typed it: no terminology is claimed for free text.
        "code": {"text": a.substance},
        "patient": _ref("Patient", a.patient_id),
        "recordedDate": _iso(a.recorded_at),
    }
    if a.severity == Allergy.Severity.SEVERE:
        data["criticality"] = "high"
    elif a.severity == Allergy.Severity.UNKNOWN:
        data["criticality"] = "unable-to-assess"
    if a.reaction:
        reaction: dict[str, Any] = {"manifestation": [{"text": a.reaction}]}
        severity = _REACTION_SEVERITY.get(a.severity)
        if severity is not None:
            reaction["severity"] = severity
        data["reaction"] = [reaction]
    return _built(data, a.recorded_at)


# ---- Observations: vital signs and scores ---------------------------------------------------


def _quantity(value: float | int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": unit}


def _vital(
    entry: VitalsEntry, prefix: str, code: dict[str, Any], profile: str, **value: Any
) -> Built:
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{prefix}-{entry.pk}",
        "meta": _meta(profile),
        "status": "final",
        "category": [_concept(codes.VITAL_SIGNS_CATEGORY)],
        "code": code,
        "subject": _ref("Patient", entry.session.patient_id),
        "effectiveDateTime": _iso(entry.measured_at),
        **value,
    }
    return _built(data, entry.measured_at)


def vitals(entry: VitalsEntry) -> list[Built]:
    """One set of vitals: the panel (85353-1) with its members, blood pressure (85354-9 with
    systolic and diastolic components), heart rate, SpO2 and (if taken) respiratory rate."""
    members = [
        _vital(
            entry,
            "bp",
            _concept(codes.BLOOD_PRESSURE, text="Blood pressure"),
            "bp",
            component=[
                {
                    "code": _concept(codes.SYSTOLIC),
                    "valueQuantity": _quantity(entry.systolic_mmhg, codes.MM_HG),
                },
                {
                    "code": _concept(codes.DIASTOLIC),
                    "valueQuantity": _quantity(entry.diastolic_mmhg, codes.MM_HG),
                },
            ],
        ),
        _vital(
            entry,
            "hr",
            _concept(codes.HEART_RATE, text="Heart rate"),
            "hr",
            valueQuantity=_quantity(entry.heart_rate_bpm, codes.PER_MIN),
        ),
        _vital(
            entry,
            "spo2",
            _concept(codes.SPO2_PULSE_OXIMETRY, codes.SPO2_ARTERIAL, text="Oxygen saturation"),
            "spo2",
            valueQuantity=_quantity(entry.spo2_percent, codes.PERCENT),
        ),
    ]
    if entry.respiratory_rate_per_min is not None:
        members.append(
            _vital(
                entry,
                "rr",
                _concept(codes.RESPIRATORY_RATE, text="Respiratory rate"),
                "rr",
                valueQuantity=_quantity(entry.respiratory_rate_per_min, codes.PER_MIN),
            )
        )
    panel = _vital(
        entry,
        "vitals",
        _concept(codes.VITALS_PANEL, text="Vital signs"),
        "vitals-panel",
        hasMember=[_ref("Observation", m.id) for m in members],
    )
    return [panel, *members]


def _instrument(response: InstrumentResponse) -> Instrument:
    return Instrument(response.instrument)


def score(response: InstrumentResponse) -> Built | None:
    """The questionnaire's total (PHQ-9, GAD-7, PCL-5) or the C-SSRS screener's risk level, as a
    survey Observation derived from its QuestionnaireResponse; None for other instruments."""
    instrument = _instrument(response)
    known = codes.INSTRUMENT_CODES.get(instrument)
    if known is None:
        return None
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"score-{response.pk}",
        "meta": _meta("score"),
        "status": "final",
        "category": [_concept(codes.SURVEY_CATEGORY)],
        "code": _concept(known.total, text=f"{instrument.label} result"),
        "subject": _ref("Patient", response.patient_id),
        "effectiveDateTime": _iso(response.taken_at),
        "derivedFrom": [_ref("QuestionnaireResponse", response.pk)],
    }
    if instrument is Instrument.CSSRS:
        level = response.risk_level or "low"
        data["valueCodeableConcept"] = {
            "coding": [{"system": codes.CSSRS_RISK_SYSTEM, "code": level}],
            "text": f"{level.capitalize()} risk",
        }
    else:
        data["valueQuantity"] = {
            "value": float(response.total),
            "unit": "score",
            "system": codes.UCUM,
            "code": codes.SCORE_UNIT,
        }
    return _built(data, response.taken_at)


def questionnaire_canonical(instrument: Instrument) -> str:
    return f"{codes.QUESTIONNAIRE}/{instrument.value}"


def questionnaire_response(response: InstrumentResponse) -> Built:
    """The answers, one item per question (linkId "1", "2", ... in order). Item text for the
    public-domain PHQ-9, GAD-7 and PCL-5 only; the C-SSRS and other licensed instruments carry
    answers without text."""
    instrument = _instrument(response)
    portal = PORTAL_QUESTIONNAIRES.get(instrument.value)
    items: list[dict[str, Any]] = []
    for number, answer in enumerate(response.answers, start=1):
        item: dict[str, Any] = {"linkId": str(number)}
        if portal is not None and number <= len(portal.items):
            item["text"] = portal.items[number - 1]
        value = {"valueBoolean": answer} if isinstance(answer, bool) else {"valueInteger": answer}
        item["answer"] = [value]
        items.append(item)
    data: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.pk),
        "meta": _meta("QuestionnaireResponse"),
        "questionnaire": questionnaire_canonical(instrument),
        "status": "completed",
        "subject": _ref("Patient", response.patient_id),
        "authored": _iso(response.taken_at),
        "item": items,
    }
    known = codes.INSTRUMENT_CODES.get(instrument)
    if known is not None and known.panel is not None:
        data["identifier"] = {"system": codes.LOINC, "value": known.panel.code}
    built = _built(data, response.taken_at)
    if known is not None and known.panel is not None:
        panel = known.panel
        built = Built(
            built.resource, built.when, frozenset({f"{panel.system}|{panel.code}", panel.code})
        )
    return built


# ---- the infusion ----------------------------------------------------------------------------

_ADMINISTRATION_STATUS = {
    "running": "in-progress",
    "paused": "on-hold",
    "stopped": "stopped",
    "recovery": "completed",
    "discharged": "completed",
    "signed": "completed",
    "cosign": "completed",
}


def infused(session: InfusionSession) -> bool:
    """A session whose infusion started (the others have nothing administered)."""
    return session.started_at is not None and session.status in _ADMINISTRATION_STATUS


def _period(session: InfusionSession) -> dict[str, str]:
    if session.started_at is None:  # pragma: no cover - only infused sessions are built
        raise ValueError(f"session {session.pk} has not started")
    period = {"start": _iso(session.started_at)}
    if session.ended_at is not None:
        period["end"] = _iso(session.ended_at)
    return period


def medication_administration(session: InfusionSession) -> Built:
    """Ketamine given intravenously: the delivered dose in mg as computed from the pump's events
    (exact, not rounded) once the infusion ended, the pump rate in mL/h, the period."""
    dosage: dict[str, Any] = {
        "route": _concept(codes.IV_ROUTE, text="Intravenous"),
    }
    if session.delivered_dose_mg is not None and session.ended_at is not None:
        dosage["dose"] = _quantity(session.delivered_dose_mg, codes.MG)
    if session.rate_ml_per_h is not None:
        dosage["rateQuantity"] = _quantity(session.rate_ml_per_h, codes.ML_PER_H)
    if session.dose_mg is not None:
        dosage["text"] = f"Ordered dose {session.dose_mg} mg"
    data: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": str(session.pk),
        "status": _ADMINISTRATION_STATUS[session.status],
        "medicationCodeableConcept": _concept(codes.KETAMINE, text="Ketamine"),
        "subject": _ref("Patient", session.patient_id),
        "effectivePeriod": _period(session),
        "dosage": dosage,
    }
    if session.started_by is not None:  # named only: Practitioner is not served
        who = session.started_by
        data["performer"] = [{"actor": {"display": who.get_full_name() or who.get_username()}}]
    built = _built(data, session.started_at)
    k = codes.KETAMINE
    return Built(built.resource, built.when, frozenset({f"{k.system}|{k.code}", k.code}))


_PROCEDURE_STATUS = {
    "running": "in-progress",
    "paused": "on-hold",
    "stopped": "stopped",
    "recovery": "completed",
    "discharged": "completed",
    "signed": "completed",
    "cosign": "completed",
}


def procedure(session: InfusionSession) -> Built:
    data: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": str(session.pk),
        "meta": _meta("Procedure"),
        "status": _PROCEDURE_STATUS[session.status],
        "code": _concept(codes.KETAMINE_INFUSION, text="Intravenous ketamine infusion"),
        "subject": _ref("Patient", session.patient_id),
        "performedPeriod": _period(session),
    }
    return _built(data, session.started_at)


# ---- Consent, AuditEvent ---------------------------------------------------------------------


def consent(c: Consent) -> Built:
    data: dict[str, Any] = {
        "resourceType": "Consent",
        "id": str(c.pk),
        "status": "inactive" if c.withdrawn_at is not None else "active",
        "scope": _concept(codes.CONSENT_TREATMENT),
        "category": [_concept(codes.CONSENT_CATEGORY)],
        "patient": _ref("Patient", c.patient_id),
        "dateTime": _iso(c.accepted_at),
        # The clinic's versioned consent text the patient accepted.
        "policy": [{"uri": f"{codes.KETAFLOW}/ConsentForm/{c.form_id}"}],
        "sourceReference": {"display": f"{c.form.title} version {c.form.version}"},
        "provision": {"type": "permit"},
    }
    if c.withdrawn_at is not None:
        data["provision"]["period"] = {"end": _iso(c.withdrawn_at)}
    return _built(data, c.accepted_at)


_AUDIT_ACTION = {"view": "R", "search": "E", "create": "C", "update": "U", "delete": "D"}


def audit_event(e: AuditEntry, clinic_slug: str) -> Built:
    entity: list[dict[str, Any]] = []
    if e.patient_id is not None:
        entity.append({"what": _ref("Patient", e.patient_id)})
    data: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(e.pk),
        # DICOM 110110 "Patient Record" and friends need DCM; the trail's own action names
        # are KetaFlow's codes (the FHIR type "rest" does not fit page views).
        "type": {
            "system": f"{codes.KETAFLOW_CS}/audit-action",
            "code": e.action,
            "display": e.get_action_display(),
        },
        "action": _AUDIT_ACTION.get(e.action, "E"),
        "recorded": _iso(e.at),
        "outcome": "4" if e.action == "denied" else "0",
        "outcomeDesc": e.summary[:1000] if e.summary else None,
        "agent": [
            {
                "who": {"display": e.actor_username},
                "name": e.actor_username,
                "role": [{"text": e.actor_role}] if e.actor_role else None,
                "requestor": True,
            }
        ],
        "source": {"observer": {"display": f"KetaFlow, clinic {clinic_slug}"}},
        "entity": entity or None,
    }
    data = {k: v for k, v in data.items() if v is not None}
    data["agent"] = [{k: v for k, v in a.items() if v is not None} for a in data["agent"]]
    return _built(data, e.at)
