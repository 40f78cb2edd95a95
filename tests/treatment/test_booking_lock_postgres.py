"""The booking lock on a real PostgreSQL (run by scripts/test-postgres.sh; skipped on SQLite,
which serialises writers instead): two bookings of a clinic wait for each other, but a write
that only refers to the clinic does not wait for a booking. With ``FOR UPDATE`` it did (its
foreign-key check takes ``FOR KEY SHARE`` on the clinic at commit), and the load benchmark
(benchmarks/load/) saw PostgreSQL deadlocks between a booking and a PHQ-9 answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction

from ketaflow.accounts.models import Clinic
from ketaflow.treatment.models import Chair
from ketaflow.treatment.services import booking as booking_services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only (scripts/test-postgres.sh)"
    ),
]


def _lock_timeout(seconds: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds)}s'")


@pytest.fixture
def booking_in_progress(live_db: Any) -> Iterator[Clinic]:
    """A clinic whose booking lock another connection holds until the test ends."""
    clinic = Clinic.objects.create(name="Lock Test Clinic", slug="lock-test")
    held, release = threading.Event(), threading.Event()

    def booking() -> None:
        try:
            with transaction.atomic():
                booking_services._lock_clinic(clinic)
                held.set()
                release.wait(20)
        finally:
            connections.close_all()

    thread = threading.Thread(target=booking)
    thread.start()
    assert held.wait(20)
    try:
        yield clinic
    finally:
        release.set()
        thread.join()


def test_a_write_that_refers_to_the_clinic_does_not_wait_for_a_booking(
    booking_in_progress: Clinic,
) -> None:
    with transaction.atomic():
        _lock_timeout(3)
        Chair.objects.create(clinic=booking_in_progress, name="Chair 9")
    assert Chair.objects.filter(clinic=booking_in_progress, name="Chair 9").exists()


def _second_booking(clinic: Clinic) -> None:
    with transaction.atomic():
        _lock_timeout(1)
        booking_services._lock_clinic(clinic)


def test_a_second_booking_still_waits_for_the_first(booking_in_progress: Clinic) -> None:
    with pytest.raises(OperationalError, match="lock timeout"):
        _second_booking(booking_in_progress)
