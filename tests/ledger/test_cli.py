"""The ledger's commands (ketaflow ledger verify, ketaflow ledger reconcile)."""

from __future__ import annotations

import pytest
from django.db import connection

from ketaflow.audit.db import drop_triggers
from ketaflow.cli import main
from ketaflow.ledger.models import (
    LedgerEntry,
)
from tests.ledger.builders import (
    Stock,
    grow,
    raw,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_ledger_verify_command(
    world: World, stock: Stock, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = grow(world, stock)
    assert main(["ledger", "verify"]) == 0
    assert "ledger chain intact: 6 entries verified" in capsys.readouterr().out
    drop_triggers(connection)
    raw("UPDATE ledger_ledgerentry SET amount_mg = 0 WHERE seq = %s", [entries[4].seq])
    assert main(["ledger", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"LEDGER CHAIN BROKEN: entry #{entries[4].seq} was altered" in err


def test_ledger_reconcile_command(
    world: World, stock: Stock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "reconcile", "--clinic", "test"]) == 0
    out = capsys.readouterr().out
    assert "balanced: 3 vials, 0 sessions in which ketamine was given, 0 draws without" in out
    grow(world, stock)  # two draws for no session and no paper infusion record
    assert main(["ledger", "reconcile", "--clinic", "test"]) == 1
    captured = capsys.readouterr()
    assert "received 1500.000 mg" in captured.out
    assert "draw #4 (50.000 mg from vial K" in captured.err
    assert "a draw without a session" in captured.err
    assert main(["ledger", "reconcile", "--clinic", "nowhere"]) == 2
