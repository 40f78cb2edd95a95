"""Draws (ketaflow.ledger.services.draws): the infusion record's lot and volume, no overdraw
(in the service, in the database, and with two nurses drawing at once)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction

from ketaflow.ledger import services
from ketaflow.ledger.models import (
    LedgerEntry,
    Vial,
)
from tests.ledger.builders import (
    Stock,
    complete_session,
    draw,
    make_ready,
    receive,
    refusal,
)
from tests.web.conftest import World, build_world

Kind = LedgerEntry.Kind


def test_a_draw_must_match_the_infusion_records_lot_and_volume(world: World) -> None:
    session = complete_session(world)
    other_lot = receive(world, lot="OTHER", conc="10")
    with pytest.raises(ValidationError) as exc:
        draw(world, other_lot.vials[0], "3.60", session=session)
    assert "names lot KET-24A117" in refusal(exc)
    right_lot = receive(world, lot="KET-24A117", conc="10")
    with pytest.raises(ValidationError) as exc:
        draw(world, right_lot.vials[0], "4.00", session=session)
    assert "says 3.60 mL was drawn" in refusal(exc)


def test_an_overdraw_is_refused_and_changes_nothing(world: World, stock: Stock) -> None:
    draw(world, stock.vials[0], "9")  # 450 of 500 mg
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        draw(world, stock.fresh(0), "1.5")  # 75 mg more
    assert "overdraw refused" in refusal(exc)
    assert "holds 50.000 mg" in refusal(exc)
    assert LedgerEntry.objects.count() == before
    assert stock.fresh(0).in_vial_mg == Decimal("50.000")


def test_the_database_refuses_a_negative_balance(world: World, stock: Stock) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Vial.objects.filter(pk=stock.vials[0].pk).update(in_vial_mg=Decimal("-0.001"))


def test_two_nurses_drawing_at_once_cannot_overdraw(live_db: None) -> None:
    """On PostgreSQL two real transactions on separate connections draw 300 mg each from a
    500 mg vial at the same moment: the row lock makes the second wait and see the first, so
    exactly one succeeds. SQLite serialises writers (IMMEDIATE transactions): the second draw
    starts after the first commits and sees its balance."""
    world = build_world()
    make_ready(world, world.patient)
    stock = receive(world, count=1)
    vial = stock.vials[0]
    outcomes: list[str] = []
    if connection.vendor == "postgresql":
        barrier = threading.Barrier(2)

        def nurse_draws() -> None:
            try:
                barrier.wait(timeout=10)
                draw(world, vial, "6")
                outcomes.append("drawn")
            except ValidationError as exc:
                outcomes.append("refused: " + " ".join(exc.messages))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=nurse_draws) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    else:
        assert connection.vendor == "sqlite"
        for _ in range(2):
            try:
                draw(world, Vial.objects.get(pk=vial.pk), "6")
                outcomes.append("drawn")
            except ValidationError as exc:
                outcomes.append("refused: " + " ".join(exc.messages))
    assert sorted(outcomes)[0] == "drawn"
    assert sorted(outcomes)[1].startswith("refused: overdraw refused: vial")
    assert "holds 200.000 mg" in sorted(outcomes)[1]
    fresh = Vial.objects.get(pk=vial.pk)
    assert (fresh.in_vial_mg, fresh.drawn_pending_mg) == (Decimal(200), Decimal(300))
    assert LedgerEntry.objects.filter(kind=Kind.DRAWN).count() == 1
    assert services.ledger_verify().ok
