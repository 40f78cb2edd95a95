"""Demo patients with complete outcome histories (called from ``ketaflow.web.demo``).

Two responders (one PTSD, one depression reaching remission), a non-responder and two relapses
(loss of response after a response): one relapse has an open booster recommendation, the other
was declined with a reason. Everything goes through the services the web app uses: registration,
candidacy assessed by the nurse and signed by the prescriber, consent if the clinic has a
consent form, an induction course booked in the past (``treatment.demo.demo_course``) and the
scores (``portal.answers.response_record`` with past ``taken_at``). Idempotent: a patient
found by name and birth date is not registered again, and a patient who already has a course or
scores keeps them.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from django.db import transaction

from ketaflow.accounts.models import Clinic, User
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.candidacy import services as candidacy_services
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.candidacy.selectors import consent_form_current, signed_candidacy_for
from ketaflow.clinical import Indication
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.outcomes.services import recommendation_decline, recommendations_refresh
from ketaflow.patients import services as patient_services
from ketaflow.patients.models import (
    Diagnosis,
    MedicationTrial,
    Patient,
    PatientRecord,
    PsychotherapyTrial,
)
from ketaflow.portal.answers import response_record
from ketaflow.treatment.demo import demo_course
from ketaflow.treatment.services import clinic_datetime

ITEMS: Final = {"pcl5": (20, 4), "phq9": (9, 3), "gad7": (7, 3)}
# Day of each score from the course start (a Monday): the baseline before the first infusion,
# 24 h after the last (day 11, three a week), then weekly follow-up.
FOLLOW_UP_DAYS: Final = (0, 12, 19, 26, 33, 40, 47, 54)
REVIEW_NOTE: Final = "Demo: history and intake reviewed with the patient; no caution unmanaged."
DECLINE_REASON: Final = "Patient prefers to wait two weeks and repeat the PHQ-9 before a booster."


@dataclass(frozen=True)
class DemoPatient:
    given: str
    family: str
    born: dt.date
    sex: str
    indication: Indication
    weeks_ago: int  # the course started on the Monday this many weeks ago
    scores: dict[str, tuple[int, ...]]  # per instrument, one per FOLLOW_UP_DAYS entry
    decline: bool = False  # decline the booster recommendation (with DECLINE_REASON)


DEMO_PATIENTS: Final = (
    DemoPatient(
        "Ruth",
        "Lindgren",
        dt.date(1982, 5, 17),
        "female",
        Indication.PTSD,
        9,
        {
            "pcl5": (58, 36, 31, 27, 25, 26, 24, 23),
            "phq9": (15, 10, 8, 7, 6, 6, 5, 5),
            "gad7": (14, 10, 8, 7, 7, 6, 6, 5),
        },
    ),
    DemoPatient(
        "Marcus",
        "Obi",
        dt.date(1975, 11, 2),
        "male",
        Indication.DEPRESSION,
        10,
        {"phq9": (21, 9, 6, 4, 4, 3, 4, 3), "gad7": (12, 8, 6, 5, 4, 4, 4, 3)},
    ),
    DemoPatient(
        "Helen",
        "Castillo",
        dt.date(1969, 2, 8),
        "female",
        Indication.DEPRESSION,
        11,
        {"phq9": (19, 17, 16, 17, 15, 16, 16, 15), "gad7": (13, 12, 12, 13, 11, 12, 12, 11)},
    ),
    DemoPatient(
        "Tomas",
        "Reyes",
        dt.date(1988, 8, 23),
        "male",
        Indication.PTSD,
        12,
        {
            "pcl5": (61, 38, 33, 30, 36, 44, 47, 49),
            "phq9": (16, 9, 8, 9, 12, 14, 15, 15),
            "gad7": (15, 9, 8, 9, 11, 13, 14, 14),
        },
    ),
    DemoPatient(
        "Nadia",
        "Petrova",
        dt.date(1979, 3, 30),
        "female",
        Indication.DEPRESSION,
        13,
        {"phq9": (20, 8, 7, 9, 12, 14, 15, 16), "gad7": (11, 7, 6, 7, 9, 10, 11, 11)},
        decline=True,
    ),
)


def answers_for(instrument: str, total: int) -> list[int]:
    """Item answers that add up to ``total``, filled from the first item (PHQ-9 item 9 stays 0
    for totals up to 24, so no demo score raises a suicide-risk flag)."""
    count, top = ITEMS[instrument]
    if not 0 <= total <= count * top:
        raise ValueError(f"{instrument}: total {total} is outside 0-{count * top}")
    answers = []
    left = total
    for _ in range(count):
        answers.append(min(top, left))
        left -= answers[-1]
    return answers


def _records(spec: DemoPatient, today: dt.date) -> list[PatientRecord]:
    def ago(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    if spec.indication is Indication.PTSD:
        return [
            Diagnosis(code="F43.12", status="active", onset_on=ago(7 * 365)),
            PsychotherapyTrial(
                modality="CPT",
                sessions_completed=12,
                started_on=ago(900),
                ended_on=ago(810),
                outcome="no_response",
            ),
            PsychotherapyTrial(
                modality="PE",
                sessions_completed=10,
                started_on=ago(600),
                ended_on=ago(520),
                outcome="partial",
            ),
            MedicationTrial(
                drug="Sertraline",
                dose_mg_per_day=Decimal(200),
                duration_weeks=Decimal(12),
                started_on=ago(700),
                ended_on=ago(616),
                outcome="no_response",
                reason_stopped="ineffective",
            ),
        ]
    return [
        Diagnosis(code="F33.2", status="active", onset_on=ago(10 * 365)),
        MedicationTrial(
            drug="Escitalopram",
            dose_mg_per_day=Decimal(20),
            duration_weeks=Decimal(8),
            started_on=ago(800),
            ended_on=ago(744),
            outcome="no_response",
            reason_stopped="ineffective",
        ),
        MedicationTrial(
            drug="Venlafaxine",
            dose_mg_per_day=Decimal(225),
            duration_weeks=Decimal(10),
            started_on=ago(600),
            ended_on=ago(530),
            outcome="no_response",
            reason_stopped="ineffective",
        ),
        MedicationTrial(
            drug="Bupropion",
            dose_mg_per_day=Decimal(300),
            duration_weeks=Decimal(8),
            started_on=ago(400),
            ended_on=ago(344),
            outcome="partial",
            reason_stopped="ineffective",
        ),
    ]


def _patient(clinic: Clinic, spec: DemoPatient, today: dt.date, actor: Actor) -> Patient:
    found = Patient.objects.filter(
        clinic=clinic, given_name=spec.given, family_name=spec.family, date_of_birth=spec.born
    ).first()
    if found is not None:
        return found
    data: dict[str, Any] = {
        "given_name": spec.given,
        "family_name": spec.family,
        "date_of_birth": spec.born,
        "sex_at_birth": spec.sex,
        # One phone per person (the registry warns of two records with one phone).
        "phone": f"+1 555 04{zlib.crc32(f'{spec.given} {spec.family}'.encode()) % 10**5:05d}",
        "emergency_contact_name": f"Sam {spec.family}",
        "emergency_contact_relationship": "partner",
        "emergency_contact_phone": "+1 555 0100 401",
        "escort_name": f"Sam {spec.family}",
        "escort_phone": "+1 555 0100 401",
    }
    patient = patient_services.patient_register(actor=actor, clinic_id=clinic.pk, data=data)
    for record in _records(spec, today):
        patient_services.record_add(actor=actor, patient=patient, record=record)
    return patient


def _candidacy(patient: Patient, spec: DemoPatient, staff: dict[str, User]) -> None:
    if CandidacyAssessment.objects.filter(patient=patient).exists():
        return
    nurse, prescriber = Actor(user=staff["nurse"]), Actor(user=staff["prescriber"])
    answers: dict[str, Any] = {
        "sex": spec.sex,
        "pregnant": "no",
        "breastfeeding": "no",
        "weight_kg": Decimal(74),
        "height_cm": Decimal(172),
        "systolic_bp_mmhg": 122,
        "diastolic_bp_mmhg": 78,
        "heart_rate_bpm": 72,
        "cssrs_risk": "low",
    }
    assessment = candidacy_services.candidacy_assess(actor=nurse, patient=patient, answers=answers)
    candidacy_services.candidacy_sign(
        actor=prescriber, assessment=assessment, review_note=REVIEW_NOTE
    )
    form = consent_form_current(patient)
    if form is not None:
        candidacy_services.consent_record(
            actor=nurse, patient=patient, form=form, signed_name=f"{spec.given} {spec.family}"
        )


def _scores(patient: Patient, spec: DemoPatient, start: dt.date, nurse: Actor) -> None:
    if InstrumentResponse.objects.filter(patient=patient).exists():
        return
    for instrument, totals in spec.scores.items():
        for day, total in zip(FOLLOW_UP_DAYS, totals, strict=True):
            on = start + dt.timedelta(days=day)
            response_record(
                actor=nurse,
                patient=patient,
                instrument=instrument,
                answers=answers_for(instrument, total),
                context="pre-infusion" if day == 0 else "follow-up",
                taken_at=clinic_datetime(patient.clinic, on, dt.time(8, 15)),
            )


@transaction.atomic
def load_demo(*, clinic: Clinic, today: dt.date, staff: dict[str, User]) -> dict[str, int]:
    """Create the outcome demo patients of ``clinic`` (the treatment demo's chairs and opening
    hours must exist); ``staff`` maps "director", "prescriber" and "nurse" to users with current
    credentials. Returns how many patients were created and how many recommendations are open."""
    prescriber = Actor(user=staff["prescriber"])
    nurse = Actor(user=staff["nurse"])
    created = 0
    monday = today - dt.timedelta(days=today.weekday())
    for spec in DEMO_PATIENTS:
        before = Patient.objects.filter(clinic=clinic).count()
        patient = _patient(clinic, spec, today, Actor(user=staff["director"]))
        created += Patient.objects.filter(clinic=clinic).count() - before
        _candidacy(patient, spec, staff)
        candidacy = signed_candidacy_for(patient)
        if candidacy is None:
            continue
        start = monday - dt.timedelta(weeks=spec.weeks_ago)
        if not patient.courses.exists():
            demo_course(
                actor=prescriber,
                patient=patient,
                candidacy=candidacy,
                start_on=start,
                indication=spec.indication,
            )
        course = patient.courses.order_by("start_on").first()
        if course is not None:
            _scores(patient, spec, course.start_on, nurse)
        rec = recommendations_refresh(actor=prescriber, patient=patient)
        if rec is not None and spec.decline and rec.status == BoosterRecommendation.Status.OPEN:
            recommendation_decline(actor=prescriber, rec=rec, reason=DECLINE_REASON)
    open_recs = BoosterRecommendation.objects.filter(
        patient__clinic=clinic, status=BoosterRecommendation.Status.OPEN
    ).count()
    return {"patients": created, "open_recommendations": open_recs}
