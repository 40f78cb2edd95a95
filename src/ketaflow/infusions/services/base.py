"""What every write of an infusion session shares: the statuses and the pump's state machine,
the refusal, the person who acts and their permission, the session's row lock, the signed-note
lock, the form version, the time check of an entry, the audit entry and the once-only save of
a row sent twice (offline replay)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, refusal
from ketaflow.audit.context import Actor
from ketaflow.audit.services import audit_record
from ketaflow.clinical import (
    Instrument,
)
from ketaflow.clinical.clinic_settings import ClinicalSettings
from ketaflow.clinicsettings.selectors import clinical_settings_for
from ketaflow.infusions.models import (
    Addendum,
    InfusionEvent,
    InfusionSession,
    SideEffect,
    VitalsEntry,
)
from ketaflow.infusions.policy import InfusionPolicy
from ketaflow.treatment.services import local

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


def _require_perm(actor: Actor, perm: Perm) -> User:
    user = actor.person()  # NotAPerson (a 403) when a command asks
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


def _save(session: InfusionSession, user: User) -> None:
    """Save a change of the session by ``user``: a new version, validated."""
    _bump(session, user)
    session.full_clean()
    session.save()


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


def _clinic_time(session: InfusionSession, at: dt.datetime, fmt: str = "%H:%M:%S") -> str:
    return local(session.patient.clinic, at).strftime(fmt)


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
