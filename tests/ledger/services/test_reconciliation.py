"""Reconciliation (ketaflow.ledger.services.reconciliation): a session whose record changed."""

from __future__ import annotations

from django.utils import timezone

from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    LedgerEntry,
)
from tests.ledger.builders import (
    complete_session,
    nurse,
    session_draw,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_reconciliation_flags_a_session_whose_record_changed(world: World) -> None:
    session = complete_session(world)
    d = session_draw(session)
    services.administration_record(actor=nurse(world), draw=d)
    InfusionSession.objects.filter(pk=session.pk).update(delivered_dose_mg=35.25)
    [check] = services.session_checks(world.clinic)
    assert check.problems[0].startswith(f"session {session.pk}: the ledger records 36.000 mg")
    assert not services.reconcile_clinic(world.clinic, timezone.localdate()).balanced
