"""Minimum necessary (security review issue 12): front desk, who lacks Perm.VIEW_CLINICAL, sees
no indication, dose, diagnosis, medication, note or clinical rationale on any page it can open;
clinical staff see them; another clinic and another patient see nothing."""

from __future__ import annotations

import importlib
import re
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.accounts.second_factor import enrol_totp
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.patients import services as patient_services
from ketaflow.patients.models import Patient
from ketaflow.portal.models import Invitation
from ketaflow.portal.services import invitation_create
from ketaflow.portal.usernames import derived_from_mrn, new_patient_username
from ketaflow.treatment.models import Appointment, Course
from tests.treatment.builders import book_all, plan
from tests.treatment.conftest import clinic_ready  # noqa: F401 (fixture)
from tests.web.conftest import PASSWORD, World, logged_in, patient_data, without_random_tokens

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
        "edit details": reverse("patient_edit", args=[ptsd.patient_id]),
        "register": reverse("patient_new"),
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
        page = without_random_tokens(response.content.decode())
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


# ---- patient usernames are not record numbers --------------------------------------------------

HANDLE = re.compile(r"p-[23456789abcdefghjkmnpqrstuvwxyz]{6}")
RENAME = importlib.import_module("ketaflow.portal.migrations.0002_patient_usernames_not_mrn")


def _shows_mrn(username: str, patient: Patient) -> bool:
    digits = re.sub(r"\D", "", patient.mrn)
    return patient.mrn.lower() in username.lower() or digits in username


@pytest.mark.parametrize(
    ("username", "mrn", "derived"),
    [
        ("kf12345678", "KF12345678", True),
        ("KF-1234-5678", "KF12345678", True),
        ("alice.12345678", "KF12345678", True),
        ("patient", "KF12345678", False),
        ("p-7k3m9q", "KF12345678", False),
        ("bruno", "KF12345678", False),
    ],
)
def test_derived_from_mrn(username: str, mrn: str, derived: bool) -> None:
    assert derived_from_mrn(username, mrn) is derived


def test_new_patient_username_skips_taken_handles() -> None:
    seen: list[str] = []

    def taken(handle: str) -> bool:
        seen.append(handle)
        return len(seen) < 3

    handle = new_patient_username(taken)
    assert handle == seen[-1]
    assert len(seen) == 3
    assert HANDLE.fullmatch(handle)
    with pytest.raises(RuntimeError, match="no free patient username"):
        new_patient_username(lambda handle: True)


def test_a_new_patient_login_never_shows_the_record_number(world: World, client_for: Any) -> None:
    patients = [world.other_patient, world.foreign_patient]
    for i in range(6):
        patients.append(
            patient_services.patient_register(
                actor=Actor.system("tests"),
                clinic_id=world.clinic.pk,
                data=patient_data(f"Given{i}", f"Family{i}"),
            )
        )
    names = set()
    for patient in patients:
        created = invitation_create(actor=Actor(user=world.frontdesk), patient=patient)
        assert HANDLE.fullmatch(created.username), created.username
        assert not _shows_mrn(created.username, patient)
        assert not derived_from_mrn(created.username, patient.mrn)
        assert patient.given_name.lower() not in created.username
        patient.refresh_from_db()
        assert patient.user is not None
        assert patient.user.username == created.username
        names.add(created.username)
    assert len(names) == len(patients)


def test_the_patient_learns_the_username_on_the_invitation_and_the_account_page(
    world: World, client_for: Any
) -> None:
    staff = client_for(world.frontdesk)
    page = staff.post(reverse("portal_invite", args=[world.other_patient.pk])).content.decode()
    username = re.search(r'id="invite-username">([^<]+)<', page)
    assert username is not None
    assert HANDLE.fullmatch(username.group(1))
    assert world.other_patient.mrn not in page.replace(f"· {world.other_patient.mrn}", "")
    invitation = Invitation.objects.get(patient=world.other_patient, used_at=None, revoked_at=None)
    user = invitation.user
    assert user.username == username.group(1)
    join_path = re.search(r'value="(https?://[^"]+/portal/join/[^"]+)"', page)
    assert join_path is not None
    join = Client().get(join_path.group(1)).content.decode()
    assert f'<strong id="username">{user.username}</strong>' in join
    assert world.other_patient.mrn not in join
    # Once enrolled: the portal's account page, for that patient only.
    enrol_totp(user=user, secret="JBSWY3DPEHPK3PXP", last_t=0)
    account = logged_in(user).get(reverse("portal_account")).content.decode()
    assert f'<strong id="username">{user.username}</strong>' in account
    assert world.other_patient.mrn not in account
    assert "patient" not in re.findall(r'id="username">([^<]+)<', account)
    enrol_totp(user=world.patient_user, secret="JBSWY3DPEHPK3PXP", last_t=0)
    mine = logged_in(world.patient_user).get(reverse("portal_account")).content.decode()
    assert '<strong id="username">patient</strong>' in mine
    assert user.username not in mine
    assert client_for(world.nurse).get(reverse("portal_account")).status_code == 404
    again = staff.get(reverse("portal_invite", args=[world.other_patient.pk])).content.decode()
    assert f'id="portal-username">{user.username}<' in again  # staff can tell the patient
    foreign = client_for(world.foreign_prescriber)
    assert foreign.get(reverse("portal_invite", args=[world.other_patient.pk])).status_code == 404


def _mrn_login(patient: Patient, username: str) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, role=Role.PATIENT, clinic=patient.clinic
    )
    Patient.objects.filter(pk=patient.pk).update(user=user)
    return user


def test_the_migration_renames_mrn_usernames_and_keeps_the_rest(world: World) -> None:
    old = _mrn_login(world.other_patient, world.other_patient.mrn.lower())
    dashed = _mrn_login(world.foreign_patient, "KF-" + world.foreign_patient.mrn[2:])
    assert RENAME.rename_mrn_usernames(apps) == 2
    for user, patient in ((old, world.other_patient), (dashed, world.foreign_patient)):
        user.refresh_from_db()
        assert HANDLE.fullmatch(user.username)
        assert not _shows_mrn(user.username, patient)
        assert user.check_password(PASSWORD)  # the same login, renamed
        assert Patient.objects.get(pk=patient.pk).user_id == user.pk
    world.patient_user.refresh_from_db()
    assert world.patient_user.username == "patient"  # the demo's login shows no record number
    assert User.objects.filter(username="nurse").exists()
    assert RENAME.rename_mrn_usernames(apps) == 0  # nothing left to rename


def test_a_reinvitation_renames_an_mrn_login_that_never_enrolled(world: World) -> None:
    user = _mrn_login(world.other_patient, world.other_patient.mrn.lower())
    patient = Patient.objects.get(pk=world.other_patient.pk)
    created = invitation_create(actor=Actor(user=world.frontdesk), patient=patient)
    user.refresh_from_db()
    assert User.objects.filter(role=Role.PATIENT).count() == 2  # renamed, not replaced
    assert created.username == user.username
    assert HANDLE.fullmatch(user.username)
    entry = AuditEntry.objects.filter(object_type="portal_invitation").latest("seq")
    assert entry.detail["renamed_from_record_number"] is True
