"""The demo clinics that ``ketaflow demo`` (and ``make run``) loads once: Riverside, with
patients at every stage, and Harbor, a smaller second clinic to show that clinics are separate.

Idempotent: people are found by username and patients by clinic, name and birth date, so running
it again adds nothing. Patients are registered through the same services as in the web app, so
the demo's own writes are in the audit trail too. Refused in production mode.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.db import transaction

from ketaflow.accounts import second_factor
from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.models import Clinic, Credential, User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.candidacy import services as candidacy_services
from ketaflow.candidacy.models import CandidacyAssessment, ConsentForm
from ketaflow.candidacy.selectors import consent_form_current, signed_candidacy_for
from ketaflow.clinicsettings import demo as settings_demo
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
    clinic: str = ""  # the clinic's name
    totp_secret: str = ""  # the login's second factor (any authenticator app)


@dataclass(frozen=True)
class DemoResult:
    created_users: int
    created_patients: int
    logins: tuple[DemoLogin, ...]  # Riverside's first, then Harbor's
    patient_totp_secret: str  # Riverside's demo patient's second factor


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


_HARBOR_STAFF: list[dict[str, Any]] = [
    {
        "username": "harbor-director",
        "first_name": "Hannah",
        "last_name": "Brooks",
        "role": Role.MEDICAL_DIRECTOR,
        "credentials": [
            ("licence", "MD", "MD-990071", "NJ"),
            ("dea", "", "BB7654328", "US"),
            ("acls", "", "ACLS-90311", "AHA"),
        ],
    },
    {
        "username": "harbor-prescriber",
        "first_name": "Ines",
        "last_name": "Costa",
        "role": Role.PRESCRIBER,
        "credentials": [
            ("licence", "MD", "MD-990022", "NJ"),
            ("dea", "", "BC2468135", "US"),
            ("acls", "", "ACLS-90342", "AHA"),
        ],
    },
    {
        "username": "harbor-nurse",
        "first_name": "Kenji",
        "last_name": "Watanabe",
        "role": Role.NURSE,
        "credentials": [("licence", "RN", "RN-440187", "NJ"), ("acls", "", "ACLS-90377", "AHA")],
    },
    {
        "username": "harbor-frontdesk",
        "first_name": "Lucia",
        "last_name": "Ferreira",
        "role": Role.FRONT_DESK,
        "credentials": [],
    },
]


def _harbor_patients(today: dt.date) -> list[dict[str, Any]]:
    """Fewer than Riverside's, one at each stage up to a signed infusion."""

    def contact(given: str, family: str, phone: str, relationship: str) -> dict[str, str]:
        return {
            "emergency_contact_name": f"{given} {family}",
            "emergency_contact_relationship": relationship,
            "emergency_contact_phone": phone,
            "escort_name": f"{given} {family}",
            "escort_phone": phone,
        }

    return [
        {
            "username": None,
            "stage": "registered",
            "answers": {},
            "data": {
                "given_name": "Robin",
                "family_name": "Ashby",
                "date_of_birth": dt.date(1975, 6, 2),
                "sex_at_birth": "unknown",
                "phone": "+1 555 0100 901",
                "emergency_contact_name": "Lee Ashby",
                "emergency_contact_relationship": "partner",
                "emergency_contact_phone": "+1 555 0100 902",
            },
            "records": [Diagnosis(code="F33.1", status="active")],
        },
        {
            "username": None,
            "stage": "assessed",
            "answers": {"sleep_apnea_or_difficult_airway": True},
            "data": {
                "given_name": "Elena",
                "family_name": "Novak",
                "date_of_birth": dt.date(1984, 10, 9),
                "sex_at_birth": "female",
                "phone": "+1 555 0100 911",
                **contact("Petr", "Novak", "+1 555 0100 912", "brother"),
            },
            "records": [
                Diagnosis(code="F43.12", status="active"),
                PsychotherapyTrial(modality="CPT", sessions_completed=12, outcome="no_response"),
            ],
        },
        {
            "username": None,
            "stage": "booked",
            "answers": {},
            "data": {
                "given_name": "Victor",
                "family_name": "Huang",
                "date_of_birth": dt.date(1978, 3, 3),
                "sex_at_birth": "male",
                "phone": "+1 555 0100 921",
                **contact("Mei", "Huang", "+1 555 0100 922", "wife"),
            },
            "records": [
                Diagnosis(code="F33.2", status="active"),
                MedicationTrial(
                    drug="Sertraline",
                    dose_mg_per_day=Decimal(200),
                    duration_weeks=Decimal(10),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
                MedicationTrial(
                    drug="Bupropion",
                    dose_mg_per_day=Decimal(300),
                    duration_weeks=Decimal(8),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
            ],
        },
        {
            "username": "harbor-patient",
            "stage": "session_complete",
            "answers": {},
            "data": {
                "given_name": "Grace",
                "family_name": "Mbeki",
                "date_of_birth": dt.date(1991, 7, 19),
                "sex_at_birth": "female",
                "email": "grace.mbeki@example.org",
                "phone": "+1 555 0100 931",
                **contact("Thabo", "Mbeki", "+1 555 0100 932", "brother"),
            },
            "records": [
                Diagnosis(code="F43.12", status="active", onset_on=today - dt.timedelta(days=1500)),
                PsychotherapyTrial(modality="PE", sessions_completed=12, outcome="partial"),
                PsychotherapyTrial(modality="CPT", sessions_completed=12, outcome="no_response"),
                MedicationTrial(
                    drug="Sertraline",
                    dose_mg_per_day=Decimal(200),
                    duration_weeks=Decimal(12),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
                MedicationTrial(
                    drug="Paroxetine",
                    dose_mg_per_day=Decimal(40),
                    duration_weeks=Decimal(12),
                    outcome="no_response",
                    reason_stopped="ineffective",
                ),
            ],
        },
    ]


HARBOR_TOTP_KEY = "KETAFLOWHARBORPATIENTTOTPSECRET2"  # Base32, 160 bits; public like Riverside's
HARBOR_SUPPLIES = ledger_demo.Supplies(
    lots=("HBR-25C044", "HBR-25C118"),
    invoices=("HIC-7701", "HIC-7702"),
    supplier_name="Bayside Medical Supply",
    supplier_address="9 Pier Road, Baltimore MD",
    supplier_dea_number="RB0000000",
)


@dataclass(frozen=True)
class _ClinicSpec:
    slug: str
    name: str
    address: str
    staff: list[dict[str, Any]]
    patients: Callable[[dt.date], list[dict[str, Any]]]  # given today
    patient_username: str
    totp_key: str
    supplies: ledger_demo.Supplies
    ledger_days: int
    outcomes: bool  # Riverside's outcome histories
    phone: str = ""  # printed on the discharge sheet; required before the first discharge


_STAFF_KEYS = {
    Role.MEDICAL_DIRECTOR: "director",
    Role.PRESCRIBER: "prescriber",
    Role.NURSE: "nurse",
    Role.FRONT_DESK: "frontdesk",
}


def demo_staff_secret(username: str) -> str:
    """The public TOTP secret of a demo staff login (derived from its name; demo databases
    only, printed by ``ketaflow demo`` like the patient's)."""
    digest = hashlib.sha256(f"ketaflow-demo-staff:{username}".encode()).digest()[:20]
    return base64.b32encode(digest).decode()


def _enrol_staff(user: User) -> str:
    """Enrol a demo staff login's second factor once; its secret."""
    secret = demo_staff_secret(user.username)
    if not second_factor.has_second_factor(user):
        second_factor.enrol_totp(user=user, secret=secret, last_t=0)
    return secret


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
        # A credential kind the login lacks is added (an older demo gave some fewer).
        if not Credential.objects.filter(user=user, kind=kind).exists():
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
    form = consent_form_current(patient)
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


def _treatment_stage(
    patient: Patient, stage: str, staff: dict[str, User], day: dt.date, vial_lot: str
) -> None:
    """Book an induction course from ``day`` and chart its first infusion to the stage:
    ``booked`` (nothing charted: a nurse can chart it live), ``session_running`` or
    ``session_complete`` (signed and locked), with a vial of ``vial_lot``. Done once per
    patient."""
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
        actor=Actor.system("demo"),
        appointment=first,
        nurse=staff["nurse"],
        scenario=scenario,
        vial_lot=vial_lot,
        witness=staff["prescriber"],
    )


_CLINICS = (
    _ClinicSpec(
        slug="riverside",
        name="Riverside Ketamine Clinic",
        address="1 River Road, Albany NY",
        staff=_STAFF,
        patients=_patients,
        patient_username=portal_demo.DEMO_PATIENT_USERNAME,
        totp_key=portal_demo.DEMO_TOTP_KEY,
        supplies=ledger_demo.RIVERSIDE_SUPPLIES,
        ledger_days=ledger_demo.DAYS,
        outcomes=True,
        phone="+1 555 0100 100",
    ),
    _ClinicSpec(
        slug="harbor",
        name="Harbor Infusion Center",
        address="",
        staff=_HARBOR_STAFF,
        patients=_harbor_patients,
        patient_username="harbor-patient",
        totp_key=HARBOR_TOTP_KEY,
        supplies=HARBOR_SUPPLIES,
        ledger_days=14,  # a little stock: one delivery, two weeks of infusion days
        outcomes=False,
        phone="+1 555 0199 100",
    ),
)


def _load_clinic(spec: _ClinicSpec) -> tuple[int, tuple[DemoLogin, ...], str]:
    """Load one demo clinic: staff with credentials, consent form, chairs and hours, the
    patients at their stages, (Riverside) outcome histories, the portal and the ledger. Returns
    the logins created, the clinic's demo logins and its patient's TOTP secret."""
    actor = Actor.system("demo")
    clinic, _ = Clinic.objects.get_or_create(
        slug=spec.slug, defaults={"name": spec.name, "address": spec.address}
    )
    if spec.phone and not clinic.phone:
        clinic.phone = spec.phone
        clinic.save(update_fields=["phone"])
    today = clinic_today(clinic)  # the clinic's day, not the server's
    created_users = 0
    staff: dict[str, User] = {}
    for person in spec.staff:
        user, made = _ensure_user(clinic, person, today)
        _enrol_staff(user)
        staff[_STAFF_KEYS[person["role"]]] = user
        created_users += made
    _consent_form(clinic, today)
    if spec.outcomes:  # Riverside: some settings signed; Harbor: all still awaiting sign-off
        settings_demo.load_demo(clinic=clinic, director=staff["director"])
    treatment_demo.load_demo(actor=actor, clinic=clinic, today=today)
    clinic_day = _clinic_day(today)
    stages: list[tuple[Patient, str]] = []
    for person in spec.patients(today):
        data = person["data"]
        patient = Patient.objects.filter(
            clinic=clinic,
            given_name=data["given_name"],
            family_name=data["family_name"],
            date_of_birth=data["date_of_birth"],
        ).first()
        if patient is None:
            patient = services.patient_register(actor=actor, clinic_id=clinic.pk, data=data)
            for record in person["records"]:
                services.record_add(actor=actor, patient=patient, record=record)
        if person["username"]:
            user, made = _ensure_user(
                clinic,
                {
                    "username": person["username"],
                    "first_name": data["given_name"],
                    "last_name": data["family_name"],
                    "role": Role.PATIENT,
                },
                today,
            )
            created_users += made
            if patient.user_id != user.pk:
                services.patient_link_login(actor=actor, patient=patient, user_id=user.pk)
        _candidacy_stage(patient, person["stage"], person["answers"], staff)
        stages.append((patient, person["stage"]))
    # The ledger's history first: the infusions below pick their vials from its stock.
    ledger_demo.load_demo(
        clinic=clinic, today=today, staff=staff, supplies=spec.supplies, days=spec.ledger_days
    )
    for patient, stage in stages:
        _treatment_stage(patient, stage, staff, clinic_day, spec.supplies.lots[0])
    if spec.outcomes:
        outcome_demo.load_demo(clinic=clinic, today=today, staff=staff)
    portal = portal_demo.load_demo(
        clinic=clinic,
        today=today,
        staff=staff,
        username=spec.patient_username,
        totp_key=spec.totp_key,
    )
    staff_logins = [
        DemoLogin(
            Role(person["role"]).label,
            person["username"],
            DEMO_PASSWORD,
            clinic.name,
            demo_staff_secret(person["username"]),
        )
        for person in spec.staff
    ]
    patient_login = DemoLogin(
        Role.PATIENT.label, spec.patient_username, DEMO_PASSWORD, clinic.name, portal.totp_secret
    )
    logins = (*staff_logins, patient_login)
    return created_users, logins, portal.totp_secret


@transaction.atomic
def demo_load() -> DemoResult:
    """Load the two demo clinics, Riverside (every stage, outcomes, a month of ledger) and
    Harbor (a smaller second clinic, so that the separation between clinics can be seen)."""
    if settings.PRODUCTION:
        raise ValueError("the demo clinic is not loaded in production mode")
    patients_before = Patient.objects.count()
    created_users = 0
    logins: tuple[DemoLogin, ...] = ()
    secrets: list[str] = []
    for spec in _CLINICS:
        made, clinic_logins, secret = _load_clinic(spec)
        created_users += made
        logins += clinic_logins
        secrets.append(secret)
    made, network = _network_admin()
    created_users += made
    logins += (network,)
    created_patients = Patient.objects.count() - patients_before  # every loader's patients
    return DemoResult(created_users, created_patients, logins, secrets[0])


def _network_admin() -> tuple[int, DemoLogin]:
    """The network's administrator: both clinics' set-up in the administration, no patient."""
    username = "network"
    made = 0
    if not User.objects.filter(username=username).exists():
        user = User(username=username, role=Role.NETWORK_ADMIN, clinic=None, first_name="Noor")
        user.last_name = "Haddad-Lee"
        user.set_password(DEMO_PASSWORD)
        user.full_clean()
        user.save()
        made = 1
    return made, DemoLogin(
        role=Role.NETWORK_ADMIN.label,
        username=username,
        password=DEMO_PASSWORD,
        clinic="Both clinics (administration only)",
        totp_secret=_enrol_staff(User.objects.get(username=username)),
    )
