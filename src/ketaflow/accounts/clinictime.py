"""The clinic's time: the one place that turns an instant into a clinic's day or wall clock.

Every service, selector and view that decides a day ("today", the weight of the day, a count's
day) or shows a time asks here, with the clinic whose day it is, never the server's zone
(``tests/test_architecture.py`` forbids ``timezone.localdate()``/``localtime()`` without a zone
elsewhere). ``ClinicTimeMiddleware`` (web/middleware.py) activates the signed-in user's clinic
zone for each request, so that templates show times in the clinic's zone too."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def zone_words(name: str, moment: dt.datetime | None = None, *, abbreviation: bool = True) -> str:
    """A time zone as a page names it, in words rather than its IANA code: "New York time
    (EST)" for America/New_York, "Auckland time (NZDT)" for Pacific/Auckland, with the
    abbreviation in force at ``moment`` (now by default; ``abbreviation=False`` leaves it out,
    for a report over months, where it changes); "UTC" alone. An unknown name is shown as it
    is."""
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return name
    short = timezone.localtime(moment or timezone.now(), zone).tzname() or ""
    if short[:1] in ("+", "-"):  # a zone with no letters of its own: "+03"
        short = f"UTC{short}"
    place = name.rsplit("/", 1)[-1].replace("_", " ")
    if place.upper() in ("UTC", "GMT", "UCT", "ZULU", "UNIVERSAL") or place == short:
        return short or place
    if abbreviation and short:
        return f"{place} time ({short})"
    return f"{place} time"


def active_local(moment: dt.datetime) -> dt.datetime:
    """``moment`` in the request's active zone (the clinic's, set by ClinicTimeMiddleware):
    for model labels that have no clinic at hand."""
    return timezone.localtime(moment)


def active_zone() -> dt.tzinfo:
    """The request's active zone (the clinic's, set by ClinicTimeMiddleware; inside a
    ``{% timezone %}`` block, that block's): for code that formats many times in one go and
    asks for the zone once (:func:`active_local` asks for each time)."""
    return timezone.get_current_timezone()


def active_today() -> dt.date:
    """Today in the request's active zone (the clinic's, set by ClinicTimeMiddleware)."""
    return timezone.localdate()
