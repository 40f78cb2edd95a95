"""The session page's reads (infusions/selectors.py): one query a kind of record, whatever the
number of rows (issue 15 item 1). A per-row query (a vitals entry's nurse, a decision's reading,
a disposition's correction ...) makes the count grow with the rows and fails here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_day
from ketaflow.infusions import selectors
from ketaflow.infusions.access import SESSION_PEOPLE
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from tests.infusions.builders import reading, run_to_stop, running, side_effect
from tests.web.conftest import World

# The session page's queries as the nurse, measured on 1 December 2026: 28 to 30 for a running
# or stopped infusion before issue 16 (sign-in and session 4, the audit entry 6, the page's
# records 12, the vial's ledger entries 4-5, the stock 1, the header's urgent tasks 2); 26 since
# (the session and the vial's ledger entries read once, no addenda before the signature; pinned
# per page by tests/infusions/test_page_queries.py). The ceiling leaves room for one more kind
# of record, never for one more query a row.
PAGE_QUERY_CEILING = 34


def page_queries(client: Any, session: InfusionSession) -> int:
    url = reverse("infusion_session", args=[session.pk])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_running_infusion_page_reads_each_kind_of_record_once(
    world: World, client_for: Any
) -> None:
    session = running(world, started_min_ago=20)
    client = client_for(world.nurse)
    now = timezone.now()
    reading(world, session, now - dt.timedelta(minutes=15))
    side_effect(world, session)
    page_queries(client, session)  # the first request of a sign-in writes its session row
    few = page_queries(client, session)
    for minutes_ago in (12, 9, 6, 3):
        reading(world, session, now - dt.timedelta(minutes=minutes_ago))
        side_effect(world, session)
    many = page_queries(client, session)
    assert many == few, f"{few} queries with 2 readings, {many} with 6: a query a row"
    assert many <= PAGE_QUERY_CEILING


def test_stopped_infusion_page_stays_under_the_ceiling(world: World, client_for: Any) -> None:
    session = run_to_stop(world)
    client = client_for(world.nurse)
    page_queries(client, session)
    assert page_queries(client, session) <= PAGE_QUERY_CEILING


def test_the_people_and_readings_the_page_names_are_read_once_and_are_the_right_ones(
    world: World,
) -> None:
    """The session's people and its records' people come from one read of users, a
    correction's corrected reading from the session's own readings (issue 16: they were joined
    to each statement, a 221-column read of the session): each is the stored one, and asking
    for it reads nothing more."""
    session = running(world, started_min_ago=20)
    now = timezone.now()
    reading(world, session, now - dt.timedelta(minutes=15))
    first = session.vitals.order_by("pk").last()
    assert first is not None
    reading(world, session, None, corrects=first, correction_reason="Cuff too small")
    side_effect(world, session)
    # Someone else in two of the places, so that a person given to the wrong field shows.
    InfusionSession.objects.filter(pk=session.pk).update(risk_acknowledged_by=world.prescriber)
    VitalsEntry.objects.filter(pk=first.pk).update(by=world.prescriber)
    fresh = selectors.session_reread(session.pk)
    with CaptureQueriesContext(connection) as queries:
        page = selectors.session_page(world.nurse, fresh, now)
    read = len(queries.captured_queries)
    stored = InfusionSession.objects.get(pk=session.pk)
    with CaptureQueriesContext(connection) as asked:
        people = {name: getattr(page.session, name) for name in SESSION_PEOPLE}
        by = [(v.pk, v.by) for v in page.session.vitals.all()]
        corrected = [v.corrects for v in page.session.vitals.all() if v.corrects_id]
        effects = [e.by for e in page.side_effects]
        events = [e.by for e in page.events]
    assert asked.captured_queries == [], "a person or a reading read again after the page's reads"
    assert people == {name: getattr(stored, name) for name in SESSION_PEOPLE}
    assert len({u for u in people.values() if u is not None}) >= 2, people
    assert by == [(v.pk, v.by) for v in stored.vitals.all()]
    assert {u for _, u in by} == {world.nurse, world.prescriber}
    assert corrected == [first]
    assert corrected[0] is not None
    assert corrected[0].measured_at == first.measured_at
    assert effects == [world.nurse]
    assert events
    assert set(events) == {world.nurse}
    assert read > 0


def test_flowsheet_page_gathers_the_printed_sheet_in_words(world: World) -> None:
    """The printable flowsheet's selector (``selectors.flowsheet_page``): every vitals entry in
    words with its level, the pump events, the clinic's zone, and the patient's age on the
    clinic's day."""
    session = run_to_stop(world)
    reading(world, session, None, sbp=190)
    now = timezone.now()
    page = selectors.flowsheet_page(session, now)
    context = page.context()
    assert context["session"] == session
    assert context["printed_at"] == now
    assert page.time_zone == world.clinic.time_zone
    assert page.age == session.patient.age_on(clinic_day(world.clinic, now))
    assert [e.kind for e in page.events] == [e.kind for e in session.events.all()]
    assert len(page.vitals_rows) == session.vitals.count() >= 2
    words = {"Normal", "Abnormal", "Critical", "Emergency"}
    assert {row.level for row in page.vitals_rows} <= words
    assert page.vitals_rows[-1].level == "Critical"
    assert page.chart is not None
    assert page.delivered.dose_mg > 0
