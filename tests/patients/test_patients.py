"""The registry as staff use it: register, search, edit, record history, with clear errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.patients import services
from ketaflow.patients.models import Diagnosis, MedicationTrial, Patient, PsychotherapyTrial
from tests.web.conftest import World, patient_data


def _form(**overrides: Any) -> dict[str, Any]:
    data = patient_data("Dora", "Dahl", date_of_birth="1990-07-01")
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_front_desk_registers_a_patient(world: World, client_for: Any) -> None:
    response = client_for(world.frontdesk).post(reverse("patient_new"), _form())
    assert response.status_code == 302
    patient = Patient.objects.get(family_name="Dahl")
    assert patient.clinic == world.clinic
    assert response["Location"] == reverse("patient_chart", args=[patient.pk])
    assert patient.mrn.startswith("KF")
    assert len(patient.mrn) == 10
    assert AuditEntry.objects.filter(action="create", object_type="patient", patient_id=patient.pk)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"date_of_birth": "2999-01-01"}, "Date of birth", "cannot be in the future"),
        ({"date_of_birth": "1-1-1"}, "Date of birth", "Enter a valid date"),
        ({"phone": "call me"}, "Phone", "Enter a phone number"),
        ({"given_name": ""}, "Given name", "This field is required"),
        ({"escort_name": "Eve"}, "Escort phone", "Give both the escort"),
        ({"email": "not-an-email"}, "Email", "Enter a valid email address"),
    ],
)
def test_invalid_registration_names_the_field_and_the_rule(
    world: World, client_for: Any, overrides: dict[str, Any], field: str, message: str
) -> None:
    before = Patient.objects.count()
    response = client_for(world.frontdesk).post(reverse("patient_new"), _form(**overrides))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Please correct the following" in body
    assert field in body
    assert message in body
    assert Patient.objects.count() == before


def test_search_by_name_mrn_and_phone(world: World, client_for: Any) -> None:
    c = client_for(world.nurse)
    by_name = c.get(reverse("patient_list"), {"q": "alice anders"}).content.decode()
    assert "Anders" in by_name
    assert "Berg" not in by_name
    by_mrn = c.get(reverse("patient_list"), {"q": world.other_patient.mrn}).content.decode()
    assert "Berg" in by_mrn
    assert "Anders" not in by_mrn
    nothing = c.get(reverse("patient_list"), {"q": "zzz"}).content.decode()
    assert 'No patients match "zzz"' in nothing


def test_edit_records_the_change(world: World, client_for: Any) -> None:
    form = _form(given_name="Alice", family_name="Anders-Lee", phone="+1 555 0199 000")
    form.update(escort_name="Bo Anders", escort_phone="555 0100")
    response = client_for(world.nurse).post(reverse("patient_edit", args=[world.patient.pk]), form)
    assert response.status_code == 302
    world.patient.refresh_from_db()
    assert world.patient.family_name == "Anders-Lee"
    entry = AuditEntry.objects.filter(action="update", object_type="patient").latest("seq")
    assert entry.detail["changes"]["family_name"] == ["Anders", "Anders-Lee"]


def test_failed_edit_changes_nothing(world: World, client_for: Any) -> None:
    form = _form(given_name="Alice", family_name="Changed", date_of_birth="2999-01-01")
    response = client_for(world.nurse).post(reverse("patient_edit", args=[world.patient.pk]), form)
    assert response.status_code == 200
    world.patient.refresh_from_db()
    assert world.patient.family_name == "Anders"


def test_treatment_history_is_structured(world: World, client_for: Any) -> None:
    c = client_for(world.prescriber)
    url = reverse("record_new", args=[world.patient.pk, "psychotherapy"])
    response = c.post(
        url,
        {
            "modality": "CPT",
            "sessions_completed": "12",
            "started_on": "2023-01-10",
            "ended_on": "2023-04-01",
            "outcome": "no_response",
        },
    )
    assert response.status_code == 302
    trial = PsychotherapyTrial.objects.get(patient=world.patient)
    assert (trial.modality, trial.sessions_completed, trial.outcome) == ("CPT", 12, "no_response")
    med = MedicationTrial.objects.get(patient=world.patient)
    assert med.dose_mg_per_day == Decimal(200)
    assert med.duration_weeks == Decimal(12)


@pytest.mark.parametrize(
    ("kind", "data", "field", "message"),
    [
        ("diagnosis", {"code": "PTSD", "status": "active"}, "ICD-10-CM code", "Enter an ICD-10"),
        ("diagnosis", {"code": "Z99.89", "status": "active"}, "Description", "Describe Z99.89"),
        (
            "psychotherapy",
            {"modality": "other", "sessions_completed": "3", "outcome": "unknown"},
            "Name (if other)",
            "Name the therapy",
        ),
        (
            "psychotherapy",
            {
                "modality": "PE",
                "sessions_completed": "3",
                "outcome": "unknown",
                "started_on": "2023-05-01",
                "ended_on": "2023-01-01",
            },
            "Ended on",
            "end date is before the start date",
        ),
        (
            "medication-trial",
            {
                "drug": "Sertraline",
                "dose_mg_per_day": "-5",
                "duration_weeks": "8",
                "outcome": "unknown",
                "reason_stopped": "other",
            },
            "Dose (mg/day)",
            "greater than or equal to 0",
        ),
        (
            "medication",
            {"name": "Prazosin", "dose_amount": "2"},
            "Dose unit",
            "together with its unit",
        ),
    ],
)
def test_invalid_records_name_the_field(
    world: World, client_for: Any, kind: str, data: dict[str, str], field: str, message: str
) -> None:
    url = reverse("record_new", args=[world.patient.pk, kind])
    response = client_for(world.nurse).post(url, data)
    assert response.status_code == 200
    body = response.content.decode()
    assert field in body
    assert message in body


def test_known_icd10_code_gets_its_description(world: World) -> None:
    d = services.record_add(
        actor=Actor.system("t"), patient=world.other_patient, record=Diagnosis(code="f33.1")
    )
    assert (d.code, d.description) == ("F33.1", "Major depressive disorder, recurrent, moderate")


def test_remove_keeps_the_values_in_the_audit_trail(world: World, client_for: Any) -> None:
    record = Diagnosis.objects.get(patient=world.patient)
    url = reverse("record_remove", args=[world.patient.pk, "diagnosis", record.pk])
    c = client_for(world.prescriber)
    assert c.post(url, {"reason": ""}).status_code == 302
    assert Diagnosis.objects.filter(pk=record.pk).exists()
    assert c.post(url, {"reason": "entered in error"}).status_code == 302
    assert not Diagnosis.objects.filter(pk=record.pk).exists()
    entry = AuditEntry.objects.get(action="delete", object_type="diagnosis")
    assert entry.detail["values"]["code"] == "F43.12"
    assert entry.detail["reason"] == "entered in error"


def test_service_refuses_invalid_record_and_stores_nothing(world: World) -> None:
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as info:
        services.record_add(
            actor=Actor.system("t"), patient=world.patient, record=Diagnosis(code="nope")
        )
    assert "code" in info.value.message_dict
    assert AuditEntry.objects.count() == before


def test_notes_are_written_and_shown(world: World, client_for: Any) -> None:
    c = client_for(world.nurse)
    url = reverse("note_new", args=[world.patient.pk])
    assert c.post(url, {"kind": "progress", "text": "Calm today."}).status_code == 302
    chart = c.get(reverse("patient_chart", args=[world.patient.pk])).content.decode()
    assert "Calm today." in chart


def test_export_is_json_with_history(world: World, client_for: Any) -> None:
    response = client_for(world.prescriber).get(reverse("patient_export", args=[world.patient.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["mrn"] == world.patient.mrn
    assert data["diagnosis"][0]["code"] == "F43.12"
    assert data["medication-trial"][0]["drug"] == "Sertraline"
    assert "CONFIDENTIAL-NOTE-TEXT" in data["notes"][0]["text"]
