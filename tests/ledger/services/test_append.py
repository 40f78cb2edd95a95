"""The chain (ketaflow.ledger.services.append): intact after use; an edited, deleted or inserted
entry is found; the database and the model refuse updates and deletes."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from ketaflow.audit.db import drop_triggers, install_triggers
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    AppendOnlyError,
    LedgerEntry,
)
from tests.ledger.builders import (
    Stock,
    grow,
    raw,
    receive,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_the_chain_is_intact_after_normal_use(world: World, stock: Stock) -> None:
    entries = grow(world, stock)
    result = services.ledger_verify()
    assert (result.ok, result.checked) == (True, len(entries))
    assert result.message == f"ledger chain intact: {len(entries)} entries verified"


def test_an_edited_amount_is_found(world: World, stock: Stock) -> None:
    entries = grow(world, stock)
    victim = entries[3]
    drop_triggers(connection)
    raw("UPDATE ledger_ledgerentry SET quantity_mg = %s WHERE seq = %s", ["1.000", victim.seq])
    result = services.ledger_verify()
    assert (result.ok, result.problem, result.seq) == (False, "altered", victim.seq)


def test_a_deleted_entry_is_found(world: World, stock: Stock) -> None:
    entries = grow(world, stock)
    drop_triggers(connection)
    raw("DELETE FROM ledger_ledgerentry WHERE seq = %s", [entries[2].seq])
    result = services.ledger_verify()
    assert (result.ok, result.problem, result.seq) == (False, "deleted", entries[2].seq)


def test_deleted_newest_entries_are_found(world: World, stock: Stock) -> None:
    entries = grow(world, stock)
    drop_triggers(connection)
    raw("DELETE FROM ledger_ledgerentry WHERE seq >= %s", [entries[-2].seq])
    assert (services.ledger_verify().problem, services.ledger_verify().seq) == (
        "deleted",
        entries[-2].seq,
    )


def test_an_inserted_entry_is_found(world: World, stock: Stock) -> None:
    entries = grow(world, stock)
    victim = entries[2]
    drop_triggers(connection)
    raw("UPDATE ledger_ledgerentry SET seq = seq + 1000 WHERE seq > %s", [victim.seq])
    raw(
        "INSERT INTO ledger_ledgerentry (seq, at, clinic_id, vial_id, kind, quantity_mg,"
        " amount_mg, balance_after_mg, pending_change_mg, pending_after_mg, actor_username,"
        " witness_username, witness2_username, reason, note, form_data, prev_hash, hash)"
        " VALUES (%s, %s, %s, %s, 'received', 100, 100, 600, 0, 0, 'intruder', '', '', '',"
        " '', '{}', %s, %s)",
        [victim.seq + 1, victim.at, world.clinic.pk, victim.vial_id, victim.hash, "f" * 64],
    )
    result = services.ledger_verify()
    assert (result.ok, result.problem, result.seq) == (False, "inserted", victim.seq + 1)


def test_the_database_refuses_update_and_delete_of_ledger_records(
    world: World, stock: Stock, audit_triggers: None
) -> None:
    entry = stock.vials[0].entries.get()
    for sql in (
        "UPDATE ledger_ledgerentry SET quantity_mg = 1 WHERE id = %s",
        "DELETE FROM ledger_ledgerentry WHERE id = %s",
        "UPDATE ledger_receipt SET invoice_number = 'x' WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            raw(sql, [entry.pk if "ledgerentry" in sql else entry.vial.receipt_id])
    assert services.ledger_verify().ok


def test_the_model_refuses_update_and_delete(world: World, stock: Stock) -> None:
    entry = stock.vials[0].entries.get()
    entry.reason = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_triggers_are_reinstalled_for_ledger_tables(world: World) -> None:
    drop_triggers(connection)
    install_triggers(connection)
    entry = receive(world, count=1).vials[0].entries.get()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("DELETE FROM ledger_ledgerentry WHERE id = %s", [entry.pk])
