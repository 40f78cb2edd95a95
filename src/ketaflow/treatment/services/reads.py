"""The audited reads of the treatment pages: a course, and the chair board (a list of
patients)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.treatment.models import Appointment, Course


def course_viewed(*, actor: Actor, course: Course, sections: list[str]) -> None:
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="course",
        object_id=course.pk,
        patient_id=course.patient_id,
        summary=f"viewed course ({', '.join(sections)})",
        detail={"sections": sections},
    )


def board_viewed(
    *,
    actor: Actor,
    day: dt.date,
    appointments: Sequence[Appointment],
    waiting: Sequence[Course] = (),
) -> None:
    """The chair board lists patients: audited as a list view, with every patient shown (the
    day's appointments and the courses waiting to be booked)."""
    patient_ids = sorted({a.patient_id for a in appointments} | {c.patient_id for c in waiting})
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="chair_board",
        object_id=day.isoformat(),
        summary=f"viewed the chair board of {day}: {len(appointments)} appointments, "
        f"{len(patient_ids)} patients",
        detail={"day": day.isoformat(), "patient_ids": patient_ids},
    )
