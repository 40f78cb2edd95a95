"""The infusion chair's gates (issue 11 items 3, 4, 6, 7): a critical baseline blocks the start
until a prescriber overrides it; a critical reading reaches the prescribers (urgent task, email,
adverse event) and resuming needs their decision; pause and early stop need a reason; discharge
waits for the observation time; a note with a critical reading or an override needs the
prescriber's co-signature before it is locked. Each gate both ways, and each new action as the
nurse, the prescriber, the other clinic's director and a patient."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import Credential, User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.infusions import lock, services
from ketaflow.infusions.models import (
    PLAN_FIGURES,
    AdverseEvent,
    InfusionEvent,
    InfusionSession,
    PrescriberDecision,
    SideEffect,
    VitalsEntry,
)
from ketaflow.outcomes.dashboard import Filters, dashboard
from ketaflow.patients.models import Patient
from ketaflow.portal.models import EmailOutbox, UrgentTask
from ketaflow.treatment.models import ScheduleSettings
from tests.infusions.builders import (
    FRAGMENT,
    baseline,
    discharge,
    event,
    nurse_actor,
    prepare,
    refusal,
    run_to_stop,
    side_effect,
)
from tests.web.conftest import World, make_user

CRITICAL_BASELINE = {"systolic_mmhg": 185, "diastolic_mmhg": 115}


def prescriber(world: World) -> Actor:
    return Actor(user=world.prescriber)


def foreign_director(world: World) -> User:
    return make_user(world.other_clinic, "harbour-director", Role.MEDICAL_DIRECTOR)


def critical_baseline_session(world: World) -> InfusionSession:
    session = prepare(world, skip="baseline vitals")
    baseline(world, session, **CRITICAL_BASELINE)
    session.refresh_from_db()
    return session


def reading(world: World, session: InfusionSession, at: dt.datetime, **extra: Any) -> VitalsEntry:
    values: dict[str, Any] = {
        "systolic_mmhg": 124,
        "diastolic_mmhg": 78,
        "heart_rate_bpm": 74,
        "spo2_percent": 98,
        "respiratory_rate_per_min": 14,
    }
    values.update(extra)
    return services.vitals_record(
        actor=nurse_actor(world),
        session=session,
        client_uuid=uuid.uuid4(),
        measured_at=at,
        **values,
    )


def outsiders(world: World) -> list[User]:
    """Who must neither see nor change anything: the other clinic's director, a patient."""
    return [foreign_director(world), world.patient_user]


# ---- item 3: a baseline at or above the critical limits ------------------------------------


def test_a_critical_baseline_blocks_the_start_naming_the_reading(world: World) -> None:
    session = critical_baseline_session(world)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "start", timezone.now())
    text = refusal(exc)
    assert "baseline vitals: 185/115" in text
    assert "CRITICAL" in text
    assert text.count("Cannot start") == 1
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.CHECKLIST


def test_a_normal_baseline_does_not_block_and_needs_no_override(world: World) -> None:
    session = prepare(world)
    assert not [p for p in services.start_problems(session, world.nurse) if "baseline" in p]
    with pytest.raises(ValidationError) as exc:
        services.baseline_override(actor=prescriber(world), session=session, reason="fine")
    assert "no baseline reading at or above the critical limits" in refusal(exc)


def test_a_prescriber_overrides_with_a_reason_then_the_nurse_starts(world: World) -> None:
    session = critical_baseline_session(world)
    with pytest.raises(ValidationError) as exc:
        services.baseline_override(actor=nurse_actor(world), session=session, reason="ok")
    assert "Infusion nurse cannot order an infusion" in refusal(exc)
    with pytest.raises(ValidationError) as exc:
        services.baseline_override(actor=prescriber(world), session=session, reason="  ")
    assert "reason" in exc.value.message_dict
    services.baseline_override(
        actor=prescriber(world),
        session=session,
        reason="Anxious on arrival; repeat 178/108 after 10 min rest; start at the planned rate.",
    )
    session.refresh_from_db()
    assert session.baseline_override_by == world.prescriber
    assert AuditEntry.objects.filter(
        actor=world.prescriber, summary__startswith="overrode the critical baseline 185/115"
    ).exists()
    event(world, session, "start", timezone.now())
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.RUNNING


def test_an_override_covers_only_the_reading_it_named(world: World) -> None:
    session = critical_baseline_session(world)
    services.baseline_override(actor=prescriber(world), session=session, reason="reviewed")
    baseline(world, session, systolic_mmhg=190, diastolic_mmhg=118)
    session.refresh_from_db()
    problems = services.start_problems(session, world.nurse)
    assert any(p.startswith("baseline vitals: 190/118") for p in problems)
    baseline(world, session)  # re-measured, normal
    session.refresh_from_db()
    assert not [p for p in services.start_problems(session, world.nurse) if "baseline" in p]


def test_the_override_over_http(world: World, client_for: Any) -> None:
    session = critical_baseline_session(world)
    url = reverse("infusion_action", args=[session.pk, "override-baseline"])
    data = {"reason": "Reviewed at the chair."}
    assert client_for(world.nurse).post(url, data).status_code == 403
    for user in outsiders(world):
        response = client_for(user).post(url, data)
        assert response.status_code == 404
        assert b"185/115" not in response.content
        assert client_for(user).get(url).status_code in (404, 405)
    session.refresh_from_db()
    assert session.baseline_override_vitals_id is None
    page = client_for(world.prescriber).get(reverse("infusion_session", args=[session.pk]))
    assert 'id="override-form"' in page.content.decode()
    nurse_page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    assert 'id="override-form"' not in nurse_page.content.decode()
    response = client_for(world.prescriber).post(url, data)
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.baseline_override_reason == "Reviewed at the chair."
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    assert "overridden by" in page.content.decode()


def test_the_start_refusal_appears_once(world: World, client_for: Any) -> None:
    session = critical_baseline_session(world)
    url = reverse("infusion_action", args=[session.pk, "event"])
    data = {"kind": "start", "client_uuid": uuid.uuid4(), "rate_ml_per_h": "150"}
    body = client_for(world.nurse).post(url, data, **FRAGMENT).json()
    assert not body["ok"]
    assert body["message"].count("Not saved") == 1
    assert body["message"].count("baseline vitals: 185/115") == 1
    pump = body["fragments"]["pump"]
    assert "Cannot start" not in pump
    # Without JavaScript: the pump card lists it once, and no second copy at the top.
    html = client_for(world.nurse).post(url, {**data, "client_uuid": uuid.uuid4()}).content
    assert html.decode().count("Cannot start the infusion") == 1


# ---- item 4: a critical reading reaches the prescribers --------------------------------------


def running_session(world: World) -> tuple[InfusionSession, dt.datetime]:
    session = prepare(world)
    t0 = timezone.now() - dt.timedelta(minutes=30)
    event(world, session, "start", t0)
    session.refresh_from_db()
    return session, t0


def test_a_critical_reading_raises_the_prescribers_task_and_an_adverse_event(
    world: World, client_for: Any
) -> None:
    for user, address in (
        (world.prescriber, "prescriber@example.org"),
        (world.nurse, "nurse@example.org"),
        (world.director, "director@example.org"),
    ):
        User.objects.filter(pk=user.pk).update(email=address)
    session, t0 = running_session(world)
    reading(world, session, t0 + dt.timedelta(minutes=10), systolic_mmhg=134, diastolic_mmhg=86)
    assert not UrgentTask.objects.filter(kind=UrgentTask.Kind.INFUSION_READING).exists()
    assert not AdverseEvent.objects.exists()
    entry = reading(
        world, session, t0 + dt.timedelta(minutes=20), systolic_mmhg=186, diastolic_mmhg=114
    )
    assert entry.level == "critical"
    task = UrgentTask.objects.get(kind=UrgentTask.Kind.INFUSION_READING)
    assert task.patient == session.patient
    assert task.infusion_session == session
    assert "186/114" in task.reasons[0]
    emailed = set(EmailOutbox.objects.values_list("to", flat=True))
    assert emailed == {"prescriber@example.org", "director@example.org"}
    assert all("186" not in body for body in EmailOutbox.objects.values_list("body", flat=True))
    adverse = AdverseEvent.objects.get()
    assert adverse.reading == entry
    # The banner on every staff page of the clinic names the patient and the reading.
    home = client_for(world.nurse).get(reverse("infusion_today")).content.decode()
    assert "186/114" in home
    foreign = client_for(foreign_director(world)).get(reverse("home")).content.decode()
    assert "186/114" not in foreign
    # The outcomes dashboard counts it beside the side effects.
    board = dashboard(
        Patient.objects.filter(clinic=world.clinic),
        Filters(indication=None, start=None, end=None, today=timezone.localdate()),
    )
    rows = {row.kind: row.events for row in board.adverse_events}
    assert rows.get("reading_critical") == 1


def test_resume_after_a_critical_reading_needs_the_prescribers_decision(
    world: World, client_for: Any
) -> None:
    session, t0 = running_session(world)
    reading(world, session, t0 + dt.timedelta(minutes=10), systolic_mmhg=186, diastolic_mmhg=114)
    event(world, session, "pause", t0 + dt.timedelta(minutes=11), reason="vitals")
    with pytest.raises(ValidationError) as exc:
        event(world, session, "resume", t0 + dt.timedelta(minutes=15))
    assert "needs a prescriber's decision" in refusal(exc)
    with pytest.raises(ValidationError):
        services.decision_record(
            actor=nurse_actor(world),
            session=session,
            decision="resume",
            note="ok",
            client_uuid=uuid.uuid4(),
        )
    url = reverse("infusion_action", args=[session.pk, "decision"])
    data = {"decision": "resume", "note": "Seen.", "client_uuid": uuid.uuid4()}
    assert client_for(world.nurse).post(url, data).status_code == 403
    for user in outsiders(world):
        assert client_for(user).post(url, data).status_code == 404
    assert not PrescriberDecision.objects.exists()
    # A decision not to resume keeps the pump paused.
    services.decision_record(
        actor=prescriber(world),
        session=session,
        decision="stop",
        note="Headache; do not resume.",
        client_uuid=uuid.uuid4(),
    )
    with pytest.raises(ValidationError):
        event(world, session, "resume", t0 + dt.timedelta(minutes=16))
    response = client_for(world.prescriber).post(url, data)
    assert response.status_code == 302
    task = UrgentTask.objects.get(kind=UrgentTask.Kind.INFUSION_READING)
    assert task.acknowledged_by == world.prescriber
    assert task.action_taken == UrgentTask.Action.CHAIR_DECISION
    event(world, session, "resume", timezone.now())
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.RUNNING
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    assert "Resume the infusion" in page.content.decode()


def test_a_pause_without_a_critical_reading_resumes_without_a_decision(world: World) -> None:
    session, t0 = running_session(world)
    reading(world, session, t0 + dt.timedelta(minutes=5), systolic_mmhg=134, diastolic_mmhg=86)
    event(world, session, "pause", t0 + dt.timedelta(minutes=6), reason="patient_request")
    event(world, session, "resume", t0 + dt.timedelta(minutes=8))
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.RUNNING


# ---- item 6: reasons ------------------------------------------------------------------------


def test_a_pause_needs_a_reason_and_other_needs_the_words(world: World, client_for: Any) -> None:
    session, t0 = running_session(world)
    at = t0 + dt.timedelta(minutes=5)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "pause", at, reason="")
    assert "choose the reason for the pause" in refusal(exc)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "pause", at, reason="other")
    assert "note" in exc.value.message_dict
    event(world, session, "pause", at, reason="other", note="Bathroom")
    paused = InfusionEvent.objects.get(kind="pause")
    assert paused.reason == "other"
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    assert "Other (describe)</strong>: Bathroom" in page.content.decode()


def test_an_early_stop_needs_a_reason_and_a_confirmation(world: World, client_for: Any) -> None:
    session, t0 = running_session(world)
    at = t0 + dt.timedelta(minutes=20)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "stop", at, reason="", confirm_early_stop=False)
    assert "choose the reason for stopping before the planned dose" in refusal(exc)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "stop", at, reason="side_effect", confirm_early_stop=False)
    assert "confirm_early_stop" in exc.value.message_dict
    url = reverse("infusion_action", args=[session.pk, "event"])
    response = client_for(world.nurse).post(
        url,
        {
            "kind": "stop",
            "client_uuid": uuid.uuid4(),
            "reason": "side_effect",
            "note": "Nausea despite ondansetron",
            "confirm_early_stop": "on",
        },
    )
    assert response.status_code == 302
    stop = InfusionEvent.objects.get(kind="stop")
    assert stop.reason == "side_effect"
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    assert "Nausea despite ondansetron" in page.content.decode()


def test_a_stop_at_the_planned_dose_needs_no_reason(world: World) -> None:
    session, _t0 = running_session(world)
    session_start = timezone.now() - dt.timedelta(minutes=50)
    InfusionEvent.objects.filter(session=session).update(at=session_start)
    InfusionSession.objects.filter(pk=session.pk).update(started_at=session_start)
    event(world, session, "stop", session_start + dt.timedelta(minutes=40), reason="")
    assert InfusionEvent.objects.get(kind="stop").reason == ""


# ---- item 7: observation before discharge ---------------------------------------------------


def stopped_just_now(world: World) -> InfusionSession:
    return run_to_stop(world, stopped_min_ago=5, aldrete=True)


def test_discharge_waits_for_the_observation_time(world: World, client_for: Any) -> None:
    session = stopped_just_now(world)
    assert session.ended_at is not None
    kwargs: dict[str, Any] = {
        "actor": nurse_actor(world),
        "session": session,
        "expected_version": None,
        "escort_present": True,
        "instructions_given": True,
    }
    with pytest.raises(ValidationError) as exc:
        services.session_discharge(**kwargs, now=session.ended_at + dt.timedelta(minutes=79))
    assert "at least 80 min after the stop" in refusal(exc)
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    assert "discharge from" in page.content.decode()
    services.session_discharge(**kwargs, now=session.ended_at + dt.timedelta(minutes=80))
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.DISCHARGED
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    assert "80 min since the stop" in page.content.decode()


def test_the_observation_time_is_the_clinics_setting(world: World) -> None:
    ScheduleSettings.objects.create(clinic=world.clinic, recovery_min=120)
    session = stopped_just_now(world)
    assert session.ended_at is not None
    with pytest.raises(ValidationError) as exc:
        services.session_discharge(
            actor=nurse_actor(world),
            session=session,
            expected_version=None,
            escort_present=True,
            instructions_given=True,
            now=session.ended_at + dt.timedelta(minutes=100),
        )
    assert "at least 120 min" in refusal(exc)


def test_discharge_over_http_is_refused_early_and_for_outsiders(
    world: World, client_for: Any
) -> None:
    session = stopped_just_now(world)
    url = reverse("infusion_action", args=[session.pk, "discharge"])
    data = {"version": session.version, "escort_present": "on", "instructions_given": "on"}
    for user in outsiders(world):
        assert client_for(user).post(url, data).status_code == 404
    response = client_for(world.nurse).post(url, data, **FRAGMENT)
    assert response.status_code == 400
    assert "observation" in response.json()["message"]
    session.refresh_from_db()
    assert session.discharged_at is None


# ---- item 4: the co-signature ---------------------------------------------------------------


def critical_note_discharged(world: World) -> InfusionSession:
    session = run_to_stop(world)
    assert session.ended_at is not None
    reading(world, session, session.ended_at + dt.timedelta(minutes=5), spo2_percent=86)
    discharge(world, session)
    session.refresh_from_db()
    return session


def test_a_note_without_critical_readings_is_locked_by_the_nurse(world: World) -> None:
    session = run_to_stop(world)
    discharge(world, session)
    services.session_sign(actor=nurse_actor(world), session=session)
    session.refresh_from_db()
    assert session.locked
    assert session.cosigned_by is None


def test_a_critical_note_waits_for_the_prescribers_cosignature(
    world: World, client_for: Any
) -> None:
    session = critical_note_discharged(world)
    with pytest.raises(ValidationError) as exc:
        services.session_cosign(actor=prescriber(world), session=session)
    assert "signed by the nurse" in refusal(exc)
    services.session_sign(actor=nurse_actor(world), session=session)
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.COSIGN
    assert not session.locked
    with pytest.raises(ValidationError) as exc:
        side_effect(world, session)
    assert "waits for the prescriber's co-signature" in refusal(exc)
    url = reverse("infusion_action", args=[session.pk, "cosign"])
    assert client_for(world.nurse).post(url, {"confirm": "on"}).status_code == 403
    for user in outsiders(world):
        assert client_for(user).post(url, {"confirm": "on"}).status_code == 404
    session.refresh_from_db()
    assert session.cosigned_by is None
    page = client_for(world.prescriber).get(reverse("infusion_session", args=[session.pk]))
    assert "Awaiting the prescriber" in page.content.decode()
    assert client_for(world.prescriber).post(url, {"confirm": "on"}).status_code == 302
    session.refresh_from_db()
    assert session.locked
    assert session.status == InfusionSession.Status.SIGNED
    assert session.cosigned_by == world.prescriber
    assert lock.lock_problem(session) == ""
    # The seal covers the co-signature.
    InfusionSession.objects.filter(pk=session.pk).update(cosigned_by=world.director)
    session.refresh_from_db()
    assert "has changed since it was signed" in lock.lock_problem(session)


def test_an_override_needs_the_cosignature_and_the_signer_cannot_cosign(world: World) -> None:
    session = critical_baseline_session(world)
    services.baseline_override(actor=prescriber(world), session=session, reason="reviewed")
    start = timezone.now() - dt.timedelta(minutes=130)
    event(world, session, "start", start)
    event(world, session, "stop", start + dt.timedelta(minutes=40))
    discharge(world, session)
    # The prescriber charted as the nurse here: a second clinician must co-sign.
    services.session_sign(actor=prescriber(world), session=session)
    with pytest.raises(ValidationError) as exc:
        services.session_cosign(actor=prescriber(world), session=session)
    assert "not the signer" in refusal(exc)
    Credential.objects.filter(user=world.director).update(
        expires_on=timezone.localdate() - dt.timedelta(days=1)
    )
    with pytest.raises(ValidationError) as exc:
        services.session_cosign(actor=Actor(user=world.director), session=session)
    assert "credentials:" in refusal(exc)


def _old_hash(session: InfusionSession) -> str:
    """The seal as computed before issue 11 added fields (for notes signed before it)."""
    new = {
        "baseline_override_vitals_id",
        "baseline_override_by_id",
        "baseline_override_at",
        "baseline_override_reason",
        "cosigned_by_id",
        "cosigned_at",
    }
    row = lock._rows([session], lock._NOT_CONTENT)[0]
    # Then the plan's figures were columns of their own (dropped in infusions 0005, issue 15).
    row.update({name: lock._value(getattr(session, name)) for name in PLAN_FIGURES})
    events = lock._rows(InfusionEvent.objects.filter(session=session).order_by("pk"), {"reason"})
    content = {
        "session": {k: v for k, v in row.items() if k not in new},
        "vitals": lock._rows(VitalsEntry.objects.filter(session=session).order_by("pk")),
        "events": events,
        "side_effects": lock._rows(SideEffect.objects.filter(session=session).order_by("pk")),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def test_notes_sealed_before_the_new_fields_stay_valid(world: World) -> None:
    session = prepare(world)
    start = timezone.now() - dt.timedelta(minutes=130)
    event(world, session, "start", start, reason="")
    services.event_record(
        actor=nurse_actor(world),
        session=session,
        kind="stop",
        client_uuid=uuid.uuid4(),
        at=start + dt.timedelta(minutes=40),
    )
    discharge(world, session)
    services.session_sign(actor=nurse_actor(world), session=session)
    session = InfusionSession.objects.get(pk=session.pk)
    assert session.lock_hash == _old_hash(session)
    assert lock.lock_problem(session) == ""
