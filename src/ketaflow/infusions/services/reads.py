"""Audited reads of a session and what its page and gates ask: the vitals that stand, the
baseline, the pre-infusion questionnaires, the suicide-risk flags and what still keeps the
infusion from starting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import User
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
from ketaflow.clinical import (
    AlertLevel,
    Instrument,
)
from ketaflow.infusions import gates, loaded
from ketaflow.infusions.models import (
    InfusionSession,
    VitalsEntry,
)
from ketaflow.infusions.policy import InfusionPolicy, infusion_policy
from ketaflow.infusions.services.base import PRE_INFUSION, PRE_INFUSION_INSTRUMENTS, Phase, _audit
from ketaflow.ledger.services import live_session_draw
from ketaflow.patients.models import Patient


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
    entries = loaded.session_rows(session, "vitals", "by")
    corrected = {v.corrects_id for v in entries if v.corrects_id is not None}
    return [v for v in entries if v.pk not in corrected]


def baseline_vitals(session: InfusionSession) -> VitalsEntry | None:
    baselines = [v for v in effective_vitals(session) if v.phase == Phase.BASELINE]
    return baselines[-1] if baselines else None


def pre_infusion_responses(session: InfusionSession) -> dict[str, InstrumentResponse]:
    """The newest pre-infusion response of each questionnaire for this session."""
    found: dict[str, InstrumentResponse] = {}
    read = loaded.responses(session)
    if read is None:
        read = list(
            InstrumentResponse.objects.filter(
                infusion_session_id=session.pk, context=PRE_INFUSION
            ).order_by("taken_at", "pk")
        )
    for response in read:
        if response.context == PRE_INFUSION:
            found[response.instrument] = response
    return found


def session_responses(session: InfusionSession, instrument: Instrument) -> list[InstrumentResponse]:
    read = loaded.responses(session)
    if read is not None:
        return [r for r in read if r.instrument == instrument.value]
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


def active_alert(session: InfusionSession) -> VitalsEntry | None:
    """The newest standing vitals entry, if it is not normal."""
    entries = [v for v in effective_vitals(session) if v.phase != Phase.BASELINE]
    if not entries:
        return None
    newest = max(entries, key=lambda v: (v.measured_at, v.pk))
    return newest if newest.level != AlertLevel.NORMAL.value else None


def latest_aldrete(session: InfusionSession) -> InstrumentResponse | None:
    responses = session_responses(session, Instrument.ALDRETE)
    return responses[-1] if responses else None
