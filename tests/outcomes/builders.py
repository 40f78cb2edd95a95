"""Builders of outcome test data: score series (responder, remission, non-responder, relapse)
over an induction course, new patients, and the text of a progress-report PDF."""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib

from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.outcomes.demo import answers_for
from ketaflow.patients.models import Patient
from ketaflow.portal.answers import response_record
from ketaflow.treatment.demo import demo_course
from ketaflow.treatment.services import clinic_datetime
from tests.candidacy.builders import signed_candidacy
from tests.web.conftest import World, patient_data

DAYS = (0, 12, 19, 26, 33, 40)  # baseline, 24 h after the last induction infusion, weekly
RESPONDER = (50, 33, 32, 34, 33, 32)  # >= 30% reduction, above the remission cut-point 28
REMISSION = (50, 30, 26, 24, 22, 20)  # PCL-5 <= 28
NON_RESPONDER = (50, 46, 44, 45, 43, 42)
RELAPSE = (50, 30, 28, 38, 40, 42)  # response, then < 30% reduction twice


def monday_weeks_ago(weeks: int) -> dt.date:
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=weeks)


def new_patient(world: World, given: str, family: str) -> Patient:
    from ketaflow.patients import services as patient_services

    return patient_services.patient_register(
        actor=Actor.system("tests"), clinic_id=world.clinic.pk, data=patient_data(given, family)
    )


def history(
    world: World,
    patient: Patient,
    totals: tuple[int, ...],
    *,
    instrument: str = "pcl5",
    weeks_ago: int = 8,
    indication: str = "ptsd",
    course: bool = True,
) -> dt.date:
    """An induction course from the Monday ``weeks_ago`` weeks ago, booked, and ``totals`` on
    the DAYS after its start; returns the start."""
    from ketaflow.clinical import Indication

    start = monday_weeks_ago(weeks_ago)
    if course:
        candidacy = CandidacyAssessment.objects.filter(
            patient=patient, status="signed"
        ).first() or signed_candidacy(world, patient)
        demo_course(
            actor=Actor(user=world.prescriber),
            patient=patient,
            candidacy=candidacy,
            start_on=start,
            indication=Indication(indication),
        )
    for day, total in zip(DAYS, totals, strict=False):
        response_record(
            actor=Actor(user=world.nurse),
            patient=patient,
            instrument=instrument,
            answers=answers_for(instrument, total),
            taken_at=clinic_datetime(world.clinic, start + dt.timedelta(days=day), dt.time(8)),
        )
    return start


def pdf_text(data: bytes) -> str:
    """The text of a reportlab PDF: its streams, un-ASCII85-ed and inflated."""
    out = [data.decode("latin-1")]
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        chunk = raw.strip()
        if chunk.endswith(b"~>"):
            chunk = base64.a85decode(chunk[:-2].replace(b"\n", b""))
        try:
            out.append(zlib.decompress(chunk).decode("latin-1"))
        except zlib.error:
            out.append(chunk.decode("latin-1"))
    return "\n".join(out)
