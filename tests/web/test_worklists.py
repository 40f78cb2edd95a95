"""The home page's worklists: each role sees what waits for it today, one click from its page;
another clinic's work never appears; the patients shown are named in the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEntry
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services as ledger
from ketaflow.portal.models import UrgentTask
from ketaflow.treatment.models import Course
from ketaflow.web import selectors
from tests.infusions.builders import assessed, make_appointment, session_in
from tests.ledger.builders import count_lines_for, nurse, receive
from tests.web.conftest import World, make_user


def _foreign_director(world: World) -> User:
    return make_user(world.other_clinic, "foreign-director", Role.MEDICAL_DIRECTOR)


@pytest.fixture
def work(world: World) -> dict[str, Any]:
    """Work waiting in both clinics."""
    mine = {
        "candidacy": assessed(world, world.other_patient, "needs_review"),
        "cosign": session_in(world, world.patient, InfusionSession.Status.COSIGN),
        "task": UrgentTask.objects.create(
            clinic=world.clinic, patient=world.patient, reasons=["PHQ-9 item 9"]
        ),
    }
    foreign_candidacy = assessed(world, world.foreign_patient)
    UrgentTask.objects.create(
        clinic=world.other_clinic, patient=world.foreign_patient, reasons=["PHQ-9 item 9"]
    )
    mine["foreign_candidacy"] = foreign_candidacy
    return mine


def _html(client_for: Any, user: User) -> str:
    response = client_for(user).get(reverse("home"))
    assert response.status_code == 200
    return str(response.content.decode())


def test_prescriber_sees_candidacies_cosignatures_and_urgent_tasks(
    world: World, work: dict[str, Any], client_for: Any
) -> None:
    before = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    html = _html(client_for, world.prescriber)
    assert 'id="worklist-candidacies"' in html
    assert reverse("candidacy_detail", args=[work["candidacy"].pk]) in html
    assert reverse("infusion_session", args=[work["cosign"].pk]) in html
    assert reverse("urgent_task_detail", args=[work["task"].pk]) in html
    assert world.other_patient.display_name in html
    # Another clinic's work is nowhere; no permission codes on the page.
    assert reverse("candidacy_detail", args=[work["foreign_candidacy"].pk]) not in html
    assert world.foreign_patient.display_name not in html
    assert "You may:" not in html
    assert "sign_candidacy" not in html
    assert 'id="worklist-settings"' not in html  # the director's
    # The patients shown are named in one audit entry of the request.
    entry = AuditEntry.objects.get(pk__gt=before, object_type="worklists")
    assert entry.actor == world.prescriber
    assert set(entry.patient_ids) == {world.patient.pk, world.other_patient.pk}


def test_a_signed_candidacy_leaves_the_worklist(
    world: World, work: dict[str, Any], client_for: Any
) -> None:
    CandidacyAssessment.objects.filter(pk=work["candidacy"].pk).update(
        status="signed", signed_by=world.prescriber, signed_at=timezone.now()
    )
    worklist = selectors.candidacies_awaiting_sign_off(world.prescriber)
    assert worklist is not None
    assert worklist.items == []
    assert "No candidacy awaits a decision." in _html(client_for, world.prescriber)


def test_director_sees_settings_awaiting_sign_off(
    world: World, work: dict[str, Any], client_for: Any
) -> None:
    html = _html(client_for, world.director)
    assert 'id="worklist-settings"' in html
    assert reverse("clinic_settings") + "#setting-" in html
    assert 'id="worklist-candidacies"' in html


def test_other_clinics_director_sees_none_of_this_clinics_work(
    world: World, work: dict[str, Any], client_for: Any
) -> None:
    director = _foreign_director(world)
    html = _html(client_for, director)
    assert reverse("candidacy_detail", args=[work["foreign_candidacy"].pk]) in html
    assert reverse("candidacy_detail", args=[work["candidacy"].pk]) not in html
    assert reverse("infusion_session", args=[work["cosign"].pk]) not in html
    assert reverse("urgent_task_detail", args=[work["task"].pk]) not in html
    assert world.patient.display_name not in html
    assert world.other_patient.display_name not in html
    for fn in selectors.WORKLISTS_BY_ROLE[Role.MEDICAL_DIRECTOR]:
        worklist = fn(director)
        assert worklist is not None
        assert not {world.patient.pk, world.other_patient.pk} & set(worklist.patient_ids)


def test_a_patient_has_no_worklists_and_goes_to_the_portal(
    world: World, work: dict[str, Any], client_for: Any
) -> None:
    response = client_for(world.patient_user).get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal_home")
    assert client_for(world.patient_user).post(reverse("home")).status_code == 302
    assert selectors.worklists_for(world.patient_user) == []
    # And a logged-out visitor is sent to the login page.
    assert Client().get(reverse("home")).status_code == 302


def test_nurse_sees_vitals_due_notes_to_sign_and_tasks(
    world: World, work: dict[str, Any], client_for: Any
) -> None:
    started = timezone.now() - dt.timedelta(minutes=50)
    running = session_in(
        world, world.other_patient, InfusionSession.Status.RUNNING, started_at=started
    )
    discharged = session_in(world, world.patient, InfusionSession.Status.DISCHARGED)
    vitals = selectors.vitals_due_today(world.nurse)
    assert vitals is not None
    [item] = vitals.items
    assert item.url == reverse("infusion_session", args=[running.pk])
    assert item.overdue
    html = _html(client_for, world.nurse)
    assert "Vitals overdue by" in html
    assert reverse("infusion_session", args=[discharged.pk]) in html
    assert reverse("urgent_task_detail", args=[work["task"].pk]) in html
    # The nurse does not co-sign nor sign candidacies.
    assert 'id="worklist-cosign"' not in html
    assert 'id="worklist-candidacies"' not in html
    # Another clinic's nurse sees none of it.
    foreign_nurse = make_user(world.other_clinic, "foreign-nurse", Role.NURSE)
    foreign = selectors.vitals_due_today(foreign_nurse)
    assert foreign is not None
    assert foreign.items == []
    assert world.other_patient.display_name not in _html(client_for, foreign_nurse)


def test_front_desk_sees_todays_appointments_and_unbooked_courses(
    world: World, client_for: Any
) -> None:
    appointment = make_appointment(world, world.patient)
    planned = Course.objects.filter(pk=appointment.course_id)
    planned.update(status=Course.Status.PLANNED)
    html = _html(client_for, world.frontdesk)
    assert 'id="worklist-appointments"' in html
    assert world.patient.display_name in html
    assert reverse("course_book", args=[appointment.course_id]) in html
    # Names and times, nothing clinical.
    assert 'id="worklist-candidacies"' not in html
    assert 'id="worklist-urgent"' not in html
    assert "mg" not in html.split('id="worklist-appointments"')[1].split("</section>")[0]
    foreign = make_user(world.other_clinic, "foreign-frontdesk", Role.FRONT_DESK)
    assert world.patient.display_name not in _html(client_for, foreign)


def test_count_due_until_todays_count_is_recorded(world: World, client_for: Any) -> None:
    assert selectors.counts_due(world.nurse) == selectors.Worklist(
        "counts", "Controlled-substance counts due", "No count is due today.", []
    )
    stock = receive(world)
    due = selectors.counts_due(world.nurse)
    assert due is not None
    assert [i.url for i in due.items] == [reverse("ledger_count_new")]
    assert reverse("ledger_count_new") in _html(client_for, world.prescriber)
    assert selectors.counts_due(world.frontdesk) is None
    foreign = selectors.counts_due(world.foreign_prescriber)
    assert foreign is not None
    assert foreign.items == []
    ledger.count_record(
        actor=nurse(world), clinic=world.clinic, shift="opening", lines=count_lines_for(stock)
    )
    done = selectors.counts_due(world.nurse)
    assert done is not None
    assert done.items == []
