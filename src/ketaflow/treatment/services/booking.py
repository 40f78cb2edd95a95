"""Booking a course's infusions into chairs, all or nothing: every conflict of every requested
slot is collected and the whole request is refused with the list, so nothing is ever
half-booked."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.treatment.models import Appointment, Chair, Course, OpeningHours
from ketaflow.treatment.services.base import (
    HOLDING_STATUSES,
    BookingRefused,
    chair_minutes,
    clinic_datetime,
    local,
    schedule_settings,
)


@dataclass(frozen=True)
class Slot:
    """One infusion to book: its number in the course, when it starts, where and with whom."""

    sequence: int
    starts_at: dt.datetime
    chair: Chair
    nurse: User | None = None


@dataclass(frozen=True)
class SlotRequest:
    """A slot as the booking form gives it: a local date and time; no chair means the first
    chair free at that time."""

    sequence: int
    on: dt.date
    at: dt.time
    chair: Chair | None = None
    nurse: User | None = None


@dataclass(frozen=True)
class _Held:
    """An interval that holds a chair, the patient or a nurse."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    chair_id: int
    nurse_id: int | None
    patient_id: int


def _overlaps(a_start: dt.datetime, a_end: dt.datetime, b: _Held) -> bool:
    return a_start < b.ends_at and b.starts_at < a_end


def _peak(intervals: Iterable[_Held], start: dt.datetime, end: dt.datetime) -> int:
    """The most intervals that are open at one instant within [start, end)."""
    inside = [h for h in intervals if _overlaps(start, end, h)]
    points = [start] + [h.starts_at for h in inside if start <= h.starts_at < end]
    return max((sum(1 for h in inside if h.starts_at <= p < h.ends_at) for p in points), default=0)


def _label(clinic: Clinic, sequence: int, starts_at: dt.datetime) -> str:
    return f"Infusion {sequence} ({local(clinic, starts_at):%a %Y-%m-%d %H:%M})"


def _hhmm(clinic: Clinic, moment: dt.datetime) -> str:
    return f"{local(clinic, moment):%H:%M}"


def _held_nearby(clinic: Clinic, slots: Sequence[Slot], exclude_ids: set[int]) -> list[_Held]:
    """Everything already booked in the clinic on the days of ``slots`` (one query)."""
    if not slots:
        return []
    first = min(s.starts_at for s in slots) - dt.timedelta(days=1)
    last = max(s.starts_at for s in slots) + dt.timedelta(days=1)
    rows = (
        Appointment.objects.filter(
            patient__clinic=clinic,
            status__in=HOLDING_STATUSES,
            starts_at__lt=last,
            ends_at__gt=first,
        )
        .exclude(pk__in=exclude_ids)
        .values_list("starts_at", "ends_at", "chair_id", "nurse_id", "patient_id")
    )
    return [_Held(*row) for row in rows]


def _refusals(
    *,
    course: Course,
    slots: Sequence[Slot],
    exclude_ids: set[int],
    allow_past: bool,
) -> list[str]:
    """Every reason the slots cannot be booked (empty when they all can)."""
    clinic = course.patient.clinic
    settings = schedule_settings(clinic)
    minutes = chair_minutes(course, settings)
    hours = list(OpeningHours.objects.filter(clinic=clinic))
    reasons: list[str] = []
    if course.status not in (Course.Status.PLANNED, Course.Status.BOOKED, Course.Status.ACTIVE):
        return [f"The course is {course.get_status_display().lower()}: nothing can be booked."]
    if not slots:
        return ["No infusions were chosen to book."]
    kept = list(course.appointments.filter(status__in=HOLDING_STATUSES).exclude(pk__in=exclude_ids))
    taken_sequences = {a.sequence for a in kept}
    seen: set[int] = set()
    for slot in slots:
        if not 1 <= slot.sequence <= course.infusions_planned:
            reasons.append(
                f"Infusion {slot.sequence}: the course has infusions 1-{course.infusions_planned}."
            )
        elif slot.sequence in taken_sequences:
            reasons.append(f"Infusion {slot.sequence} is already booked.")
        elif slot.sequence in seen:
            reasons.append(f"Infusion {slot.sequence} was chosen twice.")
        seen.add(slot.sequence)
        if timezone.is_naive(slot.starts_at):
            raise ValueError("starts_at must be an aware datetime")

    held = _held_nearby(clinic, slots, exclude_ids)
    now = timezone.now()
    for slot in sorted(slots, key=lambda s: s.starts_at):
        start = slot.starts_at
        end = start + dt.timedelta(minutes=minutes)
        label = _label(clinic, slot.sequence, start)
        window = f"{_hhmm(clinic, start)}-{_hhmm(clinic, end)}"
        if start < now and not allow_past:
            reasons.append(f"{label}: the time is in the past.")
        if slot.chair.clinic_id != clinic.pk:
            reasons.append(f"{label}: chair {slot.chair} is not one of this clinic's chairs.")
        elif not slot.chair.active:
            reasons.append(f"{label}: chair {slot.chair} is out of service.")
        begin_local, end_local = local(clinic, start), local(clinic, end)
        fits = any(
            h.weekday == begin_local.weekday()
            and begin_local.date() == end_local.date()
            and h.opens_at <= begin_local.time()
            and end_local.time() <= h.closes_at
            for h in hours
        )
        if not fits:
            today_hours = [h for h in hours if h.weekday == begin_local.weekday()]
            opening = (
                ", ".join(f"{h.opens_at:%H:%M}-{h.closes_at:%H:%M}" for h in today_hours)
                if today_hours
                else "closed that day"
            )
            reasons.append(
                f"{label}: {window} (infusion {float(course.duration_min):g} min + recovery "
                f"{settings.recovery_min} min) is outside opening hours ({opening})."
            )
        for other in held:
            if other.chair_id == slot.chair.pk and _overlaps(start, end, other):
                reasons.append(
                    f"{label}: chair {slot.chair} is already booked "
                    f"{_hhmm(clinic, other.starts_at)}-{_hhmm(clinic, other.ends_at)}."
                )
                break
        for other in held:
            if other.patient_id == course.patient_id and _overlaps(start, end, other):
                reasons.append(
                    f"{label}: the patient already has an appointment "
                    f"{_hhmm(clinic, other.starts_at)}-{_hhmm(clinic, other.ends_at)}."
                )
                break
        if slot.nurse is not None:
            nurse = slot.nurse
            if nurse.clinic_id != clinic.pk or not nurse.may(Perm.ADMINISTER):
                reasons.append(f"{label}: {nurse} is not an infusion nurse of this clinic.")
            else:
                peak = _peak((h for h in held if h.nurse_id == nurse.pk), start, end)
                if peak + 1 > settings.max_patients_per_nurse:
                    reasons.append(
                        f"{label}: {nurse} already has {peak} patient"
                        f"{'' if peak == 1 else 's'} at that time (clinic maximum "
                        f"{settings.max_patients_per_nurse} per nurse at once)."
                    )
        held.append(
            _Held(
                start, end, slot.chair.pk, slot.nurse.pk if slot.nurse else None, course.patient_id
            )
        )

    days = sorted(
        [(local(clinic, a.starts_at).date(), a.sequence) for a in kept]
        + [(local(clinic, s.starts_at).date(), s.sequence) for s in slots]
    )
    for (day_a, seq_a), (day_b, seq_b) in itertools.pairwise(days):
        gap = (day_b - day_a).days
        if gap < course.min_spacing_days:
            reasons.append(
                f"Infusion {seq_b} on {day_b} is {gap} day{'' if gap == 1 else 's'} after "
                f"infusion {seq_a} on {day_a}: this course needs at least "
                f"{course.min_spacing_days} day{'' if course.min_spacing_days == 1 else 's'} "
                "between infusions."
            )
    return reasons


def _lock_clinic(clinic: Clinic) -> None:
    """Serialise bookings in one clinic (PostgreSQL row lock; SQLite serialises writers).

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: two bookings still wait for each other, but a
    transaction that only refers to the clinic (its foreign-key check at commit takes ``FOR KEY
    SHARE`` on the clinic's row) is not blocked. With ``FOR UPDATE`` the load benchmark's
    PostgreSQL run deadlocked: a booking held the clinic and waited for the audit chain's head,
    while another audited request held the head and, at its commit, waited for the clinic
    (its audit entry's foreign key; HTTP 500)."""
    Clinic.objects.select_for_update(no_key=True).filter(pk=clinic.pk).first()


def _refresh_course_status(course: Course) -> None:
    if course.status not in (Course.Status.PLANNED, Course.Status.BOOKED):
        return
    booked = course.appointments.filter(status__in=HOLDING_STATUSES).count()
    status = Course.Status.BOOKED if booked >= course.infusions_planned else Course.Status.PLANNED
    if status != course.status:
        course.status = status
        course.full_clean()
        course.save(update_fields=["status"])


def slots_from_requests(*, course: Course, requests: Sequence[SlotRequest]) -> list[Slot]:
    """Turn local dates and times into slots; a request without a chair gets the first active
    chair (by name) that is free for the whole appointment, counting earlier requests too."""
    clinic = course.patient.clinic
    minutes = chair_minutes(course, schedule_settings(clinic))
    chairs = list(Chair.objects.filter(clinic=clinic, active=True).order_by("name"))
    starts = [clinic_datetime(clinic, r.on, r.at) for r in requests]
    proposed: list[Slot] = []
    held = _held_nearby(
        clinic,
        [Slot(r.sequence, s, chairs[0]) for r, s in zip(requests, starts, strict=True)]
        if chairs
        else [],
        set(),
    )
    reasons: list[str] = []
    for request, start in zip(requests, starts, strict=True):
        end = start + dt.timedelta(minutes=minutes)
        chair = request.chair
        if chair is None:
            chair = next(
                (
                    c
                    for c in chairs
                    if not any(h.chair_id == c.pk and _overlaps(start, end, h) for h in held)
                ),
                None,
            )
            if chair is None:
                reasons.append(
                    f"{_label(clinic, request.sequence, start)}: no chair is free "
                    f"{_hhmm(clinic, start)}-{_hhmm(clinic, end)}."
                )
                continue
        nurse_id = request.nurse.pk if request.nurse else None
        held.append(_Held(start, end, chair.pk, nurse_id, course.patient_id))
        proposed.append(Slot(request.sequence, start, chair, request.nurse))
    if reasons:
        raise BookingRefused(reasons)
    return proposed


@transaction.atomic
def course_book(
    *, actor: Actor, course: Course, slots: Sequence[Slot], allow_past: bool = False
) -> list[Appointment]:
    """Book ``slots`` of ``course``, all or none. Refused (:class:`BookingRefused`, one reason
    per conflict) when a chair is taken, the time is outside opening hours, the patient already
    has an appointment then, the nurse already has the clinic's maximum of patients at once, or
    infusions are closer than the course's minimum spacing."""
    user = actor.person()
    if not course.patient.active:
        raise BookingRefused([f"{course.patient.mrn} is an inactive record: it is not booked."])
    _lock_clinic(course.patient.clinic)
    reasons = _refusals(course=course, slots=slots, exclude_ids=set(), allow_past=allow_past)
    if reasons:
        raise BookingRefused(reasons)
    minutes = chair_minutes(course, schedule_settings(course.patient.clinic))
    booked: list[Appointment] = []
    for slot in sorted(slots, key=lambda s: s.sequence):
        appointment = Appointment(
            course=course,
            patient=course.patient,
            sequence=slot.sequence,
            chair=slot.chair,
            nurse=slot.nurse,
            starts_at=slot.starts_at,
            ends_at=slot.starts_at + dt.timedelta(minutes=minutes),
            booked_by=user,
        )
        appointment.full_clean()
        appointment.save()
        booked.append(appointment)
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=course.patient_id,
            summary=f"booked {_label(course.patient.clinic, slot.sequence, slot.starts_at)} "
            f"in {slot.chair}",
            detail=_appointment_detail(appointment),
        )
    _refresh_course_status(course)
    return booked


def _appointment_detail(appointment: Appointment) -> dict[str, object]:
    return {
        "course_id": appointment.course_id,
        "sequence": appointment.sequence,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "chair": appointment.chair.name,
        "nurse_id": appointment.nurse_id,
    }
