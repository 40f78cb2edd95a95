"""Changing one booked appointment: cancelling it or moving it, each with its reason, under the
same rules as booking."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.treatment.models import Appointment, Chair
from ketaflow.treatment.services.base import BookingRefused, chair_minutes, local, schedule_settings
from ketaflow.treatment.services.booking import (
    Slot,
    _appointment_detail,
    _label,
    _lock_clinic,
    _refresh_course_status,
    _refusals,
)


def _saved(
    *, actor: Actor, appointment: Appointment, summary: str, detail: dict[str, object]
) -> None:
    """Check and save a changed ``appointment``, with its audit entry."""
    appointment.full_clean()
    appointment.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="appointment",
        object_id=appointment.pk,
        patient_id=appointment.patient_id,
        summary=summary,
        detail=detail,
    )


def _require_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ValidationError({"reason": "Give a reason."})
    return text


def _require_changeable(appointment: Appointment, what: str) -> None:
    if appointment.status != Appointment.Status.BOOKED:
        raise ValidationError(
            f"Only a booked appointment can be {what}; this one is "
            f"{appointment.get_status_display().lower()}."
        )


@transaction.atomic
def appointment_cancel(*, actor: Actor, appointment: Appointment, reason: str) -> Appointment:
    """Cancel one booked appointment, with the reason; its infusion can then be booked again."""
    user = actor.person()
    text = _require_reason(reason)
    _require_changeable(appointment, "cancelled")
    appointment.status = Appointment.Status.CANCELLED
    appointment.cancelled_at = timezone.now()
    appointment.cancelled_by = user
    appointment.cancel_reason = text[:300]
    clinic = appointment.patient.clinic
    _saved(
        actor=actor,
        appointment=appointment,
        summary=f"cancelled {_label(clinic, appointment.sequence, appointment.starts_at)}: "
        f"{text[:120]}",
        detail={**_appointment_detail(appointment), "reason": text},
    )
    _refresh_course_status(appointment.course)
    return appointment


@transaction.atomic
def appointment_reschedule(
    *,
    actor: Actor,
    appointment: Appointment,
    starts_at: dt.datetime,
    chair: Chair,
    nurse: User | None,
    reason: str,
    allow_past: bool = False,
) -> Appointment:
    """Move one booked appointment, with the reason, under the same rules as booking."""
    actor.person()
    text = _require_reason(reason)
    _require_changeable(appointment, "rescheduled")
    if not appointment.patient.active:
        raise BookingRefused([f"{appointment.patient.mrn} is an inactive record: not rebooked."])
    course = appointment.course
    clinic = appointment.patient.clinic
    _lock_clinic(clinic)
    slot = Slot(appointment.sequence, starts_at, chair, nurse)
    # The appointment's own sequence is free again for the moved slot.
    reasons = _refusals(
        course=course, slots=[slot], exclude_ids={appointment.pk}, allow_past=allow_past
    )
    if reasons:
        raise BookingRefused(reasons)
    before = _appointment_detail(appointment)
    before_start = appointment.starts_at
    appointment.starts_at = starts_at
    appointment.ends_at = starts_at + dt.timedelta(
        minutes=chair_minutes(course, schedule_settings(clinic))
    )
    appointment.chair = chair
    appointment.nurse = nurse
    after = _appointment_detail(appointment)
    _saved(
        actor=actor,
        appointment=appointment,
        summary=f"moved infusion {appointment.sequence} from "
        f"{local(clinic, before_start):%Y-%m-%d %H:%M} to "
        f"{local(clinic, starts_at):%Y-%m-%d %H:%M} in {chair}: {text[:100]}",
        detail={
            "changes": {k: [before[k], v] for k, v in after.items() if before[k] != v},
            "reason": text,
        },
    )
    return appointment
