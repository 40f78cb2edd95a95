"""The chair board's database queries, pinned to a ceiling: the page is read by one selector
(:func:`ketaflow.treatment.selectors.chair_board_page`), whose queries do not grow with the
number of appointments on the day. Measured with Django's CaptureQueriesContext."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.treatment.builders import book_all, plan, third_patient
from tests.web.conftest import World

# Measured before the board moved into a selector: 19 queries (front desk), 21 (nurse), and
# the same after (the running infusions' pump events are now prefetched: two queries however many)
# Session 9: 15 and 16 (the session saved once a minute, the user read with their clinic, the
# urgent banner counted only when full).
# PostgreSQL takes one more: the audit chain's head is locked (SELECT ... FOR UPDATE) per entry.
BOARD_QUERIES_MAX = {"sqlite": 16, "postgresql": 17}


def _board_queries(client: Any, day: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("chair_board"), {"day": day})
    assert response.status_code == 200
    return len(queries)


def test_the_chair_board_reads_a_bounded_number_of_queries(
    clinic_ready: World, client_for: Any
) -> None:
    world = clinic_ready
    first = plan(world)
    book_all(world, first, nurse=world.nurse)
    day = first.planned_dates[0]
    frontdesk = client_for(world.frontdesk)
    nurse = client_for(world.nurse)
    _board_queries(frontdesk, day)  # sessions and caches warmed (a session is saved at its
    _board_queries(nurse, day)  # first page, then once a minute)
    one = {"frontdesk": _board_queries(frontdesk, day), "nurse": _board_queries(nurse, day)}
    for patient, name in ((world.other_patient, "Chair 2"), (third_patient(world), "Chair 3")):
        book_all(world, plan(world, patient), chair_name=name)
    three = {"frontdesk": _board_queries(frontdesk, day), "nurse": _board_queries(nurse, day)}
    print(f"chair board queries: one booking {one}, three bookings {three}")
    assert three == one, "the board's queries grow with its appointments"
    assert max(three.values()) <= BOARD_QUERIES_MAX[connection.vendor]
