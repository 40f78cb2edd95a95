"""The chain: append one hash-chained entry under the ledger head's lock (and move the
vial's balance, and write its audit twin); verify the whole chain."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import connection

from ketaflow.accounts.models import User
from ketaflow.audit.chain import GENESIS, VerifyResult, verify_chain
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger.chain import ledger_entry_hash, ledger_key
from ketaflow.ledger.models import (
    DiscrepancyCase,
    LedgerEntry,
    LedgerHead,
    Vial,
)
from ketaflow.ledger.services.base import (
    MG_RESOLUTION,
    ZERO,
    Kind,
    Status,
    as_json,
    entry_time,
    mg_text,
    refuse,
)
from ketaflow.patients.models import Patient


def append_entry(
    *,
    actor: Actor,
    user: User,
    vial: Vial,
    kind: str,
    quantity_mg: Decimal,
    amount_mg: Decimal = ZERO,
    pending_change_mg: Decimal = ZERO,
    at: dt.datetime | None = None,
    volume_ml: Decimal | None = None,
    witness: User | None = None,
    witness2: User | None = None,
    patient: Patient | None = None,
    session: InfusionSession | None = None,
    draw: LedgerEntry | None = None,
    corrects: LedgerEntry | None = None,
    case: DiscrepancyCase | None = None,
    reason: str = "",
    note: str = "",
    form_data: dict[str, Any] | None = None,
    summary: str,
) -> LedgerEntry:
    """Append one entry for ``vial`` (already locked by the caller) and move its balance."""
    balance_after = vial.in_vial_mg + amount_mg
    pending_after = vial.drawn_pending_mg + pending_change_mg
    if balance_after < 0:
        raise refuse(
            NON_FIELD_ERRORS,
            f"overdraw refused: vial {vial.label} holds {mg_text(vial.in_vial_mg)} mg; "
            f"this would leave {mg_text(balance_after)} mg",
        )
    if pending_after < 0:
        raise refuse(
            NON_FIELD_ERRORS,
            f"refused: only {mg_text(vial.drawn_pending_mg)} mg drawn from vial {vial.label} "
            "is not yet recorded as given or wasted",
        )
    if connection.vendor == "postgresql":
        head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    else:  # SQLite serialises writers itself (transaction_mode IMMEDIATE)
        head = LedgerHead.objects.filter(pk=1).first()
    if head is None:
        head = LedgerHead(pk=1, seq=0, hash=GENESIS)
    entry = LedgerEntry(
        seq=head.seq + 1,
        at=entry_time(at),
        clinic_id=vial.clinic_id,
        vial=vial,
        kind=kind,
        quantity_mg=quantity_mg.quantize(MG_RESOLUTION),
        amount_mg=amount_mg.quantize(MG_RESOLUTION),
        balance_after_mg=balance_after.quantize(MG_RESOLUTION),
        pending_change_mg=pending_change_mg.quantize(MG_RESOLUTION),
        pending_after_mg=pending_after.quantize(MG_RESOLUTION),
        volume_ml=volume_ml,
        actor=user,
        actor_username=user.get_username(),
        witness=witness,
        witness_username=witness.get_username() if witness is not None else "",
        witness2=witness2,
        witness2_username=witness2.get_username() if witness2 is not None else "",
        patient=patient,
        session=session,
        draw=draw,
        corrects=corrects,
        case=case,
        reason=reason[:300],
        note=note[:300],
        form_data=as_json(form_data or {}),
        prev_hash=head.hash,
        hash="",
    )
    entry.hash = ledger_entry_hash(entry, ledger_key())
    entry.full_clean()
    entry.save()
    head.seq, head.hash = entry.seq, entry.hash
    head.save()
    vial.in_vial_mg = entry.balance_after_mg
    vial.drawn_pending_mg = entry.pending_after_mg
    vial.last_seq = entry.seq
    if kind == Kind.DRAWN and vial.status == Status.SEALED:
        vial.status = Status.OPEN
        vial.opened_at = entry.at
    if vial.status in (Status.SEALED, Status.OPEN) and vial.on_hand_mg == 0:
        vial.status = Status.EMPTY
    vial.full_clean()
    vial.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_entry",
        object_id=entry.pk,
        patient_id=entry.patient_id,
        summary=f"ledger #{entry.seq}: {summary}",
        detail={
            "vial": vial.label,
            "kind": kind,
            "quantity_mg": mg_text(entry.quantity_mg),
            "balance_after_mg": mg_text(entry.balance_after_mg),
            # The twin of the ledger entry in the audit chain (ketaflow.ledger.verify).
            "ledger_seq": entry.seq,
            "ledger_hash": entry.hash,
        },
    )
    return entry


def ledger_verify(*, chunk_size: int = 2000) -> VerifyResult:
    """Verify the ledger's whole chain: the first altered, inserted or deleted entry."""
    head = LedgerHead.objects.filter(pk=1).first()
    entries = LedgerEntry.objects.order_by("seq").iterator(chunk_size=chunk_size)
    return verify_chain(
        entries,
        ledger_key(),
        head_seq=head.seq if head else None,
        hasher=ledger_entry_hash,
        name="ledger chain",
    )
