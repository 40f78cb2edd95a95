"""Questionnaires at the chair (pre-infusion and during the infusion) and the prescriber's
acknowledgement of a suicide-risk flag."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.roles import Perm
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.clinical import (
    ClinicalInputError,
    Instrument,
)
from ketaflow.infusions.models import (
    InfusionSession,
)
from ketaflow.infusions.services.base import (
    AFTER_STOP,
    BEFORE_START,
    INFUSING,
    PRE_INFUSION,
    PRE_INFUSION_INSTRUMENTS,
    Status,
    _audit,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
)
from ketaflow.infusions.services.checklist import _to_checklist
from ketaflow.infusions.services.reads import risk_flags
from ketaflow.portal.answers import response_record


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
