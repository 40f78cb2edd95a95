"""Who entered what: the server stores a queued entry under the logged-in user and refuses
one queued under another user (a second nurse replaying the first one's tablet queue); the
refusal is audited. Logging out tells the browser to drop what it kept (Clear-Site-Data), and
every staff page tells signout.js who is logged in and the idle log-off time. The browser side
(nurse B sees and sends nothing of nurse A's) is in test_browser_offline_queue.py."""

from __future__ import annotations

import uuid
from typing import Any

from django.test import Client
from django.urls import reverse

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEntry
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from tests.infusions.builders import FRAGMENT, open_session
from tests.web.conftest import World, make_user


def _vitals(session: InfusionSession, **extra: Any) -> dict[str, Any]:
    return {
        "client_uuid": str(uuid.uuid4()),
        "systolic_mmhg": "131",
        "diastolic_mmhg": "79",
        "heart_rate_bpm": "70",
        "spo2_percent": "99",
        "respiratory_rate_per_min": "14",
        **extra,
    }


def test_a_queued_entry_is_stored_under_the_user_it_was_queued_by(
    world: World, client_for: Any
) -> None:
    session = open_session(world)
    url = reverse("infusion_action", args=[session.pk, "vitals"])
    response = client_for(world.nurse).post(
        url, _vitals(session, queued_by=str(world.nurse.pk)), **FRAGMENT
    )
    assert response.status_code == 200, response.json()
    assert VitalsEntry.objects.get().by == world.nurse


def test_a_replay_under_another_login_is_refused_and_audited(world: World, client_for: Any) -> None:
    session = open_session(world)
    second = make_user(world.clinic, "nurse-b", Role.NURSE)
    url = reverse("infusion_action", args=[session.pk, "vitals"])
    response = client_for(second).post(
        url, _vitals(session, queued_by=str(world.nurse.pk)), **FRAGMENT
    )
    assert response.status_code == 400
    assert "queued on this tablet by another user" in response.json()["message"]
    assert not VitalsEntry.objects.exists()
    denied = AuditEntry.objects.get(action="denied", actor=second)
    assert denied.patient_id == world.patient.pk
    assert f"(id {world.nurse.pk})" in denied.summary
    # A forged author field is not how the author is chosen: the logged-in user is.
    ok = client_for(second).post(url, _vitals(session, by=str(world.nurse.pk)), **FRAGMENT)
    assert ok.status_code == 200
    assert VitalsEntry.objects.get().by == second


def test_every_queued_kind_is_checked(world: World, client_for: Any) -> None:
    session = open_session(world)
    second = make_user(world.clinic, "nurse-b", Role.NURSE)
    c = client_for(second)
    for action, data in (
        ("event", {"kind": "start", "client_uuid": str(uuid.uuid4())}),
        ("side-effect", {"kind": "nausea", "severity": "mild", "client_uuid": str(uuid.uuid4())}),
    ):
        response = c.post(
            reverse("infusion_action", args=[session.pk, action]),
            {**data, "queued_by": str(world.nurse.pk)},
            **FRAGMENT,
        )
        assert response.status_code == 400, action
        assert "queued on this tablet by another user" in response.json()["message"], action
    assert not session.events.exists()
    assert not session.side_effects.exists()


def test_logging_out_clears_the_browser_data(world: World) -> None:
    c = Client()
    c.force_login(world.nurse)
    response = c.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    assert AuditEntry.objects.filter(action="logout", actor=world.nurse).exists()


def test_pages_tell_the_script_who_is_logged_in_and_the_idle_time(
    world: World, client_for: Any, settings: Any
) -> None:
    settings.SESSION_IDLE_SECONDS = 600
    session = open_session(world)
    html = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk])).content
    page = html.decode()
    assert f'data-user="{world.nurse.pk}" data-idle-seconds="600"' in page
    assert "ketaflow/signout.js" in page
    assert "data-logout" in page
    login_page = Client().get(reverse("login")).content.decode()
    assert "ketaflow/signout.js" in login_page
    assert "data-user=" not in login_page
