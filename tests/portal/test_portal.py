"""The patient portal: invitations and TOTP, patient isolation by every URL, the measurement plan,
reminders without patient data, and the safety path (an urgent task in the same transaction as
the answer, the staff banner, acknowledgement, nothing lost when email or the worker is down)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pyotp
import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.fixtures import Settings as SettingsWrapper

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.accounts.second_factor import enrol_totp, secret_of
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.cli import main
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients.models import Patient
from ketaflow.portal import urls as portal_urls
from ketaflow.portal.access import token_hash
from ketaflow.portal.answers import response_record
from ketaflow.portal.demo import DEMO_TOTP_KEY, load_demo
from ketaflow.portal.models import (
    DueQuestionnaire,
    EmailOutbox,
    Invitation,
    PortalSettings,
    UrgentTask,
)
from ketaflow.portal.outbox import outbox_send
from ketaflow.portal.plan import plan_generate, reminders_queue
from ketaflow.portal.services import invitation_create, questionnaire_submit
from ketaflow.treatment import services as treatment_services
from ketaflow.treatment.demo import load_demo as treatment_demo
from ketaflow.treatment.models import Appointment, Chair, Course
from tests.candidacy.builders import signed_candidacy
from tests.infusions.builders import session_in
from tests.portal.builders import second_patient_login, verified_client
from tests.web.conftest import PASSWORD, World

PHQ9_ITEM9 = [1, 1, 1, 1, 1, 1, 1, 1, 2]  # total 10, item 9 answered 2
PHQ9_CALM = [0, 1, 0, 1, 0, 0, 1, 0, 0]
NEW_PASSWORD = "a-long portal passphrase 42"


class FailingBackend(BaseEmailBackend):
    """An email server that is down."""

    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("SMTP server unreachable")


def staff_emails(world: World) -> None:
    for user in (world.director, world.prescriber, world.nurse, world.frontdesk):
        user.email = f"{user.username}@clinic.example"
        user.save(update_fields=["email"])


def enrol(user: User, secret: str | None = None) -> str:
    secret = secret or pyotp.random_base32()
    enrol_totp(user=user, secret=secret, last_t=0)
    return secret


def next_monday() -> dt.date:
    today = timezone.localdate()
    return today + dt.timedelta(days=7 - today.weekday() + 7)


def booked_course(world: World, patient: Patient, indication: str = "ptsd") -> Course:
    """A six-infusion course, planned and booked (through the treatment services)."""
    if not Chair.objects.filter(clinic=world.clinic).exists():
        treatment_demo(actor=Actor.system("tests"), clinic=world.clinic, today=timezone.localdate())
    signed_candidacy(world, patient, indications=(), summary="Eligible.")
    course = treatment_services.course_plan(
        actor=Actor(user=world.prescriber),
        patient=patient,
        candidacy=None,
        kind=Course.Kind.INDUCTION,
        indication=indication,
        drug_library_key=f"ketamine-{indication}",
        dose_mg_per_kg=Decimal("0.5"),
        duration_min=Decimal(40),
        weight_basis=Course.WeightBasis.ACTUAL,
        pattern=Course.Pattern.THREE_A_WEEK,
        infusions_planned=6,
        start_on=next_monday(),
        weight_kg=Decimal("72.5"),
    )
    chair = Chair.objects.filter(clinic=world.clinic).order_by("name").first()
    assert chair is not None
    hour = dt.time(9, 0) if patient == world.patient else dt.time(13, 0)
    slots = [
        treatment_services.Slot(
            i + 1,
            treatment_services.clinic_datetime(world.clinic, dt.date.fromisoformat(d), hour),
            chair,
            None,
        )
        for i, d in enumerate(course.planned_dates)
    ]
    treatment_services.course_book(actor=Actor(user=world.frontdesk), course=course, slots=slots)
    return course


def open_due_row(patient: Patient, instrument: str = "phq9") -> DueQuestionnaire:
    now = timezone.now()
    return DueQuestionnaire.objects.create(
        patient=patient,
        instrument=instrument,
        timepoint=f"test-{instrument}",
        label="check-in",
        due_at=now - dt.timedelta(hours=1),
        window_ends_at=now + dt.timedelta(days=3),
    )


def answers_post(values: list[int], comment: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {f"item_{n}": v for n, v in enumerate(values, start=1)}
    data["comment"] = comment
    return data


# ---- invitations and enrolment ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["frontdesk", "nurse", "prescriber", "director"])
def test_staff_create_an_invitation_with_a_hashed_expiring_token(
    world: World, client_for: Any, who: str
) -> None:
    patient = world.other_patient
    c = client_for(getattr(world, who))
    assert c.get(reverse("portal_invite", args=[patient.pk])).status_code == 200
    page = c.post(reverse("portal_invite", args=[patient.pk])).content.decode()
    token = re.search(r"/portal/join/([^/\"]+)/", page)
    assert token is not None
    invitation = Invitation.objects.get(patient=patient)
    assert invitation.token_hash == token_hash(token.group(1))
    assert token.group(1) not in invitation.token_hash
    # Clinic setting, default 72 hours.
    assert invitation.expires_at - invitation.created_at == pytest.approx(
        dt.timedelta(hours=72), abs=dt.timedelta(seconds=5)
    )
    patient.refresh_from_db()
    assert patient.user is not None
    assert patient.user.role == Role.PATIENT
    assert not patient.user.has_usable_password()
    assert AuditEntry.objects.filter(object_type="portal_invitation", patient_id=patient.pk)


def test_the_chart_links_to_the_invitation_for_roles_that_invite(
    world: World, client_for: Any
) -> None:
    invite = reverse("portal_invite", args=[world.patient.pk])
    chart = reverse("patient_chart", args=[world.patient.pk])
    for who in (world.frontdesk, world.nurse, world.prescriber, world.director):
        assert invite in client_for(who).get(chart).content.decode()
    assert invite not in verified_client(world.patient_user).get(chart).content.decode()


def test_invitations_are_refused_to_patients_and_other_clinics(
    world: World, client_for: Any
) -> None:
    url = reverse("portal_invite", args=[world.other_patient.pk])
    assert client_for(world.patient_user).get(url).status_code == 404
    assert client_for(world.foreign_prescriber).get(url).status_code == 404
    assert client_for(world.foreign_prescriber).post(url).status_code == 404
    assert not Invitation.objects.exists()


def test_the_invitation_expires_and_works_once(world: World, settings: SettingsWrapper) -> None:
    PortalSettings.objects.create(clinic=world.clinic, invitation_hours=24)
    created = invitation_create(actor=Actor(user=world.frontdesk), patient=world.other_patient)
    assert created.invitation.expires_at > timezone.now() + dt.timedelta(hours=23)
    c = Client()
    page = c.get(created.path).content.decode()
    assert "<svg" in page
    assert "otpauth" not in page.split("<svg")[0][-50:]
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', page)
    assert secret is not None
    key = secret.group(1).replace(" ", "")
    # A weak password is refused by Django's validators; nothing is stored.
    weak = c.post(
        created.path,
        {"password1": "12345678", "password2": "12345678", "code": pyotp.TOTP(key).now()},
    )
    assert weak.status_code == 200
    assert "too short" in weak.content.decode()
    assert not TOTPDevice.objects.exists()
    # A wrong code is refused.
    wrong = c.post(
        created.path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "code": "000000"}
    )
    assert wrong.status_code == 200
    assert not TOTPDevice.objects.exists()
    ok = c.post(
        created.path,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "code": pyotp.TOTP(key).now()},
    )
    assert ok.status_code == 302
    assert ok["Location"] == reverse("portal_home")
    assert c.get(reverse("portal_home")).status_code == 200
    user = User.objects.get(username=created.username)
    assert user.check_password(NEW_PASSWORD)
    assert secret_of(TOTPDevice.objects.get(user=user)) == key
    # Single use: the link is gone, for anyone.
    assert Client().get(created.path).status_code == 404
    assert (
        c.post(created.path, {"password1": "x", "password2": "x", "code": "1"}).status_code == 404
    )
    # Expiry: another patient's link, moved past its expiry.
    later = invitation_create(actor=Actor(user=world.nurse), patient=world.foreign_patient)
    Invitation.objects.filter(pk=later.invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert Client().get(later.path).status_code == 404


def test_a_new_invitation_revokes_the_old_and_an_enrolled_patient_is_not_reinvited(
    world: World,
) -> None:
    first = invitation_create(actor=Actor(user=world.frontdesk), patient=world.other_patient)
    second = invitation_create(actor=Actor(user=world.frontdesk), patient=world.other_patient)
    assert Client().get(first.path).status_code == 404
    assert Client().get(second.path).status_code == 200
    enrol(world.patient_user)
    with pytest.raises(ValueError, match="already has a portal login"):
        invitation_create(actor=Actor(user=world.frontdesk), patient=world.patient)


# ---- the second factor ------------------------------------------------------------------------


def test_a_patient_login_requires_the_totp_code(world: World) -> None:
    secret = enrol(world.patient_user)
    c = Client()
    response = c.post(reverse("login"), {"username": "patient", "password": PASSWORD})
    assert response.status_code == 302
    for url in (
        reverse("portal_home"),
        reverse("patient_chart", args=[world.patient.pk]),
        reverse("portal_scores"),
        reverse("home"),
    ):
        blocked = c.get(url)
        assert blocked.status_code == 302, url
        assert blocked["Location"].startswith(reverse("portal_verify")), url
    assert c.get(reverse("portal_verify")).status_code == 200
    refused = c.post(reverse("portal_verify"), {"code": "123456"})
    assert "does not match" in refused.content.decode()
    code = pyotp.TOTP(secret).now()
    ok = c.post(reverse("portal_verify"), {"code": code, "next": reverse("portal_scores")})
    assert ok.status_code == 302
    assert ok["Location"] == reverse("portal_scores")
    assert c.get(reverse("portal_home")).status_code == 200
    assert AuditEntry.objects.filter(object_type="second_factor", action="login").exists()
    # The same code is not accepted twice (a replayed code in another session).
    other = Client()
    other.post(reverse("login"), {"username": "patient", "password": PASSWORD})
    replay = other.post(reverse("portal_verify"), {"code": code})
    assert replay.status_code == 200
    assert "does not match" in replay.content.decode()
    assert other.get(reverse("portal_home")).status_code == 302


def test_wrong_codes_persist_across_password_logins_and_lock_the_account(world: World) -> None:
    """The code's failure limit lives in the database, per account and address: a new password
    login does not reset it (10 wrong codes over two logins lock the account for the cool-off,
    then even the right password and the right code are refused)."""
    secret = enrol(world.patient_user)
    for _ in range(2):
        c = Client()
        assert (
            c.post(reverse("login"), {"username": "patient", "password": PASSWORD}).status_code
            == 302
        )
        for _ in range(5):
            last = c.post(reverse("portal_verify"), {"code": "000000"})
    assert last.status_code == 429  # the tenth: the lockout page, and the session is ended
    assert "Too many failed attempts" in last.content.decode()
    assert c.get(reverse("portal_home")).status_code == 302
    assert (
        AuditEntry.objects.filter(action="login_failed", object_type="second_factor").count() == 10
    )
    # Locked: the right password is refused with the lockout page, which names no account.
    again = Client()
    refused = again.post(reverse("login"), {"username": "patient", "password": PASSWORD})
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.content.decode()
    assert again.get(reverse("portal_home")).status_code == 302
    # A session logged in before the lockout cannot pass with the right code either.
    before = Client()
    before.force_login(world.patient_user)
    right = before.post(reverse("portal_verify"), {"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 302
    assert right["Location"] == reverse("login")
    assert before.get(reverse("portal_home")).status_code == 302
    lockout = AuditEntry.objects.filter(object_type="lockout", action="denied")
    assert lockout.exists()
    assert lockout.first().clinic_id == world.clinic.pk  # type: ignore[union-attr]


def test_staff_need_their_own_second_factor(world: World) -> None:
    c = Client()
    c.post(reverse("login"), {"username": "nurse", "password": PASSWORD})
    blocked = c.get(reverse("patient_list"))
    assert blocked.status_code == 302
    assert blocked["Location"].startswith(reverse("account_enrol"))


# ---- isolation: every portal URL with another patient's ids ----------------------------------


def _portal_url_names() -> set[str]:
    return {p.name for p in portal_urls.urlpatterns if isinstance(p, URLPattern) and p.name}


def test_every_portal_url_with_another_patients_ids_is_not_found(
    world: World, client_for: Any
) -> None:
    other_user = second_patient_login(world)
    course = booked_course(world, world.other_patient)
    appointment = Appointment.objects.filter(course=course).order_by("sequence").first()
    assert appointment is not None
    session = InfusionSession.objects.create(
        appointment=appointment, patient=world.other_patient, instructions_given=True
    )
    due = open_due_row(world.other_patient, "pcl5")
    done = questionnaire_submit(
        actor=Actor(user=other_user),
        patient=world.other_patient,
        instrument="phq9",
        answers=PHQ9_ITEM9,
    )
    task = done.task
    assert task is not None
    invitation = invitation_create(actor=Actor(user=world.frontdesk), patient=world.foreign_patient)
    me = verified_client(world.patient_user)
    own = open_due_row(world.patient, "gad7")
    # Each URL of the portal, with the other patient's identifiers (or none to give).
    foreign: dict[str, tuple[str, set[int]]] = {
        "portal_due": (reverse("portal_due", args=[due.pk]), {404}),
        "portal_answered": (reverse("portal_answered", args=[done.response.pk]), {404}),
        "portal_instructions": (reverse("portal_instructions", args=[session.pk]), {404}),
        "portal_invite": (reverse("portal_invite", args=[world.other_patient.pk]), {404}),
        "urgent_task_list": (reverse("urgent_task_list"), {404}),
        "urgent_task_detail": (reverse("urgent_task_detail", args=[task.pk]), {404}),
        # Pages without identifiers show only the patient's own data.
        "portal_home": (reverse("portal_home"), {200}),
        "portal_scores": (reverse("portal_scores"), {200}),
        "portal_viewers": (reverse("portal_viewers"), {200}),
        "portal_crisis": (reverse("portal_crisis"), {200}),
        "portal_account": (reverse("portal_account"), {200}),
        "portal_record": (reverse("portal_record"), {200}),
        "portal_record_pdf": (reverse("portal_record_pdf"), {200}),
        "portal_record_json": (reverse("portal_record_json"), {200}),
        "portal_answer": (reverse("portal_answer", args=["phq9"]), {200}),
        "portal_verify": (reverse("portal_verify"), {302}),
        "portal_join": (invitation.path, {200}),  # the link is the credential, no login
    }
    assert set(foreign) == _portal_url_names()
    for name, (url, codes) in foreign.items():
        got = me.get(url).status_code
        assert got in codes, (name, url, got)
    for url in (
        reverse("portal_due", args=[due.pk]),
        reverse("urgent_task_detail", args=[task.pk]),
        reverse("portal_invite", args=[world.other_patient.pk]),
    ):
        assert me.post(url, answers_post(PHQ9_CALM)).status_code == 404, url
    assert DueQuestionnaire.objects.get(pk=due.pk).status == DueQuestionnaire.Status.DUE
    # Nothing of the other patient appears on the pages without identifiers.
    for name in (
        "portal_home",
        "portal_scores",
        "portal_viewers",
        "portal_account",
        "portal_record",
        "portal_record_json",
    ):
        body = me.get(reverse(name)).content.decode()
        assert "Bruno" not in body, name
        assert world.other_patient.mrn not in body, name
        assert f"/portal/due/{due.pk}/" not in body
    assert f"/portal/due/{own.pk}/" in me.get(reverse("portal_home")).content.decode()
    # Staff of another clinic cannot reach the task either.
    assert (
        client_for(world.foreign_prescriber)
        .get(reverse("urgent_task_detail", args=[task.pk]))
        .status_code
        == 404
    )


# ---- the measurement plan ---------------------------------------------------------------------


def test_due_questionnaires_follow_the_plan(world: World) -> None:
    course = booked_course(world, world.patient)
    result = plan_generate()
    appointments = list(Appointment.objects.filter(course=course).order_by("starts_at"))
    assert len(appointments) == 6
    # 6 pre-infusion + 24 h after the first + 24 h after the last + 13 weekly (3 months),
    # each for PCL-5 and PHQ-9 (a PTSD course).
    assert result.created == (6 + 2 + 13) * 2
    rows = DueQuestionnaire.objects.filter(course=course)
    assert set(rows.values_list("instrument", flat=True)) == {"pcl5", "phq9"}
    first, last = appointments[0], appointments[-1]
    pre1 = rows.get(timepoint=f"pre-{first.pk}", instrument="phq9")
    assert pre1.due_at == first.starts_at - dt.timedelta(hours=48)
    assert pre1.window_ends_at == first.starts_at
    assert rows.get(timepoint="post-first", instrument="phq9").due_at == first.starts_at + (
        dt.timedelta(hours=24)
    )
    assert rows.get(timepoint="post-last", instrument="pcl5").due_at == last.starts_at + (
        dt.timedelta(hours=24)
    )
    week13 = rows.get(timepoint="week-13", instrument="phq9")
    assert week13.due_at == last.starts_at + dt.timedelta(weeks=13)
    assert not rows.filter(timepoint="week-14").exists()
    # Idempotent.
    assert plan_generate().created == 0
    # A cancelled infusion's questionnaires expire; a clinic setting changes the plan.
    treatment_services.appointment_cancel(
        actor=Actor(user=world.frontdesk), appointment=appointments[2], reason="patient unwell"
    )
    plan_generate()
    assert set(
        rows.filter(timepoint=f"pre-{appointments[2].pk}").values_list("status", flat=True)
    ) == {"expired"}
    PortalSettings.objects.create(clinic=world.clinic, follow_up_months=1)
    plan_generate()
    assert rows.filter(timepoint="week-5", status="expired").count() == 2
    assert rows.filter(timepoint="week-4", status="due").count() == 2


def test_a_depression_course_asks_phq9_and_gad7(world: World) -> None:
    course = booked_course(world, world.patient, indication="depression")
    plan_generate()
    instruments = set(
        DueQuestionnaire.objects.filter(course=course).values_list("instrument", flat=True)
    )
    assert instruments == {"phq9", "gad7"}


def test_unanswered_questionnaires_expire_and_an_answer_closes_its_due_row(world: World) -> None:
    due = open_due_row(world.patient)
    late = open_due_row(world.patient, "gad7")
    DueQuestionnaire.objects.filter(pk=late.pk).update(
        window_ends_at=timezone.now() - dt.timedelta(minutes=1),
        due_at=timezone.now() - dt.timedelta(days=2),
    )
    plan_generate()
    assert DueQuestionnaire.objects.get(pk=late.pk).status == "expired"
    c = verified_client(world.patient_user)
    response = c.post(reverse("portal_due", args=[due.pk]), answers_post(PHQ9_CALM))
    assert response.status_code == 302
    due.refresh_from_db()
    assert due.status == "answered"
    assert due.response is not None
    assert due.response.source == InstrumentResponse.Source.PORTAL
    assert due.response.total == 3


# ---- reminders --------------------------------------------------------------------------------


def test_reminders_repeat_at_the_interval_then_stop(
    world: World, settings: SettingsWrapper
) -> None:
    settings.PORTAL_REMINDER_COUNT = 3
    settings.PORTAL_REMINDER_INTERVAL_HOURS = 24
    world.patient.email = "alice@example.org"
    world.patient.save(update_fields=["email"])
    due = open_due_row(world.patient)
    DueQuestionnaire.objects.filter(pk=due.pk).update(
        window_ends_at=timezone.now() + dt.timedelta(days=10)
    )
    open_due_row(world.patient, "gad7")  # two due at once: still one email
    now = timezone.now()
    assert reminders_queue(now=now) == 1
    assert reminders_queue(now=now + dt.timedelta(hours=1)) == 0  # not before the interval
    assert reminders_queue(now=now + dt.timedelta(hours=25)) == 1
    assert reminders_queue(now=now + dt.timedelta(hours=50)) == 1
    assert reminders_queue(now=now + dt.timedelta(hours=75)) == 0  # three sent: stop
    due.refresh_from_db()
    assert due.reminders_sent == 3
    assert EmailOutbox.objects.filter(kind="reminder").count() == 3
    # A patient without a portal login or email is not emailed.
    open_due_row(world.other_patient)
    assert reminders_queue(now=now + dt.timedelta(days=9)) == 0


def test_no_patient_data_in_any_email_body(world: World, settings: SettingsWrapper) -> None:
    staff_emails(world)
    world.patient.email = "alice@example.org"
    world.patient.save(update_fields=["email"])
    world.other_patient.email = "bruno@example.org"
    world.other_patient.save(update_fields=["email"])
    open_due_row(world.patient)
    reminders_queue()
    invitation = invitation_create(actor=Actor(user=world.frontdesk), patient=world.other_patient)
    questionnaire_submit(
        actor=Actor(user=world.patient_user),
        patient=world.patient,
        instrument="phq9",
        answers=PHQ9_ITEM9,
        comment="I want to die",
    )
    assert outbox_send().sent >= 5
    kinds = {m.subject for m in mail.outbox}
    assert len(kinds) == 3  # reminder, invitation, urgent notice
    forbidden = [
        world.patient.given_name,
        world.patient.family_name,
        world.patient.mrn,
        world.other_patient.given_name,
        world.other_patient.family_name,
        world.other_patient.mrn,
        "PHQ",
        "PCL",
        "GAD",
        "item 9",
        "want to die",
        "1985",
    ]
    for message in mail.outbox:
        # The link's random token and the random handle may spell anything ("...ucphq9x..."
        # failed CI once): they are taken out before the words are looked for.
        text = f"{message.subject}\n{message.body}".replace(invitation.token, "<token>")
        text = text.replace(invitation.username, "<handle>")
        for word in forbidden:
            assert word.lower() not in text.lower(), (word, message.subject)
        assert "http://" in message.body or "https://" in message.body
    reminder = next(m for m in mail.outbox if m.to == ["alice@example.org"])
    assert "You have a questionnaire waiting in the KetaFlow portal" in reminder.body


# ---- safety -----------------------------------------------------------------------------------


def test_phq9_item9_in_the_portal_raises_a_task_and_shows_crisis_resources(
    world: World, settings: SettingsWrapper
) -> None:
    staff_emails(world)
    c = verified_client(world.patient_user)
    response = c.post(reverse("portal_answer", args=["phq9"]), answers_post(PHQ9_ITEM9))
    assert response.status_code == 302
    # Immediately, without the worker: the task, its audit entry, and pending notices.
    saved = InstrumentResponse.objects.get(patient=world.patient)
    task = UrgentTask.objects.get(response=saved)
    assert task.is_open
    assert task.clinic == world.clinic
    assert "PHQ-9 item 9" in task.reasons[0]
    assert "answered 2" in task.reasons[0]
    assert AuditEntry.objects.filter(object_type="urgent_task", patient_id=world.patient.pk)
    pending = EmailOutbox.objects.filter(kind="urgent", status="pending")
    # Director, prescriber and nurse acknowledge urgent tasks; front desk does not.
    assert sorted(pending.values_list("to", flat=True)) == [
        "director@clinic.example",
        "nurse@clinic.example",
        "prescriber@clinic.example",
    ]
    assert mail.outbox == []
    page = c.get(response["Location"]).content.decode()
    assert 'id="crisis-resources"' in page
    assert "988" in page
    assert "911" in page
    # The crisis link is on every portal page.
    for name in ("portal_home", "portal_scores", "portal_viewers"):
        assert 'id="crisis-link"' in c.get(reverse(name)).content.decode()
    calm = c.post(reverse("portal_answer", args=["gad7"]), answers_post([0, 1, 0, 1, 0, 0, 1]))
    assert 'id="crisis-resources"' not in c.get(calm["Location"]).content.decode()


def test_the_crisis_text_is_a_clinic_setting(world: World) -> None:
    PortalSettings.objects.create(
        clinic=world.clinic, crisis_text="Call the Samaritans on 116 123 (UK and Ireland)."
    )
    c = verified_client(world.patient_user)
    response = c.post(reverse("portal_answer", args=["phq9"]), answers_post(PHQ9_ITEM9))
    assert "116 123" in c.get(response["Location"]).content.decode()


def test_no_task_without_a_flag(world: World) -> None:
    actor = Actor(user=world.nurse)
    response_record(actor=actor, patient=world.patient, instrument="phq9", answers=PHQ9_CALM)
    response_record(
        actor=actor,
        patient=world.patient,
        instrument="cssrs",
        answers=[True, False, False, False, False, False],
    )
    assert not UrgentTask.objects.exists()


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        ([True, True, True, False, False, False], "moderate"),
        ([True, True, True, True, False, False], "high"),
    ],
)
def test_a_cssrs_at_moderate_or_high_risk_recorded_in_clinic_raises_a_task(
    world: World, answers: list[bool], risk: str
) -> None:
    response = response_record(
        actor=Actor(user=world.nurse),
        patient=world.patient,
        instrument="cssrs",
        answers=answers,
        context="pre-infusion",
    )
    task = UrgentTask.objects.get(response=response)
    assert task.reasons == [f"C-SSRS screener: {risk} risk"]


def test_a_comment_with_a_review_term_raises_a_task(world: World) -> None:
    c = verified_client(world.patient_user)
    c.post(
        reverse("portal_answer", args=["gad7"]),
        answers_post([0, 0, 0, 0, 0, 0, 0], "Some nights I think about Suicide."),
    )
    task = UrgentTask.objects.get(patient=world.patient)
    assert task.reasons == ["Portal comment contains review terms: suicide"]
    c.post(
        reverse("portal_answer", args=["gad7"]),
        answers_post([0, 0, 0, 0, 0, 0, 0], "Slept better; the suicidology podcast was good."),
    )
    assert UrgentTask.objects.count() == 1  # whole words only
    # The terms are a clinic setting.
    PortalSettings.objects.create(clinic=world.clinic, review_terms=["give up"])
    c.post(
        reverse("portal_answer", args=["gad7"]),
        answers_post([0, 0, 0, 0, 0, 0, 0], "I might just give up."),
    )
    assert UrgentTask.objects.count() == 2
    # Item 9 and a comment on one response make one task with both reasons.
    c.post(reverse("portal_answer", args=["phq9"]), answers_post(PHQ9_ITEM9, "I give up"))
    both = UrgentTask.objects.latest("pk")
    assert len(both.reasons) == 2
    assert UrgentTask.objects.count() == 3


def test_the_task_is_in_the_same_transaction_as_the_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the task cannot be written, the answer is not saved either (and vice versa): a flag
    can never exist without its task."""

    def broken_save(self: UrgentTask, *args: Any, **kwargs: Any) -> None:
        raise IntegrityError("disk full")

    monkeypatch.setattr(UrgentTask, "save", broken_save)
    with pytest.raises(IntegrityError):
        response_record(
            actor=Actor(user=world.nurse),
            patient=world.patient,
            instrument="phq9",
            answers=PHQ9_ITEM9,
        )
    assert not InstrumentResponse.objects.exists()
    assert not AuditEntry.objects.filter(object_type="instrument_response").exists()


def test_nothing_is_lost_when_the_email_server_is_down(
    world: World, settings: SettingsWrapper, caplog: pytest.LogCaptureFixture
) -> None:
    staff_emails(world)
    settings.EMAIL_BACKEND = "tests.portal.test_portal.FailingBackend"
    questionnaire_submit(
        actor=Actor(user=world.patient_user),
        patient=world.patient,
        instrument="phq9",
        answers=PHQ9_ITEM9,
    )
    # The worker has not run: the task is there, and the notices wait in the outbox.
    assert UrgentTask.objects.filter(patient=world.patient, acknowledged_at=None).count() == 1
    assert EmailOutbox.objects.filter(kind="urgent", status="pending").count() == 3
    now = timezone.now()
    result = outbox_send(now=now)
    assert (result.sent, result.failed) == (0, 3)
    assert "failed (attempt 1)" in caplog.text  # logged
    row = EmailOutbox.objects.filter(kind="urgent").first()
    assert row is not None
    assert row.status == "pending"
    assert row.attempts == 1
    assert "SMTP server unreachable" in row.last_error
    assert row.next_attempt_at == now + dt.timedelta(seconds=60)
    # Not retried before the backoff; the second failure doubles it.
    assert outbox_send(now=now + dt.timedelta(seconds=30)).failed == 0
    outbox_send(now=now + dt.timedelta(seconds=61))
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.next_attempt_at == now + dt.timedelta(seconds=61 + 120)
    # The server is back: everything goes out.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    result = outbox_send(now=now + dt.timedelta(hours=1))
    assert (result.sent, result.failed) == (3, 0)
    assert len(mail.outbox) == 3
    assert not EmailOutbox.objects.filter(status="pending").exists()
    assert UrgentTask.objects.get().is_open  # email does not acknowledge anything


def test_the_worker_once_sends_the_outbox(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    staff_emails(world)
    response_record(
        actor=Actor(user=world.nurse), patient=world.patient, instrument="phq9", answers=PHQ9_ITEM9
    )
    booked_course(world, world.patient)
    assert main(["worker", "--once"]) == 0
    out = capsys.readouterr().out
    assert "emails sent: 3" in out
    assert "42 new" in out
    assert len(mail.outbox) == 3
    assert main(["worker", "--once"]) == 0
    assert "emails sent: 0" in capsys.readouterr().out


def test_the_banner_is_on_every_staff_page_until_acknowledged(
    world: World, client_for: Any
) -> None:
    response = response_record(
        actor=Actor(user=world.nurse), patient=world.patient, instrument="phq9", answers=PHQ9_ITEM9
    )
    task = UrgentTask.objects.get(response=response)
    nurse = client_for(world.nurse)
    for url in (
        reverse("home"),
        reverse("patient_list"),
        reverse("patient_chart", args=[world.other_patient.pk]),
        reverse("chair_board"),
    ):
        page = nurse.get(url).content.decode()
        assert 'id="urgent-banner"' in page, url
        assert reverse("urgent_task_detail", args=[task.pk]) in page
    for who in (world.frontdesk, world.foreign_prescriber):
        assert 'id="urgent-banner"' not in client_for(who).get(reverse("home")).content.decode()
    assert 'id="urgent-banner"' not in (
        verified_client(world.patient_user).get(reverse("portal_home")).content.decode()
    )
    # Acknowledgement needs an action and a note; front desk may not.
    url = reverse("urgent_task_detail", args=[task.pk])
    assert client_for(world.frontdesk).post(url, {"action_taken": "other"}).status_code == 403
    missing = nurse.post(url, {"action_taken": "called_patient", "note": ""})
    assert missing.status_code == 200
    assert UrgentTask.objects.get().is_open
    done = nurse.post(
        url, {"action_taken": "called_patient", "note": "Called; safety plan reviewed."}
    )
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.acknowledged_by == world.nurse
    assert task.acknowledged_at is not None
    assert task.action_taken == "called_patient"
    assert AuditEntry.objects.filter(
        object_type="urgent_task", action="update", summary__contains="acknowledged"
    ).exists()
    assert 'id="urgent-banner"' not in nurse.get(reverse("home")).content.decode()
    again = nurse.post(url, {"action_taken": "other", "note": "again"})
    assert "already acknowledged" in again.content.decode()


def test_every_portal_page_is_audited(world: World, client_for: Any) -> None:
    c = verified_client(world.patient_user)
    response = c.post(reverse("portal_answer", args=["phq9"]), answers_post(PHQ9_CALM))
    before = AuditEntry.objects.filter(action="view").count()
    pages = [
        reverse("portal_home"),
        reverse("portal_scores"),
        reverse("portal_viewers"),
        reverse("portal_crisis"),
        reverse("portal_account"),
        reverse("portal_answer", args=["pcl5"]),
        response["Location"],
    ]
    for url in pages:
        assert c.get(url).status_code == 200, url
    assert AuditEntry.objects.filter(action="view").count() == before + len(pages)
    task = UrgentTask.objects.create(clinic=world.clinic, patient=world.patient, reasons=["x"])
    nurse = client_for(world.nurse)
    nurse.get(reverse("urgent_task_detail", args=[task.pk]))
    nurse.get(reverse("urgent_task_list"))
    assert AuditEntry.objects.filter(object_type="urgent_task_page", actor=world.nurse).count() == 2


def test_who_viewed_my_record_lists_staff_without_addresses(world: World, client_for: Any) -> None:
    client_for(world.prescriber).get(
        reverse("patient_chart", args=[world.patient.pk]), REMOTE_ADDR="203.0.113.9"
    )
    client_for(world.nurse).get(reverse("patient_chart", args=[world.other_patient.pk]))
    page = verified_client(world.patient_user).get(reverse("portal_viewers")).content.decode()
    assert "Dana" in page  # the prescriber's name
    assert "Prescriber" in page
    assert "203.0.113.9" not in page
    # The nurse saw only the other patient: not listed here.
    viewers = re.findall(r"<tr><td>.*?</tr>", page, flags=re.S)
    assert not any("nurse" in row for row in viewers)


def test_my_scores_are_drawn_as_a_chart(world: World) -> None:
    for days, answers in ((21, [2] * 9), (14, [2] * 8 + [0]), (7, [1] * 8 + [0])):
        response_record(
            actor=Actor(user=world.nurse),
            patient=world.patient,
            instrument="phq9",
            answers=answers,
            taken_at=timezone.now() - dt.timedelta(days=days),
        )
    page = verified_client(world.patient_user).get(reverse("portal_scores")).content.decode()
    assert 'id="chart-phq9"' in page
    chart = page.split('id="chart-phq9"')[1].split("</figure>")[0]
    assert chart.count('class="chart-dot"') == 3  # one dot per answer, drawn once on the page
    assert page.count('class="chart-svg"') == 1  # no second picture of the same scores
    assert "style=" not in chart
    # The severity bands and the thresholds are dashed, labelled lines, not dots or the legend.
    assert "Moderate from 10" in chart
    legend = chart.split('class="chart-legend"')[1].split("</ul>")[0]
    assert "Moderate" not in legend
    # The table says where each answer was given.
    table = chart.split("<table")[1]
    assert table.count(", at the clinic</th>") == 3
    other = verified_client(second_patient_login(world)).get(reverse("portal_scores"))
    assert 'id="chart-phq9"' not in other.content.decode()  # nothing of Alice's


def test_the_demo_helper_gives_the_patient_a_fixed_totp_and_one_open_task(world: World) -> None:
    result = load_demo(clinic=world.clinic, today=timezone.localdate(), staff=world.staff())
    assert result.totp_secret == DEMO_TOTP_KEY
    assert result.otpauth_uri.startswith("otpauth://totp/KetaFlow:patient?secret=")
    assert secret_of(TOTPDevice.objects.get(user=world.patient_user)) == DEMO_TOTP_KEY
    assert result.due_created >= 2
    assert result.urgent_tasks_created == 1
    assert UrgentTask.objects.filter(clinic=world.clinic, acknowledged_at=None).count() == 1
    again = load_demo(clinic=world.clinic, today=timezone.localdate(), staff=world.staff())
    assert (again.due_created, again.urgent_tasks_created) == (0, 0)


def test_a_patient_login_without_a_second_factor_opens_nothing(world: World) -> None:
    """A patient account made outside an invitation (e.g. in the admin) has no TOTP device:
    its password alone reaches no page, not even the patient's own chart."""
    assert not TOTPDevice.objects.filter(user=world.patient_user).exists()
    client = Client()
    assert (
        client.post(reverse("login"), {"username": "patient", "password": PASSWORD}).status_code
        == 302
    )
    for url in (
        reverse("portal_home"),
        reverse("patient_chart", args=[world.patient.pk]),
        reverse("portal_scores"),
    ):
        response = client.get(url, follow=True)
        assert response.status_code == 403, url
        assert "Your account needs a second factor" in response.content.decode()
        assert "Alice" not in response.content.decode()


def test_the_crisis_page_gives_the_lines_and_the_clinics_number(world: World) -> None:
    from ketaflow.accounts.models import Clinic

    me = verified_client(world.patient_user)
    Clinic.objects.filter(pk=world.clinic.pk).update(phone="+1 555 0100 200")
    page = me.get(reverse("portal_crisis")).content.decode()
    assert 'href="tel:988"' in page
    assert "press 1" in page
    assert 'href="tel:911"' in page
    assert 'href="tel:+15550100200"' in page
    assert "+1 555 0100 200" in page
    assert world.clinic.name in page
    Clinic.objects.filter(pk=world.clinic.pk).update(phone="")
    page = me.get(reverse("portal_crisis")).content.decode()
    assert "ask the front desk for the clinic's number" in page
    assert "Your clinic." not in page


def test_staff_opening_the_portals_code_step_go_to_their_home_page(world: World) -> None:
    for user in (world.nurse, world.director):
        response = verified_client(user).get(reverse("portal_verify"))
        assert response.status_code == 302
        assert response["Location"] == reverse("home")


def test_the_banner_names_each_patient_without_a_read_a_task(world: World, client_for: Any) -> None:
    """The banner reads the tasks it lists and their patients' names in one query: a page with
    five open tasks, of two patients (one with a preferred name), makes one query more than
    with one (the count, asked only when the banner is full), none a task, and shows each
    patient by the name the clinic uses."""
    Patient.objects.filter(pk=world.other_patient.pk).update(preferred_name="Sunny")
    other = Patient.objects.get(pk=world.other_patient.pk)

    def page_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            page = client_for(world.nurse).get(reverse("patient_list")).content.decode()
        return len(queries), page.split('id="urgent-banner"', 1)[1].split("</aside>", 1)[0]

    UrgentTask.objects.create(clinic=world.clinic, patient=world.patient, reasons=["first"])
    page_queries()  # the first page of a login writes what later pages do not
    one, _ = page_queries()
    for n in range(4):
        patient = other if n % 2 else world.patient
        UrgentTask.objects.create(clinic=world.clinic, patient=patient, reasons=[f"r{n}"])
    five, banner = page_queries()
    assert five == one + 1
    assert banner.count("<li>") == 5
    assert f"{world.patient.display_name}: first" in banner
    assert f"Sunny {other.family_name}: r1" in banner


@pytest.mark.parametrize("open_tasks", [2, 5, 6, 9])
def test_the_banner_counts_every_open_task_and_lists_the_oldest_five(
    world: World, client_for: Any, open_tasks: int
) -> None:
    for n in range(open_tasks):
        UrgentTask.objects.create(clinic=world.clinic, patient=world.patient, reasons=[f"r{n}"])
    acknowledged = UrgentTask.objects.create(
        clinic=world.clinic, patient=world.patient, reasons=["done"]
    )
    UrgentTask.objects.filter(pk=acknowledged.pk).update(acknowledged_at=timezone.now())
    page = client_for(world.nurse).get(reverse("patient_list")).content.decode()
    banner = page.split('id="urgent-banner"', 1)[1].split("</aside>", 1)[0]
    assert f"{open_tasks} urgent tasks waiting for acknowledgement" in banner
    assert banner.count("<li>") == min(open_tasks, 5)
    assert f"Urgent tasks ({open_tasks})" in page
    assert "done" not in banner


def test_the_home_page_reads_the_infusions_with_their_days_at_once(world: World) -> None:
    """The home page links the instructions of each discharged infusion by its day; each
    infusion's appointment was a query of its own. Three more infusions: no query more, and each
    day shown."""
    me = verified_client(world.patient_user)

    def home() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            page = me.get(reverse("portal_home")).content.decode()
        return len(queries), page

    def discharged() -> InfusionSession:
        return session_in(
            world,
            world.patient,
            InfusionSession.Status.SIGNED,
            instructions_given=True,
            discharged_at=timezone.now(),
        )

    discharged()
    home()  # the first page of a login writes what later pages do not
    one, _ = home()
    sessions = [discharged() for _ in range(3)]
    four, page = home()
    assert four == one
    assert page.count("After your infusion of ") == 4
    for session in sessions:
        assert reverse("portal_instructions", args=[session.pk]) in page
