"""Reads for the ledger's pages that choose among a clinic's patients."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from ketaflow.accounts.models import User
from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients.access import patients_for_user
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Appointment
from ketaflow.treatment.services import clinic_datetime

NOT_ATTENDED = (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)


def _day_appointments(user: User, day: dt.date) -> QuerySet[Appointment]:
    """The user's clinic's appointments on ``day`` (the clinic's day), not cancelled."""
    if user.clinic is None:
        return Appointment.objects.none()
    start = clinic_datetime(user.clinic, day, dt.time.min)
    return Appointment.objects.filter(
        patient__in=patients_for_user(user),
        starts_at__gte=start,
        starts_at__lt=clinic_datetime(user.clinic, day + dt.timedelta(days=1), dt.time.min),
    ).exclude(status__in=NOT_ATTENDED)


def draw_patients(user: User, day: dt.date) -> QuerySet[Patient]:
    """The patients ketamine may be drawn for on ``day``: this clinic's, with a signed candidacy
    decision, a current informed consent and an infusion appointment that day; active records
    only."""
    booked = {a.patient_id for a in _day_appointments(user, day)}
    ready = [
        p.pk
        for p in Patient.objects.filter(pk__in=booked)
        if signed_candidacy_for(p) is not None and current_consent_for(p) is not None
    ]
    return (
        patients_for_user(user)
        .filter(pk__in=ready, active=True)
        .order_by("family_name", "given_name")
    )


def draw_sessions(user: User, day: dt.date, lot: str) -> QuerySet[InfusionSession]:
    """The infusion sessions of that day whose record names ``lot`` (for a draw to name)."""
    appointments = _day_appointments(user, day).values_list("pk", flat=True)
    return (
        InfusionSession.objects.filter(appointment_id__in=list(appointments), vial_lot=lot)
        .select_related("patient")
        .order_by("-created_at")
    )
