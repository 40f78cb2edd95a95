"""Writes and audited reads of an infusion session.

Every write takes the acting person (``actor``), runs in one transaction with the session row
locked, validates (``full_clean`` and the clinical rules) and writes its audit entry in the same
transaction. A refusal is a ``ValidationError`` whose message dict names the field and the rule;
nothing is stored. The gates (what must be complete before the infusion starts, what discharge
needs, the lock after signing) live here, not in the page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_local, clinic_today
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, refusal
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
from ketaflow.clinical import (
    AlertLevel,
    ClinicalInputError,
    EndOrganSymptom,
    HardLimitError,
    ImpossibleValueError,
    Indication,
    InfusionPlan,
    InfusionRequest,
    Instrument,
    Override,
    OverrideRequiredError,
    Sex,
    VitalSign,
    WeightBasis,
    assess_vitals,
    plan_infusion,
    pump,
    to_jsonable,
)
from ketaflow.clinical import Role as ClinicalRole
from ketaflow.clinical.clinic_settings import ClinicalSettings
from ketaflow.clinical.dosing import (
    HEIGHT_CM_RANGE,
    WEIGHT_KG_RANGE,
    max_pump_rate_ml_per_h,
    weight_change_to_confirm,
)
from ketaflow.clinicsettings.selectors import clinical_settings_for
from ketaflow.infusions import gates
from ketaflow.infusions.lock import AUDIT_KEY, seal
from ketaflow.infusions.models import (
    Addendum,
    AdverseEvent,
    InfusionEvent,
    InfusionSession,
    PrescriberDecision,
    SideEffect,
    VitalsEntry,
)
from ketaflow.infusions.policy import InfusionPolicy, infusion_policy
from ketaflow.infusions.timers import BagState, VitalsDue, bag_state, next_vitals_due
from ketaflow.ledger.services import live_session_draw
from ketaflow.patients.models import Patient
from ketaflow.portal.answers import response_record
from ketaflow.portal.models import UrgentTask
from ketaflow.portal.safety import urgent_task_acknowledge, urgent_task_raise
from ketaflow.treatment.models import Appointment
from ketaflow.treatment.services import local, schedule_settings
from ketaflow.web.templatetags.display import mg, score

Status = InfusionSession.Status
Kind = InfusionEvent.Kind
Phase = VitalsEntry.Phase

# The questionnaires taken before every infusion (issue 5; clinical.md s. 5).
PRE_INFUSION_INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument.PCL5,
    Instrument.PHQ9,
    Instrument.CSSRS,
)
PRE_INFUSION = "pre-infusion"

BEFORE_START = frozenset({Status.PLANNED, Status.CHECKLIST})
INFUSING = frozenset({Status.RUNNING, Status.PAUSED})
AFTER_STOP = frozenset({Status.STOPPED, Status.RECOVERY})

# The pump state machine: event kind -> (statuses it may follow, status it leads to).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    Kind.START: (BEFORE_START, Status.RUNNING),
    Kind.RATE_CHANGE: (frozenset({Status.RUNNING}), Status.RUNNING),
    Kind.PAUSE: (frozenset({Status.RUNNING}), Status.PAUSED),
    Kind.RESUME: (frozenset({Status.PAUSED}), Status.RUNNING),
    Kind.STOP: (INFUSING, Status.STOPPED),
    Kind.COMPLETE: (INFUSING, Status.STOPPED),
}


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _person(actor: Actor) -> User:
    if actor.user is None:
        raise _refuse(NON_FIELD_ERRORS, "a person must chart an infusion, not a system process")
    return actor.user


def _require_perm(actor: Actor, perm: Perm) -> User:
    user = _person(actor)
    if not user.may(perm):
        raise _refuse(
            NON_FIELD_ERRORS,
            refusal(user.role, perm).rstrip("."),
        )
    return user


def _locked_row(session: InfusionSession) -> InfusionSession:
    """The session row, re-read under a row lock (PostgreSQL; SQLite serialises writers)."""
    return InfusionSession.objects.select_for_update().select_related("patient").get(pk=session.pk)


def _require_unlocked(session: InfusionSession) -> None:
    if session.status == Status.COSIGN:
        raise _refuse(
            NON_FIELD_ERRORS,
            "signed: the nurse signed this note; it waits for the prescriber's co-signature "
            "and can no longer change",
        )
    if session.locked:
        signer = session.signed_by.get_full_name() if session.signed_by else "?"
        when = (
            clinic_local(session.patient.clinic, session.signed_at).strftime("%Y-%m-%d %H:%M")
            if session.signed_at
            else "?"
        )
        raise _refuse(
            NON_FIELD_ERRORS,
            f"locked: this infusion note was signed by {signer or session.signed_by} at {when}; "
            "later changes are addenda",
        )


def _check_version(session: InfusionSession, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != session.version:
        who = session.updated_by
        name = (who.get_full_name() or who.get_username()) if who else "someone else"
        when = clinic_local(session.patient.clinic, session.updated_at).strftime("%H:%M:%S")
        raise _refuse(
            "version",
            f"changed by {name} at {when} since you opened this form; reload to see the "
            "change, then enter yours again",
        )


def _bump(session: InfusionSession, user: User) -> None:
    session.version += 1
    session.updated_by = user


def _check_time(
    session: InfusionSession, field: str, at: dt.datetime, policy: InfusionPolicy
) -> None:
    clinic = session.patient.clinic
    now = timezone.now()
    if timezone.is_naive(at):
        raise _refuse(field, "give the time with its time zone")
    if at > now + dt.timedelta(minutes=policy.future_skew_min):
        raise _refuse(
            field,
            f"{clinic_local(clinic, at):%H:%M:%S} is in the future (more than "
            f"{policy.future_skew_min} min ahead of the clinic clock)",
        )
    if at < now - dt.timedelta(hours=policy.late_entry_max_hours):
        raise _refuse(
            field,
            f"{clinic_local(clinic, at):%Y-%m-%d %H:%M} is more than "
            f"{policy.late_entry_max_hours} h ago; record it as an addendum",
        )


def _settings(session: InfusionSession) -> ClinicalSettings:
    """The clinic's clinical settings (dose limits, vital-sign alarms, weight check)."""
    return clinical_settings_for(session.patient.clinic)


def _audit(
    actor: Actor,
    action: str,
    session: InfusionSession,
    summary: str,
    *,
    object_type: str = "infusion_session",
    object_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id if object_id is not None else session.pk,
        patient_id=session.patient_id,
        summary=summary,
        detail=detail,
    )


# ---- reads ----------------------------------------------------------------------------------


def session_viewed(*, actor: Actor, session: InfusionSession, what: str) -> None:
    """Record that ``actor`` saw ``what`` of the session (page, instructions, PK curve)."""
    _audit(actor, Action.VIEW, session, f"viewed infusion session {session.pk}: {what}")


def sessions_listed(
    *, actor: Actor, day: dt.date, appointment_ids: list[int], patient_ids: Sequence[int] = ()
) -> None:
    """The day's infusions were listed: one entry naming every patient on the list."""
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="infusion_day",
        summary=f"listed infusions of {day.isoformat()}: {len(appointment_ids)} shown",
        detail={"appointment_ids": appointment_ids},
        patient_ids=patient_ids,
    )


def effective_vitals(session: InfusionSession) -> list[VitalsEntry]:
    """The vitals entries that stand (not corrected by a later entry), oldest first."""
    corrected = set(
        session.vitals.filter(corrects__isnull=False).values_list("corrects_id", flat=True)
    )
    return [v for v in session.vitals.select_related("by") if v.pk not in corrected]


def baseline_vitals(session: InfusionSession) -> VitalsEntry | None:
    baselines = [v for v in effective_vitals(session) if v.phase == Phase.BASELINE]
    return baselines[-1] if baselines else None


def pre_infusion_responses(session: InfusionSession) -> dict[str, InstrumentResponse]:
    """The newest pre-infusion response of each questionnaire for this session."""
    found: dict[str, InstrumentResponse] = {}
    for response in InstrumentResponse.objects.filter(
        infusion_session_id=session.pk, context=PRE_INFUSION
    ).order_by("taken_at", "pk"):
        found[response.instrument] = response
    return found


def session_responses(session: InfusionSession, instrument: Instrument) -> list[InstrumentResponse]:
    return list(
        InstrumentResponse.objects.filter(
            infusion_session_id=session.pk, instrument=instrument.value
        ).order_by("taken_at", "pk")
    )


def pregnancy_test_applies(patient: Patient, on: dt.date, policy: InfusionPolicy) -> bool:
    age = patient.age_on(on)
    return (
        patient.sex_at_birth in policy.pregnancy_test_sexes
        and policy.pregnancy_test_min_age <= age <= policy.pregnancy_test_max_age
    )


def risk_flags(session: InfusionSession) -> list[str]:
    """Pre-infusion answers that need a prescriber before the infusion starts."""
    flags: list[str] = []
    for response in pre_infusion_responses(session).values():
        if response.suicide_risk_flag:
            if response.instrument == Instrument.PHQ9.value:
                flags.append("PHQ-9 item 9 (thoughts of self-harm) is above 0")
            else:
                flags.append(f"C-SSRS screener triage is {response.risk_level} risk")
    return flags


def start_problems(session: InfusionSession, user: User | None) -> list[str]:
    """Everything that still keeps the infusion from starting, each naming the item."""
    policy = infusion_policy()
    today = clinic_today(session.patient.clinic)
    problems: list[str] = []
    patient = session.patient
    if signed_candidacy_for(patient) is None:
        problems.append("candidacy: no signed candidacy decision (eligible or reviewed)")
    if current_consent_for(patient) is None:
        problems.append("consent: no current informed consent on record")
    if not session.fasting_confirmed:
        problems.append("fasting: not confirmed")
    if not session.escort_confirmed:
        problems.append("escort: not confirmed")
    if pregnancy_test_applies(patient, today, policy):
        if session.pregnancy_test == InfusionSession.PregnancyTest.POSITIVE:
            problems.append("pregnancy test: positive; ketamine must not be given")
        elif session.pregnancy_test != InfusionSession.PregnancyTest.NEGATIVE:
            problems.append(
                f"pregnancy test: a negative result is required (sex at birth "
                f"{patient.get_sex_at_birth_display().lower()}, age {patient.age_on(today)}, "
                f"clinic rule {policy.pregnancy_test_min_age}-{policy.pregnancy_test_max_age})"
            )
    elif session.pregnancy_test == InfusionSession.PregnancyTest.POSITIVE:
        problems.append("pregnancy test: positive; ketamine must not be given")
    if session.weight_kg is None or session.weight_measured_on is None:
        problems.append("weight: today's weight (kg) and when it was measured are not recorded")
    elif (today - session.weight_measured_on).days > policy.weight_valid_days:
        problems.append(
            f"weight: measured on {session.weight_measured_on.isoformat()}; "
            + (
                "the clinic wants the weight of the day of the infusion"
                if policy.weight_valid_days == 0
                else f"the clinic accepts a weight up to {policy.weight_valid_days} "
                f"day{'s' if policy.weight_valid_days != 1 else ''} old"
            )
            + " (clinic setting); weigh the patient"
        )
    base = baseline_vitals(session)
    if base is None:
        problems.append("baseline vitals: not recorded")
    elif gates.baseline_problem(session, base):
        problems.append(gates.baseline_problem(session, base))
    responses = pre_infusion_responses(session)
    for instrument in PRE_INFUSION_INSTRUMENTS:
        if instrument.value not in responses:
            problems.append(f"{instrument.label}: pre-infusion questionnaire not recorded")
    flags = risk_flags(session)
    if flags and session.risk_acknowledged_at is None:
        problems.append(
            "suicide risk: " + "; ".join(flags) + "; a prescriber must assess and acknowledge"
        )
    if session.plan is None:
        problems.append("dose: not computed")
    if live_session_draw(session) is None:
        problems.append("vial: not picked from the clinic's stock and drawn")
    if user is None:
        problems.append("credentials: a person must start the infusion")
    else:
        check = credential_check(user, ClinicalAct.ADMINISTER, on=today)
        if not check.ok:
            problems.append("credentials: " + "; ".join(check.problems))
    return problems


Delivered = pump.Delivered


def delivered_from_events(
    events: Iterable[tuple[str, dt.datetime, Decimal | None]],
    final_concentration_mg_per_ml: float,
    until: dt.datetime | None = None,
) -> Delivered:
    """Volume and dose given: the integral of the pump rate over the running time
    (``ketaflow.clinical.pump``: ``rate_segments`` and ``delivered``). A pump still running is
    counted up to ``until``."""
    return pump.delivered(pump.rate_segments(events), final_concentration_mg_per_ml, until)


def session_delivered(session: InfusionSession, until: dt.datetime | None = None) -> Delivered:
    events = [(e.kind, e.at, e.rate_ml_per_h) for e in session.events.all()]
    delivered = delivered_from_events(events, session.final_concentration_mg_per_ml or 0.0, until)
    return _capped_at_bag(session, events, delivered, until)


PumpEvent = tuple[str, dt.datetime, Decimal | None]
_RATE_SETTING = (Kind.START, Kind.RATE_CHANGE, Kind.RESUME)


def _pump_rate_now(events: Sequence[PumpEvent]) -> float | None:
    """The rate the pump runs at after the last event (``None`` when paused or stopped)."""
    if not events or events[-1][0] not in _RATE_SETTING:
        return None
    rates = [rate for kind, _, rate in events if kind in _RATE_SETTING and rate is not None]
    return float(rates[-1]) if rates else None


def _bag_of(
    session: InfusionSession, events: Sequence[PumpEvent], now: dt.datetime | None
) -> BagState | None:
    if not session.total_volume_ml:
        return None
    knots = [
        (at, delivered_from_events(events[: index + 1], 1.0).volume_ml)
        for index, (_, at, _) in enumerate(events)
    ]
    rate = _pump_rate_now(events)
    if rate is not None and now is not None and now > events[-1][1]:
        knots.append((now, delivered_from_events(events, 1.0, until=now).volume_ml))
    return bag_state(
        vtbi_ml=float(session.total_volume_ml),
        knots=knots,
        running_rate_ml_per_h=rate,
        now=now or timezone.now(),
    )


def session_bag(session: InfusionSession, now: dt.datetime) -> BagState | None:
    """The volume to be infused (the plan's total volume) against what the pump events delivered
    by ``now``: remaining volume and time, expected end, or when the bag was fully infused.
    ``None`` before the dose is computed."""
    events = [(e.kind, e.at, e.rate_ml_per_h) for e in session.events.all()]
    return _bag_of(session, events, now)


def _capped_at_bag(
    session: InfusionSession,
    events: Sequence[PumpEvent],
    delivered: Delivered,
    until: dt.datetime | None,
) -> Delivered:
    """Never more than the bag: a pump left running past the volume to be infused delivered
    the bag and no more (the ledger's "given" is this)."""
    vtbi = session.total_volume_ml
    # Completion is recorded only once the bag is infused, at the time it was: from then on the
    # delivered amount is the bag, exactly (the float sum of the pump's segments up to a
    # microsecond timestamp can fall a hair short of it: 36.24999999999999 of 36.25 mg).
    completed = bool(events) and events[-1][0] == Kind.COMPLETE
    if vtbi and completed and (until is None or until >= events[-1][1]):
        dose = Fraction(vtbi) * Fraction(session.final_concentration_mg_per_ml or 0.0)
        return Delivered(volume_ml=vtbi, dose_mg=float(dose), running_min=delivered.running_min)
    if not vtbi or delivered.volume_ml <= vtbi:
        return delivered
    bag = _bag_of(session, events, until)
    if bag is None or bag.complete_at is None:
        return delivered
    end = bag.complete_at
    before = [e for e in events if e[1] <= end]
    at_end = delivered_from_events(before, 1.0, until=end)
    dose = Fraction(vtbi) * Fraction(session.final_concentration_mg_per_ml or 0.0)
    return Delivered(volume_ml=vtbi, dose_mg=float(dose), running_min=at_end.running_min)


def _clinic_time(session: InfusionSession, at: dt.datetime, fmt: str = "%H:%M:%S") -> str:
    return local(session.patient.clinic, at).strftime(fmt)


def _completion_at(session: InfusionSession, now: dt.datetime) -> dt.datetime:
    """When the bag was fully infused; refused while it has not been."""
    bag = session_bag(session, now)
    if bag is None:
        raise _refuse("kind", "compute the dose first: it fixes the volume to be infused")
    if bag.complete_at is None:
        end = (
            f"; expected at {_clinic_time(session, bag.expected_end)}"
            if bag.expected_end is not None
            else ""
        )
        raise _refuse(
            "kind",
            f"the bag is not yet infused: {bag.delivered_ml:.1f} of {bag.vtbi_ml:g} mL delivered"
            + end,
        )
    return bag.complete_at


def _refuse_after_bag(session: InfusionSession, kind: str, at: dt.datetime) -> None:
    """Once the volume to be infused is delivered the pump has nothing left to run: a pause,
    rate change or stop after that instant is refused; the nurse confirms completion."""
    bag = session_bag(session, at)
    # A second's grace: the pump's own end and a stop pressed on it are the same moment.
    if (
        bag is not None
        and bag.complete_at is not None
        and bag.complete_at + dt.timedelta(seconds=1) < at
    ):
        raise _refuse(
            "kind",
            f"cannot {Kind(kind).label.lower()}: the bag's {bag.vtbi_ml:g} mL were infused at "
            f"{_clinic_time(session, bag.complete_at)}; confirm completion instead",
        )


def session_vitals_due(session: InfusionSession, now: dt.datetime) -> VitalsDue | None:
    """When the next vitals reading is due under the clinic's monitoring schedule
    (``ScheduleSettings``): during the infusion (running or paused) from its start, after it
    until discharge from its end; ``None`` before the start and after discharge."""
    settings = schedule_settings(session.patient.clinic)
    phase: Literal["during", "recovery"] | None = None
    began: dt.datetime | None = None
    interval = settings.vitals_every_min_during
    if session.status in INFUSING:
        phase, began = "during", session.started_at
    elif session.status in AFTER_STOP:
        phase, began = "recovery", session.ended_at
        interval = settings.vitals_every_min_recovery
    readings = [v.measured_at for v in effective_vitals(session) if v.phase != Phase.BASELINE]
    return next_vitals_due(
        phase=phase, phase_began_at=began, readings_at=readings, interval_min=interval, now=now
    )


# ---- writes ---------------------------------------------------------------------------------


@transaction.atomic
def session_open(*, actor: Actor, appointment: Appointment) -> InfusionSession:
    """The appointment's session, opened now if it has none (opening twice is harmless)."""
    _require_perm(actor, Perm.CHART_INFUSION)
    existing = InfusionSession.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing
    if appointment.status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW):
        raise _refuse(
            NON_FIELD_ERRORS,
            f"appointment: it is {appointment.get_status_display().lower()}; no session opened",
        )
    session = InfusionSession(
        appointment=appointment, patient_id=appointment.patient_id, updated_by=actor.user
    )
    session.full_clean()
    session.save()
    _audit(
        actor, Action.CREATE, session, f"opened infusion session for appointment {appointment.pk}"
    )
    return session


def _to_checklist(session: InfusionSession) -> None:
    if session.status == Status.PLANNED:
        session.status = Status.CHECKLIST


def _clear_dose(session: InfusionSession) -> None:
    for name in (
        "plan",
        "dose_mg",
        "drug_volume_ml",
        "drug_volume_ml_exact",
        "total_volume_ml",
        "final_concentration_mg_per_ml",
        "rate_ml_per_h",
        "rate_ml_per_h_exact",
        "dose_computed_by",
        "dose_computed_at",
    ):
        setattr(session, name, None)
    session.override_reason = ""
    session.override_by = None
    session.override_role = ""


@transaction.atomic
def checklist_update(
    *,
    actor: Actor,
    session: InfusionSession,
    expected_version: int | None,
    fasting_confirmed: bool,
    escort_confirmed: bool,
    pregnancy_test: str,
    weight_kg: Decimal | None,
    weight_measured_on: dt.date | None,
    height_cm: Decimal | None,
    weight_change_confirmed: bool = False,
    weight_entered: str = "",
) -> InfusionSession:
    """The pre-infusion checklist. A weight more than the clinic's percentage from the patient's
    last recorded weight is refused until confirmed (``ketaflow.clinical.dosing``)."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    _check_version(session, expected_version)
    if session.status not in BEFORE_START:
        raise _refuse(
            NON_FIELD_ERRORS, "checklist: the infusion has started; it can no longer change"
        )
    today = clinic_today(session.patient.clinic)
    if weight_kg is not None and weight_measured_on is None:
        raise _refuse("weight_measured_on", "give the date the weight was measured")
    if weight_measured_on is not None and weight_measured_on > today:
        raise _refuse("weight_measured_on", "the date the weight was measured is in the future")
    # Entry guards of the dosing module (not clinical limits): ketaflow.clinical.dosing.
    if weight_kg is not None and not WEIGHT_KG_RANGE[0] <= float(weight_kg) <= WEIGHT_KG_RANGE[1]:
        raise _refuse(
            "weight_kg",
            f"{weight_kg} kg is outside the plausible range "
            f"{WEIGHT_KG_RANGE[0]:g}-{WEIGHT_KG_RANGE[1]:g} kg",
        )
    if weight_kg is not None and weight_kg != session.weight_kg:
        question = weight_change_to_confirm(
            float(weight_kg),
            _last_recorded_weight_kg(session),
            confirm_percent=_settings(session).weight_change_confirm_percent,
        )
        if question is not None and not weight_change_confirmed:
            raise _refuse("weight_kg", question)
    if height_cm is not None and not HEIGHT_CM_RANGE[0] <= float(height_cm) <= HEIGHT_CM_RANGE[1]:
        raise _refuse(
            "height_cm",
            f"{height_cm} cm is outside the plausible range "
            f"{HEIGHT_CM_RANGE[0]:g}-{HEIGHT_CM_RANGE[1]:g} cm",
        )
    before = {
        "fasting_confirmed": session.fasting_confirmed,
        "escort_confirmed": session.escort_confirmed,
        "pregnancy_test": session.pregnancy_test,
        "weight_kg": str(session.weight_kg) if session.weight_kg is not None else None,
        "weight_measured_on": str(session.weight_measured_on)
        if session.weight_measured_on
        else None,
        "height_cm": str(session.height_cm) if session.height_cm is not None else None,
    }
    body_changed = session.weight_kg != weight_kg or session.height_cm != height_cm
    session.fasting_confirmed = fasting_confirmed
    session.escort_confirmed = escort_confirmed
    session.pregnancy_test = pregnancy_test
    session.weight_kg = weight_kg
    session.weight_measured_on = weight_measured_on
    session.height_cm = height_cm
    dose_cleared = body_changed and session.plan is not None
    if dose_cleared:
        _clear_dose(session)
    _to_checklist(session)
    _bump(session, user)
    session.full_clean()
    session.save()
    after = {
        "fasting_confirmed": fasting_confirmed,
        "escort_confirmed": escort_confirmed,
        "pregnancy_test": pregnancy_test,
        "weight_kg": str(weight_kg) if weight_kg is not None else None,
        "weight_measured_on": str(weight_measured_on) if weight_measured_on else None,
        "height_cm": str(height_cm) if height_cm is not None else None,
    }
    changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    _audit(
        actor,
        Action.UPDATE,
        session,
        "checklist: changed "
        + (", ".join(sorted(changes)) or "nothing")
        + ("; dose cleared (weight or height changed)" if dose_cleared else ""),
        detail={
            "changes": changes,
            "dose_cleared": dose_cleared,
            "weight_entered": weight_entered,
            "weight_change_confirmed": weight_change_confirmed,
        },
    )
    return session


def _last_recorded_weight_kg(session: InfusionSession) -> float | None:
    """The patient's most recent weight recorded at another infusion."""
    last = (
        InfusionSession.objects.filter(patient_id=session.patient_id, weight_kg__isnull=False)
        .exclude(pk=session.pk)
        .order_by("-weight_measured_on", "-pk")
        .values_list("weight_kg", flat=True)
        .first()
    )
    return float(last) if last is not None else None


@transaction.atomic
def screening_record(
    *,
    actor: Actor,
    session: InfusionSession,
    instrument: Instrument,
    answers: Sequence[int] | Sequence[bool],
) -> InstrumentResponse:
    """A questionnaire or scale taken in this session: PCL-5, PHQ-9 and C-SSRS before the
    infusion; CADSS at any time; the modified Aldrete after the infusion is stopped."""
    _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    field = "answers"
    if instrument in PRE_INFUSION_INSTRUMENTS:
        if session.status not in BEFORE_START:
            raise _refuse(field, f"{instrument.label} is taken before the infusion starts")
        context = PRE_INFUSION
    elif instrument is Instrument.CADSS:
        context = (
            PRE_INFUSION
            if session.status in BEFORE_START
            else "during"
            if session.status in INFUSING
            else "recovery"
        )
    elif instrument is Instrument.ALDRETE:
        if session.status not in AFTER_STOP:
            raise _refuse(
                field, "the modified Aldrete score is taken after the infusion is stopped"
            )
        context = "recovery"
    else:
        raise _refuse("instrument", f"{instrument.label} is not recorded in an infusion session")
    try:
        response = response_record(
            actor=actor,
            patient=session.patient,
            instrument=instrument.value,
            answers=answers,
            context=context,
            session_id=session.pk,
        )
    except ClinicalInputError as exc:
        raise _refuse(field, f"{instrument.label}: {exc}") from None
    if instrument in PRE_INFUSION_INSTRUMENTS:
        _to_checklist(session)
    if context == "recovery" and session.status == Status.STOPPED:
        session.status = Status.RECOVERY
    session.save(update_fields=["status", "updated_at"])
    return response


@transaction.atomic
def risk_acknowledge(*, actor: Actor, session: InfusionSession, note: str) -> InfusionSession:
    """A prescriber's assessment of a pre-infusion suicide-risk flag; the start gate needs it."""
    user = _require_perm(actor, Perm.ORDER_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    if session.status not in BEFORE_START:
        raise _refuse(NON_FIELD_ERRORS, "the infusion has already started")
    flags = risk_flags(session)
    if not flags:
        raise _refuse(NON_FIELD_ERRORS, "there is no suicide-risk flag to acknowledge")
    if not note.strip():
        raise _refuse("note", "write what you assessed and why the infusion may go ahead")
    session.risk_acknowledged_by = user
    session.risk_acknowledged_at = timezone.now()
    session.risk_acknowledgement = note.strip()
    session.full_clean()
    session.save()
    _audit(
        actor,
        Action.UPDATE,
        session,
        "acknowledged the pre-infusion suicide-risk flag",
        detail={"flags": flags, "note": note.strip()},
    )
    return session


@transaction.atomic
def dose_compute(
    *,
    actor: Actor,
    session: InfusionSession,
    expected_version: int | None,
    indication: str,
    weight_basis: str,
    dose_mg_per_kg: Decimal,
    vial_concentration_mg_per_ml: Decimal,
    final_volume_ml: Decimal,
    duration_min: Decimal,
    override_reason: str = "",
) -> InfusionPlan:
    """Compute dose, volumes and pump rate with the drug library's guardrails.

    A hard-limit breach is refused with the library's message. A soft-limit breach needs an
    override reason from a user whose role the drug library allows (``ketaflow.clinical``
    decides it; ``OVERRIDE_SOFT_LIMIT`` follows it); the plan is stored exactly as computed.
    """
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    _check_version(session, expected_version)
    if session.status not in BEFORE_START:
        raise _refuse(
            NON_FIELD_ERRORS, "dose: the infusion has started; the dose can no longer change"
        )
    if session.weight_kg is None:
        raise _refuse("weight_kg", "record today's weight in the checklist first")
    entry = _settings(session).drug_library[Indication(indication)]
    override: Override | None = None
    reason = override_reason.strip()
    if reason:
        override = Override(reason=reason, role=ClinicalRole(user.role), by=user.get_username())
    sex = {"female": Sex.FEMALE, "male": Sex.MALE}.get(session.patient.sex_at_birth)
    request = InfusionRequest(
        indication=Indication(indication),
        weight_kg=float(session.weight_kg),
        weight_basis=WeightBasis(weight_basis),
        dose_mg_per_kg=float(dose_mg_per_kg),
        vial_concentration_mg_per_ml=float(vial_concentration_mg_per_ml),
        final_volume_ml=float(final_volume_ml),
        duration_min=float(duration_min),
        height_cm=float(session.height_cm) if session.height_cm is not None else None,
        sex=sex,
        override=override,
    )
    try:
        plan = plan_infusion(request, entry)
    except HardLimitError as exc:
        raise _refuse("dose_mg_per_kg", str(exc)) from None
    except OverrideRequiredError as exc:
        raise _refuse("override_reason", str(exc)) from None
    except ClinicalInputError as exc:
        raise _refuse(NON_FIELD_ERRORS, str(exc)) from None
    session.indication = indication
    session.weight_basis = weight_basis
    session.dose_mg_per_kg = dose_mg_per_kg
    session.vial_concentration_mg_per_ml = vial_concentration_mg_per_ml
    session.final_volume_ml = final_volume_ml
    session.duration_min = duration_min
    session.plan = to_jsonable(plan)
    session.dose_mg = plan.dose_mg
    session.drug_volume_ml = plan.drug_volume_ml
    session.drug_volume_ml_exact = plan.drug_volume_ml_exact
    session.total_volume_ml = plan.total_volume_ml
    session.final_concentration_mg_per_ml = plan.final_concentration_mg_per_ml
    session.rate_ml_per_h = plan.rate_ml_per_h
    session.rate_ml_per_h_exact = plan.rate_ml_per_h_exact
    session.dose_computed_by = user
    session.dose_computed_at = timezone.now()
    if plan.override is not None:
        session.override_reason = plan.override.reason
        session.override_by = user
        session.override_role = user.role
    else:
        session.override_reason = ""
        session.override_by = None
        session.override_role = ""
    _to_checklist(session)
    _bump(session, user)
    session.full_clean()
    session.save()
    _audit(
        actor,
        Action.UPDATE,
        session,
        f"computed dose {plan.dose_mg!r} mg, rate {plan.rate_ml_per_h} mL/h"
        + (" (soft limit overridden)" if plan.override else ""),
        detail={"plan": session.plan},
    )
    return plan


def _max_rate_ml_per_h(session: InfusionSession) -> Fraction | None:
    """Running the whole bag faster than the drug library's hard minimum duration is refused
    (ketaflow.clinical.dosing: 30 min, Ketalar label warning on rapid IV administration)."""
    entry = _settings(session).drug_library[Indication(session.indication)]
    return max_pump_rate_ml_per_h(entry, session.total_volume_ml or 0.0)


Row = TypeVar("Row", InfusionEvent, VitalsEntry, SideEffect, Addendum)


def _find_duplicate(
    model: type[Row], session: InfusionSession, client_uuid: uuid.UUID
) -> Row | None:
    existing = model.objects.filter(client_uuid=client_uuid).first()
    if existing is not None and existing.session_id != session.pk:
        raise _refuse("client_uuid", "this entry identifier belongs to another session")
    return existing


def _save_once(obj: Row, model: type[Row], session: InfusionSession) -> tuple[Row, bool]:
    """Insert ``obj``; if a concurrent request stored the same client UUID first, return that."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        existing = _find_duplicate(model, session, obj.client_uuid)
        if existing is None:
            raise
        return existing, False
    return obj, True


@transaction.atomic
def event_record(
    *,
    actor: Actor,
    session: InfusionSession,
    kind: str,
    client_uuid: uuid.UUID,
    at: dt.datetime | None = None,
    rate_ml_per_h: Decimal | None = None,
    note: str = "",
    reason: str = "",
    confirm_early_stop: bool = False,
) -> InfusionEvent:
    """Start, rate change, pause, resume or stop, at ``at`` (default now). A repeated
    ``client_uuid`` returns the stored event and changes nothing. A pause, and a stop before the
    planned dose, need a ``reason`` (and the ``note`` for "other"); an early stop needs
    ``confirm_early_stop``; resuming after a critical reading needs the prescriber's decision."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    existing = _find_duplicate(InfusionEvent, session, client_uuid)
    if existing is not None:
        return existing
    _require_unlocked(session)
    policy = infusion_policy()
    if kind not in TRANSITIONS:
        raise _refuse("kind", f"{kind!r} is not a pump event")
    allowed_from, leads_to = TRANSITIONS[kind]
    label = Kind(kind).label.lower()
    if session.status not in allowed_from:
        raise _refuse(
            "kind",
            f"cannot {label} while the session is {session.get_status_display().lower()}",
        )
    at = at or timezone.now()
    if kind == Kind.COMPLETE:
        at = _completion_at(session, at)
        note = note or (
            f"volume to be infused ({session.total_volume_ml:g} mL) delivered; confirmed at "
            f"{_clinic_time(session, timezone.now())}"
        )
    elif kind != Kind.START:
        _refuse_after_bag(session, kind, at)
    _check_time(session, "at", at, policy)
    last = session.events.order_by("-at", "-pk").first()
    if last is not None and at < last.at:
        local_at = clinic_local(session.patient.clinic, last.at)
        raise _refuse(
            "at",
            f"{clinic_local(session.patient.clinic, at):%H:%M:%S} is before the last event "
            f"({last.get_kind_display().lower()} at {local_at:%H:%M:%S})",
        )
    if kind == Kind.START:
        problems = start_problems(session, user)
        if problems:
            raise ValidationError(
                {NON_FIELD_ERRORS: ["Cannot start the infusion: " + "; ".join(problems) + "."]}
            )
        if rate_ml_per_h is None and session.rate_ml_per_h is not None:
            rate_ml_per_h = Decimal(repr(session.rate_ml_per_h))
    _check_event_gates(session, kind, at, reason, note, confirm_early_stop)
    if kind in (Kind.START, Kind.RATE_CHANGE) and rate_ml_per_h is None:
        raise _refuse("rate_ml_per_h", f"give the pump rate in mL/h for the {label}")
    if kind in (Kind.PAUSE, Kind.STOP, Kind.COMPLETE) and rate_ml_per_h is not None:
        raise _refuse("rate_ml_per_h", f"a {label} has no rate; leave it empty")
    if rate_ml_per_h is not None:
        if rate_ml_per_h <= 0:
            raise _refuse("rate_ml_per_h", "the pump rate must be above 0 mL/h (use pause or stop)")
        limit = _max_rate_ml_per_h(session)
        if limit is not None and Fraction(rate_ml_per_h) > limit:
            raise _refuse(
                "rate_ml_per_h",
                f"{rate_ml_per_h} mL/h would run the {session.total_volume_ml:g} mL bag in under "
                f"the drug library's minimum duration (maximum {float(limit):g} mL/h)",
            )
    event = InfusionEvent(
        session=session,
        kind=kind,
        at=at,
        rate_ml_per_h=rate_ml_per_h,
        by=user,
        note=note.strip(),
        client_uuid=client_uuid,
        reason=reason if kind in (Kind.PAUSE, Kind.STOP) else "",
    )
    event.full_clean(validate_unique=False)
    event, created = _save_once(event, InfusionEvent, session)
    if not created:
        return event
    session.status = leads_to
    if kind == Kind.START:
        session.started_at = at
        session.started_by = user
    if kind in (Kind.STOP, Kind.COMPLETE):
        session.ended_at = at
    delivered = session_delivered(session)
    session.delivered_volume_ml = delivered.volume_ml
    session.delivered_dose_mg = delivered.dose_mg
    session.full_clean()
    session.save()
    _audit(
        actor,
        Action.CREATE,
        session,
        f"infusion {label} at {clinic_local(session.patient.clinic, at):%H:%M:%S}"
        + (f", {rate_ml_per_h} mL/h" if rate_ml_per_h is not None else "")
        + (f"; reason: {event.get_reason_display()}" if event.reason else "")
        + f"; delivered {mg(delivered.dose_mg)} so far",
        object_type="infusion_event",
        object_id=event.pk,
        detail={
            "client_uuid": str(client_uuid),
            "delivered_dose_mg": delivered.dose_mg,
            "reason": event.reason,
            "note": event.note,
        },
    )
    return event


_VITAL_FIELDS: dict[VitalSign, str] = {
    VitalSign.SYSTOLIC_BP: "systolic_mmhg",
    VitalSign.DIASTOLIC_BP: "diastolic_mmhg",
    VitalSign.HEART_RATE: "heart_rate_bpm",
    VitalSign.SPO2: "spo2_percent",
    VitalSign.RESPIRATORY_RATE: "respiratory_rate_per_min",
}


def _readings(entry: VitalsEntry) -> dict[VitalSign, float]:
    values = {sign: getattr(entry, name) for sign, name in _VITAL_FIELDS.items()}
    return {sign: float(v) for sign, v in values.items() if v is not None}


def _phase_at(session: InfusionSession, at: dt.datetime) -> str:
    """The phase of a reading by when it was measured (an entry sent late from a tablet's
    offline queue keeps the phase of its time, not of the time it arrived)."""
    if session.started_at is None or at < session.started_at:
        return Phase.BASELINE
    if session.ended_at is not None and at >= session.ended_at:
        return Phase.RECOVERY
    return Phase.DURING


@transaction.atomic
def vitals_record(
    *,
    actor: Actor,
    session: InfusionSession,
    client_uuid: uuid.UUID,
    systolic_mmhg: int,
    diastolic_mmhg: int,
    heart_rate_bpm: int,
    spo2_percent: int,
    respiratory_rate_per_min: int | None = None,
    symptoms: Sequence[str] = (),
    measured_at: dt.datetime | None = None,
    corrects: VitalsEntry | None = None,
    correction_reason: str = "",
) -> VitalsEntry:
    """One set of vitals, classified by the monitoring rules against this session's baseline.

    An impossible value is refused with the rule's reason. A correction is a new entry pointing
    at the one it corrects (which is kept). A repeated ``client_uuid`` returns the stored entry.
    """
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    existing = _find_duplicate(VitalsEntry, session, client_uuid)
    if existing is not None:
        return existing
    _require_unlocked(session)
    policy = infusion_policy()
    if measured_at is None:
        measured_at = corrects.measured_at if corrects is not None else timezone.now()
    _check_time(session, "measured_at", measured_at, policy)
    if corrects is not None:
        if corrects.session_id != session.pk:
            raise _refuse("corrects", "the corrected entry belongs to another session")
        if corrects.corrections.exists():
            raise _refuse("corrects", "this entry was already corrected; correct the newest one")
        if not correction_reason.strip():
            raise _refuse("correction_reason", "say why the entry is corrected")
    try:
        symptom_set = [EndOrganSymptom(s) for s in symptoms]
    except ValueError:
        raise _refuse("symptoms", f"unknown symptom in {list(symptoms)}") from None
    entry = VitalsEntry(
        session=session,
        phase=corrects.phase if corrects is not None else _phase_at(session, measured_at),
        measured_at=measured_at,
        systolic_mmhg=systolic_mmhg,
        diastolic_mmhg=diastolic_mmhg,
        heart_rate_bpm=heart_rate_bpm,
        spo2_percent=spo2_percent,
        respiratory_rate_per_min=respiratory_rate_per_min,
        symptoms=[s.value for s in symptom_set],
        corrects=corrects,
        correction_reason=correction_reason.strip(),
        by=user,
        client_uuid=client_uuid,
        level="",
        assessment={},
    )
    baseline = baseline_vitals(session)
    if (
        entry.phase == Phase.BASELINE
        or baseline is None
        or (corrects is not None and baseline.pk == corrects.pk)
    ):
        base = None
    else:
        base = _readings(baseline)
    readings = _readings(entry)
    try:
        assessment = assess_vitals(
            readings,
            baseline=base,
            symptoms=symptom_set,
            settings=_settings(session).monitoring,
        )
    except ImpossibleValueError as exc:
        message = str(exc)
        field = next(
            (name for sign, name in _VITAL_FIELDS.items() if message.startswith(sign.label)),
            NON_FIELD_ERRORS,
        )
        if message.startswith("diastolic BP") and "not below systolic" in message:
            field = "diastolic_mmhg"
        raise _refuse(field, message) from None
    entry.level = assessment.level.value
    entry.actions = [a.value for a in assessment.actions]
    entry.reasons = list(assessment.reasons)
    assessment_json = to_jsonable(assessment)
    entry.assessment = assessment_json if isinstance(assessment_json, dict) else {}
    entry.full_clean(validate_unique=False)
    entry, created = _save_once(entry, VitalsEntry, session)
    if not created:
        return entry
    if entry.phase == Phase.RECOVERY and session.status == Status.STOPPED:
        session.status = Status.RECOVERY
        session.save(update_fields=["status", "updated_at"])
    elif entry.phase == Phase.BASELINE:
        _to_checklist(session)
        session.save(update_fields=["status", "updated_at"])
    if entry.phase != Phase.BASELINE and gates.is_urgent(entry):
        _reading_escalate(actor, session, entry)
    _audit(
        actor,
        Action.CREATE,
        session,
        f"{'corrected' if corrects else 'recorded'} {entry.get_phase_display().lower()} vitals "
        f"{systolic_mmhg}/{diastolic_mmhg} HR {heart_rate_bpm} SpO2 {spo2_percent}: {entry.level}",
        object_type="vitals_entry",
        object_id=entry.pk,
        detail={
            "client_uuid": str(client_uuid),
            "level": entry.level,
            "actions": entry.actions,
            "corrects": corrects.pk if corrects else None,
        },
    )
    return entry


def active_alert(session: InfusionSession) -> VitalsEntry | None:
    """The newest standing vitals entry, if it is not normal."""
    entries = [v for v in effective_vitals(session) if v.phase != Phase.BASELINE]
    if not entries:
        return None
    newest = max(entries, key=lambda v: (v.measured_at, v.pk))
    return newest if newest.level != AlertLevel.NORMAL.value else None


@transaction.atomic
def side_effect_record(
    *,
    actor: Actor,
    session: InfusionSession,
    client_uuid: uuid.UUID,
    kind: str,
    severity: str,
    onset_at: dt.datetime | None = None,
    other_description: str = "",
    medication: str = "",
    dose_amount: Decimal | None = None,
    dose_unit: str = "",
    route: str = "",
    given_at: dt.datetime | None = None,
    note: str = "",
) -> SideEffect:
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    existing = _find_duplicate(SideEffect, session, client_uuid)
    if existing is not None:
        return existing
    _require_unlocked(session)
    policy = infusion_policy()
    onset_at = onset_at or timezone.now()
    _check_time(session, "onset_at", onset_at, policy)
    if kind == SideEffect.Kind.OTHER and not other_description.strip():
        raise _refuse("other_description", "describe the side effect")
    treated = bool(medication.strip())
    if treated:
        if dose_amount is None:
            raise _refuse("dose_amount", "give the dose of the medication")
        if not dose_unit.strip():
            raise _refuse("dose_unit", "give the unit of the dose (e.g. mg)")
        if not route:
            raise _refuse("route", "give the route of the medication")
        given_at = given_at or timezone.now()
        _check_time(session, "given_at", given_at, policy)
        if given_at < onset_at:
            raise _refuse("given_at", "the medication was given before the side effect began")
    elif dose_amount is not None or dose_unit.strip() or route or given_at:
        raise _refuse("medication", "name the medication the dose, unit and route belong to")
    effect = SideEffect(
        session=session,
        kind=kind,
        other_description=other_description.strip(),
        severity=severity,
        onset_at=onset_at,
        medication=medication.strip(),
        dose_amount=dose_amount,
        dose_unit=dose_unit.strip(),
        route=route,
        given_at=given_at if treated else None,
        note=note.strip(),
        by=user,
        client_uuid=client_uuid,
    )
    effect.full_clean(validate_unique=False)
    effect, created = _save_once(effect, SideEffect, session)
    if created:
        _audit(
            actor,
            Action.CREATE,
            session,
            f"side effect {effect.get_kind_display().lower()} ({severity})"
            + (
                f", treated with {effect.medication} {dose_amount} {dose_unit} {route}"
                if treated
                else ""
            ),
            object_type="side_effect",
            object_id=effect.pk,
        )
    return effect


def latest_aldrete(session: InfusionSession) -> InstrumentResponse | None:
    responses = session_responses(session, Instrument.ALDRETE)
    return responses[-1] if responses else None


@transaction.atomic
def session_discharge(
    *,
    actor: Actor,
    session: InfusionSession,
    expected_version: int | None,
    escort_present: bool,
    instructions_given: bool,
    now: dt.datetime | None = None,
) -> InfusionSession:
    """Discharge needs the clinic's minimum observation time since the stop (``gates``), the
    newest modified Aldrete at or above the clinic's minimum (9), the escort present and the
    written instructions given (clinical.md s. 4.5)."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    _check_version(session, expected_version)
    if session.status not in AFTER_STOP:
        raise _refuse(
            NON_FIELD_ERRORS,
            f"discharge: the infusion must be stopped first (it is "
            f"{session.get_status_display().lower()})",
        )
    policy = infusion_policy()
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    observation = _observation_problem(session, now)
    if observation:
        errors[NON_FIELD_ERRORS] = [observation]
    aldrete = latest_aldrete(session)
    if aldrete is None:
        errors["aldrete"] = ["record a modified Aldrete score after the infusion"]
    elif aldrete.total < policy.aldrete_discharge_minimum:
        errors["aldrete"] = [
            f"modified Aldrete {score(aldrete.total)} is below "
            f"{policy.aldrete_discharge_minimum} (Aldrete 1995); keep observing and re-score"
        ]
    if not escort_present:
        errors["escort_present"] = [
            "a responsible adult escort must be present to take the patient home"
        ]
    if not instructions_given:
        errors["instructions_given"] = [
            "give the written discharge instructions (no driving until the next day)"
        ]
    errors.update(clinic_phone_problem(session))
    if errors:
        raise ValidationError(errors)
    session.escort_present = True
    session.instructions_given = True
    session.discharged_at = now
    session.discharged_by = user
    session.status = Status.DISCHARGED
    _bump(session, user)
    session.full_clean()
    session.save()
    _audit(
        actor,
        Action.UPDATE,
        session,
        f"discharged (modified Aldrete {score(aldrete.total) if aldrete else '?'})"
        + f"; observed {gates.observed_min(session, now) or 0:.0f} min after the stop",
    )
    return session


@transaction.atomic
def session_sign(*, actor: Actor, session: InfusionSession) -> InfusionSession:
    """The nurse signs the infusion note; it is then locked, unless it needs the prescriber's
    co-signature (``gates.cosign_reasons``): then it waits for :func:`session_cosign`. Needs
    SIGN_INFUSION_NOTE and a current licence and life-support certificate (the ADMINISTER
    credentials)."""
    user = _require_perm(actor, Perm.SIGN_INFUSION_NOTE)
    session = _locked_row(session)
    _require_unlocked(session)
    if session.status != Status.DISCHARGED:
        raise _refuse(
            NON_FIELD_ERRORS,
            f"sign: the patient must be discharged first (the session is "
            f"{session.get_status_display().lower()})",
        )
    check = credential_check(user, ClinicalAct.ADMINISTER, on=clinic_today(session.patient.clinic))
    if not check.ok:
        raise _refuse(NON_FIELD_ERRORS, "credentials: " + "; ".join(check.problems))
    session.signed_by = user
    session.signed_at = timezone.now()
    cosign = gates.cosign_reasons(session, effective_vitals(session))
    if cosign:
        session.status = Status.COSIGN
        _bump(session, user)
        session.full_clean()
        session.save()
        _audit(
            actor,
            Action.UPDATE,
            session,
            "signed the infusion note; awaiting the prescriber's co-signature: "
            + "; ".join(cosign),
            detail={"cosign_reasons": cosign},
        )
        return session
    session.locked = True
    session.status = Status.SIGNED
    _bump(session, user)
    session.full_clean()
    session.save()
    digest = seal(session)
    _audit(
        actor,
        Action.UPDATE,
        session,
        "signed and locked the infusion note",
        detail={AUDIT_KEY: digest},
    )
    return session


@transaction.atomic
def addendum_add(
    *, actor: Actor, session: InfusionSession, text: str, client_uuid: uuid.UUID
) -> Addendum:
    """A later note on a signed session, with its author and time."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    existing = _find_duplicate(Addendum, session, client_uuid)
    if existing is not None:
        return existing
    if not session.locked:
        raise _refuse(
            NON_FIELD_ERRORS, "addenda are written after the note is signed; chart directly"
        )
    if not text.strip():
        raise _refuse("text", "write the addendum")
    addendum = Addendum(session=session, author=user, text=text.strip(), client_uuid=client_uuid)
    addendum.full_clean(validate_unique=False)
    addendum, created = _save_once(addendum, Addendum, session)
    if created:
        _audit(
            actor,
            Action.CREATE,
            session,
            "wrote an addendum to the signed infusion note",
            object_type="infusion_addendum",
            object_id=addendum.pk,
        )
    return addendum


# ---- the chair's gates (issue 11 items 3, 4, 6, 7; the rules in ``gates``) ------------------


def _check_event_gates(
    session: InfusionSession,
    kind: str,
    at: dt.datetime,
    reason: str,
    note: str,
    confirm_early_stop: bool,
) -> None:
    """Reasons for a pause and an early stop, the early stop's confirmation, and the
    prescriber's decision before resuming after a critical reading."""
    if reason and reason not in InfusionEvent.Reason.values:
        raise _refuse("reason", f"{reason!r} is not one of the listed reasons")
    if reason and kind not in (Kind.PAUSE, Kind.STOP):
        raise _refuse("reason", "only a pause or a stop has a reason")
    needs_reason = kind == Kind.PAUSE
    if kind == Kind.STOP:
        delivered = session_delivered(session, until=at)
        if gates.stop_is_early(session, delivered.volume_ml):
            needs_reason = True
            if reason and not confirm_early_stop:
                raise _refuse(
                    "confirm_early_stop",
                    f"{delivered.dose_mg:.2f} mg of the planned {session.dose_mg or 0:.2f} mg "
                    "given: confirm that the infusion stops before the planned dose",
                )
    if needs_reason and not reason:
        what = "the pause" if kind == Kind.PAUSE else "stopping before the planned dose"
        raise _refuse("reason", f"choose the reason for {what}")
    if needs_reason and reason == InfusionEvent.Reason.OTHER and not note.strip():
        raise _refuse("note", "describe the reason (you chose other)")
    if kind == Kind.RESUME:
        waiting = gates.awaiting_decision(session, effective_vitals(session))
        if waiting is not None:
            raise _refuse(
                NON_FIELD_ERRORS,
                f"resume: the reading {gates.reading_text(waiting)} needs a prescriber's "
                "decision to resume, recorded in this session",
            )


def _reading_escalate(actor: Actor, session: InfusionSession, entry: VitalsEntry) -> None:
    """A critical or emergency reading after the start: an urgent task for the clinic's
    prescribers (banner on every staff page, email through the outbox) and an adverse event,
    in the reading's transaction."""
    text = gates.reading_text(entry)
    urgent_task_raise(
        actor=actor,
        patient=session.patient,
        reasons=[f"infusion chair: {text}; prescriber's decision needed"],
        kind=UrgentTask.Kind.INFUSION_READING,
        infusion_session_id=session.pk,
        notify=Perm.ORDER_INFUSION,
    )
    adverse = AdverseEvent(
        session=session,
        reading=entry,
        level=entry.level,
        summary=f"{entry.get_phase_display()}: {text}"[:300],
        at=entry.measured_at,
    )
    adverse.full_clean()
    adverse.save()
    _audit(
        actor,
        Action.CREATE,
        session,
        f"adverse event recorded: {entry.level} reading {text}",
        object_type="adverse_event",
        object_id=adverse.pk,
        detail={"vitals_entry": entry.pk, "level": entry.level},
    )


def _observation_problem(session: InfusionSession, now: dt.datetime) -> str:
    until = gates.observation_until(session)
    if until is None or now >= until:
        return ""
    stopped = clinic_local(session.patient.clinic, session.ended_at) if session.ended_at else None
    return (
        f"observation: the infusion stopped at {stopped:%H:%M}; the clinic observes for at least "
        f"{gates.observation_min(session)} min after the stop (Recovery time setting; Spravato "
        f"label: at least 2 h after the dose); discharge from "
        f"{clinic_local(session.patient.clinic, until):%H:%M}"
    )


@transaction.atomic
def baseline_override(
    *, actor: Actor, session: InfusionSession, reason: str, at: dt.datetime | None = None
) -> InfusionSession:
    """A prescriber allows the start over a baseline reading at or above the critical limits,
    with a reason (audited; the note then needs the prescriber's co-signature)."""
    user = _require_perm(actor, Perm.ORDER_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    if session.status not in BEFORE_START:
        raise _refuse(NON_FIELD_ERRORS, "the infusion has already started")
    base = baseline_vitals(session)
    if base is None or not gates.is_urgent(base):
        raise _refuse(
            NON_FIELD_ERRORS, "there is no baseline reading at or above the critical limits"
        )
    if not reason.strip():
        raise _refuse("reason", "write why the infusion may start over this reading")
    check = credential_check(user, ClinicalAct.ORDER, on=clinic_today(session.patient.clinic))
    if not check.ok:
        raise _refuse(NON_FIELD_ERRORS, "credentials: " + "; ".join(check.problems))
    session.baseline_override_vitals = base
    session.baseline_override_by = user
    at = at or timezone.now()
    _check_time(session, "at", at, infusion_policy())
    if at < base.measured_at:
        raise _refuse("at", "the override is made after the reading it is about")
    session.baseline_override_at = at
    session.baseline_override_reason = reason.strip()
    _bump(session, user)
    session.full_clean()
    session.save()
    _audit(
        actor,
        Action.UPDATE,
        session,
        f"overrode the critical baseline {gates.reading_text(base)}: {reason.strip()}",
        detail={"vitals_entry": base.pk, "reason": reason.strip()},
    )
    return session


@transaction.atomic
def decision_record(
    *,
    actor: Actor,
    session: InfusionSession,
    decision: str,
    note: str,
    client_uuid: uuid.UUID,
    at: dt.datetime | None = None,
) -> PrescriberDecision:
    """The prescriber's decision on the newest critical or emergency reading of the infusion;
    it acknowledges the reading's open urgent task with the same words."""
    user = _require_perm(actor, Perm.ORDER_INFUSION)
    session = _locked_row(session)
    existing = PrescriberDecision.objects.filter(client_uuid=client_uuid).first()
    if existing is not None:
        if existing.session_id != session.pk:
            raise _refuse("client_uuid", "this entry identifier belongs to another session")
        return existing
    _require_unlocked(session)
    if session.status not in INFUSING:
        raise _refuse(NON_FIELD_ERRORS, "a decision on a reading is made while the infusion runs")
    readings = gates.urgent_readings(effective_vitals(session))
    if not readings:
        raise _refuse(NON_FIELD_ERRORS, "there is no critical or emergency reading to decide on")
    if decision not in PrescriberDecision.Decision.values:
        raise _refuse("decision", "choose the decision")
    if not note.strip():
        raise _refuse("note", "write what you assessed and what you decided")
    at = at or timezone.now()
    _check_time(session, "at", at, infusion_policy())
    reading = max(readings, key=lambda v: (v.measured_at, v.pk))
    if at < reading.measured_at:
        raise _refuse("at", "the decision is made after the reading it is about")
    row = PrescriberDecision(
        session=session,
        reading=reading,
        decision=decision,
        note=note.strip(),
        by=user,
        at=at,
        client_uuid=client_uuid,
    )
    row.full_clean(validate_unique=False)
    row.save()
    _audit(
        actor,
        Action.CREATE,
        session,
        f"prescriber's decision on {gates.reading_text(reading)}: {row.get_decision_display()}",
        object_type="prescriber_decision",
        object_id=row.pk,
        detail={"vitals_entry": reading.pk, "decision": decision, "note": row.note},
    )
    for task in UrgentTask.objects.filter(
        infusion_session_id=session.pk, acknowledged_at__isnull=True
    ):
        urgent_task_acknowledge(
            actor=actor,
            task=task,
            action_taken=UrgentTask.Action.CHAIR_DECISION,
            note=f"{row.get_decision_display()}: {row.note}",
        )
    return row


@transaction.atomic
def session_cosign(*, actor: Actor, session: InfusionSession) -> InfusionSession:
    """The prescriber co-signs a note the nurse signed (a critical or emergency reading or an
    override); the note is then locked and sealed, the co-signature inside the seal."""
    user = _require_perm(actor, Perm.ORDER_INFUSION)
    session = _locked_row(session)
    if session.status != Status.COSIGN:
        raise _refuse(
            NON_FIELD_ERRORS,
            "co-sign: the note must be signed by the nurse and wait for a co-signature (it is "
            f"{session.get_status_display().lower()})",
        )
    if session.signed_by_id == user.pk:
        raise _refuse(NON_FIELD_ERRORS, "co-sign: a second clinician co-signs, not the signer")
    check = credential_check(user, ClinicalAct.SIGN, on=clinic_today(session.patient.clinic))
    if not check.ok:
        raise _refuse(NON_FIELD_ERRORS, "credentials: " + "; ".join(check.problems))
    session.cosigned_by = user
    session.cosigned_at = timezone.now()
    session.locked = True
    session.status = Status.SIGNED
    _bump(session, user)
    session.full_clean()
    session.save()
    digest = seal(session)
    _audit(
        actor,
        Action.UPDATE,
        session,
        "co-signed and locked the infusion note",
        detail={AUDIT_KEY: digest},
    )
    return session


CLINIC_PHONE_REQUIRED = (
    "the clinic's phone number is not set: the medical director sets it in Administration > "
    "Clinic (Phone) before the first discharge, because the discharge sheet tells the patient "
    "to call it"
)


def clinic_phone_problem(session: InfusionSession) -> dict[str, list[str]]:
    """The refusal when the session's clinic has no phone number for the discharge sheet."""
    clinic = Patient.objects.select_related("clinic").get(pk=session.patient_id).clinic
    return {} if clinic.phone.strip() else {"clinic_phone": [CLINIC_PHONE_REQUIRED]}
