"""The measurement plan: which questionnaires are due when, per course, and their reminders.

Time points (clinic settings, ``PortalSettings``), after clinical.md ss. 5-6:
- before each infusion: opens ``pre_infusion_open_hours`` before it, closes at its start
  (the pre-infusion score is the baseline each infusion's change is measured against);
- 24 hours after the first and after the last infusion (ketamine's rapid effect is measured at
  24 h: clinical.md s. 6, "some mechanistic studies use >=30% at 24 h"), open for
  ``post_window_hours``;
- then weekly for ``follow_up_months`` (default 3): median time to relapse after a course was
  18-41 days (Murrough 2013; Feder 2021 27.5 days; Albott), so weekly measures over three months
  catch a loss of response when it typically happens. Each weekly one stays open a week.

Generation is idempotent (one row per course, time point and instrument); rows of a time point
that no longer exists (a cancelled infusion) and unanswered rows past their window expire.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.portal.config import portal_settings
from ketaflow.portal.models import DueQuestionnaire, PortalSettings
from ketaflow.portal.outbox import enqueue_reminder
from ketaflow.portal.questionnaires import PORTAL_QUESTIONNAIRES
from ketaflow.treatment.models import Appointment, Course

WEEKS_PER_MONTH = 52 / 12  # 4.33 weeks: 3 months -> 13 weekly questionnaires
_LIVE_APPOINTMENTS = (
    Appointment.Status.BOOKED,
    Appointment.Status.ARRIVED,
    Appointment.Status.IN_PROGRESS,
    Appointment.Status.COMPLETED,
)


@dataclass(frozen=True)
class TimePoint:
    key: str
    label: str
    opens: dt.datetime
    closes: dt.datetime


def course_timepoints(course: Course, conf: PortalSettings) -> list[TimePoint]:
    """The plan's time points for one course, from its live appointments."""
    appointments = list(
        course.appointments.filter(status__in=_LIVE_APPOINTMENTS).order_by("starts_at")
    )
    if not appointments:
        return []
    points: list[TimePoint] = []
    if conf.before_each_infusion:
        for number, appt in enumerate(appointments, start=1):
            points.append(
                TimePoint(
                    key=f"pre-{appt.pk}",
                    label=f"before infusion {number}",
                    opens=appt.starts_at - dt.timedelta(hours=conf.pre_infusion_open_hours),
                    closes=appt.starts_at,
                )
            )
    window = dt.timedelta(hours=conf.post_window_hours)
    first, last = appointments[0], appointments[-1]
    after_first = first.starts_at + dt.timedelta(hours=conf.after_first_hours)
    points.append(
        TimePoint(
            "post-first", "24 hours after the first infusion", after_first, after_first + window
        )
    )
    if last.pk != first.pk:
        after_last = last.starts_at + dt.timedelta(hours=conf.after_last_hours)
        points.append(
            TimePoint(
                "post-last", "24 hours after the last infusion", after_last, after_last + window
            )
        )
    weeks = round(conf.follow_up_months * WEEKS_PER_MONTH)
    for week in range(1, weeks + 1):
        opens = last.starts_at + dt.timedelta(weeks=week)
        points.append(
            TimePoint(
                f"week-{week}", f"follow-up week {week}", opens, opens + dt.timedelta(weeks=1)
            )
        )
    return points


def course_instruments(course: Course, conf: PortalSettings) -> list[str]:
    wanted = conf.plan_instruments.get(course.indication) or conf.plan_instruments.get("ptsd", [])
    return [code for code in wanted if code in PORTAL_QUESTIONNAIRES]


@dataclass(frozen=True)
class PlanResult:
    created: int
    updated: int
    expired: int


@transaction.atomic
def plan_generate(*, now: dt.datetime | None = None) -> PlanResult:
    """Bring every course's due questionnaires up to date with its appointments and the
    clinic's plan; expire what has closed unanswered."""
    now = now or timezone.now()
    created = updated = expired = 0
    courses = Course.objects.exclude(status=Course.Status.CANCELLED).select_related("patient")
    settings_by_clinic: dict[int, PortalSettings] = {}
    for course in courses:
        clinic_id = course.patient.clinic_id
        if clinic_id not in settings_by_clinic:
            settings_by_clinic[clinic_id] = portal_settings(clinic_id)
        conf = settings_by_clinic[clinic_id]
        points = course_timepoints(course, conf)
        instruments = course_instruments(course, conf)
        wanted = {(p.key, code): p for p in points for code in instruments}
        existing = {
            (d.timepoint, d.instrument): d for d in DueQuestionnaire.objects.filter(course=course)
        }
        for (key, code), point in wanted.items():
            row = existing.get((key, code))
            if row is None:
                if point.closes <= now:
                    continue  # never ask for the past
                DueQuestionnaire.objects.create(
                    patient=course.patient,
                    course=course,
                    instrument=code,
                    timepoint=key,
                    label=point.label,
                    due_at=point.opens,
                    window_ends_at=point.closes,
                )
                created += 1
            elif row.status == DueQuestionnaire.Status.DUE and (
                row.due_at != point.opens or row.window_ends_at != point.closes
            ):
                row.due_at, row.window_ends_at = point.opens, point.closes
                row.save(update_fields=["due_at", "window_ends_at"])
                updated += 1
        stale = [
            d.pk
            for k, d in existing.items()
            if k not in wanted and d.status == DueQuestionnaire.Status.DUE
        ]
        expired += DueQuestionnaire.objects.filter(pk__in=stale).update(
            status=DueQuestionnaire.Status.EXPIRED
        )
    expired += DueQuestionnaire.objects.filter(
        status=DueQuestionnaire.Status.DUE, window_ends_at__lte=now
    ).update(status=DueQuestionnaire.Status.EXPIRED)
    return PlanResult(created=created, updated=updated, expired=expired)


def open_due(patient_id: int, *, now: dt.datetime | None = None) -> list[DueQuestionnaire]:
    """The patient's questionnaires open now, soonest closing first."""
    now = now or timezone.now()
    return list(
        DueQuestionnaire.objects.filter(
            patient_id=patient_id,
            status=DueQuestionnaire.Status.DUE,
            due_at__lte=now,
            window_ends_at__gt=now,
        ).order_by("window_ends_at", "instrument")
    )


@transaction.atomic
def reminders_queue(*, now: dt.datetime | None = None) -> int:
    """Queue one reminder email per patient with an open questionnaire whose reminder is due:
    at most ``PORTAL_REMINDER_COUNT`` per questionnaire, ``PORTAL_REMINDER_INTERVAL_HOURS``
    apart, then stop. Returns the number of emails queued."""
    now = now or timezone.now()
    limit: int = settings.PORTAL_REMINDER_COUNT
    interval = dt.timedelta(hours=settings.PORTAL_REMINDER_INTERVAL_HOURS)
    rows = (
        DueQuestionnaire.objects.select_for_update()
        .filter(
            status=DueQuestionnaire.Status.DUE,
            due_at__lte=now,
            window_ends_at__gt=now,
            reminders_sent__lt=limit,
        )
        .select_related("patient")
        .order_by("patient_id", "due_at")
    )
    by_patient: dict[int, list[DueQuestionnaire]] = {}
    for row in rows:
        if row.last_reminded_at is not None and now - row.last_reminded_at < interval:
            continue
        by_patient.setdefault(row.patient_id, []).append(row)
    queued = 0
    for patient_id, due in by_patient.items():
        patient = due[0].patient
        if not patient.email or patient.user_id is None:
            continue
        enqueue_reminder(patient.email)
        for row in due:
            row.reminders_sent += 1
            row.last_reminded_at = now
            row.save(update_fields=["reminders_sent", "last_reminded_at"])
        audit_record(
            actor=Actor.system("worker"),
            action=Action.CREATE,
            object_type="reminder",
            object_id=",".join(str(r.pk) for r in due),
            patient_id=patient_id,
            summary=f"questionnaire reminder queued ({len(due)} due)",
        )
        queued += 1
    return queued
