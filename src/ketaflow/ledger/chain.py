"""The ledger's hash chain: the audit trail's construction (HMAC-SHA256 over an entry's content
and the previous entry's hash, ``ketaflow.audit.chain``), with its own canonical form and its
own key, derived from the audit key so that an audit hash can never pass for a ledger hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings

MG_PLACES = Decimal("0.001")


class LedgerEntryLike(Protocol):
    seq: int
    at: dt.datetime
    clinic_id: int
    vial_id: int
    kind: str
    quantity_mg: Decimal
    amount_mg: Decimal
    balance_after_mg: Decimal
    pending_change_mg: Decimal
    pending_after_mg: Decimal
    volume_ml: Decimal | None
    actor_username: str
    witness_username: str
    witness2_username: str
    patient_id: int | None
    session_id: int | None
    draw_id: int | None
    corrects_id: int | None
    case_id: int | None
    reason: str
    note: str
    form_data: Any
    prev_hash: str
    hash: str


def _decimal(value: Decimal | None) -> str | None:
    """A Decimal as the database returns it (three places); exact, so nothing is rounded."""
    if value is None:
        return None
    text = f"{value:.3f}"
    if Decimal(text) != value:
        raise ValueError(f"{value} has more than three decimal places")
    return text


def canonical(entry: LedgerEntryLike) -> bytes:
    """The bytes the hash covers: every recorded field, in a fixed order and format."""
    payload = [
        entry.seq,
        entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        entry.clinic_id,
        entry.vial_id,
        entry.kind,
        _decimal(entry.quantity_mg),
        _decimal(entry.amount_mg),
        _decimal(entry.balance_after_mg),
        _decimal(entry.pending_change_mg),
        _decimal(entry.pending_after_mg),
        _decimal(entry.volume_ml),
        entry.actor_username,
        entry.witness_username,
        entry.witness2_username,
        entry.patient_id,
        entry.session_id,
        entry.draw_id,
        entry.corrects_id,
        entry.case_id,
        entry.reason,
        entry.note,
        entry.form_data,
        entry.prev_hash,
    ]
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def ledger_key() -> bytes:
    audit_key: str = settings.AUDIT_HMAC_KEY
    return hmac.new(audit_key.encode(), b"ketaflow-ledger-chain", hashlib.sha256).digest()


def ledger_entry_hash(entry: LedgerEntryLike, key: bytes) -> str:
    return hmac.new(key, canonical(entry), hashlib.sha256).hexdigest()
