"""Every write to the controlled-substance ledger, and its reconciliation: one module a concern.

Each write is ``<thing>_<action>(*, actor, ...)``: it checks the actor's permission, takes the
vial's row lock (``select_for_update``; SQLite serialises writers with IMMEDIATE transactions),
appends one hash-chained :class:`LedgerEntry` under the ledger head's lock, moves the vial's
balance and writes its audit entry, all in one transaction. Lock order is always vials by
primary key, then the ledger head, then the audit head, so two writers never deadlock.

Amounts are exact Decimals in milligrams. Where a product of volume and concentration, or the
infusion record's delivered dose (a float computed exactly from the pump events), is turned into
a ledger amount, it is quantised explicitly to the ledger's resolution (:data:`MG_RESOLUTION`,
rule :data:`MG_RESOLUTION_RULE`); amounts typed by a person are never rounded: more than three
decimal places is refused.

The modules, in the order an entry's life takes them: ``base`` (the resolution, refusals, the
person who acts, the vial's lock), ``append`` (the chain), ``witness`` (the second person who
signs), ``receipts``, ``draws``, ``administration``, ``waste``, ``destruction``, ``loss``,
``corrections``, ``counts``, ``cases``, ``inventories``, ``reads`` (audited reads) and
``reconciliation``. Callers import from here (``from ketaflow.ledger import services``).
"""

from __future__ import annotations

from ketaflow.ledger.services.administration import (
    administration_record,
    session_given_mg,
    syringe_tolerance_mg,
)
from ketaflow.ledger.services.append import append_entry, ledger_verify
from ketaflow.ledger.services.base import (
    IN_STOCK,
    MG_RESOLUTION,
    MG_RESOLUTION_RULE,
    OPEN_SCHEDULE_III_MAY_BE_ESTIMATED,
    ZERO,
    Kind,
    Status,
    ledger_settings_for,
    live_entries,
    quantise_mg,
)
from ketaflow.ledger.services.cases import case_resolve
from ketaflow.ledger.services.corrections import (
    entry_correct,
    receipt_reversal_problems,
    receipt_reverse,
)
from ketaflow.ledger.services.counts import CountInput, count_lines_snapshot, count_record
from ketaflow.ledger.services.destruction import destruction_record
from ketaflow.ledger.services.draws import (
    draw_record,
    draw_remaining_mg,
    live_session_draw,
    open_draws,
    remaining_after,
    session_draw_reverse,
    session_ledger,
)
from ketaflow.ledger.services.inventories import InventoryInput, biennial_due, inventory_take
from ketaflow.ledger.services.loss import LOSS_KINDS, loss_record, notify_deadline
from ketaflow.ledger.services.reads import ledger_viewed, record_viewed, report_exported
from ketaflow.ledger.services.receipts import (
    product_create,
    receipt_snapshot,
    same_invoice_receipts,
    stock_receive,
)
from ketaflow.ledger.services.reconciliation import (
    ClinicReconciliation,
    DrawCheck,
    SessionCheck,
    VialReconciliation,
    draws_without_session,
    reconcile_clinic,
    reconcile_vial,
    session_checks,
)
from ketaflow.ledger.services.waste import waste_record, waste_witnessed
from ketaflow.ledger.services.witness import witness_rules, witness_verify

__all__ = [
    "IN_STOCK",
    "LOSS_KINDS",
    "MG_RESOLUTION",
    "MG_RESOLUTION_RULE",
    "OPEN_SCHEDULE_III_MAY_BE_ESTIMATED",
    "ZERO",
    "ClinicReconciliation",
    "CountInput",
    "DrawCheck",
    "InventoryInput",
    "Kind",
    "SessionCheck",
    "Status",
    "VialReconciliation",
    "administration_record",
    "append_entry",
    "biennial_due",
    "case_resolve",
    "count_lines_snapshot",
    "count_record",
    "destruction_record",
    "draw_record",
    "draw_remaining_mg",
    "draws_without_session",
    "entry_correct",
    "inventory_take",
    "ledger_settings_for",
    "ledger_verify",
    "ledger_viewed",
    "live_entries",
    "live_session_draw",
    "loss_record",
    "notify_deadline",
    "open_draws",
    "product_create",
    "quantise_mg",
    "receipt_reversal_problems",
    "receipt_reverse",
    "receipt_snapshot",
    "reconcile_clinic",
    "reconcile_vial",
    "record_viewed",
    "remaining_after",
    "report_exported",
    "same_invoice_receipts",
    "session_checks",
    "session_draw_reverse",
    "session_given_mg",
    "session_ledger",
    "stock_receive",
    "syringe_tolerance_mg",
    "waste_record",
    "waste_witnessed",
    "witness_rules",
    "witness_verify",
]
