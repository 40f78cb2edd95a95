"""Hashing and verification of the audit chain (no database access here)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

GENESIS = "0" * 64


class DamagedRecord(ValueError):
    """A stored record holds what KetaFlow never writes: it was changed outside KetaFlow (or the
    disk corrupted it). Refused, naming the record and the value, never guessed around; the
    server-error page says so in words (``ketaflow.web.errors``), and the tamper checks
    (``ketaflow audit verify``) report the record."""


class EntryLike(Protocol):
    seq: int
    hash_version: int
    clinic_id: int | None
    actor_id: int | None
    patient_ids: Any
    at: dt.datetime
    actor_username: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    patient_id: int | None
    summary: str
    detail: Any
    ip_address: str | None
    prev_hash: str
    hash: str


LEGACY_VERSION = 1
CURRENT_VERSION = 2


def canonical(entry: EntryLike) -> bytes:
    """The bytes the hash covers, in a fixed order and format.

    Version 2 (every entry since per-clinic chains) covers every recorded field: who (the
    user's id as well as the name and role shown), the clinic whose chain it is, and every
    patient it names. Version 1 (the legacy chain) covered all but the actor's id, the clinic
    and the patient list, and is kept so that entries written then still verify."""
    if entry.hash_version == LEGACY_VERSION:
        return _canonical_v1(entry)
    if entry.hash_version != CURRENT_VERSION:
        # Unknown versions hash to something no key can have produced: reported as altered.
        return b"unknown hash version " + str(entry.hash_version).encode()
    at = entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    payload = {
        "v": entry.hash_version,
        "seq": entry.seq,
        "clinic": entry.clinic_id,
        "at": at,
        "actor": entry.actor_id,
        "actor_username": entry.actor_username,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "patient": entry.patient_id,
        "patients": entry.patient_ids,
        "summary": entry.summary,
        "detail": entry.detail,
        "ip": entry.ip_address,
        "prev": entry.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def _canonical_v1(entry: EntryLike) -> bytes:
    at = entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    payload = [
        entry.seq,
        at,
        entry.actor_username,
        entry.actor_role,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.patient_id,
        entry.summary,
        entry.detail,
        entry.ip_address,
        entry.prev_hash,
    ]
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hash(entry: EntryLike, key: bytes) -> str:
    return hmac.new(key, canonical(entry), hashlib.sha256).hexdigest()


class Chained(Protocol):
    """What the verification needs of any hash-chained record (audit trail, drug ledger)."""

    @property
    def seq(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


C = TypeVar("C", bound=Chained)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    problem: str = ""  # "altered", "inserted", "deleted" or ""
    seq: int | None = None  # the first entry found wrong (or the first one missing)
    message: str = ""
    chain: str = ""  # which chain (the audit trail has one per clinic; see audit.services)


def verify_chain(
    entries: Iterable[C],
    key: bytes,
    *,
    head_seq: int | None = None,
    hasher: Callable[[C, bytes], str] | None = None,
    name: str = "audit chain",
) -> VerifyResult:
    """Walk ``entries`` in sequence order and report the first break in the chain.

    ``hasher`` computes an entry's keyed hash (default: the audit trail's :func:`entry_hash`);
    the drug ledger passes its own and ``name="ledger chain"``."""
    prev_seq = 0
    prev_hash = GENESIS
    checked = 0
    it: Iterator[C] = iter(entries)
    current = next(it, None)
    while current is not None:
        following = next(it, None)
        checked += 1
        computed = hasher(current, key) if hasher is not None else _audit_hash(current, key)
        valid = hmac.compare_digest(computed, current.hash)
        if not valid:
            if following is not None and following.prev_hash == prev_hash:
                return VerifyResult(
                    False,
                    checked,
                    "inserted",
                    current.seq,
                    f"entry #{current.seq} was inserted: it is not part of the chain",
                )
            return VerifyResult(
                False,
                checked,
                "altered",
                current.seq,
                f"entry #{current.seq} was altered: its content does not match its hash",
            )
        if current.prev_hash != prev_hash or current.seq != prev_seq + 1:
            missing = prev_seq + 1
            return VerifyResult(
                False,
                checked,
                "deleted",
                missing,
                f"entries are missing before #{current.seq}: "
                f"#{missing} was deleted (the chain breaks after #{prev_seq})",
            )
        prev_seq, prev_hash = current.seq, current.hash
        current = following
    if head_seq is not None and head_seq > prev_seq:
        return VerifyResult(
            False,
            checked,
            "deleted",
            prev_seq + 1,
            f"entries #{prev_seq + 1} to #{head_seq} were deleted from the end of the trail",
        )
    return VerifyResult(True, checked, message=f"{name} intact: {checked} entries verified")


def _audit_hash(entry: Any, key: bytes) -> str:
    return entry_hash(entry, key)
