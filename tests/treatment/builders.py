"""Builders of treatment test data, in one place: a signed candidacy, a clinic ready to plan
(the demo chairs and hours), a planned course and its bookings. Plain functions over the
services (no factory library); the personas are tests/web/conftest.py's ``World``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.audit.context import Actor
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.patients import services as patient_services
from ketaflow.patients.models import Patient
from ketaflow.treatment import services
from ketaflow.treatment.demo import load_demo
from ketaflow.treatment.models import Appointment, Chair, Course
from tests.web.conftest import World, patient_data

NINE = dt.time(9, 0)


def signed_candidacy(world: World, patient: Patient) -> CandidacyAssessment:
    return CandidacyAssessment.objects.create(
        patient=patient,
        created_by=world.prescriber,
        intake={"weight_kg": 72.5, "height_cm": 168},
        decision=CandidacyAssessment.Decision.ELIGIBLE,
        findings=[],
        summary="Eligible: no hard stop, no caution.",
        status=CandidacyAssessment.Status.SIGNED,
        signed_by=world.prescriber,
        signed_at=timezone.now(),
    )


def next_monday() -> dt.date:
    """A Monday at least a week ahead, so every planned time is in the future."""
    today = timezone.localdate()
    return today + dt.timedelta(days=7 - today.weekday() + 7)


def make_clinic_ready(world: World) -> World:
    """Four chairs, Monday-Friday 08:00-18:00, and signed candidacies for both patients."""
    load_demo(actor=Actor.system("tests"), clinic=world.clinic, today=timezone.localdate())
    signed_candidacy(world, world.patient)
    signed_candidacy(world, world.other_patient)
    return world


def plan(world: World, patient: Patient | None = None, **overrides: Any) -> Course:
    who = patient or world.patient
    arguments: dict[str, Any] = {
        "actor": Actor(user=world.prescriber),
        "patient": who,
        "candidacy": None,
        "kind": Course.Kind.INDUCTION,
        "indication": "ptsd",
        "drug_library_key": "ketamine-ptsd",
        "dose_mg_per_kg": Decimal("0.5"),
        "duration_min": Decimal(40),
        "weight_basis": Course.WeightBasis.ACTUAL,
        "pattern": Course.Pattern.THREE_A_WEEK,
        "infusions_planned": 6,
        "start_on": next_monday(),
        "weight_kg": Decimal("72.5"),
    }
    arguments.update(overrides)
    return services.course_plan(**arguments)


def chair(world: World, name: str) -> Chair:
    return Chair.objects.get(clinic=world.clinic, name=name)


def at(world: World, day: dt.date, time: dt.time) -> dt.datetime:
    return services.clinic_datetime(world.clinic, day, time)


def book_all(
    world: World,
    course: Course,
    time: dt.time = NINE,
    chair_name: str = "Chair 1",
    nurse: User | None = None,
) -> list[Appointment]:
    slots = [
        services.Slot(
            i + 1, at(world, dt.date.fromisoformat(d), time), chair(world, chair_name), nurse
        )
        for i, d in enumerate(course.planned_dates)
    ]
    return services.course_book(actor=Actor(user=world.frontdesk), course=course, slots=slots)


def third_patient(world: World) -> Patient:
    patient = patient_services.patient_register(
        actor=Actor.system("tests"), clinic_id=world.clinic.pk, data=patient_data("Dora", "Dahl")
    )
    signed_candidacy(world, patient)
    return patient


def make_ready_world(live_world: World) -> World:
    """The demo chairs and hours, and a signed candidacy (68 kg) for the patient."""
    load_demo(actor=Actor.system("tests"), clinic=live_world.clinic, today=timezone.localdate())
    CandidacyAssessment.objects.create(
        patient=live_world.patient,
        created_by=live_world.prescriber,
        intake={"weight_kg": 68.0},
        decision=CandidacyAssessment.Decision.ELIGIBLE,
        findings=[],
        summary="Eligible.",
        status=CandidacyAssessment.Status.SIGNED,
        signed_by=live_world.prescriber,
        signed_at=timezone.now(),
    )
    return live_world
