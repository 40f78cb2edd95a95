"""FHIR R4 at /fhir/ on the demo clinics (loaded once for the module; each test's writes are
rolled back): every resource parses back with its R4B model, every code is the one of the table
below, reads are audited, the export then import of a questionnaire round-trips through the
scoring and the safety pathway, and another clinic's token, a patient's, an expired or revoked
token and a token past its rate get nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from ketaflow.accounts.models import Clinic, User
from ketaflow.api.models import ApiToken
from ketaflow.api.scopes import SCOPES, scopes_for_role
from ketaflow.api.services import token_digest, token_revoke
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry, AuditEntryPatient
from ketaflow.fhir import codes
from ketaflow.fhir.build import MODELS
from ketaflow.fhir.capability import TYPES
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients.models import Patient
from ketaflow.portal.answers import response_record
from ketaflow.portal.models import UrgentTask
from tests.api.api_helpers import token_for

pytestmark = pytest.mark.xdist_group("fhir")

# Every code the resources carry, with where it was verified (ketaflow/fhir/codes.py names the
# same sources next to each code). A change of a code in codes.py fails here.
LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
CODE_TABLE: dict[str, tuple[str, str, str]] = {
    # name in codes.py: (system, code, source)
    "VITALS_PANEL": (LOINC, "85353-1", "FHIR R4 vital signs profile"),
    "BLOOD_PRESSURE": (LOINC, "85354-9", "FHIR R4 vital signs profile"),
    "SYSTOLIC": (LOINC, "8480-6", "FHIR R4 vital signs profile"),
    "DIASTOLIC": (LOINC, "8462-4", "FHIR R4 vital signs profile"),
    "HEART_RATE": (LOINC, "8867-4", "FHIR R4 vital signs profile"),
    "RESPIRATORY_RATE": (LOINC, "9279-1", "FHIR R4 vital signs profile"),
    "SPO2_PULSE_OXIMETRY": (LOINC, "59408-5", "US Core pulse oximetry"),
    "SPO2_ARTERIAL": (LOINC, "2708-6", "FHIR R4 vital signs profile"),
    "IV_ROUTE": (SNOMED, "47625008", "FHIR SNOMED CT route codes value set"),
    "CONSENT_CATEGORY": (LOINC, "59284-0", "FHIR R4 consent category value set"),
}
INSTRUMENT_TABLE = {
    # instrument: (panel, total), LOINC (docs/reference/clinical.md; loinc 2.82 for PCL-5/C-SSRS)
    "phq9": ("44249-1", "44261-6"),
    "gad7": ("69737-5", "70274-6"),
    "pcl5": ("101697-1", "101698-9"),
    "cssrs": (None, "93374-7"),
}


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def _client(token: str | None) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"} if token else {})


def get(path: str, token: str | None) -> Any:
    return _client(token).get(path)


def post(path: str, token: str | None, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return _client(token).post(path, data=data, content_type="application/fhir+json")


def riverside() -> Clinic:
    return Clinic.objects.get(slug="riverside")


def director_token(*extra: str) -> str:
    scopes = extra or ("fhir:read", "fhir:write", "fhir:export", "audit:read")
    return token_for(User.objects.get(username="director"), *scopes)


def treated_patient() -> Patient:
    """A Riverside patient with a finished infusion (vitals, dose, questionnaires)."""
    session = (
        InfusionSession.objects.filter(patient__clinic=riverside(), ended_at__isnull=False)
        .order_by("pk")
        .first()
    )
    assert session is not None
    return session.patient


def parsed(resource: dict[str, Any]) -> Any:
    """The resource parsed back with its R4B model (raises if it does not validate)."""
    return MODELS[resource["resourceType"]].model_validate(resource)


def issue_of(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    OperationOutcome.model_validate(body)
    issue: dict[str, Any] = body["issue"][0]
    return issue


# ---- the capability statement and the codes -------------------------------------------------


def test_metadata_needs_no_token_and_lists_what_is_implemented(
    demo_clinics: None, db: None
) -> None:
    answer = get("/fhir/metadata", None)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/fhir+json"
    CapabilityStatement.model_validate(answer.json())
    rest = answer.json()["rest"][0]
    assert [r["type"] for r in rest["resource"]] == list(TYPES)
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert [o["name"] for o in patient["operation"]] == ["everything"]
    assert [o["name"] for o in rest["operation"]] == ["export"]
    creatable = [r["type"] for r in rest["resource"] if {"code": "create"} in r["interaction"]]
    assert creatable == ["QuestionnaireResponse"]


def test_the_codes_are_the_verified_ones() -> None:
    for name, (system, code, _source) in CODE_TABLE.items():
        found = getattr(codes, name)
        assert (found.system, found.code) == (system, code), name
        assert found.source, f"{name} names no source"
    for instrument, (panel, total) in INSTRUMENT_TABLE.items():
        known = next(v for k, v in codes.INSTRUMENT_CODES.items() if k.value == instrument)
        assert (known.panel.code if known.panel else None) == panel, instrument
        assert known.total.code == total, instrument
        assert known.total.system == LOINC, instrument
    # Not verified in a source here: KetaFlow's own systems, never a claimed RxNorm code.
    assert codes.KETAMINE.system.startswith(codes.KETAFLOW_CS)
    assert codes.KETAMINE_INFUSION.system.startswith(codes.KETAFLOW_CS)


# ---- reading ---------------------------------------------------------------------------------


def test_everything_validates_carries_the_codes_and_is_audited(
    demo_clinics: None, db: None
) -> None:
    token = director_token()
    patient = treated_patient()
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    answer = get(f"/fhir/Patient/{patient.pk}/$everything", token)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "application/fhir+json"
    bundle = Bundle.model_validate(answer.json())
    assert bundle.type == "searchset"
    resources = [e["resource"] for e in answer.json()["entry"]]
    for resource in resources:
        parsed(resource)
        subject = resource.get("subject") or resource.get("patient")
        if subject:
            assert subject["reference"] == f"Patient/{patient.pk}"
    kinds = {r["resourceType"] for r in resources}
    assert {
        "Patient",
        "Observation",
        "QuestionnaireResponse",
        "MedicationAdministration",
        "Procedure",
        "AuditEvent",
    } <= kinds
    assert AuditEntryPatient.objects.filter(entry_id__gt=before, patient_id=patient.pk).exists()
    by_id = {f"{r['resourceType']}/{r['id']}": r for r in resources}

    panel = next(r for r in resources if r["id"].startswith("vitals-"))
    assert panel["code"]["coding"][0]["code"] == "85353-1"
    assert panel["category"][0]["coding"][0]["code"] == "vital-signs"
    members = [by_id[m["reference"]] for m in panel["hasMember"]]
    bp = next(m for m in members if m["id"].startswith("bp-"))
    assert bp["code"]["coding"][0]["code"] == "85354-9"
    assert [c["code"]["coding"][0]["code"] for c in bp["component"]] == ["8480-6", "8462-4"]
    assert {c["valueQuantity"]["code"] for c in bp["component"]} == {"mm[Hg]"}
    spo2 = next(m for m in members if m["id"].startswith("spo2-"))
    assert [c["code"] for c in spo2["code"]["coding"]] == ["59408-5", "2708-6"]
    assert spo2["valueQuantity"]["code"] == "%"
    heart = next(m for m in members if m["id"].startswith("hr-"))
    assert (heart["code"]["coding"][0]["code"], heart["valueQuantity"]["code"]) == (
        "8867-4",
        "/min",
    )

    given = next(r for r in resources if r["resourceType"] == "MedicationAdministration")
    session = InfusionSession.objects.get(pk=given["id"])
    dosage = given["dosage"]
    assert dosage["route"]["coding"][0]["code"] == "47625008"
    if session.delivered_dose_mg is not None:  # exact, never rounded
        assert dosage["dose"] == {
            "value": session.delivered_dose_mg,
            "unit": "mg",
            "system": "http://unitsofmeasure.org",
            "code": "mg",
        }
    assert dosage["rateQuantity"]["code"] == "mL/h"
    assert given["effectivePeriod"]["start"]

    scores = [r for r in resources if r["id"].startswith("score-")]
    assert scores
    for observation in scores:
        assert observation["category"][0]["coding"][0]["code"] == "survey"
        response = InstrumentResponse.objects.get(pk=observation["id"].removeprefix("score-"))
        assert observation["code"]["coding"][0]["code"] == INSTRUMENT_TABLE[response.instrument][1]
        if response.instrument != "cssrs":
            assert observation["valueQuantity"]["value"] == float(response.total)
    for questionnaire in (r for r in resources if r["resourceType"] == "QuestionnaireResponse"):
        if questionnaire["questionnaire"].endswith("/cssrs"):
            assert all("text" not in item for item in questionnaire["item"])  # licensed

    # Each resource read alone is the same, and the read is audited.
    refs = [
        f"Patient/{patient.pk}",
        f"Observation/{panel['id']}",
        f"Observation/{bp['id']}",
        f"MedicationAdministration/{given['id']}",
        f"Procedure/{given['id']}",
        f"Observation/{scores[0]['id']}",
    ]
    for ref in refs:
        before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        alone = get(f"/fhir/{ref}", token)
        assert alone.status_code == 200, ref
        assert alone.json() == by_id[ref]
        assert AuditEntryPatient.objects.filter(entry_id__gt=before, patient_id=patient.pk)


def test_search_by_patient_date_and_code(demo_clinics: None, db: None) -> None:
    token = director_token()
    patient = treated_patient()
    base = f"/fhir/Observation?patient={patient.pk}"
    everything = get(base, token).json()
    assert everything["total"] > 0
    heart = get(f"{base}&code=http://loinc.org|8867-4", token).json()
    assert heart["total"] > 0
    assert {e["resource"]["id"].split("-")[0] for e in heart["entry"]} == {"hr"}
    either = get(f"{base}&code=8867-4,9279-1", token).json()
    assert either["total"] >= heart["total"]
    days = sorted(e["resource"]["effectiveDateTime"][:10] for e in everything["entry"])
    later = get(f"{base}&date=ge2999-01-01", token).json()
    assert later["total"] == 0
    within = get(f"{base}&date=ge1900-01-01&date=le2999-12-31", token).json()
    assert within["total"] == everything["total"]
    before_first = get(f"{base}&date=lt{days[0][:4]}-01-01", token).json()
    assert before_first["total"] == 0
    bad = get(f"{base}&date=yesterday", token)
    assert bad.status_code == 400
    assert issue_of(bad)["expression"] == ["date"]
    unknown = get(f"{base}&colour=blue", token)
    assert unknown.status_code == 400
    assert issue_of(unknown)["expression"] == ["colour"]
    no_patient = get("/fhir/Observation", token)
    assert no_patient.status_code == 400
    assert issue_of(no_patient)["expression"] == ["patient"]
    listed = get(f"/fhir/Patient?identifier={patient.mrn}", token).json()
    assert [e["resource"]["id"] for e in listed["entry"]] == [str(patient.pk)]
    identifier = listed["entry"][0]["resource"]["identifier"][0]
    assert identifier["value"] == patient.mrn
    responses = get(f"/fhir/QuestionnaireResponse?patient={patient.pk}&code=44249-1", token)
    assert all(e["resource"]["questionnaire"].endswith("/phq9") for e in responses.json()["entry"])
    assert get("/fhir/Nonsense?patient=1", token).status_code == 404


def test_audit_events_for_the_director_only(demo_clinics: None, db: None) -> None:
    patient = treated_patient()
    answer = get(f"/fhir/AuditEvent?patient={patient.pk}&_count=5", director_token())
    assert answer.status_code == 200
    entries = answer.json()["entry"]
    assert 0 < len(entries) <= 5
    for entry in entries:
        parsed(entry["resource"])
    one = entries[0]["resource"]["id"]
    assert get(f"/fhir/AuditEvent/{one}", director_token()).status_code == 200
    without = get("/fhir/AuditEvent", director_token("fhir:read"))
    assert without.status_code == 403
    assert "audit:read" in issue_of(without)["diagnostics"]
    prescriber = token_for(User.objects.get(username="prescriber"), "fhir:read")
    assert get(f"/fhir/AuditEvent/{one}", prescriber).status_code == 403
    assert "fhir:export" not in [s.key for s in scopes_for_role("prescriber")]


# ---- bulk export, then import ----------------------------------------------------------------


def test_export_then_import_round_trips_and_raises_the_safety_task(
    demo_clinics: None, db: None
) -> None:
    patient = treated_patient()
    director = User.objects.get(username="director")
    original = response_record(
        actor=Actor(user=director),
        patient=patient,
        instrument="phq9",
        answers=[2, 1, 1, 2, 1, 1, 0, 1, 2],  # item 9 = 2
        taken_at=timezone.now() - dt.timedelta(days=1),
    )
    token = director_token()
    manifest = get("/fhir/$export", token)
    assert manifest.status_code == 200
    outputs = {o["type"]: o["url"] for o in manifest.json()["output"]}
    assert set(outputs) == set(TYPES)
    riverside_ids = set(Patient.objects.filter(clinic=riverside()).values_list("pk", flat=True))
    exported: dict[str, list[dict[str, Any]]] = {}
    for kind, url in outputs.items():
        answer = get(url.removeprefix("http://testserver"), token)
        assert answer.status_code == 200, kind
        assert answer["Content-Type"] == "application/fhir+ndjson"
        lines = answer.content.decode().splitlines()
        exported[kind] = [json.loads(line) for line in lines]
        for resource in exported[kind]:
            assert resource["resourceType"] == kind
            parsed(resource)  # every resource of the clinic validates
            subject = resource.get("subject") or resource.get("patient")
            if subject:
                assert int(subject["reference"].split("/")[1]) in riverside_ids
    assert {"Condition", "AllergyIntolerance", "Consent"} <= {k for k, v in exported.items() if v}
    assert AuditEntry.objects.filter(object_type="fhir_export", object_id="Observation").exists()

    sent = next(r for r in exported["QuestionnaireResponse"] if r["id"] == str(original.pk))
    for element in ("id", "meta"):
        sent.pop(element)
    tasks_before = UrgentTask.objects.count()
    created = post("/fhir/QuestionnaireResponse", token, sent)
    assert created.status_code == 201, created.content
    assert created["Location"].endswith(f"/fhir/QuestionnaireResponse/{created.json()['id']}")
    again = InstrumentResponse.objects.get(pk=created.json()["id"])
    assert again.pk != original.pk
    assert (again.instrument, again.answers, again.total) == (
        original.instrument,
        original.answers,
        original.total,
    )
    assert again.taken_at == original.taken_at
    assert again.suicide_risk_flag is True
    assert UrgentTask.objects.count() == tasks_before + 1
    assert UrgentTask.objects.filter(response=again, patient=patient).exists()
    parsed(created.json())
    score = get(f"/fhir/Observation/score-{again.pk}", token).json()
    assert score["valueQuantity"]["value"] == float(original.total)


def _phq9(patient: Patient, answers: list[Any]) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://ketaflow.org/fhir/Questionnaire/phq9",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient.pk}"},
        "authored": "2026-11-30T09:15:00-05:00",
        "item": [
            {"linkId": str(n), "answer": [{"valueInteger": a}]} for n, a in enumerate(answers, 1)
        ],
    }


def test_bad_imports_name_the_element_and_write_nothing(demo_clinics: None, db: None) -> None:
    patient = treated_patient()
    token = director_token()
    before = (InstrumentResponse.objects.count(), UrgentTask.objects.count())
    cases: list[tuple[Any, int, str]] = [
        ("{not json", 400, "QuestionnaireResponse"),
        ({"resourceType": "Patient"}, 400, "QuestionnaireResponse.resourceType"),
        ({**_phq9(patient, [0] * 9), "authored": "soon"}, 400, "QuestionnaireResponse.authored"),
        ({**_phq9(patient, [0] * 9), "status": "in-progress"}, 422, "QuestionnaireResponse.status"),
        (
            {**_phq9(patient, [0] * 9), "questionnaire": "http://example.org/q"},
            422,
            "QuestionnaireResponse.questionnaire",
        ),
        (
            {**_phq9(patient, [0] * 9), "subject": {"reference": "Group/1"}},
            400,
            "QuestionnaireResponse.subject",
        ),
        (_phq9(patient, [0] * 8 + [9]), 422, "QuestionnaireResponse.item"),  # item 9 out of range
        (_phq9(patient, [1] * 8), 422, "QuestionnaireResponse.item"),  # one item short
        (
            {**_phq9(patient, [1] * 9), "authored": "2026-11-30"},
            422,
            "QuestionnaireResponse.authored",
        ),
    ]
    for body, status, element in cases:
        answer = post("/fhir/QuestionnaireResponse", token, body)
        assert answer.status_code == status, (element, answer.content)
        issue = issue_of(answer)
        assert issue["expression"][0].startswith(element), (element, issue)
        assert issue["diagnostics"]
    out_of_range = post("/fhir/QuestionnaireResponse", token, _phq9(patient, [0] * 8 + [9]))
    assert "item 9" in issue_of(out_of_range)["diagnostics"]
    assert (InstrumentResponse.objects.count(), UrgentTask.objects.count()) == before
    read_only = token_for(User.objects.get(username="director"), "fhir:read")
    refused = post("/fhir/QuestionnaireResponse", read_only, _phq9(patient, [0] * 9))
    assert refused.status_code == 403
    assert InstrumentResponse.objects.count() == before[0]


# ---- outsiders and refused tokens --------------------------------------------------------------


def _riverside_urls() -> list[str]:
    patient = treated_patient()
    response = InstrumentResponse.objects.filter(patient=patient).order_by("pk").first()
    session = InfusionSession.objects.filter(patient=patient, ended_at__isnull=False).first()
    vitals = session.vitals.first() if session else None
    assert response is not None
    assert session is not None
    assert vitals is not None
    trail = AuditEntry.objects.filter(clinic=riverside()).order_by("-id").first()
    assert trail is not None
    urls = [f"/fhir/{kind}?patient={patient.pk}" for kind in TYPES if kind != "Patient"]
    return [
        *urls,
        f"/fhir/Patient/{patient.pk}",
        f"/fhir/Patient/{patient.pk}/$everything",
        f"/fhir/Observation/vitals-{vitals.pk}",
        f"/fhir/Observation/bp-{vitals.pk}",
        f"/fhir/Observation/score-{response.pk}",
        f"/fhir/QuestionnaireResponse/{response.pk}",
        f"/fhir/MedicationAdministration/{session.pk}",
        f"/fhir/Procedure/{session.pk}",
        f"/fhir/AuditEvent/{trail.pk}",
        f"/fhir/AuditEvent?patient={patient.pk}",
    ]


def test_another_clinics_director_gets_nothing(demo_clinics: None, db: None) -> None:
    harbor = User.objects.get(username="harbor-director")
    token = token_for(harbor, *[s.key for s in scopes_for_role(harbor.role)])
    patient = treated_patient()
    names = [patient.family_name, patient.mrn]
    for url in _riverside_urls():
        answer = get(url, token)
        assert answer.status_code == 404, (url, answer.status_code)
        assert not any(n in answer.content.decode() for n in names), url
        issue_of(answer)
    before = (InstrumentResponse.objects.count(), UrgentTask.objects.count())
    answer = post("/fhir/QuestionnaireResponse", token, _phq9(patient, [1] * 8 + [3]))
    assert answer.status_code == 404
    assert (InstrumentResponse.objects.count(), UrgentTask.objects.count()) == before
    riverside_ids = {
        str(pk) for pk in Patient.objects.filter(clinic=riverside()).values_list("pk", flat=True)
    }
    listed = get("/fhir/Patient", token).json()
    assert listed["total"] > 0
    assert not {e["resource"]["id"] for e in listed["entry"]} & riverside_ids
    riverside_names = set(
        Patient.objects.filter(clinic=riverside()).values_list("family_name", flat=True)
    )
    harbor_names = set(
        Patient.objects.filter(clinic__slug="harbor").values_list("family_name", flat=True)
    )
    for kind in TYPES:
        text = get(f"/fhir/$export/{kind}", token).content.decode()
        for line in text.splitlines():
            resource = json.loads(line)
            subject = resource.get("subject") or resource.get("patient") or {}
            assert subject.get("reference", "/0").split("/")[1] not in riverside_ids, kind
        assert not any(n in text for n in riverside_names - harbor_names), kind


def test_a_patients_token_gets_nothing(demo_clinics: None, db: None) -> None:
    patient_user = User.objects.get(username="patient")
    raw = "kf_feedf00d_forcedpatienttoken"
    now = timezone.now()
    ApiToken.objects.create(
        user=patient_user,
        clinic=riverside(),
        name="forced",
        prefix="feedf00d",
        digest=token_digest(raw),
        scopes=list(SCOPES),
        created_at=now,
        created_by="tests",
        expires_at=now + dt.timedelta(days=1),
    )
    own = Patient.objects.get(user=patient_user)
    for url in [f"/fhir/Patient/{own.pk}", f"/fhir/Patient/{own.pk}/$everything", "/fhir/$export"]:
        answer = get(url, raw)
        assert answer.status_code == 401, url
        assert "role" in issue_of(answer)["diagnostics"]
    before = InstrumentResponse.objects.count()
    assert post("/fhir/QuestionnaireResponse", raw, _phq9(own, [0] * 9)).status_code == 401
    assert InstrumentResponse.objects.count() == before
    assert get(f"/fhir/Patient/{own.pk}", None).status_code == 401


def test_expired_and_revoked_tokens_are_refused(demo_clinics: None, db: None) -> None:
    director = User.objects.get(username="director")
    patient = treated_patient()
    url = f"/fhir/Patient/{patient.pk}"
    revoked = director_token("fhir:read")
    assert get(url, revoked).status_code == 200
    token_revoke(actor=Actor.system("tests"), token=ApiToken.objects.latest("pk"))
    answer = get(url, revoked)
    assert answer.status_code == 401
    assert "revoked" in issue_of(answer)["diagnostics"]
    expired = token_for(director, "fhir:read")
    ApiToken.objects.filter(pk=ApiToken.objects.order_by("-pk").values("pk")[:1]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    answer = get(url, expired)
    assert answer.status_code == 401
    assert "expired" in issue_of(answer)["diagnostics"]
    assert answer["WWW-Authenticate"].startswith("Bearer")


def test_calls_past_the_rate_are_throttled(demo_clinics: None, db: None, settings: Any) -> None:
    settings.API_RATE = "3/min"
    token = director_token("fhir:read")
    patient = treated_patient()
    codes_seen = [get(f"/fhir/Patient/{patient.pk}", token).status_code for _ in range(4)]
    assert codes_seen == [200, 200, 200, 429]
    answer = get(f"/fhir/Patient/{patient.pk}", token)
    assert issue_of(answer)["code"] == "throttled"
    assert int(answer["Retry-After"]) >= 1
    assert get("/fhir/metadata", None).status_code == 200  # the statement is not throttled
