"""The query counts of the infusion pages (issue 16): the nurse's running infusion, the
prescriber's signed infusion and the nurse's Today's infusions, each on a world with a few
vitals, pump events, side effects and ledger entries and on one with twice as many. The count
must not grow with the records (a query a row fails here) and must stay at most the figure
measured when the reads were folded (one more query fails here too: fold it, or raise the
figure with the reason in the commit).

What a render costs, in order: sign-in and session (the session, the user, the clinic, the
second factor's device, the user session: 5), the access check (the session with its joins,
the patient: 2), the audit entry (6), the page's reads, the header's urgent tasks (2).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.infusions import services, stock
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services as ledger
from ketaflow.ledger.models import LedgerEntry
from ketaflow.patients.models import Patient
from tests.infusions.builders import (
    discharge,
    event,
    nurse_actor,
    prepare,
    reading,
    side_effect,
    stock_vial,
)
from tests.web.conftest import PASSWORD, World

# Measured on 1 December 2026 on this module's worlds, on SQLite (PostgreSQL makes one more a
# render: the audit write locks its chain's head with a SELECT ... FOR UPDATE; page_count adds
# it). Main before issue 16 made 30 queries for the running infusion (the session read twice,
# the vial's ledger entries in three, the addenda a note cannot have before it is signed), 36
# for the signed one (its note read again for the seal check, the ledger in four) and 21 for
# Today's infusions (the sessions apart from their appointments).
RUNNING_PAGE_QUERIES = 22
SIGNED_PAGE_QUERIES = 23
TODAY_PAGE_QUERIES = 20


def queries_of(client: Any, url: str, **extra: Any) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def page_count(client: Any, url: str, figure: int, what: str, **extra: Any) -> int:
    """The queries of one render of ``url``, checked against ``figure`` (on PostgreSQL the
    audit entry's chain head is read once more, locked: ``audit.services``)."""
    figure += 1 if connection.vendor == "postgresql" else 0
    sql = queries_of(client, url, **extra)
    listing = "\n".join(s[:160] for s in sql)
    assert len(sql) <= figure, f"{what}: {len(sql)} queries, at most {figure}:\n{listing}"
    return len(sql)


def chart(world: World, session: InfusionSession, n: int, *, from_min: float) -> None:
    """``n`` readings, ``n`` side effects and ``n`` pauses with their resume, from ``from_min``
    minutes after the start, a pair every two minutes (in order: a pump event is never dated
    before the last one)."""
    assert session.started_at is not None
    for i in range(n):
        at = session.started_at + dt.timedelta(minutes=from_min + 2 * i)
        event(world, session, "pause", at)
        reading(world, session, at + dt.timedelta(seconds=30))
        event(world, session, "resume", at + dt.timedelta(minutes=1))
        side_effect(world, session)


def repick(world: World, session: InfusionSession, lot: str) -> None:
    """Another vial of the same strength for the session (the draw reversed, a new draw)."""
    session.refresh_from_db()
    stock.vial_pick(
        actor=nurse_actor(world),
        session=session,
        expected_version=session.version,
        vial_id=stock_vial(world, lot=lot).pk,
        drawn_volume_ml=Decimal("3.50"),
        reason="the label was read wrongly",
    )


def waste_remainder(world: World, session: InfusionSession) -> list[LedgerEntry]:
    """What was given and the rest wasted, the prescriber witnessing."""
    return stock.remainder_waste(
        actor=nurse_actor(world),
        session=session,
        witness_username=world.prescriber.username,
        witness_password=PASSWORD,
    )


def signed(world: World, patient: Patient, n: int, *, repicks: int = 0) -> InfusionSession:
    """A whole infusion of ``patient``: ``n`` of each record (:func:`chart`), ``repicks`` vial
    corrections before the start, the remainder wasted with a witness, discharged, signed and
    (when the rules ask for it) co-signed."""
    session = prepare(world, patient=patient)
    for i in range(repicks):
        repick(world, session, f"LOT-R{patient.pk}-{i}")
    t0 = timezone.now() - dt.timedelta(minutes=140)
    event(world, session, "start", t0)
    session.refresh_from_db()
    chart(world, session, n, from_min=1)
    event(world, session, "stop", t0 + dt.timedelta(minutes=40))
    session.refresh_from_db()
    waste_remainder(world, session)
    discharge(world, session)
    services.session_sign(actor=nurse_actor(world), session=session)
    session.refresh_from_db()
    if session.status == InfusionSession.Status.COSIGN:
        services.session_cosign(actor=Actor(user=world.prescriber), session=session)
    session.refresh_from_db()
    assert session.locked
    return session


def running_charted(world: World, patient: Patient, n: int) -> InfusionSession:
    """``patient``'s infusion, started 35 minutes ago, with ``n`` of each record."""
    session = prepare(world, patient=patient)
    event(world, session, "start", timezone.now() - dt.timedelta(minutes=35))
    session.refresh_from_db()
    chart(world, session, n, from_min=1)
    return session


def session_url(session: InfusionSession) -> str:
    return reverse("infusion_session", args=[session.pk])


def test_the_running_infusion_page_reads_as_many_times_with_twice_the_records(
    world: World, client_for: Any
) -> None:
    session = running_charted(world, world.patient, 3)
    client = client_for(world.nurse)
    url = session_url(session)
    client.get(url)  # the first request of a sign-in writes its session row
    few = page_count(client, url, RUNNING_PAGE_QUERIES, "running, 3 of each")
    chart(world, session, 3, from_min=8)
    repick(world, session, "LOT-R1")  # a draw reversed and drawn again: 3 ledger entries
    assert session.vitals.count() == 7
    assert session.events.count() == 13
    assert LedgerEntry.objects.filter(session=session).count() == 3
    many = page_count(client, url, RUNNING_PAGE_QUERIES, "running, 6 of each")
    assert many == few, f"{few} queries with 3 of each record, {many} with 6: a query a row"
    # The readings are read without their assessment (shown nowhere on the page), and nothing
    # on the page asks for it afterwards (that would be a query a reading, above).
    assert _vitals_reads(client, url) == ["without the assessment"]


def _vitals_reads(client: Any, url: str) -> list[str]:
    """How the page's read of the session's readings reads each reading's assessment."""
    reads = [q for q in queries_of(client, url) if 'FROM "infusions_vitalsentry"' in q]
    return [
        "with the assessment" if '"assessment"' in q else "without the assessment" for q in reads
    ]


def test_the_cards_a_timer_fetches_read_no_more_than_the_page(
    world: World, client_for: Any
) -> None:
    """The page's script fetches every card again when a timer comes due (ten templates): the
    context processors (navigation, urgent banner, backup warning) run once for all of them,
    not once a card (30 queries here, the page 26, and ten times the processors' work)."""
    session = running_charted(world, world.patient, 3)
    client = client_for(world.nurse)
    url = session_url(session)
    client.get(url)
    cards = {"HTTP_X_KETAFLOW_FRAGMENT": "1"}
    page = page_count(client, url, RUNNING_PAGE_QUERIES, "the page")
    fetched = page_count(client, url, RUNNING_PAGE_QUERIES, "the cards", **cards)
    assert fetched <= page
    assert set(client.get(url, **cards).json()["fragments"]) >= {"vitals", "pump", "status"}


def test_the_signed_infusion_page_reads_as_many_times_with_twice_the_records(
    world: World, client_for: Any
) -> None:
    small = signed(world, world.patient, 3)
    large = signed(world, world.other_patient, 6, repicks=1)
    # The draw, what was given and the waste; twice over with a vial corrected before the start.
    assert LedgerEntry.objects.filter(session=small).count() == 3
    assert LedgerEntry.objects.filter(session=large).count() == 5
    client = client_for(world.prescriber)
    client.get(session_url(small))
    few = page_count(client, session_url(small), SIGNED_PAGE_QUERIES, "signed, 3 of each")
    many = page_count(client, session_url(large), SIGNED_PAGE_QUERIES, "signed, 6 of each")
    assert many == few, f"{few} queries with 3 of each record, {many} with 6: a query a row"
    # A signed note's seal hashes every column of its readings: read with them, once.
    assert _vitals_reads(client, session_url(large)) == ["with the assessment"]
    # The seal check read the page's rows: the note as signed, no change reported.
    page = client.get(session_url(large)).content.decode()
    assert "has changed since it was signed" not in page
    assert "Administered" in page
    assert "Wasted" in page


def test_todays_infusions_read_as_many_times_with_twice_the_rows(
    world: World, client_for: Any
) -> None:
    first = running_charted(world, world.patient, 3)
    client = client_for(world.nurse)
    url = reverse("infusion_today")
    client.get(url)
    few = page_count(client, url, TODAY_PAGE_QUERIES, "today, one infusion")
    running_charted(world, world.other_patient, 6)
    chart(world, first, 3, from_min=8)
    many = page_count(client, url, TODAY_PAGE_QUERIES, "today, two infusions")
    assert many == few, f"{few} queries with one infusion, {many} with two: a query a row"
    page = client.get(url).content.decode()
    assert world.patient.family_name in page
    assert world.other_patient.family_name in page


def test_the_session_ledger_is_the_draw_and_dispositions_read_one_by_one(
    world: World,
) -> None:
    """``ledger.session_ledger`` (one query) finds the same standing draw and dispositions as
    the per-entry reads it replaced on the page: after a vial corrected before the start, the
    remainder wasted, that waste corrected by the director and wasted again."""
    session = prepare(world)
    repick(world, session, "LOT-R1")
    t0 = timezone.now() - dt.timedelta(minutes=60)
    event(world, session, "start", t0)
    event(world, session, "stop", t0 + dt.timedelta(minutes=30))  # 26.25 of 35 mg given
    session.refresh_from_db()
    first = waste_remainder(world, session)
    ledger.entry_correct(actor=Actor(user=world.director), entry=first[-1], reason="miscounted")
    waste_remainder(world, session)
    draw = ledger.live_session_draw(session)
    assert draw is not None
    one_by_one = ledger.live_entries(draw.dispositions.order_by("seq"))
    found = ledger.session_ledger(session)
    assert found.draw == draw
    assert found.dispositions == one_by_one
    assert [e.kind for e in found.dispositions] == ["administered", "wasted"]
    assert ledger.remaining_after(draw, found.dispositions) == ledger.draw_remaining_mg(draw)
    card = stock.session_vial(session)
    assert (card.draw, card.dispositions, card.remaining_mg, card.waste_due) == (
        draw,
        one_by_one,
        Decimal(0),
        False,
    )
