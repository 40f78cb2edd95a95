"""Demo infusion sessions, charted through the services exactly as a nurse would.

``demo_session(scenario="complete")`` charts a whole infusion that ends signed and locked: a
critical baseline overridden by the prescriber, a critical blood-pressure reading (the
prescribers' urgent task), a pause with its reason, the prescriber's decision to resume, side
effect, CADSS and Aldrete, discharge after the observation time, the nurse's signature and the
prescriber's co-signature; ``"running"`` leaves a session mid-infusion. The appointment's
patient needs a signed candidacy and a current consent (the demo clinic sets those up); the
nurse and the clinic's prescriber need current credentials.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_UP, Decimal
from typing import Literal

from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.clinical import Instrument
from ketaflow.infusions import services, stock
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger.models import Vial
from ketaflow.ledger.services import live_session_draw
from ketaflow.treatment.models import Appointment
from ketaflow.treatment.services import clinic_today, clinic_zone

Scenario = Literal["complete", "running"]

# Pre-infusion answers of a patient with moderate PTSD symptoms and no suicide-risk flag.
_PCL5 = [2, 2, 1, 2, 1, 1, 0, 2, 2, 1, 2, 1, 1, 2, 2, 1, 0, 2, 2, 1]
_PHQ9 = [2, 1, 2, 2, 1, 1, 1, 0, 0]
_CSSRS = [False] * 6


def _vitals(
    actor: Actor,
    session: InfusionSession,
    at: dt.datetime,
    bp: tuple[int, int],
    hr: int,
    spo2: int = 98,
    rr: int = 14,
) -> None:
    services.vitals_record(
        actor=actor,
        session=session,
        client_uuid=uuid.uuid4(),
        systolic_mmhg=bp[0],
        diastolic_mmhg=bp[1],
        heart_rate_bpm=hr,
        spo2_percent=spo2,
        respiratory_rate_per_min=rr,
        measured_at=at,
    )


def _event(
    actor: Actor,
    session: InfusionSession,
    kind: str,
    at: dt.datetime,
    rate: str | None = None,
    reason: str = "",
    note: str = "",
) -> None:
    services.event_record(
        actor=actor,
        session=session,
        kind=kind,
        client_uuid=uuid.uuid4(),
        at=at,
        rate_ml_per_h=Decimal(rate) if rate is not None else None,
        reason=reason,
        note=note,
    )


def _prescriber_of(nurse: User) -> User | None:
    """The clinic's first active prescriber (else its medical director), for the demo's
    decision and co-signature."""
    staff = User.objects.filter(clinic=nurse.clinic, is_active=True)
    for role in (Role.PRESCRIBER, Role.MEDICAL_DIRECTOR):
        found = staff.filter(role=role).order_by("pk").first()
        if found is not None:
            return found
    return None


# Chair time before the pump starts: checklist, questionnaires, baseline vitals, dose and vial.
CHAIR_PREPARATION = dt.timedelta(minutes=15)
# The complete demo infusion: stopped 47 min after its start, discharged after the clinic's
# observation time (80 min by default): 127 minutes from the start to the discharge.
COMPLETE_SPAN = dt.timedelta(minutes=130)
RUNNING_FOR = dt.timedelta(minutes=20)


def demo_start(appointment: Appointment, scenario: Scenario, now: dt.datetime) -> dt.datetime:
    """When the demo pump starts: 15 min after the appointment time when that fits the
    scenario now (a complete infusion over within the last 3 h; a running one started 15 to
    30 min ago). Otherwise the appointment moves to where the infusion is charted (3 h ago,
    or 20 min ago), on the 5-minute grid of the clinic's clock, so that the appointment's time
    and the infusion's times agree in the clinic's time zone (a 09:00 appointment whose
    infusion ran 04:49-05:36 did not)."""
    planned = appointment.starts_at + CHAIR_PREPARATION
    if scenario == "complete":
        fits = now - dt.timedelta(hours=3) <= planned <= now - COMPLETE_SPAN
        wanted = now - dt.timedelta(hours=3)
    else:
        fits = now - dt.timedelta(minutes=30) <= planned <= now - dt.timedelta(minutes=15)
        wanted = now - RUNNING_FOR
    if fits:
        return planned
    zone = clinic_zone(appointment.patient.clinic)
    local = wanted.astimezone(zone)
    booked = local.replace(minute=local.minute - local.minute % 5, second=0) - CHAIR_PREPARATION
    length = appointment.ends_at - appointment.starts_at
    Appointment.objects.filter(pk=appointment.pk).update(starts_at=booked, ends_at=booked + length)
    appointment.refresh_from_db()
    return appointment.starts_at + CHAIR_PREPARATION


DEMO_STRENGTH = Decimal(10)  # mg/mL, the demo ledger's product


def _demo_vial(session: InfusionSession, lot: str, drawn_ml: Decimal) -> Vial:
    """The open vial of ``lot`` if it holds enough, else the next sealed one (first in, first
    out), else any vial in stock that holds enough."""
    clinic = session.patient.clinic
    vials = stock.stock_on_hand(clinic, on=clinic_today(clinic))
    for vial in sorted(vials, key=lambda v: (v.lot != lot, v.status != "open", v.label)):
        strength = vial.product.concentration_mg_per_ml
        if strength == DEMO_STRENGTH and vial.in_vial_mg >= drawn_ml * strength:
            return vial
    raise ValueError("the demo clinic's stock holds no vial to draw the dose from")


DEMO_VIAL_LOT = "KET-24A117"  # the Riverside demo's first delivered lot (ledger demo)


def demo_session(
    *,
    actor: Actor,
    appointment: Appointment,
    nurse: User,
    scenario: Scenario,
    vial_lot: str = DEMO_VIAL_LOT,
    witness: User | None = None,
) -> InfusionSession:
    """Chart ``appointment``'s infusion as ``nurse`` with a vial of ``vial_lot`` (a lot the
    clinic's demo ledger received, picked from the clinic's stock); ``actor`` says who loads the
    demo (its address and system name are kept on every audit entry). With a ``witness``, a
    complete session's remainder is wasted in the ledger after the infusion."""
    if scenario not in ("complete", "running"):
        raise ValueError(f"scenario: {scenario!r} is not 'complete' or 'running'")
    charting = Actor(user=nurse, ip_address=actor.ip_address, system_name=actor.system_name)
    start = demo_start(appointment, scenario, timezone.now().replace(microsecond=0))
    session = services.session_open(actor=charting, appointment=appointment)
    course = appointment.course
    weight_kg = course.weight_kg if course.weight_kg is not None else Decimal(72)
    services.checklist_update(
        actor=charting,
        session=session,
        expected_version=None,
        fasting_confirmed=True,
        escort_confirmed=True,
        pregnancy_test="negative" if session.patient.sex_at_birth != "male" else "not_applicable",
        weight_kg=weight_kg,
        weight_measured_on=clinic_today(session.patient.clinic),
        height_cm=course.height_cm if course.height_cm is not None else Decimal(170),
    )
    prescriber = _prescriber_of(nurse)
    deciding = Actor(user=prescriber, ip_address=actor.ip_address, system_name=actor.system_name)
    if scenario == "complete":
        # A baseline at the critical limit (heart rate 124, anxious on arrival): the start
        # waits for the prescriber's override.
        _vitals(charting, session, start - dt.timedelta(minutes=12), (138, 86), 124)
        services.baseline_override(
            actor=deciding,
            session=session,
            reason="Anxious on arrival, sinus rhythm, no chest pain; settles with reassurance. "
            "Start at the planned rate, vitals every 5 min.",
            at=start - dt.timedelta(minutes=5),
        )
    else:
        _vitals(charting, session, start - dt.timedelta(minutes=10), (124, 78), 74)
    for instrument, answers in (
        (Instrument.PCL5, _PCL5),
        (Instrument.PHQ9, _PHQ9),
        (Instrument.CSSRS, _CSSRS),
    ):
        services.screening_record(
            actor=charting, session=session, instrument=instrument, answers=answers
        )
    plan = services.dose_compute(
        actor=charting,
        session=session,
        expected_version=None,
        indication=course.indication,
        weight_basis=course.weight_basis,
        dose_mg_per_kg=course.dose_mg_per_kg,
        vial_concentration_mg_per_ml=DEMO_STRENGTH,
        final_volume_ml=Decimal(100),
        duration_min=course.duration_min,
    )
    # Drawn up to the next syringe mark (0.01 mL): never short; the rest is wasted, witnessed.
    drawn_ml = Decimal(repr(plan.drug_volume_ml_exact)).quantize(Decimal("0.01"), ROUND_UP)
    stock.vial_pick(
        actor=charting,
        session=session,
        expected_version=None,
        vial_id=_demo_vial(session, vial_lot, drawn_ml).pk,
        drawn_volume_ml=drawn_ml,
        at=start - dt.timedelta(minutes=5),
    )
    rate = repr(plan.rate_ml_per_h)
    _event(charting, session, "start", start, rate)
    _vitals(charting, session, start + dt.timedelta(minutes=10), (132, 84), 82)
    if scenario == "running":
        # Readings every 10 min while it runs; the next one is due (or overdue) on the page.
        minute = 20
        while start + dt.timedelta(minutes=minute + 1) < timezone.now():
            _vitals(charting, session, start + dt.timedelta(minutes=minute), (134, 84), 80)
            minute += 10
        session.refresh_from_db()
        return session
    _vitals(charting, session, start + dt.timedelta(minutes=20), (148, 92), 88)
    # The critical reading: SBP >= 180 (clinic policy, clinical.md s. 4.2) -> pause, recheck.
    _vitals(charting, session, start + dt.timedelta(minutes=28), (184, 112), 96)
    _event(
        charting,
        session,
        "pause",
        start + dt.timedelta(minutes=29),
        reason="vitals",
        note="BP 184/112; prescriber called to the chair",
    )
    services.side_effect_record(
        actor=charting,
        session=session,
        client_uuid=uuid.uuid4(),
        kind="hypertension",
        severity="moderate",
        onset_at=start + dt.timedelta(minutes=28),
        note="Asymptomatic; paused, prescriber called, rechecked.",
    )
    _vitals(charting, session, start + dt.timedelta(minutes=35), (152, 90), 84)
    services.decision_record(
        actor=deciding,
        session=session,
        decision="resume",
        note="Asymptomatic, no headache or chest pain; recheck 152/90. Resume, vitals every 5 min.",
        client_uuid=uuid.uuid4(),
        at=start + dt.timedelta(minutes=35, seconds=30),
    )
    _event(charting, session, "resume", start + dt.timedelta(minutes=36))
    _vitals(charting, session, start + dt.timedelta(minutes=45), (146, 88), 82)
    services.screening_record(
        actor=charting, session=session, instrument=Instrument.CADSS, answers=[1] * 10 + [0] * 13
    )
    _event(charting, session, "stop", start + dt.timedelta(minutes=47))
    _vitals(charting, session, start + dt.timedelta(minutes=62), (134, 82), 78)
    _vitals(charting, session, start + dt.timedelta(minutes=77), (126, 80), 74)
    services.screening_record(
        actor=charting, session=session, instrument=Instrument.ALDRETE, answers=[2, 2, 2, 2, 2]
    )
    draw = live_session_draw(session)
    if witness is not None and draw is not None:
        session.refresh_from_db()
        stock._waste_remainder(
            actor=charting,
            session=session,
            draw=draw,
            witness=witness,
            reason=stock.DEFAULT_WASTE_REASON,
            at=start + dt.timedelta(minutes=52),
        )
    services.session_discharge(
        actor=charting,
        session=session,
        expected_version=None,
        escort_present=True,
        instructions_given=True,
    )
    services.session_sign(actor=charting, session=session)
    # The critical reading makes the note need the prescriber's co-signature.
    services.session_cosign(actor=deciding, session=session)
    session.refresh_from_db()
    return session
