"""Destruction (ketaflow.ledger.services.destruction): two different witnesses, DEA Form 41 data."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ketaflow.audit.context import Actor
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    LedgerEntry,
)
from tests.ledger.builders import (
    CONTENT_MG,
    Stock,
    nurse,
    refusal,
)
from tests.web.conftest import PASSWORD, World

Kind = LedgerEntry.Kind


def test_destruction_needs_two_different_witnesses_and_keeps_form_41_data(
    world: World, stock: Stock
) -> None:
    director = Actor(user=world.director)
    with pytest.raises(ValidationError) as exc:
        services.destruction_record(
            actor=director,
            vial=stock.vials[0],
            witnesses=[("prescriber", PASSWORD), ("prescriber", PASSWORD)],
            method="digestion kit",
            location="med room",
            reason="expired",
        )
    assert "each witness must be a different person" in refusal(exc)
    with pytest.raises(PermissionDenied):
        services.destruction_record(
            actor=nurse(world),
            vial=stock.vials[0],
            witnesses=[("prescriber", PASSWORD), ("director", PASSWORD)],
            method="digestion kit",
            location="med room",
            reason="expired",
        )
    entry = services.destruction_record(
        actor=director,
        vial=stock.vials[0],
        witnesses=[("prescriber", PASSWORD), ("nurse", PASSWORD)],
        method="digestion kit",
        location="med room",
        reason="expired",
    )
    assert (entry.witness_id, entry.witness2_id) == (world.prescriber.pk, world.nurse.pk)
    assert entry.form_data["form"] == "DEA-41"
    assert entry.form_data["quantity_mg"] == "500.000"
    assert stock.fresh(0).status == "destroyed"
    assert services.reconcile_vial(stock.fresh(0)).destroyed_mg == CONTENT_MG
