"""The REST API on the demo clinics: each endpoint returns its clinic's records through the
access functions and audited services; another clinic's token, a patient's, a token without the
scope or a role without the permission reads and writes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Role
from ketaflow.api.models import ApiToken
from ketaflow.api.scopes import SCOPES, scopes_for_role
from ketaflow.api.services import token_digest
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.models import AuditEntry, AuditEntryPatient
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from ketaflow.patients.models import Patient
from ketaflow.portal.models import UrgentTask
from ketaflow.web.errors import FAILED
from tests.api.api_helpers import call, token_for

pytestmark = pytest.mark.xdist_group("api")


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo(demo_clinics: None, db: None) -> None:
    """The demo clinics; each test's writes are rolled back with the test."""


def all_scopes(username: str) -> str:
    user = User.objects.get(username=username)
    return token_for(user, *[s.key for s in scopes_for_role(user.role)])


def riverside() -> Clinic:
    return Clinic.objects.get(slug="riverside")


def running_session(clinic: Clinic) -> InfusionSession:
    """The demo clinic's infusion running now (vitals are charted on it)."""
    return (
        InfusionSession.objects.filter(patient__clinic=clinic, locked=False)
        .exclude(status__in=["planned", "discharged", "signed", "cosign"])
        .order_by("pk")
        .first()
    ) or InfusionSession.objects.filter(patient__clinic=clinic).order_by("pk")[:1].get()


def reads(patient_id: int, session_id: int) -> list[str]:
    """Every read endpoint, with a patient's and a session's id."""
    p, s = patient_id, session_id
    return [
        f"/api/patients/{p}/",
        f"/api/patients/{p}/candidacy/",
        f"/api/patients/{p}/courses/",
        f"/api/patients/{p}/sessions/",
        f"/api/patients/{p}/outcomes/",
        f"/api/sessions/{s}/",
        f"/api/sessions/{s}/vitals/",
    ]


VITALS = {
    "systolic_mmhg": 128,
    "diastolic_mmhg": 78,
    "heart_rate_bpm": 74,
    "spo2_percent": 98,
    "respiratory_rate_per_min": 14,
}


def vitals(**extra: Any) -> dict[str, Any]:
    return {"client_uuid": str(uuid.uuid4()), **VITALS, **extra}


PHQ9_ITEM9 = {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 2]}


def test_every_read_returns_the_clinics_records_and_is_audited(demo: None) -> None:
    token = all_scopes("director")
    clinic = riverside()
    session = running_session(clinic)
    patient = session.patient
    listed = call("GET", "/api/patients/", token)
    assert listed.status_code == 200
    ids = {p["id"] for p in listed.json()}
    assert ids
    assert ids <= set(Patient.objects.filter(clinic=clinic).values_list("pk", flat=True))
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry is not None
    assert entry.object_type == "patient_list"
    assert set(entry.patient_ids) == ids
    assert entry.actor_username == "director"
    searched = call("GET", f"/api/patients/?q={patient.mrn}", token).json()
    assert [p["id"] for p in searched] == [patient.pk]
    for url in reads(patient.pk, session.pk):
        before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        answer = call("GET", url, token)
        assert answer.status_code == 200, (url, answer.content)
        named = AuditEntryPatient.objects.filter(entry_id__gt=before, patient_id=patient.pk)
        assert named.exists(), f"{url} is not audited naming the patient"
    assert call("GET", f"/api/sessions/{session.pk}/vitals/", token).json()[0]["level"]
    for name in ("administration", "ledger", "discrepancies"):
        report = call("GET", f"/api/ledger/reports/{name}/", token)
        assert report.status_code == 200, name
        assert report.json()["headers"]
    assert AuditEntry.objects.filter(object_type="ledger_report", object_id="ledger").exists()
    trail = call("GET", f"/api/audit/?patient={patient.pk}&limit=5", token)
    assert trail.status_code == 200
    assert 0 < len(trail.json()) <= 5
    assert all(e["patient_mrn"] in (patient.mrn, None) for e in trail.json())
    assert AuditEntry.objects.latest("id").object_type == "audit_trail"


def test_another_clinics_token_reads_and_writes_nothing(demo: None) -> None:
    """Harbor's director, with every scope, tries every endpoint on Riverside's records."""
    token = all_scopes("harbor-director")
    clinic = riverside()
    session = running_session(clinic)
    patient = session.patient
    vitals_before = VitalsEntry.objects.count()
    responses_before = InstrumentResponse.objects.count()
    for url in reads(patient.pk, session.pk):
        answer = call("GET", url, token)
        assert answer.status_code == 404, url
        assert patient.family_name not in answer.content.decode()
    assert call("POST", f"/api/sessions/{session.pk}/vitals/", token, vitals()).status_code == 404
    answer = call("POST", f"/api/patients/{patient.pk}/questionnaire-responses/", token, PHQ9_ITEM9)
    assert answer.status_code == 404
    assert VitalsEntry.objects.count() == vitals_before
    assert InstrumentResponse.objects.count() == responses_before
    riverside_ids = set(Patient.objects.filter(clinic=clinic).values_list("pk", flat=True))
    riverside_names = list(
        Patient.objects.filter(clinic=clinic).values_list("family_name", flat=True)
    )
    listed = call("GET", "/api/patients/", token).json()
    assert listed
    assert not {p["id"] for p in listed} & riverside_ids
    for name in ("administration", "ledger", "discrepancies"):
        text = call("GET", f"/api/ledger/reports/{name}/", token).content.decode()
        assert not any(n in text for n in riverside_names), name
    trail = call("GET", "/api/audit/?limit=200", token).json()
    assert trail
    assert not any(e["patient_id"] in riverside_ids for e in trail)
    harbor = Clinic.objects.get(slug="harbor")
    assert set(
        AuditEntry.objects.filter(pk__in=[e["id"] for e in trail]).values_list("clinic", flat=True)
    ) == {harbor.pk}
    assert call("GET", f"/api/audit/?patient={patient.pk}", token).status_code == 404


def test_a_patients_token_reaches_nothing(demo: None) -> None:
    """Patients get no tokens (the service refuses them); a token row made for one anyway, with
    every scope, authenticates no one."""
    patient_user = User.objects.get(username="patient")
    assert scopes_for_role(patient_user.role) == []
    raw = "kf_deadbeef_forcedpatienttoken"
    now = timezone.now()
    ApiToken.objects.create(
        user=patient_user,
        clinic=riverside(),
        name="forced",
        prefix="deadbeef",
        digest=token_digest(raw),
        scopes=list(SCOPES),
        created_at=now,
        created_by="tests",
        expires_at=now + dt.timedelta(days=1),
    )
    own = Patient.objects.get(user=patient_user)
    session = running_session(riverside())
    for url in [*reads(own.pk, session.pk), "/api/patients/", "/api/audit/", "/api/token/"]:
        answer = call("GET", url, raw)
        assert answer.status_code == 401, url
        assert "role" in answer.json()["detail"]
    answer = call("POST", f"/api/patients/{own.pk}/questionnaire-responses/", raw, PHQ9_ITEM9)
    assert answer.status_code == 401


def test_a_token_without_the_scope_is_refused_and_audited(demo: None) -> None:
    director = User.objects.get(username="director")
    token = token_for(director, "patients:read")
    session = running_session(riverside())
    for url in reads(session.patient_id, session.pk)[1:]:
        answer = call("GET", url, token)
        assert answer.status_code == 403, url
        assert "lacks the scope" in answer.json()["detail"]
    assert call("GET", "/api/audit/", token).status_code == 403
    assert call("GET", "/api/ledger/reports/ledger/", token).status_code == 403
    assert call("POST", f"/api/sessions/{session.pk}/vitals/", token, vitals()).status_code == 403
    assert AuditEntry.objects.filter(
        action="denied", object_type="api_token", summary__contains="lacks the scope vitals:write"
    ).exists()


def test_the_role_still_decides_after_the_token_was_made(demo: None) -> None:
    """A nurse's token keeps its scopes, but once the nurse is front desk the access functions
    refuse what front desk may not do (403, audited)."""
    nurse = User.objects.get(username="nurse")
    token = token_for(nurse, "vitals:read", "patients:read", "ledger:read")
    session = running_session(riverside())
    User.objects.filter(pk=nurse.pk).update(role=Role.FRONT_DESK)
    assert call("GET", f"/api/sessions/{session.pk}/vitals/", token).status_code == 403
    assert call("GET", "/api/ledger/reports/ledger/", token).status_code == 403
    assert call("GET", "/api/patients/", token).status_code == 200
    assert AuditEntry.objects.filter(action="denied", actor_username="nurse").exists()


def test_vitals_post_goes_through_the_chart_service(demo: None) -> None:
    nurse = User.objects.get(username="nurse")
    token = token_for(nurse, "vitals:write", "vitals:read")
    session = running_session(riverside())
    body = vitals()
    created = call("POST", f"/api/sessions/{session.pk}/vitals/", token, body)
    assert created.status_code == 201, created.content
    entry = VitalsEntry.objects.get(client_uuid=body["client_uuid"])
    assert created.json()["id"] == entry.pk
    assert entry.by_id == nurse.pk
    assert created.json()["level"] == entry.level
    assert AuditEntry.objects.filter(object_type="vitals_entry", object_id=str(entry.pk)).exists()
    again = call("POST", f"/api/sessions/{session.pk}/vitals/", token, body)
    assert again.json()["id"] == entry.pk  # the same client_uuid records once
    impossible = call(
        "POST", f"/api/sessions/{session.pk}/vitals/", token, vitals(spo2_percent=0.97)
    )
    assert impossible.status_code == 422
    assert impossible.json()["errors"][0]["field"] == "spo2_percent"
    refused = call("POST", f"/api/sessions/{session.pk}/vitals/", token, vitals(spo2_percent=140))
    assert refused.status_code == 400, refused.content
    assert refused.json()["errors"][0]["field"] == "spo2_percent"
    assert refused.json()["errors"][0]["message"]
    missing = call("POST", f"/api/sessions/{session.pk}/vitals/", token, {"systolic_mmhg": 120})
    assert missing.status_code == 422
    fields = {e["field"] for e in missing.json()["errors"]}
    assert {"client_uuid", "diastolic_mmhg", "heart_rate_bpm"} <= fields
    assert {e["rule"] for e in missing.json()["errors"]} == {"missing"}


def test_questionnaire_phq9_item9_raises_the_urgent_task(demo: None) -> None:
    nurse = User.objects.get(username="nurse")
    token = token_for(nurse, "questionnaires:write")
    patient = Patient.objects.get(clinic__slug="riverside", user__username="patient")
    tasks_before = UrgentTask.objects.count()
    created = call(
        "POST", f"/api/patients/{patient.pk}/questionnaire-responses/", token, PHQ9_ITEM9
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["suicide_risk_flag"] is True
    assert data["total"] == 10
    task = UrgentTask.objects.get(pk=data["urgent_task_id"])
    assert task.patient_id == patient.pk
    assert UrgentTask.objects.count() >= tasks_before
    response = InstrumentResponse.objects.get(pk=data["id"])
    assert response.entered_by_id == nurse.pk
    assert response.context == "api"
    calm = dict(PHQ9_ITEM9, answers=[0] * 9)
    quiet = call("POST", f"/api/patients/{patient.pk}/questionnaire-responses/", token, calm)
    assert quiet.status_code == 201
    assert quiet.json()["urgent_task_id"] is None
    short = call(
        "POST",
        f"/api/patients/{patient.pk}/questionnaire-responses/",
        token,
        dict(PHQ9_ITEM9, answers=[1, 2]),
    )
    assert short.status_code == 400
    assert short.json()["errors"][0]["field"] == "answers"
    unknown = call(
        "POST",
        f"/api/patients/{patient.pk}/questionnaire-responses/",
        token,
        dict(PHQ9_ITEM9, instrument="bdi"),
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "instrument"


def test_schema_and_documentation_are_served_self_hosted(db: None) -> None:
    schema = Client().get("/api/schema/")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/sessions/{session_id}/vitals/" in document["paths"]
    assert document["components"]["securitySchemes"]
    docs = Client().get("/api/schema/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "https://" not in html
    assert "http://" not in html
    assert "script-src 'self'" in docs["Content-Security-Policy"]
    assert "<script>" not in html.replace(" ", "")


def test_a_bug_is_the_servers_500_not_the_callers_400(
    demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare ValueError from inside an operation is a bug of the server: Django's 500 (JSON,
    the server-error words, no internal text), never a 400 that tells the caller to fix their
    request. A caller's mistake is still a 400 naming the field (the tests above)."""
    import ketaflow.api.endpoints as endpoints

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("limit: an internal detail")

    monkeypatch.setattr(endpoints, "patient_search", broken)
    token = all_scopes("director")
    client = Client(raise_request_exception=False)
    answer = client.get("/api/patients/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 500, answer.content
    assert answer.json() == {"detail": FAILED, "errors": []}
    assert "internal detail" not in answer.content.decode()
