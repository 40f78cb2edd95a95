"""What planning and booking share: the patterns and drug library keys a course may use, the
statuses that hold a chair, the refusal of a booking, and the clinic's scheduling settings and
wall-clock time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from django.core.exceptions import ValidationError

from ketaflow.accounts.clinictime import clinic_local

# clinic_today and clinic_zone are re-exported: the apps imported them from here before.
from ketaflow.accounts.clinictime import clinic_today as clinic_today
from ketaflow.accounts.clinictime import clinic_zone as clinic_zone
from ketaflow.accounts.models import Clinic
from ketaflow.clinical import (
    DRUG_LIBRARY,
    THREE_A_WEEK,
    TWICE_A_WEEK,
    Indication,
    InductionSettings,
)
from ketaflow.clinical import sources as clinical_sources
from ketaflow.prepared import Prepared
from ketaflow.treatment.models import Appointment, Course, OpeningHours, ScheduleSettings

# The drug library entries a course may dose from, by the key stored on the course.
LIBRARY_KEYS: Final[Mapping[str, Indication]] = MappingProxyType(
    {f"ketamine-{indication.value}": indication for indication in DRUG_LIBRARY}
)

# How each course pattern spaces its infusions (ketaflow.clinical.scheduling).
_SINGLE: Final = InductionSettings(
    infusions=1,
    per_week=1,
    min_days_between=1,
    source=f"single infusion: {clinical_sources.FEDER_2014}; {clinical_sources.MURROUGH_2013}",
)
PATTERN_SETTINGS: Final[Mapping[str, InductionSettings]] = MappingProxyType(
    {
        Course.Pattern.THREE_A_WEEK: THREE_A_WEEK,
        Course.Pattern.TWICE_A_WEEK: TWICE_A_WEEK,
        Course.Pattern.SINGLE: _SINGLE,
    }
)

# Appointments that hold their chair, patient and nurse (a cancelled one or a no-show does not).
HOLDING_STATUSES: Final = (
    Appointment.Status.BOOKED,
    Appointment.Status.ARRIVED,
    Appointment.Status.IN_PROGRESS,
    Appointment.Status.COMPLETED,
)


class BookingRefused(ValidationError):
    """A booking was refused; ``reasons`` names every conflict, one line each."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons


# ---- clinic settings and time ----------------------------------------------------------------


def schedule_settings(clinic: Clinic) -> ScheduleSettings:
    """The clinic's scheduling policy, or the defaults (unsaved) if it has not set one."""
    found = _SCHEDULE.first(clinic_id=clinic.pk) if clinic.pk is not None else None
    return found if found is not None else ScheduleSettings(clinic=clinic)


# A clinic's schedule (every infusion page, the booking pages), in a statement compiled once per
# process (ketaflow.prepared, issue 16).
_SCHEDULE = Prepared(
    lambda clinic_id: ScheduleSettings.objects.filter(clinic_id=clinic_id).order_by("pk")[:1]
)


def clinic_datetime(clinic: Clinic, on: dt.date, at: dt.time) -> dt.datetime:
    """The aware instant of the clinic's local wall-clock time ``at`` on ``on``."""
    return dt.datetime.combine(on, at, tzinfo=clinic_zone(clinic))


local = clinic_local


def open_weekdays(clinic: Clinic) -> list[int]:
    return sorted(set(OpeningHours.objects.filter(clinic=clinic).values_list("weekday", flat=True)))


def chair_minutes(course: Course, settings: ScheduleSettings) -> float:
    """How long an appointment holds the chair: the infusion plus the clinic's recovery time."""
    return float(course.duration_min) + float(settings.recovery_min)
