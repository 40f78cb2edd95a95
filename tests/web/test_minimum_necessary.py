"""Minimum necessary (security review issue 12): front desk, who lacks Perm.VIEW_CLINICAL, sees
no indication, dose, diagnosis, medication, note or clinical rationale on any page it can open;
clinical staff see them; another clinic and another patient see nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from ketaflow.treatment.models import Appointment, Course
from tests.web.conftest import World
from tests.web.test_treatment import book_all, clinic_ready, plan  # noqa: F401 (fixture)

# What a front desk page must never show: the indications (course and drug library labels),
# doses, the chart's diagnoses, medication trials and notes, and the plan's clinical sources
# (Feder 2021 is a PTSD trial, ELEKT-D a depression trial: a citation names the indication).
CLINICAL_MARKERS = (
    "PTSD",
    "depression",
    "Indication",
    "mg/kg",
    "mg per infusion",
    "F43.12",
    "Sertraline",
    "CONFIDENTIAL-NOTE-TEXT",
    "Feder",
    "ELEKT-D",
    "Albott",
    "concentration",
)


@pytest.fixture
def courses(clinic_ready: World) -> tuple[World, Course, Course, list[Appointment]]:  # noqa: F811
    """A booked PTSD course for Alice and a planned depression course for Bruno."""
    world = clinic_ready
    ptsd = plan(world)
    booked = book_all(world, ptsd, nurse=world.nurse)
    depression = plan(
        world,
        world.other_patient,
        indication="depression",
        drug_library_key="ketamine-depression",
        pattern=Course.Pattern.TWICE_A_WEEK,
        dose_mg_per_kg=Decimal("0.5"),
    )
    return world, ptsd, depression, booked


def _front_desk_pages(ptsd: Course, depression: Course, first: Appointment) -> dict[str, str]:
    day = ptsd.planned_dates[0]
    return {
        "home": reverse("home"),
        "patient list": reverse("patient_list"),
        "chart": reverse("patient_chart", args=[ptsd.patient_id]),
        "course": reverse("course_detail", args=[ptsd.pk]),
        "planned course": reverse("course_detail", args=[depression.pk]),
        "booking": reverse("course_book", args=[depression.pk]),
        "chair board": reverse("chair_board") + f"?day={day}",
        "chair board with waiting list": reverse("chair_board"),
        "reschedule": reverse("appointment_reschedule", args=[first.pk]),
        "cancel": reverse("appointment_cancel", args=[first.pk]),
        "portal invitation": reverse("portal_invite", args=[ptsd.patient_id]),
    }


def test_front_desk_sees_no_indication_or_other_clinical_field_anywhere(
    courses: tuple[World, Course, Course, list[Appointment]], client_for: Any
) -> None:
    world, ptsd, depression, booked = courses
    c = client_for(world.frontdesk)
    for name, url in _front_desk_pages(ptsd, depression, booked[0]).items():
        response = c.get(url)
        assert response.status_code == 200, name
        page = response.content.decode()
        for marker in CLINICAL_MARKERS:
            assert marker.lower() not in page.lower(), (name, marker)
    # What front desk needs is still there: who, when, where.
    board = c.get(reverse("chair_board"), {"day": ptsd.planned_dates[0]}).content.decode()
    assert "Alice Anders" in board
    course = c.get(reverse("course_detail", args=[ptsd.pk])).content.decode()
    assert "Three a week over two weeks, 6 infusions" in course
    assert "Chair 1" in course


def test_the_nurse_sees_the_indication_and_the_plans_rationale(
    courses: tuple[World, Course, Course, list[Appointment]], client_for: Any
) -> None:
    world, ptsd, depression, _ = courses
    c = client_for(world.nurse)
    page = c.get(reverse("course_detail", args=[ptsd.pk])).content.decode()
    assert '<dd id="course-indication">PTSD</dd>' in page
    assert 'id="plan-explanation"' in page
    assert "Feder et al. 2021" in page
    assert "0.5 mg/kg" in page
    other = c.get(reverse("course_detail", args=[depression.pk])).content.decode()
    assert '<dd id="course-indication">Treatment-resistant depression</dd>' in other
    assert "ELEKT-D" in other


def test_the_indication_is_not_shown_to_another_clinic_or_another_patient(
    courses: tuple[World, Course, Course, list[Appointment]], client_for: Any
) -> None:
    world, ptsd, depression, _ = courses
    foreign = client_for(world.foreign_prescriber)
    assert foreign.get(reverse("course_detail", args=[ptsd.pk])).status_code == 404
    assert foreign.get(reverse("chair_board")).content.decode().count("Alice") == 0
    patient = client_for(world.patient_user)  # Alice, asking for Bruno's course
    response = patient.get(reverse("course_detail", args=[depression.pk]))
    assert response.status_code == 404
    assert b"depression" not in response.content.lower()
