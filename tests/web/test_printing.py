"""Printing: the printable infusion flowsheet (one page per session: vitals table and chart,
events, dose, vial and lot, side effects, Aldrete, discharge and signatures; clinic time, no raw
codes; access as for the session; audited as a read) and the discharge sheet (the clinic's
phone number, required before the first discharge, and the crisis line). The print-media check
of every printable page (no other patient on paper) is in test_browser_printing.py."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import Clinic
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.infusions import services
from ketaflow.infusions.models import InfusionSession
from tests.infusions.builders import charted, open_session, run_to_stop
from tests.web.conftest import World

RAW_CODES = (
    "pause_infusion",
    "call_prescriber",
    "chest_pain",
    "severe_headache",
    "emergency_care",
    "rate_change",
    "ptsd",
)


def test_the_flowsheet_shows_the_whole_infusion_in_the_clinic_time(
    world: World, client_for: Any
) -> None:
    Clinic.objects.filter(pk=world.clinic.pk).update(time_zone="Asia/Tokyo")
    session = charted(world)
    response = client_for(world.nurse).get(reverse("infusion_flowsheet", args=[session.pk]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    text = re.sub(r"<[^>]+>", " ", html)
    for expected in (
        "Ketamine infusion flowsheet",
        "Anders",
        session.patient.mrn,
        "LOT-42",  # vial and lot
        "35.0 mg",  # the dose (to 0.1 mg)
        "150.0 mL/h",
        "Emergency: Chest pain",  # the level and symptom in words
        "Call the prescriber",
        "blood pressure 186/112 with chest pain",  # the pause's reason
        "Nausea",
        "10 of 10",  # Aldrete
        "escort present, written instructions given",
        "the note is locked",
        "Tokyo time (JST)",  # the zone in words, not its code
        "+1 555 0100 100",
    ):
        assert expected in text, expected
    assert "<svg" in html  # the vitals chart
    tokyo = ZoneInfo("Asia/Tokyo")
    started = timezone.localtime(session.started_at, tokyo)
    assert f"started {started:%H:%M}" in text
    new_york = timezone.localtime(session.started_at, ZoneInfo("America/New_York"))
    assert f"started {new_york:%H:%M}" not in text
    assert session.discharged_at is not None
    assert session.ended_at is not None
    observed = int((session.discharged_at - session.ended_at).total_seconds() // 60)
    assert f"observed {observed} min after the infusion stopped" in text
    for code in RAW_CODES:
        assert code not in text, code
    assert "Asia/Tokyo" not in text
    assert "style=" not in html
    assert "<script>" not in html


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("nurse", 200),
        ("prescriber", 200),
        ("director", 200),
        ("frontdesk", 403),
        ("patient_user", 404),
        ("foreign_prescriber", 404),
    ],
)
def test_who_prints_the_flowsheet(world: World, client_for: Any, who: str, status: int) -> None:
    session = open_session(world)
    response = client_for(getattr(world, who)).get(reverse("infusion_flowsheet", args=[session.pk]))
    assert response.status_code == status
    if status != 200:
        assert b"Anders" not in response.content


def test_printing_the_flowsheet_is_an_audited_read(world: World, client_for: Any) -> None:
    session = open_session(world)
    client_for(world.prescriber).get(reverse("infusion_flowsheet", args=[session.pk]))
    entry = AuditEntry.objects.filter(actor=world.prescriber, action="view").latest("seq")
    assert entry.patient_id == world.patient.pk
    assert "printable flowsheet" in entry.summary


def test_discharge_is_refused_until_the_clinic_has_a_phone_number(world: World) -> None:
    Clinic.objects.filter(pk=world.clinic.pk).update(phone="  ")
    session = run_to_stop(world, aldrete=True)
    with pytest.raises(ValidationError) as exc:
        services.session_discharge(
            actor=Actor(user=world.nurse),
            session=session,
            expected_version=None,
            escort_present=True,
            instructions_given=True,
        )
    assert list(exc.value.message_dict) == ["clinic_phone"]
    assert "clinic's phone number is not set" in exc.value.message_dict["clinic_phone"][0]
    assert "Administration > Clinic" in exc.value.message_dict["clinic_phone"][0]
    session.refresh_from_db()
    assert session.discharged_at is None
    Clinic.objects.filter(pk=world.clinic.pk).update(phone="+1 555 0100 999")
    services.session_discharge(
        actor=Actor(user=world.nurse),
        session=session,
        expected_version=None,
        escort_present=True,
        instructions_given=True,
    )
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.DISCHARGED


def test_the_discharge_refusal_names_the_setting_on_the_page(world: World, client_for: Any) -> None:
    Clinic.objects.filter(pk=world.clinic.pk).update(phone="")
    session = run_to_stop(world, aldrete=True)
    response = client_for(world.nurse).post(
        reverse("infusion_action", args=[session.pk, "discharge"]),
        {"version": session.version, "escort_present": "on", "instructions_given": "on"},
        HTTP_X_KETAFLOW_FRAGMENT="1",
    )
    assert response.status_code == 400
    assert "clinic phone: the clinic's phone number is not set" in response.json()["message"]


def test_the_discharge_sheet_carries_the_clinic_phone_and_the_crisis_line(
    world: World, client_for: Any
) -> None:
    session = open_session(world)
    html = (
        client_for(world.nurse)
        .get(reverse("infusion_instructions", args=[session.pk]))
        .content.decode()
    )
    assert "+1 555 0100 100" in html
    assert "Test Clinic" in html
    assert "988" in html
    assert "Suicide &amp; Crisis Lifeline" in html
