"""Everything ``ketaflow ledger verify`` checks, beyond the ledger's own hash chain.

The chain proves the entries are the ones written, in order, unless someone with database
access and the key rewrote it; the rest is cross-checked here against records that person would
also have to rewrite consistently:

- **Checkpoints** (:mod:`ketaflow.audit.checkpoints`): the chain's head as signed into a file
  outside the database; a rewound head or a rewritten chain no longer matches.
- **The audit twin**: every ledger write records an audit entry in the same transaction, whose
  detail carries the ledger entry's sequence number and hash. A ledger entry without its audit
  entry, or whose hash differs from the one the audit chain vouches for, is reported. (Entries
  written before the twin carried the hash are checked for presence only.)
- **Vial balances**: a vial's stored balances (``in_vial_mg``, ``drawn_pending_mg``) are not
  part of any chain, so each is checked against the sum of its ledger entries' signed changes.
- **Receipts and count lines**: these rows are append-only in the database (triggers, migration
  ``ledger/0002``, reinstalled by ``0004``), but a trigger is dropped with one statement by whoever
  owns the database, so each row is also compared with the copy its audit entry (hash-chained
  and checkpointed) took when it was written: a receipt's invoice and DEA numbers, supplier, lot
  and vial count; a count's lines. Rows written before those copies existed are checked for the
  invoice number in the audit summary (receipts) or not at all (count lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ketaflow.audit.chain import VerifyResult
from ketaflow.audit.checkpoints import ChainHead, checkpoints_verify, model_chain
from ketaflow.audit.models import AuditEntry
from ketaflow.ledger.models import Count, LedgerEntry, LedgerHead, Receipt, Vial
from ketaflow.ledger.services import count_lines_snapshot, ledger_verify, receipt_snapshot

CHAIN = "ledger"


def ledger_chains() -> list[ChainHead]:
    """The ledger's chain for :func:`ketaflow.audit.checkpoints.register_chains`."""
    return [model_chain(CHAIN, LedgerHead, LedgerEntry)]


@dataclass
class LedgerReport:
    chain: VerifyResult
    problems: list[str] = field(default_factory=list)
    checkpoints_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


def _audit_details(object_type: str) -> dict[str, tuple[int, str, Any]]:
    """object_id -> (audit seq, summary, detail) of the entry that recorded the creation of
    each record of ``object_type`` (not the later views of it)."""
    rows = (
        AuditEntry.objects.filter(object_type=object_type, action=AuditEntry.Action.CREATE)
        .order_by("pk")
        .values_list("object_id", "seq", "summary", "detail")
    )
    found: dict[str, tuple[int, str, Any]] = {}
    for object_id, seq, summary, detail in rows.iterator(chunk_size=5000):
        found.setdefault(object_id, (seq, summary, detail))
    return found


def audit_twin_problems() -> Iterator[str]:
    twins = _audit_details("ledger_entry")
    entries = LedgerEntry.objects.order_by("seq").values_list("pk", "seq", "hash")
    for pk, seq, entry_hash in entries.iterator(chunk_size=2000):
        twin = twins.get(str(pk))
        if twin is None:
            yield f"ledger entry #{seq} has no audit entry (it was not written by KetaFlow)"
            continue
        audit_seq, _, detail = twin
        detail = detail if isinstance(detail, dict) else {}
        if "ledger_hash" in detail and (
            detail["ledger_hash"] != entry_hash or detail.get("ledger_seq") != seq
        ):
            yield (
                f"ledger entry #{seq} differs from its audit entry #{audit_seq}: "
                "the ledger entry was rewritten"
            )


def balance_problems() -> Iterator[str]:
    # Summed here, exactly: SQLite's SUM of a decimal column is a float.
    zero = Decimal("0.000")
    sums: dict[int, list[Decimal]] = {}
    rows = LedgerEntry.objects.values_list("vial_id", "amount_mg", "pending_change_mg")
    for vial_id, amount, pending_change in rows.iterator(chunk_size=5000):
        total = sums.setdefault(vial_id, [zero, zero])
        total[0] += amount
        total[1] += pending_change
    for vial in Vial.objects.order_by("clinic_id", "label").iterator(chunk_size=2000):
        in_vial, pending = sums.get(vial.pk, [zero, zero])
        if vial.in_vial_mg != in_vial:
            yield (
                f"vial {vial.label}: its stored balance is {vial.in_vial_mg:.3f} mg but its "
                f"ledger entries add up to {in_vial:.3f} mg"
            )
        if vial.drawn_pending_mg != pending:
            yield (
                f"vial {vial.label}: {vial.drawn_pending_mg:.3f} mg stored as drawn and not yet "
                f"given or wasted, but its ledger entries add up to {pending:.3f} mg"
            )


def _differences(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(recorded) | set(now) if recorded.get(k) != now.get(k))


def receipt_problems() -> Iterator[str]:
    audited = _audit_details("ledger_receipt")
    for receipt in Receipt.objects.order_by("pk").iterator(chunk_size=2000):
        twin = audited.get(str(receipt.pk))
        if twin is None:
            yield f"receipt {receipt.pk} (invoice {receipt.invoice_number}) has no audit entry"
            continue
        audit_seq, summary, detail = twin
        recorded = detail.get("receipt") if isinstance(detail, dict) else None
        if isinstance(recorded, dict):
            changed = _differences(recorded, receipt_snapshot(receipt))
        else:  # written before the audit entry kept the receipt: the summary names the invoice
            changed = [] if f"invoice {receipt.invoice_number}" in summary else ["invoice_number"]
        if changed:
            yield (
                f"receipt {receipt.pk}: {', '.join(changed)} changed since it was received "
                f"(audit entry #{audit_seq})"
            )


def count_problems() -> Iterator[str]:
    audited = _audit_details("ledger_count")
    for count in Count.objects.order_by("pk").iterator(chunk_size=500):
        twin = audited.get(str(count.pk))
        if twin is None:
            yield f"count {count.pk} has no audit entry"
            continue
        audit_seq, _, detail = twin
        recorded = detail.get("lines") if isinstance(detail, dict) else None
        if isinstance(recorded, list) and recorded != count_lines_snapshot(count):
            yield (
                f"count {count.pk}: its lines changed since they were counted "
                f"(audit entry #{audit_seq})"
            )


def ledger_check(*, checkpoints: Path | None = None) -> LedgerReport:
    """The chain, then (against ``checkpoints`` when given) every cross-check above."""
    report = LedgerReport(ledger_verify())
    if checkpoints is not None:
        report.problems += [p.message for p in checkpoints_verify(checkpoints, chain=CHAIN)]
        report.checkpoints_checked = True
    report.problems += list(audit_twin_problems())
    report.problems += list(balance_problems())
    report.problems += list(receipt_problems())
    report.problems += list(count_problems())
    return report
