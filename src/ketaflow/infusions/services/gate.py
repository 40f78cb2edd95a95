"""The chair's gates (issue 11): what a pump event needs, the escalation of an urgent reading,
the observation time before discharge, the baseline override and the prescriber's decision."""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_local, clinic_today
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.infusions import gates
from ketaflow.infusions.models import (
    AdverseEvent,
    InfusionEvent,
    InfusionSession,
    PrescriberDecision,
    VitalsEntry,
)
from ketaflow.infusions.policy import infusion_policy
from ketaflow.infusions.services.base import (
    BEFORE_START,
    INFUSING,
    Kind,
    _audit,
    _check_time,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
    _save,
)
from ketaflow.infusions.services.delivered import session_delivered
from ketaflow.infusions.services.reads import baseline_vitals, effective_vitals
from ketaflow.portal.models import UrgentTask
from ketaflow.portal.safety import urgent_task_acknowledge, urgent_task_raise

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
    _save(session, user)
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
