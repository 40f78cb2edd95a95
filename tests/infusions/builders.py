"""Builders of infusion test data, in one place: a patient made ready (signed candidacy,
current consent), an appointment and its session, baseline vitals, a computed dose, a vial drawn
from stock, a session prepared to start, pump events, a session run to its stop, a running
infusion on the clock and its readings. Plain functions over the services (no factory
library); the personas are tests/web/conftest.py's ``World``."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_today, clinic_zone
from ketaflow.accounts.models import Credential, User
from ketaflow.audit.context import Actor
from ketaflow.candidacy.models import CandidacyAssessment, Consent, ConsentForm
from ketaflow.clinical import Instrument
from ketaflow.infusions import services, stock
from ketaflow.infusions.models import InfusionEvent, InfusionSession, SideEffect, VitalsEntry
from ketaflow.ledger import services as ledger
from ketaflow.ledger.models import Product, Receipt, Vial
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Appointment, Chair, Course
from tests.web.conftest import World

FRAGMENT = {"HTTP_X_KETAFLOW_FRAGMENT": "1"}


# The pre-infusion questionnaires answered without a flag.
SCREENING: dict[Instrument, list[int] | list[bool]] = {
    Instrument.PCL5: [1] * 20,
    Instrument.PHQ9: [1] * 8 + [0],
    Instrument.CSSRS: [False] * 6,
}


def make_ready(world: World, patient: Patient) -> CandidacyAssessment:
    """A signed candidacy decision and a current consent for ``patient``."""
    today = timezone.localdate()
    candidacy = CandidacyAssessment.objects.create(
        patient=patient,
        created_by=world.prescriber,
        intake={},
        decision=CandidacyAssessment.Decision.ELIGIBLE,
        findings=[],
        summary="x",
        status=CandidacyAssessment.Status.SIGNED,
        signed_by=world.prescriber,
        signed_at=timezone.now(),
    )
    clinic = patient.clinic
    form = ConsentForm.objects.get_or_create(
        clinic=clinic,
        version="1",
        defaults={"title": "Consent", "body": "Off-label ketamine.", "effective_on": today},
    )[0]
    Consent.objects.create(
        patient=patient,
        form=form,
        accepted_at=timezone.now(),
        signed_name=patient.given_name,
        witness=world.nurse,
        recorded_by=world.nurse,
    )
    return candidacy


def make_appointment(world: World, patient: Patient | None = None) -> Appointment:
    patient = patient or world.patient
    today = timezone.localdate()
    candidacy = make_ready(world, patient)
    clinic = patient.clinic
    course = Course.objects.create(
        patient=patient,
        candidacy=candidacy,
        indication="ptsd",
        drug_library_key="ptsd",
        dose_mg_per_kg=Decimal("0.5"),
        duration_min=Decimal(40),
        weight_basis="actual",
        pattern="single",
        infusions_planned=1,
        start_on=today,
        created_by=world.prescriber,
    )
    chair = Chair.objects.get_or_create(clinic=clinic, name="Chair 1")[0]
    # An hour ago, but never before the clinic's midnight: an appointment of the clinic's day
    # (between 00:00 and 01:00 clinic time, an hour ago was yesterday's list).
    midnight = dt.datetime.combine(clinic_today(clinic), dt.time.min, tzinfo=clinic_zone(clinic))
    starts = max(timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=1), midnight)
    return Appointment.objects.create(
        course=course,
        patient=patient,
        sequence=1,
        chair=chair,
        nurse=world.nurse,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=3),
    )


def nurse_actor(world: World) -> Actor:
    return Actor(user=world.nurse)


def open_session(world: World, patient: Patient | None = None) -> InfusionSession:
    return services.session_open(
        actor=nurse_actor(world), appointment=make_appointment(world, patient)
    )


# A reading inside every limit.
NORMAL_VITALS: dict[str, Any] = {
    "systolic_mmhg": 120,
    "diastolic_mmhg": 80,
    "heart_rate_bpm": 72,
    "spo2_percent": 98,
    "respiratory_rate_per_min": 14,
}


def baseline(world: World, session: InfusionSession, **extra: Any) -> VitalsEntry:
    values = {**NORMAL_VITALS, **extra}
    return services.vitals_record(
        actor=nurse_actor(world), session=session, client_uuid=uuid.uuid4(), **values
    )


def compute_dose(
    world: World, session: InfusionSession, *, user: User | None = None, **extra: Any
) -> Any:
    session.refresh_from_db()
    values: dict[str, Any] = {
        "indication": "ptsd",
        "weight_basis": "actual",
        "dose_mg_per_kg": Decimal("0.5"),
        "vial_concentration_mg_per_ml": Decimal(10),
        "final_volume_ml": Decimal(100),
        "duration_min": Decimal(40),
    }
    values.update(extra)
    return services.dose_compute(
        actor=Actor(user=user or world.nurse),
        session=session,
        expected_version=session.version,
        **values,
    )


def stock_vial(
    world: World, *, conc: str = "10", lot: str = "LOT-42", expires_in_days: int = 200
) -> Vial:
    """A vial of ``conc`` mg/mL x 20 mL received into the clinic's ledger stock."""
    actor = Actor(user=world.nurse)
    clinic = world.nurse.clinic
    assert clinic is not None
    product = Product.objects.filter(clinic=clinic, concentration_mg_per_ml=conc).first()
    if product is None:
        product = ledger.product_create(
            actor=actor,
            clinic=clinic,
            name="Ketamine HCl",
            ndc=f"0000-{conc}-20",
            concentration_mg_per_ml=Decimal(conc),
            volume_per_vial_ml=Decimal(20),
        )
    receipt = ledger.stock_receive(
        actor=actor,
        product=product,
        lot=lot,
        expires_on=timezone.localdate() + dt.timedelta(days=expires_in_days),
        vial_count=1,
        supplier_name="Supplier Inc",
        supplier_address="1 Depot Rd",
        supplier_dea_number="RS0000000",
        invoice_number=f"INV-{Receipt.objects.count() + 1}",
    )
    return receipt.vials.select_related("product").get()


def prepare(
    world: World,
    skip: str = "",
    *,
    vial: bool = True,
    weight_kg: Decimal = Decimal(70),
    patient: Patient | None = None,
) -> InfusionSession:
    """A session (of ``patient``, by default the world's) with everything before the start
    complete, except ``skip`` (and the vial from stock when ``vial`` is false: the dose is
    computed, nothing drawn)."""
    session = open_session(world, patient)
    actor = nurse_actor(world)
    today = clinic_today(session.patient.clinic)  # the weight of the clinic's day
    services.checklist_update(
        actor=actor,
        session=session,
        expected_version=None,
        fasting_confirmed=skip != "fasting",
        escort_confirmed=skip != "escort",
        pregnancy_test="" if skip == "pregnancy test" else "negative",
        weight_kg=weight_kg,
        weight_measured_on=today - dt.timedelta(days=3) if skip == "weight" else today,
        height_cm=Decimal(170),
    )
    if skip != "baseline vitals":
        baseline(world, session)
    for instrument, answers in SCREENING.items():
        if skip != instrument.label:
            services.screening_record(
                actor=actor, session=session, instrument=instrument, answers=answers
            )
    if skip == "suicide risk":
        services.screening_record(
            actor=actor, session=session, instrument=Instrument.PHQ9, answers=[1] * 9
        )
    if skip not in ("dose", "vial"):
        compute_dose(world, session)
    if skip not in ("dose", "vial") and vial:
        session.refresh_from_db()
        stock.vial_pick(
            actor=actor,
            session=session,
            expected_version=session.version,
            vial_id=stock_vial(world).pk,
            drawn_volume_ml=Decimal("3.50"),
        )
    if skip == "candidacy":
        CandidacyAssessment.objects.filter(patient=session.patient).update(
            status=CandidacyAssessment.Status.SUPERSEDED
        )
    if skip == "consent":
        Consent.objects.filter(patient=session.patient).update(withdrawn_at=timezone.now())
    if skip == "credentials":
        Credential.objects.filter(user=world.nurse).update(expires_on=today - dt.timedelta(days=1))
    session.refresh_from_db()
    return session


def event(
    world: World,
    session: InfusionSession,
    kind: str,
    at: dt.datetime,
    rate: str | None = None,
    **extra: Any,
) -> InfusionEvent:
    """A pump event; a pause or stop gives a reason (and confirms an early stop) unless
    ``extra`` says otherwise."""
    if kind in ("pause", "stop"):
        extra.setdefault("reason", "patient_request")
        extra.setdefault("confirm_early_stop", True)
    return services.event_record(
        actor=nurse_actor(world),
        session=session,
        kind=kind,
        client_uuid=uuid.uuid4(),
        at=at,
        rate_ml_per_h=Decimal(rate) if rate is not None else None,
        **extra,
    )


def refusal(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(" ".join(v) for v in exc.value.message_dict.values())


def run_to_stop(
    world: World, stopped_min_ago: float = 90, *, aldrete: bool = False
) -> InfusionSession:
    """A prepared session run for 40 minutes and stopped ``stopped_min_ago`` minutes ago (by
    default long enough ago for the clinic's minimum observation, 80 min by default); with
    ``aldrete``, its Aldrete score recorded too (10 of 10)."""
    session = prepare(world)
    t0 = timezone.now() - dt.timedelta(minutes=stopped_min_ago + 40)
    event(world, session, "start", t0)
    event(world, session, "stop", t0 + dt.timedelta(minutes=40))
    if aldrete:
        services.screening_record(
            actor=nurse_actor(world),
            session=session,
            instrument=Instrument.ALDRETE,
            answers=[2] * 5,
        )
    session.refresh_from_db()
    return session


def discharge(world: World, session: InfusionSession) -> None:
    actor = nurse_actor(world)
    services.screening_record(
        actor=actor, session=session, instrument=Instrument.ALDRETE, answers=[2] * 5
    )
    services.session_discharge(
        actor=actor,
        session=session,
        expected_version=None,
        escort_present=True,
        instructions_given=True,
    )


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def started(session: InfusionSession) -> dt.datetime:
    assert session.started_at is not None
    return session.started_at


def running(world: World, started_min_ago: float) -> InfusionSession:
    """0.5 mg/kg at 70 kg: 35 mg in a 100 mL bag at 150 mL/h (40 min)."""
    session = prepare(world)
    event(world, session, "start", timezone.now() - minutes(started_min_ago))
    session.refresh_from_db()
    return session


def reading(
    world: World, session: InfusionSession, at: dt.datetime | None, sbp: int = 124, **extra: Any
) -> None:
    services.vitals_record(
        actor=nurse_actor(world),
        session=session,
        client_uuid=uuid.uuid4(),
        systolic_mmhg=sbp,
        diastolic_mmhg=80,
        heart_rate_bpm=76,
        spo2_percent=98,
        respiratory_rate_per_min=14,
        measured_at=at,
        **extra,
    )


def side_effect(world: World, session: InfusionSession) -> SideEffect:
    """Mild nausea, charted by the nurse now."""
    return services.side_effect_record(
        actor=nurse_actor(world),
        session=session,
        client_uuid=uuid.uuid4(),
        kind="nausea",
        severity="mild",
    )


def undrawn(world: World) -> InfusionSession:
    """Everything before the start done but the vial: 35 mg, 3.5 mL of 10 mg/mL."""
    session = prepare(world, skip="vial")
    compute_dose(world, session)
    session.refresh_from_db()
    return session


def charted(world: World) -> InfusionSession:
    """A whole infusion: started 70 min ago, a critical reading with chest pain, a pause with
    its reason, resume, stop, a side effect, Aldrete 10, discharge and the nurse's signature."""
    session = prepare(world)
    # Stopped long enough ago for the clinic's observation time (80 min by default).
    t0 = timezone.now() - dt.timedelta(minutes=140)
    event(world, session, "start", t0)
    baseline(
        world,
        session,
        systolic_mmhg=186,
        diastolic_mmhg=112,
        symptoms=["chest_pain"],
        measured_at=t0 + dt.timedelta(minutes=10, seconds=30),
    )
    services.event_record(
        actor=nurse_actor(world),
        session=session,
        kind="pause",
        client_uuid=uuid.uuid4(),
        at=t0 + dt.timedelta(minutes=11),
        reason="vitals",
        note="blood pressure 186/112 with chest pain",
    )
    prescriber = Actor(user=world.prescriber)
    services.decision_record(  # a critical reading: resuming needs the prescriber's decision
        actor=prescriber,
        session=session,
        decision="resume",
        note="pain settled, pressure falling",
        client_uuid=uuid.uuid4(),
        at=t0 + dt.timedelta(minutes=18),
    )
    event(world, session, "resume", t0 + dt.timedelta(minutes=20))
    services.event_record(
        actor=nurse_actor(world),
        session=session,
        kind="stop",
        client_uuid=uuid.uuid4(),
        at=t0 + dt.timedelta(minutes=45),
        reason="prescriber",
        confirm_early_stop=True,
    )
    actor = nurse_actor(world)
    side_effect(world, session)
    discharge(world, session)
    services.session_sign(actor=actor, session=session)
    services.session_cosign(actor=prescriber, session=session)  # the critical reading
    session.refresh_from_db()
    return session


def assessed(world: World, patient: Any, decision: str = "eligible") -> CandidacyAssessment:
    return CandidacyAssessment.objects.create(
        patient=patient,
        created_by=world.prescriber,
        intake={},
        decision=decision,
        findings=[],
        summary="x",
    )


def session_in(world: World, patient: Any, status: str, **extra: Any) -> InfusionSession:
    appointment = make_appointment(world, patient)
    return InfusionSession.objects.create(
        appointment=appointment, patient=patient, status=status, **extra
    )
