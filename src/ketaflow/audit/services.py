"""Writing and verifying the audit trail.

``audit_record`` is called by every service and view that reads or writes patient data, inside
the same transaction as the write it records, so a change without its audit entry cannot commit.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ketaflow.audit.chain import GENESIS, VerifyResult, entry_hash, verify_chain
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry, AuditHead

Action = AuditEntry.Action


def _key() -> bytes:
    key: str = settings.AUDIT_HMAC_KEY
    return key.encode()


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: object = "",
    patient_id: int | None = None,
    summary: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain (serialised: one writer at a time)."""
    if action not in Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            head = AuditHead.objects.select_for_update().filter(pk=1).first()
        else:  # SQLite serialises writers itself (transaction_mode IMMEDIATE)
            head = AuditHead.objects.filter(pk=1).first()
        if head is None:
            head = AuditHead(pk=1, seq=0, hash=GENESIS)
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            actor=actor.user,
            actor_username=actor.username,
            actor_role=actor.role,
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id not in (None, "") else "",
            patient_id=patient_id,
            summary=summary[:300],
            detail=detail or {},
            ip_address=actor.ip_address,
            prev_hash=head.hash,
        )
        # Round-trip the JSON detail and timestamp exactly as the database will return them.
        entry.detail = _json_roundtrip(entry.detail)
        entry.hash = entry_hash(entry, _key())
        entry.save()
        head.seq, head.hash = entry.seq, entry.hash
        head.save()
    return entry


def _json_roundtrip(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


def audit_verify(*, chunk_size: int = 2000) -> VerifyResult:
    """Verify the whole chain, streaming entries in sequence order."""
    head = AuditHead.objects.filter(pk=1).first()
    entries = AuditEntry.objects.order_by("seq").iterator(chunk_size=chunk_size)
    return verify_chain(entries, _key(), head_seq=head.seq if head else None)
