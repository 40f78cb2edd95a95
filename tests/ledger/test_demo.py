"""The ledger's demo month (ketaflow.ledger.demo) reconciles to the milligram."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.infusions.demo import demo_session
from ketaflow.ledger import services
from ketaflow.ledger.demo import load_demo
from ketaflow.ledger.models import (
    DiscrepancyCase,
    Inventory,
    LedgerEntry,
)
from tests.ledger.builders import (
    make_appointment,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_the_demo_month_reconciles_to_the_milligram(world: World) -> None:
    staff = {"director": world.director, "prescriber": world.prescriber, "nurse": world.nurse}
    today = timezone.localdate()
    first = load_demo(clinic=world.clinic, today=today, staff=staff)
    assert first.created
    assert first.entries > 40
    assert load_demo(clinic=world.clinic, today=today, staff=staff) == type(first)(
        False, first.entries
    )
    # The demo's infusion picks its vial from that stock and wastes the remainder, witnessed.
    demo_session(
        actor=Actor.system("tests"),
        appointment=make_appointment(world),
        nurse=world.nurse,
        scenario="complete",
        witness=world.prescriber,
    )
    for offset in range(31):
        day = today - dt.timedelta(days=offset)
        result = services.reconcile_clinic(world.clinic, day)
        assert result.balanced, (day, result.problems)
        assert result.total("received_mg") + result.total("adjusted_mg") == (
            result.total("given_mg")
            + result.total("wasted_mg")
            + result.total("destroyed_mg")
            + result.total("lost_mg")
            + result.total("on_hand_mg")
        )
    now = services.reconcile_clinic(world.clinic, today)
    assert now.total("received_mg") == Decimal(2000)  # ten vials of 10 mg/mL x 20 mL
    assert now.total("adjusted_mg") == Decimal(-2)
    assert len(now.sessions) == 1
    assert now.sessions[0].problems == []
    assert services.ledger_verify().ok
    entries = LedgerEntry.objects.filter(clinic=world.clinic)
    assert not entries.filter(kind=Kind.DRAWN, patient__isnull=True).exists()
    assert (
        entries.filter(kind=Kind.WASTED).exclude(witness=None).count()
        == entries.filter(kind=Kind.WASTED).count()
        > 5
    )
    case = DiscrepancyCase.objects.get(clinic=world.clinic)
    assert (case.status, case.resolved_by_id) == ("resolved", world.director.pk)
    assert Inventory.objects.get(clinic=world.clinic).kind == "initial"
    assert entries.filter(note__startswith="Demo day without an infusion session").exists()
