"""Inventories (ketaflow.ledger.services.inventories): frozen once taken, only open vials
estimated, the biennial one due within two years."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    AppendOnlyError,
    Inventory,
    InventoryLine,
    LedgerEntry,
)
from tests.ledger.builders import (
    Stock,
    count_lines_for,
    draw,
    nurse,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_the_inventory_is_frozen_and_estimates_only_open_vials(
    world: World, stock: Stock, audit_triggers: None
) -> None:
    draw(world, stock.vials[0], "3")
    director = Actor(user=world.director)
    lines = [
        services.InventoryInput(c.vial_id, c.present, c.measured_volume_ml, estimated=False)
        for c in count_lines_for(stock)
    ]
    sealed_estimate = list(lines)
    sealed_estimate[1] = services.InventoryInput(stock.vials[1].pk, True, estimated=True)
    with pytest.raises(ValidationError, match=r"sealed: count it exactly \(21 CFR 1304.11"):
        services.inventory_take(
            actor=director,
            clinic=world.clinic,
            kind="initial",
            timing="opening",
            lines=sealed_estimate,
        )
    lines[0] = services.InventoryInput(stock.vials[0].pk, True, Decimal("7.0"), estimated=True)
    inventory = services.inventory_take(
        actor=director, clinic=world.clinic, kind="initial", timing="opening", lines=lines
    )
    line = inventory.lines.get(vial=stock.vials[0])
    assert (line.method, line.counted_mg, line.ledger_mg) == (
        "estimated",
        Decimal(350),
        Decimal(350),
    )
    with pytest.raises(ValidationError, match="already taken"):
        services.inventory_take(
            actor=director, clinic=world.clinic, kind="initial", timing="closing", lines=lines
        )
    with pytest.raises(PermissionDenied):
        services.inventory_take(
            actor=nurse(world), clinic=world.clinic, kind="biennial", timing="closing", lines=lines
        )
    inventory.note = "changed"
    with pytest.raises(AppendOnlyError):
        inventory.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        InventoryLine.objects.filter(pk=line.pk).update(counted_mg=1)
    assert Inventory.objects.count() == 1


def test_the_biennial_inventory_is_due_within_two_years(world: World, client_for: Any) -> None:
    assert services.biennial_due(world.clinic) is None
    taken = dt.datetime(2024, 2, 29, 8, 0, tzinfo=timezone.get_current_timezone())
    services.inventory_take(
        actor=Actor(user=world.director),
        clinic=world.clinic,
        kind="initial",
        timing="opening",
        lines=[],
        at=taken,
    )
    assert services.biennial_due(world.clinic) == dt.date(2026, 2, 28)
    page = client_for(world.director).get(reverse("ledger_reports"))
    assert b"due by 2026-02-28" in page.content
