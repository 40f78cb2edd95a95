"""The demo clinic that ``ketaflow demo`` (and ``make run``) loads once.

Idempotent: people are found by username and patients by clinic, name and birth date, so running
it again adds nothing. Patients are registered through the same services as in the web app, so
the demo's own writes are in the audit trail too. Refused in production mode.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.models import Clinic, Credential, User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.candidacy import services as candidacy_services
from ketaflow.candidacy.models import CandidacyAssessment, ConsentForm
from ketaflow.candidacy.selectors import signed_candidacy_for
from ketaflow.infusions import demo as infusion_demo
from ketaflow.ledger import demo as ledger_demo
from ketaflow.outcomes import demo as outcome_demo
from ketaflow.patients import services
from ketaflow.patients.models import (
    Allergy,
    CurrentMedication,
    Diagnosis,
    MedicationTrial,
    Patient,
    PsychotherapyTrial,
)
from ketaflow.portal import demo as portal_demo
from ketaflow.treatment import demo as treatment_demo
from ketaflow.treatment.models import Course

DEMO_PASSWORD = "ketaflow-demo"  # printed by `ketaflow demo`; demo databases only


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str


@dataclass(frozen=True)
class DemoResult:
    created_users: int
    created_patients: int
    logins: tuple[DemoLogin, ...]
    patient_totp_secret: str  # the demo patient's second factor (any authenticator app)


_STAFF: list[dict[str, Any]] = [
    {
        "username": "director",
        "first_name": "Maya",
        "last_name": "Okafor",
        "role": Role.MEDICAL_DIRECTOR,
        "credentials": [
            ("licence", "MD", "MD-204411", "NY"),
            ("dea", "", "BO1234563", "US"),
            ("acls", "", "ACLS-88231", "AHA"),
        ],
    },
    {
        "username": "prescriber",
        "first_name": "Daniel",
        "last_name": "Reyes",
        "role": Role.PRESCRIBER,
        "credentials": [
            ("licence", "NP", "NP-551902", "NY"),
            ("dea", "", "MR7654321", "US"),
            ("acls", "", "ACLS-77120", "AHA"),
        ],
    },
    {
        "username": "nurse",
        "first_name": "Priya",
        "last_name": "Shah",
        "role": Role.NURSE,
        "credentials": [("licence", "RN", "RN-883104", "NY"), ("acls", "", "ACLS-66012", "AHA")],
    },
    {
        "username": "frontdesk",
        "first_name": "Tom",
        "last_name": "Becker",
        "role": Role.FRONT_DESK,
        "credentials": [],
    },
]


def _patients(today: dt.date) -> list[dict[str, Any]]:
    def ago(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    return [
        {
            "username": "patient",
            "stage": "session_complete",
            "answers": {},
            "data": {
                "given_name": "Alex",
                "family_name": "Morgan",
                "date_of_birth": dt.date(1986, 4, 12),
                "sex_at_birth": "male",
                "gender_identity": "man",
                "pronouns": "he/him",
                "phone": "+1 555 0100 201",
                "email": "alex.morgan@example.org",
                "address_line": "14 Elm Street",
                "city": "Albany",
                "region": "NY",
                "postal_code": "12207",
                "emergency_contact_name": "Jordan Morgan",
                "emergency_contact_relationship": "spouse",
                "emergency_contact_phone": "+1 555 0100 202",
                "escort_name": "Jordan Morgan",
                "escort_phone": "+1 555 0100 202",
            },
            "records": [
                Diagnosis(code="F43.12", status="active", onset_on=ago(9 * 365)),
                Diagnosis(code="F33.1", status="active", onset_on=ago(6 * 365)),
                Allergy(substance="Penicillin", reaction="hives", severity="moderate"),
                CurrentMedication(
                    name="Sertraline",
                    dose_amount=Decimal(150),
                    dose_unit="mg",
                    frequency="once daily",
                    started_on=ago(200),
                ),
                PsychotherapyTrial(
                    modality="PE",
                    sessions_completed=12,
                    started_on=ago(3 * 365),
                    ended_on=ago(3 * 365 - 100),
                    outcome="partial",
                ),
                PsychotherapyTrial(
                    modality="CPT",
                    sessions_completed=12,
                    started_on=ago(2 * 365),
                    ended_on=ago(2 * 365 - 90),
                    outcome="no_response",
                ),
                MedicationTrial(
                    drug="Paroxetine",
                    dose_mg_per_day=Decimal(40),
                    duration_weeks=Decimal(12),
                    started_on=ago(4 * 365),
                    ended_on=ago(4 * 365 - 84),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
                MedicationTrial(
                    drug="Sertraline",
                    dose_mg_per_day=Decimal(150),
                    duration_weeks=Decimal(10),
                    started_on=ago(200),
                    outcome="partial",
                    reason_stopped="ongoing",
                ),
            ],
        },
        {
            "username": None,
            "stage": "assessed",
            "answers": {"sleep_apnea_or_difficult_airway": True},
            "data": {
                "given_name": "Samira",
                "family_name": "Haddad",
                "date_of_birth": dt.date(1979, 9, 30),
                "sex_at_birth": "female",
                "phone": "+1 555 0100 301",
                "email": "",
                "emergency_contact_name": "Leila Haddad",
                "emergency_contact_relationship": "sister",
                "emergency_contact_phone": "+1 555 0100 302",
                "escort_name": "Leila Haddad",
                "escort_phone": "+1 555 0100 302",
            },
            "records": [
                Diagnosis(code="F43.10", status="active"),
                Diagnosis(code="I10", status="active"),
                CurrentMedication(
                    name="Amlodipine",
                    dose_amount=Decimal(5),
                    dose_unit="mg",
                    frequency="once daily",
                ),
                PsychotherapyTrial(
                    modality="EMDR",
                    sessions_completed=8,
                    started_on=ago(500),
                    ended_on=ago(420),
                    outcome="no_response",
                ),
                MedicationTrial(
                    drug="Venlafaxine",
                    dose_mg_per_day=Decimal(225),
                    duration_weeks=Decimal(8),
                    started_on=ago(300),
                    ended_on=ago(244),
                    outcome="not_tolerated",
                    reason_stopped="side_effects",
                ),
            ],
        },
        {
            "username": None,
            "stage": "registered",
            "answers": {},
            "data": {
                "given_name": "Chris",
                "family_name": "Lindqvist",
                "preferred_name": "Kit",
                "date_of_birth": dt.date(1993, 1, 5),
                "sex_at_birth": "female",
                "gender_identity": "non-binary",
                "pronouns": "they/them",
                "phone": "+1 555 0100 401",
                "emergency_contact_name": "Ana Lindqvist",
                "emergency_contact_relationship": "parent",
                "emergency_contact_phone": "+1 555 0100 402",
            },
            "records": [
                Diagnosis(code="F33.2", status="active"),
                MedicationTrial(
                    drug="Escitalopram",
                    dose_mg_per_day=Decimal(20),
                    duration_weeks=Decimal(10),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
                MedicationTrial(
                    drug="Bupropion",
                    dose_mg_per_day=Decimal(300),
                    duration_weeks=Decimal(8),
                    outcome="partial",
                    reason_stopped="ineffective",
                ),
            ],
        },
        {
            "username": None,
            "stage": "assessed",
            "answers": {"current_mania": True, "bipolar_disorder": True},
            "data": {
                "given_name": "Jamie",
                "family_name": "Ortiz",
                "date_of_birth": dt.date(1990, 11, 21),
                "sex_at_birth": "male",
                "phone": "+1 555 0100 501",
                "emergency_contact_name": "Rosa Ortiz",
                "emergency_contact_relationship": "mother",
                "emergency_contact_phone": "+1 555 0100 502",
                "escort_name": "Rosa Ortiz",
                "escort_phone": "+1 555 0100 502",
            },
            "records": [
                Diagnosis(code="F43.12", status="active"),
                Diagnosis(code="F31.9", status="active"),
                PsychotherapyTrial(modality="CPT", sessions_completed=12, outcome="no_response"),
            ],
        },
        {
            "username": None,
            "stage": "session_running",
            "answers": {},
            "data": {
                "given_name": "Dana",
                "family_name": "Whitfield",
                "date_of_birth": dt.date(1982, 2, 17),
                "sex_at_birth": "female",
                "phone": "+1 555 0100 601",
                "emergency_contact_name": "Sam Whitfield",
                "emergency_contact_relationship": "husband",
                "emergency_contact_phone": "+1 555 0100 602",
                "escort_name": "Sam Whitfield",
                "escort_phone": "+1 555 0100 602",
            },
            "records": [
                Diagnosis(code="F43.12", status="active"),
                PsychotherapyTrial(modality="PE", sessions_completed=10, outcome="no_response"),
                MedicationTrial(
                    drug="Sertraline",
                    dose_mg_per_day=Decimal(150),
                    duration_weeks=Decimal(12),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
            ],
        },
        {
            "username": None,
            "stage": "booked",
            "answers": {},
            "data": {
                "given_name": "Lee",
                "family_name": "Park",
                "date_of_birth": dt.date(1988, 8, 8),
                "sex_at_birth": "male",
                "phone": "+1 555 0100 701",
                "emergency_contact_name": "Min Park",
                "emergency_contact_relationship": "sister",
                "emergency_contact_phone": "+1 555 0100 702",
                "escort_name": "Min Park",
                "escort_phone": "+1 555 0100 702",
            },
            "records": [
                Diagnosis(code="F33.2", status="active"),
                MedicationTrial(
                    drug="Escitalopram",
                    dose_mg_per_day=Decimal(20),
                    duration_weeks=Decimal(10),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
                MedicationTrial(
                    drug="Venlafaxine",
                    dose_mg_per_day=Decimal(225),
                    duration_weeks=Decimal(10),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
            ],
        },
    ]


def _ensure_user(clinic: Clinic, spec: dict[str, Any], today: dt.date) -> tuple[User, bool]:
    user, created = User.objects.get_or_create(
        username=spec["username"],
        defaults={
            "first_name": spec.get("first_name", ""),
            "last_name": spec.get("last_name", ""),
            "role": spec["role"],
            "clinic": clinic,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
        for kind, licence_type, number, jurisdiction in spec.get("credentials", []):
            Credential.objects.create(
                user=user,
                kind=kind,
                licence_type=licence_type,
                number=number,
                jurisdiction=jurisdiction,
                issued_on=today - dt.timedelta(days=700),
                expires_on=today + dt.timedelta(days=400),
            )
    return user, created


CONSENT_TEXT = """\
Ketamine is a medicine licensed for anaesthesia. Its use at low doses for post-traumatic stress
disorder or depression is "off-label": it is not approved by the FDA for these conditions, and the
evidence for it comes from a small number of clinical trials.

What happens: a series of intravenous infusions, usually 0.5 mg per kg of body weight over 40
minutes, six times over two to three weeks. A nurse watches you throughout and checks your blood
pressure, heart rate and oxygen level. You stay until you are fully recovered and an adult takes
you home. You must not drive, operate machinery or make important decisions until the next day.

Common effects during and shortly after an infusion: feeling detached or dreamlike
(dissociation), dizziness, nausea, blurred vision, and a rise in blood pressure. These usually
pass within an hour or two of the infusion ending. Rare risks include severe blood-pressure rise,
breathing problems, bladder irritation with repeated use, and misuse.

The benefit is not guaranteed: some people improve within hours or days, some later, some not at
all, and improvement may fade and need further infusions.

You may stop treatment at any time, and withdrawing consent does not affect your other care.
"""


def _consent_form(clinic: Clinic, today: dt.date) -> None:
    ConsentForm.objects.get_or_create(
        clinic=clinic,
        version="2026.1",
        defaults={
            "title": "Consent to off-label intravenous ketamine treatment",
            "body": CONSENT_TEXT,
            "effective_on": today - dt.timedelta(days=365),
        },
    )


_BASE_ANSWERS: dict[str, Any] = {
    "pregnant": "no",
    "breastfeeding": "no",
    "weight_kg": Decimal(78),
    "height_cm": Decimal(175),
    "systolic_bp_mmhg": 124,
    "diastolic_bp_mmhg": 80,
    "heart_rate_bpm": 74,
    "cssrs_risk": "low",
}


def _candidacy_stage(
    patient: Patient, stage: str, answers: dict[str, Any], staff: dict[str, User]
) -> None:
    """Take a demo patient to their stage: registered, assessed (awaiting sign-off) or signed
    with consent. Only done once: a patient with any assessment is left as it is."""
    if stage == "registered" or CandidacyAssessment.objects.filter(patient=patient).exists():
        return
    signed = stage not in ("assessed",)
    nurse, prescriber = Actor(user=staff["nurse"]), Actor(user=staff["prescriber"])
    sex = patient.sex_at_birth if patient.sex_at_birth in ("female", "male") else "female"
    data = {**_BASE_ANSWERS, "sex": sex, **answers}
    assessment = candidacy_services.candidacy_assess(actor=nurse, patient=patient, answers=data)
    if not signed:
        return
    candidacy_services.candidacy_sign(actor=prescriber, assessment=assessment, review_note="")
    form = candidacy_services.consent_form_current(patient)
    if form is not None:
        candidacy_services.consent_record(
            actor=nurse,
            patient=patient,
            form=form,
            signed_name=f"{patient.given_name} {patient.family_name}",
        )


def _clinic_day(today: dt.date) -> dt.date:
    """Today if the demo clinic is open (Monday to Friday), else the Friday before."""
    return today - dt.timedelta(days=max(0, today.weekday() - 4))


def _treatment_stage(patient: Patient, stage: str, staff: dict[str, User], day: dt.date) -> None:
    """Book an induction course from ``day`` and chart its first infusion to the stage:
    ``booked`` (nothing charted: a nurse can chart it live), ``session_running`` or
    ``session_complete`` (signed and locked). Done once per patient."""
    if stage not in ("booked", "session_running", "session_complete"):
        return
    if Course.objects.filter(patient=patient).exists():
        return
    candidacy = signed_candidacy_for(patient)
    if candidacy is None:
        return
    course = treatment_demo.demo_course(
        actor=Actor(user=staff["prescriber"]), patient=patient, candidacy=candidacy, start_on=day
    )
    first = course.appointments.order_by("sequence").first()
    if first is None or stage == "booked":
        return
    scenario: Literal["complete", "running"] = (
        "complete" if stage == "session_complete" else "running"
    )
    infusion_demo.demo_session(
        actor=Actor.system("demo"), appointment=first, nurse=staff["nurse"], scenario=scenario
    )


@transaction.atomic
def demo_load() -> DemoResult:
    if settings.PRODUCTION:
        raise ValueError("the demo clinic is not loaded in production mode")
    today = timezone.localdate()
    actor = Actor.system("demo")
    clinic, _ = Clinic.objects.get_or_create(
        slug="riverside",
        defaults={"name": "Riverside Ketamine Clinic", "address": "1 River Road, Albany NY"},
    )
    other, _ = Clinic.objects.get_or_create(
        slug="harbor", defaults={"name": "Harbor Infusion Center"}
    )
    created_users = 0
    patients_before = Patient.objects.count()
    staff: dict[str, User] = {}
    for spec in _STAFF:
        user, made = _ensure_user(clinic, spec, today)
        staff[spec["username"]] = user
        created_users += made
    _consent_form(clinic, today)
    treatment_demo.load_demo(actor=actor, clinic=clinic, today=today)
    clinic_day = _clinic_day(today)
    created_users += _ensure_user(
        other,
        {
            "username": "harbor-prescriber",
            "first_name": "Ines",
            "last_name": "Costa",
            "role": Role.PRESCRIBER,
            "credentials": [("licence", "MD", "MD-990022", "NJ")],
        },
        today,
    )[1]
    for spec in _patients(today):
        data = spec["data"]
        patient = Patient.objects.filter(
            clinic=clinic,
            given_name=data["given_name"],
            family_name=data["family_name"],
            date_of_birth=data["date_of_birth"],
        ).first()
        if patient is None:
            patient = services.patient_register(actor=actor, clinic_id=clinic.pk, data=data)
            for record in spec["records"]:
                services.record_add(actor=actor, patient=patient, record=record)
        if spec["username"]:
            user, made = _ensure_user(
                clinic,
                {
                    "username": spec["username"],
                    "first_name": data["given_name"],
                    "last_name": data["family_name"],
                    "role": Role.PATIENT,
                },
                today,
            )
            created_users += made
            if patient.user_id != user.pk:
                services.patient_link_login(actor=actor, patient=patient, user_id=user.pk)
        _candidacy_stage(patient, spec["stage"], spec["answers"], staff)
        _treatment_stage(patient, spec["stage"], staff, clinic_day)
    outcome_demo.load_demo(clinic=clinic, today=today, staff=staff)
    portal = portal_demo.load_demo(clinic=clinic, today=today, staff=staff)
    ledger_demo.load_demo(clinic=clinic, today=today, staff=staff)
    if not Patient.objects.filter(clinic=other).exists():
        services.patient_register(
            actor=actor,
            clinic_id=other.pk,
            data={
                "given_name": "Robin",
                "family_name": "Ashby",
                "date_of_birth": dt.date(1975, 6, 2),
                "sex_at_birth": "unknown",
                "phone": "+1 555 0100 901",
                "emergency_contact_name": "Lee Ashby",
                "emergency_contact_relationship": "partner",
                "emergency_contact_phone": "+1 555 0100 902",
            },
        )
    logins = tuple(
        DemoLogin(Role(role).label, username, DEMO_PASSWORD)
        for role, username in [
            (Role.MEDICAL_DIRECTOR, "director"),
            (Role.PRESCRIBER, "prescriber"),
            (Role.NURSE, "nurse"),
            (Role.FRONT_DESK, "frontdesk"),
            (Role.PATIENT, "patient"),
        ]
    )
    created_patients = Patient.objects.count() - patients_before  # every loader's patients
    return DemoResult(created_users, created_patients, logins, portal.totp_secret)
