"""The chair's clocks (issue 11, items 1, 2 and 11): the volume to be infused and its completion,
the vitals schedule and an overdue reading, and every card from one server response.

The clock is controlled by passing ``now`` to the pure functions (``ketaflow.infusions.timers``)
and by charting events at times in the past (the services refuse future times)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.infusions import services
from ketaflow.infusions.models import InfusionEvent, InfusionSession
from ketaflow.infusions.timers import bag_state, next_vitals_due, reached_at
from ketaflow.infusions.views import FRAGMENTS
from ketaflow.treatment.models import Appointment, ScheduleSettings
from tests.infusions.builders import (
    FRAGMENT,
    event,
    minutes,
    prepare,
    reading,
    refusal,
    running,
    started,
)
from tests.web.conftest import World

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


# ---- the pure clocks ------------------------------------------------------------------------


def test_no_vitals_are_due_outside_monitoring() -> None:
    for phase, began in ((None, T0), ("during", None)):
        assert (
            next_vitals_due(
                phase=phase,  # type: ignore[arg-type]
                phase_began_at=began,
                readings_at=[],
                interval_min=10,
                now=T0,
            )
            is None
        )


def test_vitals_are_due_an_interval_after_the_start_then_after_each_reading() -> None:
    due = next_vitals_due(
        phase="during", phase_began_at=T0, readings_at=[], interval_min=10, now=T0 + minutes(4)
    )
    assert due is not None
    assert due.due_at == T0 + minutes(10)
    assert (due.overdue, due.minutes_left, due.last_reading_at) == (False, 6, None)
    # A reading before the phase began (the baseline) does not count; one after it does.
    due = next_vitals_due(
        phase="during",
        phase_began_at=T0,
        readings_at=[T0 - minutes(5), T0 + minutes(9)],
        interval_min=10,
        now=T0 + minutes(31),
    )
    assert due is not None
    assert due.due_at == T0 + minutes(19)
    assert due.overdue
    assert due.minutes_late == 12
    assert due.minutes_left == 0


def test_recovery_counts_from_the_end_of_the_infusion() -> None:
    end = T0 + minutes(40)
    due = next_vitals_due(
        phase="recovery",
        phase_began_at=end,
        readings_at=[T0 + minutes(30)],
        interval_min=15,
        now=end + minutes(15),
    )
    assert due is not None
    assert due.due_at == end + minutes(15)
    assert not due.overdue  # due this very minute, not yet late
    with pytest.raises(ValueError, match="interval_min"):
        next_vitals_due(
            phase="recovery", phase_began_at=end, readings_at=[], interval_min=0, now=end
        )


def test_the_bag_is_complete_when_the_volume_reaches_the_vtbi() -> None:
    # 150 mL/h: 50 mL at 20 min, 100 mL at 40 min.
    knots = [(T0, 0.0), (T0 + minutes(20), 50.0), (T0 + minutes(50), 125.0)]
    assert reached_at(knots, 100.0) == T0 + minutes(40)
    assert reached_at(knots[:2], 100.0) is None
    bag = bag_state(vtbi_ml=100.0, knots=knots, running_rate_ml_per_h=150.0, now=knots[-1][0])
    assert bag.complete
    assert bag.complete_at == T0 + minutes(40)
    assert bag.delivered_ml == 100.0
    assert bag.remaining_ml == 0.0
    assert bag.expected_end is None
    assert bag.remaining_min is None


def test_the_expected_end_is_at_the_current_rate() -> None:
    knots = [(T0, 0.0), (T0 + minutes(20), 50.0)]
    bag = bag_state(vtbi_ml=100.0, knots=knots, running_rate_ml_per_h=150.0, now=T0 + minutes(20))
    assert bag.expected_end == T0 + minutes(40)
    assert bag.remaining_ml == 50.0
    assert bag.remaining_min == pytest.approx(20.0)
    paused = bag_state(vtbi_ml=100.0, knots=knots, running_rate_ml_per_h=None, now=T0)
    assert paused.expected_end is None
    assert not paused.complete
    with pytest.raises(ValueError, match="vtbi_ml"):
        bag_state(vtbi_ml=0, knots=knots, running_rate_ml_per_h=None, now=T0)


# ---- the bag in the service layer -------------------------------------------------------------


def test_a_running_bag_shows_what_is_left_and_when_it_ends(world: World) -> None:
    session = running(world, 10)
    now = timezone.now()
    bag = services.session_bag(session, now)
    assert bag is not None
    assert bag.vtbi_ml == 100.0
    assert bag.delivered_ml == pytest.approx(25.0, abs=0.1)
    assert bag.expected_end is not None
    assert abs((bag.expected_end - (started(session) + minutes(40))).total_seconds()) < 2
    with pytest.raises(ValidationError) as exc:
        event(world, session, "complete", now)
    assert "the bag is not yet infused" in refusal(exc)
    assert "expected at" in refusal(exc)


def test_a_bag_run_past_its_volume_is_capped_and_completed_at_the_computed_time(
    world: World,
) -> None:
    session = running(world, 55)
    end = started(session) + minutes(40)
    delivered = services.session_delivered(session, until=timezone.now())
    assert delivered.volume_ml == 100.0  # never more than the bag
    assert delivered.dose_mg == pytest.approx(35.0)
    assert delivered.running_min == pytest.approx(40.0)
    # The pump had nothing left to run: a pause, rate change or stop now is refused.
    for kind, rate in (("pause", None), ("rate_change", "100"), ("stop", None)):
        with pytest.raises(ValidationError) as exc:
            event(world, session, kind, timezone.now(), rate)
        assert "confirm completion instead" in refusal(exc)
        assert "were infused at" in refusal(exc)
    completion = event(world, session, "complete", timezone.now())
    assert completion.at == end
    assert "volume to be infused (100 mL) delivered" in completion.note
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.STOPPED
    assert session.ended_at == end
    assert session.delivered_volume_ml == 100.0
    assert session.delivered_dose_mg == pytest.approx(35.0)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "complete", timezone.now())
    assert "cannot complete" in refusal(exc)


def test_a_stop_at_the_pumps_own_end_is_a_stop(world: World) -> None:
    session = running(world, 50)
    event(world, session, "stop", started(session) + minutes(40))
    session.refresh_from_db()
    assert session.delivered_volume_ml == pytest.approx(100.0)


def test_completion_over_http_as_the_nurse_only(world: World, client_for: Any) -> None:
    session = running(world, 45)
    url = reverse("infusion_action", args=[session.pk, "event"])
    data = {"kind": "complete", "client_uuid": str(uuid.uuid4())}
    for who in (world.frontdesk, world.patient_user, world.foreign_prescriber):
        assert client_for(who).post(url, data).status_code in (403, 404)
    assert not session.events.filter(kind=InfusionEvent.Kind.COMPLETE).exists()
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    html = page.content.decode()
    assert 'id="bag-done"' in html
    assert "BAG INFUSED at" in html
    assert 'id="btn-complete"' in html
    assert 'id="btn-pause"' not in html  # nothing left to pause
    response = client_for(world.nurse).post(url, data, **FRAGMENT)
    assert response.status_code == 200, response.content
    assert session.events.filter(kind=InfusionEvent.Kind.COMPLETE).count() == 1


def test_today_shows_each_running_infusions_expected_end(world: World, client_for: Any) -> None:
    session = running(world, 10)
    bag = services.session_bag(session, timezone.now())
    assert bag is not None
    assert bag.expected_end is not None
    html = client_for(world.nurse).get(reverse("infusion_today")).content.decode()
    assert timezone.localtime(bag.expected_end).strftime("%H:%M") in html
    assert "of 100 mL left" in html


def test_an_infusion_still_in_the_chair_stays_on_today_after_the_clinics_midnight(
    world: World, client_for: Any
) -> None:
    # Began "yesterday" (the appointment a day earlier): at 00:05 the patient is still in the
    # chair and must be watched. CI found the list empty between the clinic's midnight and 01:00.
    session = running(world, 10)
    Appointment.objects.filter(pk=session.appointment_id).update(
        starts_at=F("starts_at") - dt.timedelta(days=1)
    )
    link = reverse("infusion_session", args=[session.pk])
    assert link in client_for(world.nurse).get(reverse("infusion_today")).content.decode()
    # Once the patient has gone home, yesterday's infusion leaves today's list.
    InfusionSession.objects.filter(pk=session.pk).update(status=InfusionSession.Status.DISCHARGED)
    assert link not in client_for(world.nurse).get(reverse("infusion_today")).content.decode()


def test_the_chair_board_shows_each_running_infusions_expected_end(
    world: World, client_for: Any
) -> None:
    session = running(world, 10)
    bag = services.session_bag(session, timezone.now())
    assert bag is not None
    assert bag.expected_end is not None
    end = timezone.localtime(bag.expected_end, ZoneInfo(world.clinic.time_zone))
    expected = f"Expected end {end:%H:%M}"
    for user in (world.nurse, world.frontdesk):
        html = client_for(user).get(reverse("chair_board")).content.decode()
        assert expected in html
    event(world, session, "stop", timezone.now())
    html = client_for(world.nurse).get(reverse("chair_board")).content.decode()
    assert "Expected end" not in html


# ---- the vitals schedule ----------------------------------------------------------------------


def test_an_overdue_reading_is_impossible_to_miss(world: World, client_for: Any) -> None:
    session = running(world, 25)
    reading(world, session, started(session) + minutes(10))
    due = services.session_vitals_due(session, timezone.now())
    assert due is not None
    assert due.interval_min == 10
    assert due.due_at == started(session) + minutes(20)
    assert due.overdue
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    html = page.content.decode()
    banner = html.split('id="vitals-overdue"', 1)[1].split("</div>", 1)[0]
    assert "hidden" not in banner.split(">", 1)[0]
    assert "VITALS OVERDUE" in banner
    assert "every 10 min during the infusion" in banner
    today = client_for(world.nurse).get(reverse("infusion_today")).content.decode()
    assert "VITALS OVERDUE" in today
    # A reading now: nothing overdue; the banner is there for the page's clock, hidden.
    reading(world, session, timezone.now() - minutes(1))
    html = (
        client_for(world.nurse).get(reverse("infusion_session", args=[session.pk])).content.decode()
    )
    assert '<div id="vitals-overdue" class="alert alert-overdue" role="alert" hidden>' in html
    assert "(in 9 min)" in html or "(in 10 min)" in html
    assert (
        "VITALS OVERDUE"
        not in client_for(world.nurse).get(reverse("infusion_today")).content.decode()
    )


def test_the_interval_is_the_clinics_setting(world: World) -> None:
    session = running(world, 7)
    ScheduleSettings.objects.create(clinic=world.clinic, vitals_every_min_during=5)
    due = services.session_vitals_due(session, timezone.now())
    assert due is not None
    assert due.interval_min == 5
    assert due.overdue
    other = ScheduleSettings(clinic=world.other_clinic, vitals_every_min_during=30)
    with pytest.raises(ValidationError) as exc:
        other.full_clean()
    assert "vitals_every_min_during" in exc.value.message_dict


def test_recovery_readings_are_due_until_discharge(world: World) -> None:
    session = running(world, 60)
    end = started(session) + minutes(40)
    event(world, session, "complete", timezone.now())
    session.refresh_from_db()
    due = services.session_vitals_due(session, timezone.now())
    assert due is not None
    assert (due.phase, due.interval_min, due.anchor) == ("recovery", 15, end)
    assert due.overdue  # 20 min after the end with no reading
    reading(world, session, timezone.now())
    session.refresh_from_db()
    due = services.session_vitals_due(session, timezone.now())
    assert due is not None
    assert not due.overdue


def test_nothing_is_due_before_the_start(world: World) -> None:
    session = prepare(world)
    assert services.session_vitals_due(session, timezone.now()) is None
    assert services.session_bag(session, timezone.now()) is not None


# ---- one truth on the page ------------------------------------------------------------------


def post(client: Any, session: InfusionSession, action: str, data: dict[str, Any]) -> Any:
    url = reverse("infusion_action", args=[session.pk, action])
    return json.loads(client.post(url, data, **FRAGMENT).content)


def vitals_data(sbp: int, dbp: int = 80, **extra: Any) -> dict[str, Any]:
    return {
        "client_uuid": str(uuid.uuid4()),
        "systolic_mmhg": sbp,
        "diastolic_mmhg": dbp,
        "heart_rate_bpm": 76,
        "spo2_percent": 98,
        "respiratory_rate_per_min": 14,
        **extra,
    }


def test_every_save_returns_every_card(world: World, client_for: Any) -> None:
    session = prepare(world, skip="baseline vitals")
    client = client_for(world.nurse)
    answer = post(client, session, "vitals", vitals_data(122))
    assert answer["ok"]
    assert set(answer["fragments"]) == set(FRAGMENTS)
    # The checklist card no longer says the baseline is missing, after saving it.
    assert "baseline vitals: not recorded" not in answer["fragments"]["checklist"]
    assert "may start" in answer["fragments"]["checklist"]
    assert answer["tier"] == "normal"


def test_an_old_refusal_goes_away_with_the_next_save(world: World, client_for: Any) -> None:
    session = prepare(world, skip="baseline vitals")
    client = client_for(world.nurse)
    refused = post(client, session, "event", {"kind": "start", "client_uuid": str(uuid.uuid4())})
    assert not refused["ok"]
    # The refusal is shown once, on the flash line (session.js), not repeated in the pump card.
    assert "Cannot start" in refused["message"]
    assert "Cannot start" not in refused["fragments"]["pump"]
    saved = post(client, session, "vitals", vitals_data(122))
    assert saved["ok"]
    assert "Cannot start" not in saved["fragments"]["pump"]
    assert "Cannot start" not in saved["fragments"]["status"]


def test_the_confirmation_takes_the_tier_of_the_reading(world: World, client_for: Any) -> None:
    session = running(world, 5)
    client = client_for(world.nurse)
    emergency = post(client, session, "vitals", vitals_data(230, 130, symptoms=["chest_pain"]))
    assert emergency["ok"]
    assert emergency["tier"] == "emergency"
    critical = post(client, session, "vitals", vitals_data(184, 112))
    assert critical["tier"] == "critical"
    assert post(client, session, "checklist", {})["tier"] == ""


def test_the_status_bar_and_the_pump_card_agree(world: World, client_for: Any) -> None:
    session = running(world, 12)
    answer = post(client_for(world.nurse), session, "vitals", vitals_data(124))
    status, pump = answer["fragments"]["status"], answer["fragments"]["pump"]
    shown = status.split("delivered ", 1)[1].split(" mg", 1)[0]
    assert f">{shown} mg<" in pump  # to 0.1 mg in both (the pump card: exact one click away)


def test_a_correction_keeps_its_seconds_and_its_place(world: World, client_for: Any) -> None:
    session = running(world, 20)
    abnormal_at = (timezone.now() - minutes(12)).replace(microsecond=123000)
    reading(world, session, abnormal_at, sbp=165)
    later_at = (timezone.now() - minutes(3)).replace(microsecond=456000)
    reading(world, session, later_at, sbp=150)
    later = session.vitals.get(measured_at=later_at)
    assert services.active_alert(session) is not None
    client = client_for(world.nurse)
    form = client.get(reverse("infusion_correct", args=[session.pk, later.pk])).content.decode()
    shown = timezone.localtime(later_at).strftime("%Y-%m-%dT%H:%M:%S")
    assert f'value="{shown}"' in form
    assert 'step="1"' in form
    answer = post(
        client,
        session,
        "correct",
        vitals_data(124, corrects=later.pk, correction_reason="typed 150", measured_at=shown),
    )
    assert answer["ok"], answer
    correction = session.vitals.get(corrects=later)
    assert correction.measured_at == later_at  # to the microsecond: it sorts where it was
    assert services.active_alert(session) is None  # the old abnormal reading stays older
    assert "alert-banner" not in answer["fragments"]["status"]
    # Without a time, a correction keeps the original's time too (not the time it was typed).
    first = session.vitals.get(measured_at=abnormal_at)
    reading(world, session, None, sbp=130, corrects=first, correction_reason="typo")
    assert session.vitals.get(corrects=first).measured_at == abnormal_at


def test_a_timer_refresh_returns_every_card_to_staff_of_the_clinic_only(
    world: World, client_for: Any
) -> None:
    session = running(world, 5)
    url = reverse("infusion_session", args=[session.pk])
    answer = json.loads(client_for(world.nurse).get(url, **FRAGMENT).content)
    assert set(answer["fragments"]) == set(FRAGMENTS)
    for who in (world.foreign_prescriber, world.patient_user, world.frontdesk):
        response = client_for(who).get(url, **FRAGMENT)
        assert response.status_code in (403, 404)
        assert b"Anders" not in response.content


# ---- the demo --------------------------------------------------------------------------------


def test_demo_times_agree_with_the_appointment(world: World) -> None:
    """A 09:00 appointment whose infusion ran 04:49-05:36 is refused: the demo books the
    appointment where the infusion is charted, 15 min before the pump starts."""
    from ketaflow.infusions.demo import demo_session
    from tests.infusions.builders import make_appointment, stock_vial

    stock_vial(world)  # the demo draws the vial from the clinic's ledger stock
    actor = Actor.system("demo")
    now = timezone.now()
    for patient, scenario in ((world.patient, "complete"), (world.other_patient, "running")):
        appointment = make_appointment(world, patient)
        appointment.starts_at = now - dt.timedelta(hours=9)  # far from when it is charted
        appointment.ends_at = appointment.starts_at + dt.timedelta(hours=3)
        appointment.save()
        session = demo_session(
            actor=actor,
            appointment=appointment,
            nurse=world.nurse,
            scenario=scenario,  # type: ignore[arg-type]
        )
        appointment.refresh_from_db()
        assert session.started_at == appointment.starts_at + minutes(15)
        assert appointment.starts_at.minute % 5 == 0
        assert appointment.ends_at - appointment.starts_at == dt.timedelta(hours=3)
    bag = services.session_bag(session, timezone.now())
    due = services.session_vitals_due(session, timezone.now())
    assert bag is not None
    assert bag.expected_end is not None
    assert due is not None
    assert due.phase == "during"
