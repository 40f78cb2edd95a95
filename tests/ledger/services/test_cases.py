"""Discrepancy cases (ketaflow.ledger.services.cases): resolved by the director only, with an
adjustment or as a count error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ketaflow.audit.context import Actor
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    DiscrepancyCase,
    LedgerEntry,
)
from tests.ledger.builders import (
    CONTENT_MG,
    Stock,
    count_lines_for,
    draw,
    nurse,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_a_discrepancy_is_resolved_by_the_director_only(world: World, stock: Stock) -> None:
    draw(world, stock.vials[0], "2")  # 400 mg left = 8 mL
    lines = count_lines_for(stock, short_ml="0.1")  # open vial 5 mg short
    lines[1] = services.CountInput(stock.vials[1].pk, present=True)
    services.count_record(actor=nurse(world), clinic=world.clinic, shift="closing", lines=lines)
    case = DiscrepancyCase.objects.get()
    assert (case.expected_mg, case.counted_mg, case.difference_mg) == (
        Decimal(400),
        Decimal(395),
        Decimal(-5),
    )
    for person in (world.nurse, world.prescriber):
        with pytest.raises(PermissionDenied):
            services.case_resolve(actor=Actor(user=person), case=case, outcome="adjust", reason="x")
    director = Actor(user=world.director)
    with pytest.raises(ValidationError, match="needs a reason"):
        services.case_resolve(actor=director, case=case, outcome="adjust", reason="")
    services.case_resolve(actor=director, case=case, outcome="adjust", reason="recount: short")
    case.refresh_from_db()
    assert (case.status, case.resolved_by_id) == ("resolved", world.director.pk)
    adjustment = LedgerEntry.objects.get(kind=Kind.ADJUSTED)
    assert (adjustment.case_id, adjustment.amount_mg, adjustment.balance_after_mg) == (
        case.pk,
        Decimal(-5),
        Decimal(395),
    )
    result = services.reconcile_vial(stock.fresh(0))
    assert result.balanced
    assert result.adjusted_mg == Decimal(-5)
    with pytest.raises(ValidationError, match="already resolved"):
        services.case_resolve(actor=director, case=case, outcome="adjust", reason="again")


def test_a_count_error_is_resolved_without_an_entry(world: World, stock: Stock) -> None:
    lines = count_lines_for(stock)
    lines[2] = services.CountInput(stock.vials[2].pk, present=False)
    services.count_record(actor=nurse(world), clinic=world.clinic, shift="shift", lines=lines)
    case = DiscrepancyCase.objects.get()
    assert case.difference_mg == -CONTENT_MG
    services.case_resolve(
        actor=Actor(user=world.director),
        case=case,
        outcome="count_error",
        reason="found in the second drawer of the locked cabinet",
    )
    assert not LedgerEntry.objects.filter(kind=Kind.ADJUSTED).exists()
