"""Shared personas: the staff of one clinic in every role, two of its patients (one with a
portal login), and a prescriber and patient of another clinic."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from ketaflow.accounts.models import Clinic, Credential, User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.audit.db import drop_triggers, install_triggers
from ketaflow.patients import services
from ketaflow.patients.models import ClinicalNote, Diagnosis, MedicationTrial, Patient

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    clinic: Clinic
    other_clinic: Clinic
    director: User
    prescriber: User
    nurse: User
    frontdesk: User
    patient_user: User
    patient: Patient  # has the portal login patient_user
    other_patient: Patient  # same clinic, no login
    foreign_prescriber: User
    foreign_patient: Patient  # another clinic
    note: ClinicalNote

    def staff(self) -> dict[str, User]:
        return {
            "director": self.director,
            "prescriber": self.prescriber,
            "nurse": self.nurse,
            "frontdesk": self.frontdesk,
        }


def make_user(clinic: Clinic, username: str, role: Role, **extra: Any) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, role=role, clinic=clinic, **extra
    )
    return user


def patient_data(given: str, family: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "given_name": given,
        "family_name": family,
        "date_of_birth": dt.date(1985, 3, 14),
        "sex_at_birth": "female",
        # One phone per person: the registry warns of a second record with the same phone.
        "phone": f"+1 555 {zlib.crc32(f'{given} {family}'.encode()) % 10**7:07d}",
        "emergency_contact_name": "Pat Contact",
        "emergency_contact_relationship": "friend",
        "emergency_contact_phone": "+1 555 0100 124",
    }
    data.update(extra)
    return data


def build_world() -> World:
    today = timezone.localdate()
    clinic = Clinic.objects.create(name="Test Clinic", slug="test", phone="+1 555 0100 100")
    other = Clinic.objects.create(name="Other Clinic", slug="other")
    director = make_user(clinic, "director", Role.MEDICAL_DIRECTOR, is_staff=True)
    prescriber = make_user(clinic, "prescriber", Role.PRESCRIBER, first_name="Dana")
    nurse = make_user(clinic, "nurse", Role.NURSE)
    frontdesk = make_user(clinic, "frontdesk", Role.FRONT_DESK)
    patient_user = make_user(clinic, "patient", Role.PATIENT)
    foreign_prescriber = make_user(other, "foreign", Role.PRESCRIBER)
    for user, kinds in [
        (director, [("licence", "MD"), ("dea", ""), ("acls", "")]),
        (prescriber, [("licence", "NP"), ("dea", ""), ("acls", "")]),
        (nurse, [("licence", "RN"), ("bls", "")]),
    ]:
        for kind, licence_type in kinds:
            Credential.objects.create(
                user=user,
                kind=kind,
                licence_type=licence_type,
                number=f"{kind}-{user.username}",
                jurisdiction="NY",
                expires_on=today + dt.timedelta(days=30),
            )
    actor = Actor.system("tests")
    patient = services.patient_register(
        actor=actor,
        clinic_id=clinic.pk,
        data=patient_data("Alice", "Anders", escort_name="Bo Anders", escort_phone="555 0100"),
    )
    services.patient_link_login(actor=actor, patient=patient, user_id=patient_user.pk)
    services.record_add(actor=actor, patient=patient, record=Diagnosis(code="F43.12"))
    services.record_add(
        actor=actor,
        patient=patient,
        record=MedicationTrial(
            drug="Sertraline",
            dose_mg_per_day=Decimal(200),
            duration_weeks=Decimal(12),
            outcome="no_response",
            reason_stopped="ineffective",
        ),
    )
    note = services.note_add(
        actor=Actor(user=prescriber),
        patient=patient,
        kind="consultation",
        text="Nightmares four nights a week; CONFIDENTIAL-NOTE-TEXT.",
    )
    other_patient = services.patient_register(
        actor=actor, clinic_id=clinic.pk, data=patient_data("Bruno", "Berg")
    )
    foreign_patient = services.patient_register(
        actor=actor, clinic_id=other.pk, data=patient_data("Carla", "Cruz")
    )
    return World(
        clinic=clinic,
        other_clinic=other,
        director=director,
        prescriber=prescriber,
        nurse=nurse,
        frontdesk=frontdesk,
        patient_user=patient_user,
        patient=patient,
        other_patient=other_patient,
        foreign_prescriber=foreign_prescriber,
        foreign_patient=foreign_patient,
        note=note,
    )


@pytest.fixture
def world(db: None) -> World:
    return build_world()


def pass_second_factor(client: Client, user: User) -> None:
    """Mark ``client``'s session as past the second factor (django-otp), enrolling ``user``'s
    authenticator first when they have none (the check itself is tested in test_signin and
    test_portal)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from ketaflow.accounts.second_factor import enrol_totp, new_secret, totp_device

    device = totp_device(user) or enrol_totp(user=user, secret=new_secret(), last_t=0)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def logged_in(user: User, client: Client | None = None) -> Client:
    """``client`` (a new test client unless given) logged in as ``user``, past the second
    factor (the one sign-in helper of the tests: the persona fixtures, the sweeps and the
    browser's session cookie all use it)."""
    c = client if client is not None else Client()
    c.force_login(user)
    pass_second_factor(c, user)
    return c


@pytest.fixture
def client_for(client: Client) -> Any:
    """``client_for(user)`` is a test client logged in as ``user``."""

    return logged_in


@pytest.fixture
def audit_triggers(db: None) -> None:
    """The append-only triggers, present whatever ran before in this worker."""
    install_triggers(connection)


@pytest.fixture
def live_db(transactional_db: None) -> Any:
    """A transactional database for live-server tests. The append-only triggers are dropped
    before the flush that empties the database after the test, and reinstalled before it."""
    install_triggers(connection)
    yield
    drop_triggers(connection)


@pytest.fixture(scope="module")
def browser() -> Any:
    """Debian's headless Chromium at a tablet's size, shared by a module's browser tests."""
    from tests.web.browser import chromium

    with chromium() as driver:
        yield driver


@pytest.fixture
def live_world(live_db: None) -> World:
    """The personas in a database that a live server (another thread) can see."""
    return build_world()


@pytest.fixture(scope="module")
def demo_clinics(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The demo clinics (``ketaflow demo``), loaded once for the module that asks and rolled back
    after it; each test's own writes are rolled back with the test (ask for ``db`` too). A
    module using it keeps its tests in one xdist group, so the load happens on one worker."""
    from ketaflow.web.demo import demo_load

    with django_db_blocker.unblock(), transaction.atomic():
        demo_load()
        yield
        transaction.set_rollback(True)


_CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')


def without_random_tokens(page: str) -> str:
    """A page with its forms' CSRF tokens blanked: a test looking for a short word in a page
    ("PTSD", "phq") must not find it inside 64 random letters."""
    return _CSRF_VALUE.sub(r"\1\2", page)
