"""The infusion session: the start gate in the service layer, dose guardrails, the pump state
machine and the delivered dose, vitals with alerts and corrections, discharge, the lock and
addenda, duplicate-safe entries, access for every role, and audited pages."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from ketaflow.accounts.models import Credential
from ketaflow.audit.chain import DamagedRecord
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.clinical import Instrument
from ketaflow.infusions import services, stock
from ketaflow.infusions.demo import demo_session
from ketaflow.infusions.models import (
    PLAN_FIGURES,
    AppendOnlyError,
    DosePlan,
    InfusionEvent,
    InfusionSession,
    VitalsEntry,
)
from ketaflow.ledger import services as ledger
from ketaflow.ledger.models import LedgerEntry
from tests.infusions.builders import (
    FRAGMENT,
    NORMAL_VITALS,
    baseline,
    compute_dose,
    discharge,
    event,
    make_appointment,
    nurse_actor,
    open_session,
    prepare,
    refusal,
    run_to_stop,
    started,
    stock_vial,
)
from tests.web.conftest import World

# ---- the start gate -----------------------------------------------------------------------


def test_a_complete_checklist_lets_the_nurse_start(world: World) -> None:
    session = prepare(world)
    assert services.start_problems(session, world.nurse) == []
    event(world, session, "start", timezone.now())
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.RUNNING
    assert session.started_by == world.nurse
    assert session.events.get().rate_ml_per_h == Decimal("150.0")


@pytest.mark.parametrize(
    "missing",
    [
        "candidacy",
        "consent",
        "fasting",
        "escort",
        "pregnancy test",
        "weight",
        "baseline vitals",
        "PCL-5",
        "PHQ-9",
        "C-SSRS screener",
        "suicide risk",
        "dose",
        "vial",
        "credentials",
    ],
)
def test_each_missing_item_blocks_the_start_and_is_named(world: World, missing: str) -> None:
    session = prepare(world, skip=missing)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "start", timezone.now())
    message = refusal(exc)
    assert message.startswith("Cannot start the infusion:")
    assert f"{missing}:" in message
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.CHECKLIST
    assert not session.events.exists()


def test_all_missing_items_are_named_at_once(world: World) -> None:
    session = open_session(world)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "start", timezone.now())
    message = refusal(exc)
    for item in ("fasting", "escort", "weight", "baseline vitals", "PCL-5", "dose", "vial"):
        assert f"{item}:" in message


def test_a_prescriber_acknowledges_a_suicide_risk_flag(world: World, client_for: Any) -> None:
    session = prepare(world, skip="suicide risk")
    with pytest.raises(ValidationError):
        services.risk_acknowledge(actor=nurse_actor(world), session=session, note="fine")
    url = reverse("infusion_action", args=[session.pk, "acknowledge"])
    assert client_for(world.nurse).post(url, {"note": "seen"}).status_code == 403
    with pytest.raises(ValidationError) as exc:
        services.risk_acknowledge(actor=Actor(user=world.prescriber), session=session, note=" ")
    assert "note" in exc.value.message_dict
    services.risk_acknowledge(
        actor=Actor(user=world.prescriber), session=session, note="Assessed: passive ideation."
    )
    session.refresh_from_db()
    assert services.start_problems(session, world.nurse) == []


def test_no_pregnancy_test_for_a_man(world: World) -> None:
    world.patient.sex_at_birth = "male"
    world.patient.save()
    session = prepare(world, skip="pregnancy test")
    assert not any("pregnancy" in p for p in services.start_problems(session, world.nurse))


def test_the_start_gate_holds_over_http(world: World, client_for: Any) -> None:
    session = prepare(world, skip="fasting")
    url = reverse("infusion_action", args=[session.pk, "event"])
    response = client_for(world.nurse).post(url, {"kind": "start", "client_uuid": uuid.uuid4()})
    assert response.status_code == 400
    assert "fasting: not confirmed" in response.content.decode()
    json = client_for(world.nurse).post(
        url, {"kind": "start", "client_uuid": uuid.uuid4()}, **FRAGMENT
    )
    assert json.status_code == 400
    assert "fasting: not confirmed" in json.json()["message"]
    assert not InfusionEvent.objects.exists()


# ---- dose guardrails ----------------------------------------------------------------------


def test_the_dose_panel_values_come_from_plan_infusion(world: World) -> None:
    session = prepare(world)
    assert session.dose_mg == 35.0
    assert session.drug_volume_ml == 3.5
    assert session.total_volume_ml == 100.0
    assert session.rate_ml_per_h == 150.0
    assert session.final_concentration_mg_per_ml == 0.35
    assert session.plan is not None
    assert session.plan["dose_mg"] == 35.0
    # Stored once: the figures are the plan's, with no column of their own.
    assert session.dose_plan == DosePlan(
        dose_mg=35.0,
        drug_volume_ml=3.5,
        drug_volume_ml_exact=session.plan["drug_volume_ml_exact"],
        total_volume_ml=100.0,
        final_concentration_mg_per_ml=0.35,
        rate_ml_per_h=150.0,
        rate_ml_per_h_exact=session.plan["rate_ml_per_h_exact"],
    )
    columns = {f.attname for f in InfusionSession._meta.concrete_fields}
    assert not columns & set(PLAN_FIGURES)


def test_the_plan_figures_are_read_only_and_refuse_what_is_not_a_number() -> None:
    session = InfusionSession(pk=7)
    assert session.dose_plan is None
    assert session.dose_mg is None
    with pytest.raises(AttributeError, match="dose_mg is read from the session's plan"):
        session.dose_mg = 40.0
    with pytest.raises(TypeError):
        InfusionSession(**{"dose_mg": 40.0})
    session.plan = {"dose_mg": 35, "rate_ml_per_h": None}
    assert session.dose_mg == 35.0
    assert isinstance(session.dose_mg, float)  # the same repr as the column it replaces
    assert session.rate_ml_per_h is None
    with pytest.raises(
        DamagedRecord, match=r"infusion session 7: its dose plan has no drug volume in mL$"
    ):
        _ = session.dose_plan
    session.plan = {"dose_mg": "35"}
    with pytest.raises(
        DamagedRecord, match="infusion session 7: its dose plan's dose in mg is '35', not a"
    ):
        _ = session.dose_mg


def test_a_hard_limit_is_refused_with_the_library_message(world: World) -> None:
    session = prepare(world, skip="dose")
    with pytest.raises(ValidationError) as exc:
        compute_dose(
            world,
            session,
            user=world.prescriber,
            dose_mg_per_kg=Decimal("1.5"),
            override_reason="please",
        )
    assert "dose 1.5 mg/kg is above the hard maximum 1" in refusal(exc)
    session.refresh_from_db()
    assert session.plan is None


def test_a_soft_limit_needs_a_reason_and_an_allowed_role(world: World) -> None:
    session = prepare(world, skip="dose")
    with pytest.raises(ValidationError) as exc:
        compute_dose(world, session, dose_mg_per_kg=Decimal("0.75"))
    assert "override needed" in exc.value.message_dict["override_reason"][0]
    with pytest.raises(ValidationError) as exc:
        compute_dose(world, session, dose_mg_per_kg=Decimal("0.75"), override_reason="tolerated")
    assert "an infusion nurse may not override" in refusal(exc)
    plan = compute_dose(
        world,
        session,
        user=world.prescriber,
        dose_mg_per_kg=Decimal("0.75"),
        override_reason="Partial response at 0.5 mg/kg",
    )
    assert plan.dose_mg == 52.5
    session.refresh_from_db()
    assert session.override_role == "prescriber"
    assert session.override_by == world.prescriber
    assert session.override_reason == "Partial response at 0.5 mg/kg"


def test_changing_the_weight_clears_the_dose(world: World) -> None:
    session = prepare(world)
    services.checklist_update(
        actor=nurse_actor(world),
        session=session,
        expected_version=session.version,
        fasting_confirmed=True,
        escort_confirmed=True,
        pregnancy_test="negative",
        weight_kg=Decimal(80),
        weight_measured_on=timezone.localdate(),
        height_cm=Decimal(170),
    )
    session.refresh_from_db()
    assert session.plan is None
    assert "dose: not computed" in services.start_problems(session, world.nurse)


def test_a_weight_far_from_the_last_one_is_confirmed_first(world: World, client_for: Any) -> None:
    """Issue 10, item 13: a 110 typed for a patient last weighed at 70 kg must not become a
    55 mg dose silently (clinic policy: more than 10 % from the last weight is confirmed)."""
    prepare(world)  # 70 kg at the first infusion
    session = services.session_open(actor=nurse_actor(world), appointment=make_appointment(world))
    url = reverse("infusion_action", args=[session.pk, "checklist"])
    form = {
        "version": session.version,
        "weight_kg": "110",
        "weight_unit": "kg",
        "weight_measured_on": timezone.localdate().isoformat(),
    }
    refused = client_for(world.nurse).post(url, form, **FRAGMENT)
    assert refused.status_code == 400
    assert "57 % above the last recorded weight 70 kg" in refused.content.decode()
    session.refresh_from_db()
    assert session.weight_kg is None
    # In pounds it is 49.9 kg: also far from 70 kg, so confirmed; 154 lb is 69.9 kg and passes.
    assert client_for(world.nurse).post(url, {**form, "weight_kg": "154", "weight_unit": "lb"})
    session.refresh_from_db()
    assert session.weight_kg == Decimal("69.9")
    entry = AuditEntry.objects.filter(object_type="infusion_session").order_by("-seq").first()
    assert entry is not None
    assert entry.detail["weight_entered"] == "154 lb = 69.85 kg"
    confirmed = {
        **form,
        "version": session.version,
        "weight_kg": "110",
        "weight_change_confirmed": "on",
    }
    assert client_for(world.nurse).post(url, confirmed).status_code == 302
    session.refresh_from_db()
    assert session.weight_kg == Decimal(110)


def test_the_drawn_volume_must_match_the_dose(world: World) -> None:
    session = prepare(world, skip="vial")
    compute_dose(world, session)
    session.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        stock.vial_pick(
            actor=nurse_actor(world),
            session=session,
            expected_version=session.version,
            vial_id=stock_vial(world).pk,
            drawn_volume_ml=Decimal("5.00"),
        )
    assert (
        "differs from the computed drug volume 3.5 mL"
        in exc.value.message_dict["drawn_volume_ml"][0]
    )


# ---- events, state machine, delivered dose ------------------------------------------------


def test_pause_resume_stop_state_machine(world: World) -> None:
    session = prepare(world)
    t0 = timezone.now() - dt.timedelta(minutes=50)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "pause", t0)
    assert "cannot pause while the session is pre-infusion checklist" in refusal(exc)
    event(world, session, "start", t0)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "resume", t0 + dt.timedelta(minutes=1))
    assert "cannot resume while the session is running" in refusal(exc)
    event(world, session, "pause", t0 + dt.timedelta(minutes=10))
    with pytest.raises(ValidationError) as exc:
        event(world, session, "pause", t0 + dt.timedelta(minutes=11))
    assert "cannot pause while the session is paused" in refusal(exc)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "resume", t0 + dt.timedelta(minutes=5))
    assert "is before the last event" in refusal(exc)
    event(world, session, "resume", t0 + dt.timedelta(minutes=15))
    event(world, session, "stop", t0 + dt.timedelta(minutes=45))
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.STOPPED
    with pytest.raises(ValidationError) as exc:
        event(world, session, "start", t0 + dt.timedelta(minutes=46))
    assert "cannot start while the session is stopped" in refusal(exc)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "rate_change", t0 + dt.timedelta(minutes=46), "50")
    assert "cannot rate change" in refusal(exc)


def test_events_in_the_future_and_too_fast_rates_are_refused(world: World) -> None:
    session = prepare(world)
    with pytest.raises(ValidationError) as exc:
        event(world, session, "start", timezone.now() + dt.timedelta(minutes=10))
    assert "in the future" in exc.value.message_dict["at"][0]
    event(world, session, "start", timezone.now() - dt.timedelta(minutes=5))
    with pytest.raises(ValidationError) as exc:
        event(world, session, "rate_change", timezone.now(), "250")
    # 100 mL in the 30-min hard minimum duration of the drug library = 200 mL/h.
    assert "maximum 200 mL/h" in exc.value.message_dict["rate_ml_per_h"][0]


def test_the_delivered_dose_is_the_integral_of_rate_over_running_time(world: World) -> None:
    session = prepare(world)
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=60)
    event(world, session, "start", t0, "150")  # 10 min at 150 mL/h = 25 mL
    event(world, session, "rate_change", t0 + dt.timedelta(minutes=10), "75")  # 20 min: 25 mL
    event(world, session, "pause", t0 + dt.timedelta(minutes=30))  # 5 min paused: 0 mL
    event(world, session, "resume", t0 + dt.timedelta(minutes=35))  # 10 min at 75: 12.5 mL
    event(world, session, "stop", t0 + dt.timedelta(minutes=45))
    session.refresh_from_db()
    assert session.delivered_volume_ml == 62.5
    concentration = session.final_concentration_mg_per_ml
    assert concentration is not None
    exact = Fraction(125, 2) * Fraction(concentration)
    assert session.delivered_dose_mg == float(exact)
    assert session.delivered_dose_mg == pytest.approx(21.875, abs=1e-12)
    delivered = services.session_delivered(session)
    assert delivered.running_min == 40.0


def test_delivered_counts_a_running_pump_up_to_now() -> None:
    t0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
    got = services.delivered_from_events(
        [("start", t0, Decimal("52.5"))], 0.35, until=t0 + dt.timedelta(minutes=20)
    )
    assert got.volume_ml == 17.5
    assert got.dose_mg == float(Fraction(35, 2) * Fraction(0.35))


def test_events_are_append_only(world: World) -> None:
    session = prepare(world)
    e = event(world, session, "start", timezone.now())
    e.note = "changed"
    with pytest.raises(AppendOnlyError):
        e.save()
    with pytest.raises(AppendOnlyError):
        e.delete()


# ---- vitals -------------------------------------------------------------------------------


def test_an_impossible_vital_is_refused_with_the_reason(world: World) -> None:
    session = open_session(world)
    with pytest.raises(ValidationError) as exc:
        baseline(world, session, spo2_percent=101)
    assert exc.value.message_dict["spo2_percent"] == [
        "SpO2 (%): 101 is not physiologically possible (accepted 20-100); check the entry and "
        "re-measure."
    ]
    with pytest.raises(ValidationError) as exc:
        baseline(world, session, systolic_mmhg=80, diastolic_mmhg=90)
    assert (
        "diastolic BP (mmHg): 90 is not below the systolic 80"
        in exc.value.message_dict["diastolic_mmhg"][0]
    )
    assert not VitalsEntry.objects.exists()


def test_a_critical_blood_pressure_raises_an_alert_with_the_action(
    world: World, client_for: Any
) -> None:
    session = prepare(world)
    event(world, session, "start", timezone.now() - dt.timedelta(minutes=20))
    url = reverse("infusion_action", args=[session.pk, "vitals"])
    response = client_for(world.nurse).post(
        url,
        {
            "client_uuid": uuid.uuid4(),
            "systolic_mmhg": 182,
            "diastolic_mmhg": 112,
            "heart_rate_bpm": 96,
            "spo2_percent": 97,
        },
        **FRAGMENT,
    )
    assert response.status_code == 200
    data = response.json()
    assert data["ok"]
    assert "CRITICAL" in data["message"]
    assert "Pause the infusion" in data["message"]
    assert 'id="alert-banner"' in data["fragments"]["status"]
    assert "Call the prescriber" in data["fragments"]["status"]
    entry = VitalsEntry.objects.get(systolic_mmhg=182)
    assert entry.level == "critical"
    assert entry.phase == "during"
    assert entry.actions == ["pause_infusion", "call_prescriber", "recheck"]
    assert any("at or above the critical limit 180" in r for r in entry.reasons)
    assert services.active_alert(session) == entry


def test_a_late_entry_keeps_the_phase_of_its_time(world: World) -> None:
    session = run_to_stop(world)
    late = services.vitals_record(
        actor=nurse_actor(world),
        session=session,
        client_uuid=uuid.uuid4(),
        systolic_mmhg=130,
        diastolic_mmhg=82,
        heart_rate_bpm=80,
        spo2_percent=97,
        measured_at=started(session) + dt.timedelta(minutes=20),
    )
    assert late.phase == "during"
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.STOPPED


def test_symptoms_with_high_pressure_are_an_emergency(world: World) -> None:
    session = prepare(world)
    event(world, session, "start", timezone.now() - dt.timedelta(minutes=20))
    entry = services.vitals_record(
        actor=nurse_actor(world),
        session=session,
        client_uuid=uuid.uuid4(),
        systolic_mmhg=150,
        diastolic_mmhg=95,
        heart_rate_bpm=90,
        spo2_percent=97,
        symptoms=["chest_pain"],
    )
    assert entry.level == "emergency"
    assert "emergency_care" in entry.actions


def test_a_correction_keeps_the_original(world: World, client_for: Any) -> None:
    session = open_session(world)
    original = baseline(world, session, systolic_mmhg=210, diastolic_mmhg=80)
    assert original.level == "critical"
    correction = services.vitals_record(
        actor=nurse_actor(world),
        session=session,
        client_uuid=uuid.uuid4(),
        systolic_mmhg=120,
        diastolic_mmhg=80,
        heart_rate_bpm=72,
        spo2_percent=98,
        corrects=original,
        correction_reason="typed 210 for 120",
    )
    assert VitalsEntry.objects.filter(pk=original.pk).exists()
    assert services.effective_vitals(session) == [correction]
    assert services.baseline_vitals(session) == correction
    with pytest.raises(ValidationError) as exc:
        services.vitals_record(
            actor=nurse_actor(world),
            session=session,
            client_uuid=uuid.uuid4(),
            systolic_mmhg=121,
            diastolic_mmhg=80,
            heart_rate_bpm=72,
            spo2_percent=98,
            corrects=correction,
        )
    assert "correction_reason" in exc.value.message_dict
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    html = page.content.decode()
    assert "<del>210/80</del>" in html
    assert "typed 210 for 120" in html
    form = client_for(world.nurse).get(
        reverse("infusion_correct", args=[session.pk, correction.pk])
    )
    assert form.status_code == 200


def test_the_same_uuid_stores_one_row_different_uuids_both(world: World, client_for: Any) -> None:
    session = open_session(world)
    url = reverse("infusion_action", args=[session.pk, "vitals"])
    one, two = client_for(world.nurse), client_for(world.prescriber)
    same = str(uuid.uuid4())
    data = {"systolic_mmhg": 120, "diastolic_mmhg": 80, "heart_rate_bpm": 70, "spo2_percent": 98}
    assert one.post(url, {**data, "client_uuid": same}, **FRAGMENT).status_code == 200
    assert two.post(url, {**data, "client_uuid": same}, **FRAGMENT).status_code == 200
    assert VitalsEntry.objects.filter(session=session).count() == 1
    assert one.post(url, {**data, "client_uuid": uuid.uuid4()}, **FRAGMENT).status_code == 200
    assert two.post(url, {**data, "client_uuid": uuid.uuid4()}, **FRAGMENT).status_code == 200
    assert VitalsEntry.objects.filter(session=session).count() == 3
    created = AuditEntry.objects.filter(object_type="vitals_entry", action="create").count()
    assert created == 3


def test_a_repeated_event_uuid_is_stored_once(world: World) -> None:
    session = prepare(world)
    key = uuid.uuid4()
    at = timezone.now()
    for _ in range(2):
        services.event_record(
            actor=nurse_actor(world), session=session, kind="start", client_uuid=key, at=at
        )
    assert session.events.count() == 1


def test_a_stale_checklist_form_names_who_changed_it(world: World, client_for: Any) -> None:
    session = open_session(world)
    old_version = session.version
    form = {
        "version": old_version,
        "fasting_confirmed": "on",
        "weight_kg": "70",
        "weight_measured_on": timezone.localdate().isoformat(),
    }
    url = reverse("infusion_action", args=[session.pk, "checklist"])
    assert client_for(world.prescriber).post(url, form).status_code == 302
    stale = client_for(world.nurse).post(url, {**form, "escort_confirmed": "on"}, **FRAGMENT)
    assert stale.status_code == 400
    message = stale.json()["message"]
    assert "changed by Dana" in message
    assert "reload" in message
    session.refresh_from_db()
    assert session.escort_confirmed is False


# ---- side effects, scores, discharge, lock, addenda ---------------------------------------


def test_side_effect_with_treatment(world: World) -> None:
    session = run_to_stop(world)
    actor = nurse_actor(world)
    with pytest.raises(ValidationError) as exc:
        services.side_effect_record(
            actor=actor,
            session=session,
            client_uuid=uuid.uuid4(),
            kind="nausea",
            severity="moderate",
            medication="ondansetron",
        )
    assert "dose_amount" in exc.value.message_dict
    effect = services.side_effect_record(
        actor=actor,
        session=session,
        client_uuid=uuid.uuid4(),
        kind="nausea",
        severity="moderate",
        medication="ondansetron",
        dose_amount=Decimal(4),
        dose_unit="mg",
        route="iv",
    )
    assert effect.given_at is not None
    with pytest.raises(ValidationError) as exc:
        services.side_effect_record(
            actor=actor, session=session, client_uuid=uuid.uuid4(), kind="other", severity="mild"
        )
    assert "other_description" in exc.value.message_dict


def test_discharge_needs_aldrete_9_escort_and_instructions(world: World) -> None:
    session = run_to_stop(world)
    actor = nurse_actor(world)
    with pytest.raises(ValidationError) as exc:
        services.session_discharge(
            actor=actor,
            session=session,
            expected_version=None,
            escort_present=False,
            instructions_given=False,
        )
    assert set(exc.value.message_dict) == {"aldrete", "escort_present", "instructions_given"}
    services.screening_record(
        actor=actor, session=session, instrument=Instrument.ALDRETE, answers=[2, 2, 1, 1, 2]
    )
    with pytest.raises(ValidationError) as exc:
        services.session_discharge(
            actor=actor,
            session=session,
            expected_version=None,
            escort_present=True,
            instructions_given=True,
        )
    assert exc.value.message_dict["aldrete"][0].startswith("modified Aldrete 8 is below 9")
    services.screening_record(
        actor=actor, session=session, instrument=Instrument.ALDRETE, answers=[2, 2, 2, 1, 2]
    )
    with pytest.raises(ValidationError) as exc:
        services.session_discharge(
            actor=actor,
            session=session,
            expected_version=None,
            escort_present=False,
            instructions_given=True,
        )
    assert list(exc.value.message_dict) == ["escort_present"]
    services.session_discharge(
        actor=actor,
        session=session,
        expected_version=None,
        escort_present=True,
        instructions_given=True,
    )
    session.refresh_from_db()
    assert session.status == InfusionSession.Status.DISCHARGED


def test_aldrete_only_after_the_stop(world: World) -> None:
    session = prepare(world)
    with pytest.raises(ValidationError) as exc:
        services.screening_record(
            actor=nurse_actor(world),
            session=session,
            instrument=Instrument.ALDRETE,
            answers=[2] * 5,
        )
    assert "after the infusion is stopped" in refusal(exc)


def test_signing_locks_and_later_changes_are_refused(world: World, client_for: Any) -> None:
    session = run_to_stop(world)
    actor = nurse_actor(world)
    with pytest.raises(ValidationError) as exc:
        services.session_sign(actor=actor, session=session)
    assert "discharged first" in refusal(exc)
    discharge(world, session)
    services.session_sign(actor=actor, session=session)
    session.refresh_from_db()
    assert session.locked
    assert session.status == InfusionSession.Status.SIGNED
    for attempt in (
        lambda: baseline(world, session),
        lambda: services.side_effect_record(
            actor=actor, session=session, client_uuid=uuid.uuid4(), kind="nausea", severity="mild"
        ),
        lambda: services.screening_record(
            actor=actor, session=session, instrument=Instrument.CADSS, answers=[0] * 23
        ),
        lambda: services.session_sign(actor=actor, session=session),
    ):
        with pytest.raises(ValidationError) as exc:
            attempt()
        assert "locked: this infusion note was signed" in refusal(exc)
    url = reverse("infusion_action", args=[session.pk, "vitals"])
    response = client_for(world.nurse).post(
        url,
        {
            "client_uuid": uuid.uuid4(),
            "systolic_mmhg": 120,
            "diastolic_mmhg": 80,
            "heart_rate_bpm": 70,
            "spo2_percent": 98,
        },
    )
    assert response.status_code == 400
    assert "locked" in response.content.decode()
    assert session.vitals.count() == 1


def test_addenda_only_after_the_lock(world: World, client_for: Any) -> None:
    session = run_to_stop(world)
    actor = nurse_actor(world)
    with pytest.raises(ValidationError) as exc:
        services.addendum_add(actor=actor, session=session, text="late", client_uuid=uuid.uuid4())
    assert "after the note is signed" in refusal(exc)
    discharge(world, session)
    services.session_sign(actor=actor, session=session)
    url = reverse("infusion_action", args=[session.pk, "addendum"])
    response = client_for(world.prescriber).post(
        url, {"text": "Called the patient next day: well.", "client_uuid": uuid.uuid4()}
    )
    assert response.status_code == 302
    addendum = session.addenda.get()
    assert addendum.author == world.prescriber
    page = client_for(world.nurse).get(reverse("infusion_session", args=[session.pk]))
    assert "Called the patient next day: well." in page.content.decode()


def test_signing_needs_current_credentials(world: World) -> None:
    session = run_to_stop(world)
    discharge(world, session)
    Credential.objects.filter(user=world.nurse).update(
        expires_on=timezone.localdate() - dt.timedelta(days=1)
    )
    with pytest.raises(ValidationError) as exc:
        services.session_sign(actor=nurse_actor(world), session=session)
    assert "credentials:" in refusal(exc)


# ---- access -------------------------------------------------------------------------------


def _infusion_url_names() -> list[str]:
    names: list[str] = []
    for entry in get_resolver().url_patterns:
        module = getattr(entry, "urlconf_module", None)
        if isinstance(entry, URLResolver) and getattr(module, "__name__", "") == (
            "ketaflow.infusions.urls"
        ):
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern)
                assert pattern.name
                names.append(pattern.name)
    return names


INFUSION_URLS = _infusion_url_names()


def url_for(name: str, session: InfusionSession) -> str:
    pattern = get_resolver().reverse_dict.getlist(name)[0][0][0][1]
    params: dict[str, Any] = {}
    if "session_id" in pattern:
        params["session_id"] = session.pk
    if "appointment_id" in pattern:
        params["appointment_id"] = session.appointment_id
    if "action" in pattern:
        params["action"] = "vitals"
    if "entry_id" in pattern:
        params["entry_id"] = 1
    if "instrument" in pattern:
        params["instrument"] = "phq9"
    return reverse(name, kwargs=params)


def test_the_url_list_covers_the_app() -> None:
    assert {"infusion_session", "infusion_action", "infusion_today"} <= set(INFUSION_URLS)


@pytest.mark.parametrize("name", INFUSION_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_requests_go_to_login(world: World, name: str, method: str) -> None:
    session = open_session(world)
    url = url_for(name, session)
    response = getattr(Client(), method)(url)
    assert response.status_code == 302, url
    assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("nurse", 200),
        ("prescriber", 200),
        ("director", 200),
        ("frontdesk", 403),
        ("patient_user", 404),
        ("foreign_prescriber", 404),
    ],
)
def test_who_sees_the_session_page(world: World, client_for: Any, who: str, status: int) -> None:
    session = open_session(world)
    response = client_for(getattr(world, who)).get(reverse("infusion_session", args=[session.pk]))
    assert response.status_code == status
    if status != 200:
        assert b"Anders" not in response.content


@pytest.mark.parametrize("who", ["frontdesk", "patient_user", "foreign_prescriber"])
@pytest.mark.parametrize("name", [n for n in INFUSION_URLS if n != "infusion_today"])
def test_no_one_else_reaches_any_session_url(
    world: World, client_for: Any, who: str, name: str
) -> None:
    session = prepare(world)
    event(world, session, "start", timezone.now())
    url = url_for(name, session)
    client = client_for(getattr(world, who))
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code in (403, 404, 405), (url, method)
        assert b"Anders" not in response.content
    assert session.vitals.count() == 1


def test_front_desk_is_denied_and_audited(world: World, client_for: Any) -> None:
    session = open_session(world)
    client_for(world.frontdesk).get(reverse("infusion_session", args=[session.pk]))
    assert AuditEntry.objects.filter(
        action="denied", actor=world.frontdesk, patient_id=world.patient.pk
    ).exists()


def test_today_lists_the_clinic_appointments(world: World, client_for: Any) -> None:
    appointment = make_appointment(world)
    foreign = make_appointment(world, world.foreign_patient)
    response = client_for(world.nurse).get(reverse("infusion_today"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Anders" in html
    assert "Cruz" not in html
    assert client_for(world.frontdesk).get(reverse("infusion_today")).status_code == 403
    assert client_for(world.patient_user).get(reverse("infusion_today")).status_code == 403
    opened = client_for(world.nurse).post(reverse("infusion_open", args=[appointment.pk]))
    session = InfusionSession.objects.get(appointment=appointment)
    assert opened["Location"] == reverse("infusion_session", args=[session.pk])
    again = client_for(world.nurse).post(reverse("infusion_open", args=[appointment.pk]))
    assert again["Location"] == opened["Location"]
    denied = client_for(world.nurse).post(reverse("infusion_open", args=[foreign.pk]))
    assert denied.status_code == 404
    assert (
        client_for(world.frontdesk)
        .post(reverse("infusion_open", args=[appointment.pk]))
        .status_code
        == 403
    )


def test_every_page_view_is_audited(world: World, client_for: Any) -> None:
    session = run_to_stop(world)
    c = client_for(world.nurse)
    entry = session.vitals.get()
    pages = [
        reverse("infusion_session", args=[session.pk]),
        reverse("infusion_instructions", args=[session.pk]),
        reverse("infusion_correct", args=[session.pk, entry.pk]),
        reverse("infusion_today"),
    ]
    for url in pages:
        before = AuditEntry.objects.filter(action="view", actor=world.nurse).count()
        response = c.get(url)
        assert response.status_code == 200, url
        after = AuditEntry.objects.filter(action="view", actor=world.nurse).count()
        assert after == before + 1, url
    page = c.get(reverse("infusion_session", args=[session.pk])).content.decode()
    # The predicted concentration is drawn into the page (web/charts.py), not a second request.
    assert 'id="pk-chart"' in page
    assert 'id="vitals-chart"' in page


def test_the_page_works_without_javascript(world: World, client_for: Any) -> None:
    session = prepare(world)
    c = client_for(world.nurse)
    url = reverse("infusion_action", args=[session.pk, "event"])
    response = c.post(url, {"kind": "start", "client_uuid": uuid.uuid4(), "rate_ml_per_h": "150"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("infusion_session", args=[session.pk]))
    page = c.get(response["Location"]).content.decode()
    assert "Start recorded" in page
    assert 'id="btn-pause"' in page
    assert "style=" not in page
    assert "<script>" not in page


def test_instructions_say_no_driving(world: World, client_for: Any) -> None:
    session = open_session(world)
    html = (
        client_for(world.nurse)
        .get(reverse("infusion_instructions", args=[session.pk]))
        .content.decode()
    )
    assert "Do not drive" in html
    assert "until the next day" in html


def test_the_chart_lists_infusion_sessions(world: World, client_for: Any) -> None:
    session = open_session(world)
    chart = reverse("patient_chart", args=[world.patient.pk])
    html = client_for(world.nurse).get(chart).content.decode()
    assert reverse("infusion_session", args=[session.pk]) in html
    front = client_for(world.frontdesk).get(chart).content.decode()
    assert reverse("infusion_session", args=[session.pk]) not in front
    own = client_for(world.patient_user).get(chart).content.decode()
    assert "Infusion sessions" not in own


# ---- demo ---------------------------------------------------------------------------------


def test_demo_complete_and_running(world: World) -> None:
    actor = Actor.system("demo")
    vial = stock_vial(world, lot="KET-24A117")
    complete = demo_session(
        actor=actor,
        appointment=make_appointment(world),
        nurse=world.nurse,
        scenario="complete",
        witness=world.prescriber,
    )
    assert complete.locked
    # The vial came from stock, drawn before the start; given and the rest wasted, witnessed.
    kinds = list(
        LedgerEntry.objects.filter(session=complete).order_by("seq").values_list("kind", "vial")
    )
    assert kinds[:2] == [("drawn", vial.pk), ("administered", vial.pk)]
    assert kinds[2:] in ([], [("wasted", vial.pk)])
    draw = LedgerEntry.objects.get(session=complete, kind="drawn")
    assert ledger.draw_remaining_mg(draw) == 0
    assert complete.started_at is not None
    assert draw.at < complete.started_at
    assert complete.vial_lot == "KET-24A117"
    assert complete.vitals.filter(level="critical").exists()
    assert complete.events.filter(kind="pause").exists()
    running = demo_session(
        actor=actor,
        appointment=make_appointment(world, world.other_patient),
        nurse=world.nurse,
        scenario="running",
    )
    assert running.status == InfusionSession.Status.RUNNING


def test_a_command_cannot_chart_an_infusion(world: World) -> None:
    """Charting is a person's work: a command's actor is refused as every app refuses it
    (``Actor.person``: NotAPerson, a 403 on a page), and nothing is written."""
    from ketaflow.audit.context import NotAPerson

    session = open_session(world)
    with pytest.raises(NotAPerson):
        services.vitals_record(
            actor=Actor(user=None, system_name="import"),
            session=session,
            client_uuid=uuid.uuid4(),
            **NORMAL_VITALS,
        )
    assert not VitalsEntry.objects.filter(session=session).exists()
