"""Clinic time (issue 14 item 2): a clinic's day and wall clock come from its own time zone, not
the server's. The server here runs in America/New_York; the clinic below is in Auckland, whose
day starts about 18 hours earlier, so around its midnight the two days differ."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.clinictime import (
    clinic_day,
    clinic_local,
    clinic_now,
    clinic_today,
    zone_words,
)
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import Credential
from ketaflow.ledger.reports import discrepancy_history, to_csv
from tests.infusions.builders import make_appointment
from tests.web.conftest import World

AUCKLAND = ZoneInfo("Pacific/Auckland")
# 01:00 on 1 December in Auckland; 07:00 on 30 November on the server (New York).
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def auckland(world: World) -> World:
    assert settings.TIME_ZONE == "America/New_York"
    world.clinic.time_zone = "Pacific/Auckland"
    world.clinic.save()
    return world


def test_the_clinic_day_is_not_the_server_day_after_the_clinic_midnight(auckland: World) -> None:
    clinic = auckland.clinic
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        assert timezone.localdate() == dt.date(2026, 11, 30)  # the server's day
        assert clinic_today(clinic) == dt.date(2026, 12, 1)
        assert clinic_now(clinic).hour == 1
    assert clinic_day(clinic, NOW) == dt.date(2026, 12, 1)
    assert clinic_local(clinic, NOW).utcoffset() == dt.timedelta(hours=13)
    # One minute before the clinic's midnight it is still the 30th there.
    before = dt.datetime(2026, 11, 30, 10, 59, tzinfo=dt.UTC)
    assert clinic_day(clinic, before) == dt.date(2026, 11, 30)


def test_credentials_are_checked_on_the_clinic_day(auckland: World) -> None:
    """A licence that expires on the 30th is no longer current at 01:00 on the 1st in the
    clinic, although the server's day is still the 30th."""
    Credential.objects.filter(user=auckland.nurse).update(expires_on=dt.date(2026, 11, 30))
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        today = clinic_today(auckland.clinic)
    assert credential_check(auckland.nurse, ClinicalAct.ADMINISTER, on=today).ok is False
    assert credential_check(auckland.nurse, ClinicalAct.ADMINISTER, on=today - dt.timedelta(1)).ok


def test_todays_infusions_are_the_clinic_day(auckland: World, client_for: Any) -> None:
    """Today's infusions lists the appointments of the clinic's day: at 01:00 on 1 December in
    Auckland, the one at 23:00 that day and not the one of the evening before (which falls on
    the server's 30 November)."""
    tonight = make_appointment(auckland)
    yesterday = make_appointment(auckland, auckland.other_patient)
    late = dt.datetime(2026, 12, 1, 22, 0, tzinfo=AUCKLAND)
    evening = dt.datetime(2026, 11, 30, 20, 0, tzinfo=AUCKLAND)
    type(tonight).objects.filter(pk=tonight.pk).update(
        starts_at=late, ends_at=late + dt.timedelta(hours=1)
    )
    type(yesterday).objects.filter(pk=yesterday.pk).update(
        starts_at=evening, ends_at=evening + dt.timedelta(hours=1)
    )
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        response = client_for(auckland.nurse).get(reverse("infusion_today"))
    assert response.status_code == 200
    assert response.context["day"] == dt.date(2026, 12, 1)
    html = response.content.decode()
    assert "Anders" in html  # tonight's, 22:00 in the clinic
    assert "Berg" not in html  # yesterday evening's, on the server's day
    assert "22:00" in html  # shown on the clinic's clock (09:00 UTC, 04:00 in New York)


def test_pages_run_in_the_clinic_zone(auckland: World, client_for: Any) -> None:
    """The middleware activates the clinic's zone for its staff's requests and restores the
    server's afterwards; the home page's day is the clinic's."""
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        response = client_for(auckland.director).get(reverse("home"))
    assert response.context["today"] == dt.date(2026, 12, 1)
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_reports_say_their_time_zone(auckland: World) -> None:
    assert "Times are Auckland time" in to_csv(discrepancy_history(auckland.clinic))


@pytest.mark.parametrize(
    ("name", "moment", "words"),
    [
        ("America/New_York", dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC), "New York time (EST)"),
        ("America/New_York", dt.datetime(2026, 7, 5, 12, tzinfo=dt.UTC), "New York time (EDT)"),
        ("Pacific/Auckland", dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC), "Auckland time (NZDT)"),
        ("America/Indiana/Indianapolis", None, "Indianapolis time"),
        ("Europe/Istanbul", dt.datetime(2026, 1, 5, tzinfo=dt.UTC), "Istanbul time (UTC+03)"),
        ("UTC", None, "UTC"),
        ("Etc/UTC", None, "UTC"),
        ("Not/A_Zone", None, "Not/A_Zone"),
    ],
)
def test_a_zone_is_named_in_words(name: str, moment: dt.datetime | None, words: str) -> None:
    assert zone_words(name, moment).startswith(words)
    assert zone_words(name, moment, abbreviation=False) == words.split(" (")[0]


def test_no_page_names_the_zone_by_its_code(auckland: World, client_for: Any) -> None:
    """The pages that say which zone their times are in say it in words."""
    pages = ["audit_list", "chair_board", "api_tokens", "backup_status", "account_sessions"]
    client = client_for(auckland.director)
    for name in pages:
        page = client.get(reverse(name)).content.decode()
        assert "Pacific/Auckland" not in page, name
        assert "Auckland time (NZ" in page, name
