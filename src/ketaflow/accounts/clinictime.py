"""The clinic's time: the one place that turns an instant into a clinic's day or wall clock.

Every service, selector and view that decides a day ("today", the weight of the day, a count's
day) or shows a time asks here, with the clinic whose day it is, never the server's zone
(``tests/test_architecture.py`` forbids ``timezone.localdate()``/``localtime()`` without a zone
elsewhere). ``ClinicTimeMiddleware`` (web/middleware.py) activates the signed-in user's clinic
zone for each request, so that templates show times in the clinic's zone too."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.utils import timezone

if TYPE_CHECKING:
    from ketaflow.accounts.models import Clinic


def clinic_zone(clinic: Clinic) -> ZoneInfo:
    """The clinic's time zone."""
    return ZoneInfo(clinic.time_zone)


def clinic_now(clinic: Clinic) -> dt.datetime:
    """Now, on the clinic's wall clock (an aware datetime in the clinic's zone)."""
    return timezone.localtime(timezone.now(), clinic_zone(clinic))


def clinic_today(clinic: Clinic) -> dt.date:
    """The clinic's day now (which may differ from the server's)."""
    return clinic_now(clinic).date()


def clinic_local(clinic: Clinic, moment: dt.datetime) -> dt.datetime:
    """``moment`` on the clinic's wall clock."""
    return timezone.localtime(moment, clinic_zone(clinic))


def clinic_day(clinic: Clinic, moment: dt.datetime) -> dt.date:
    """The clinic's day of ``moment``."""
    return clinic_local(clinic, moment).date()


def zone_label(clinic: Clinic) -> str:
    """The clinic's zone as a report states it, e.g. "America/New_York (EST)"."""
    now = clinic_now(clinic)
    return f"{clinic.time_zone} ({now.tzname()})"


def active_local(moment: dt.datetime) -> dt.datetime:
    """``moment`` in the request's active zone (the clinic's, set by ClinicTimeMiddleware):
    for model labels that have no clinic at hand."""
    return timezone.localtime(moment)


def active_today() -> dt.date:
    """Today in the request's active zone (the clinic's, set by ClinicTimeMiddleware)."""
    return timezone.localdate()
