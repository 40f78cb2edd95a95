"""Signed checkpoints of the hash chains' heads, kept outside the database.

A hash chain with its head in the same database proves nothing against someone who can write
that database and knows (or can read) the key: they delete the newest entries and rewind the
head, or recompute the whole chain. A checkpoint is one line appended to a file elsewhere
(``settings.CHECKPOINT_FILE``; in production on another disk or shipped off the host, append-
only): the chain's name, its head sequence number and hash, the time, and an HMAC of these under
a checkpoint key derived from the audit key. Verifying a chain against every checkpoint finds
entries deleted after a checkpoint (the head is now below it) and a rewritten chain (the entry at
a checkpoint's sequence number has another hash), whatever the database says about itself.

The chains are listed by providers (:func:`register_chains`): the audit trail's here, the
controlled-substance ledger's in its app config. A provider returns :class:`ChainHead` values,
each with a function that fetches the stored hash at a sequence number.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


@dataclass(frozen=True)
class ChainHead:
    name: str  # "audit", "ledger" (unique in the file)
    seq: int
    hash: str
    hash_at: Callable[[int], str | None]  # the stored hash of the entry at a seq, or None


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    seq: int
    hash: str
    at: dt.datetime
    line: int = 0  # where it is in the file (1-based); 0 for one not yet written

    def payload(self) -> bytes:
        at = self.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
        return json.dumps([self.chain, self.seq, self.hash, at], separators=(",", ":")).encode()


@dataclass(frozen=True)
class CheckpointProblem:
    chain: str
    line: int
    kind: str  # "truncated", "rewritten", "bad_signature", "unreadable"
    message: str


_PROVIDERS: list[Callable[[], list[ChainHead]]] = []


def register_chains(provider: Callable[[], list[ChainHead]]) -> None:
    """Add a function listing some chains (idempotent for the same function)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def chains() -> list[ChainHead]:
    """Every chain now, with its head as the database records it."""
    return [head for provider in _PROVIDERS for head in provider()]


def model_chain(
    name: str,
    head_model: type[models.Model],
    entry_model: type[models.Model],
    *,
    head: dict[str, Any] | None = None,
    entries: dict[str, Any] | None = None,
) -> ChainHead:
    """A chain stored as rows of ``entry_model`` (``seq``, ``hash``; those matching ``entries``)
    with its head in the row of ``head_model`` (``seq``, ``hash``) matching ``head`` (default:
    the single row ``pk=1``)."""

    def hash_at(seq: int) -> str | None:
        rows = entry_model._default_manager.filter(seq=seq, **(entries or {}))
        found: str | None = rows.values_list("hash", flat=True).first()
        return found

    row = head_model._default_manager.filter(**(head or {"pk": 1})).values("seq", "hash").first()
    if row is None:
        return ChainHead(name, 0, "", hash_at)
    return ChainHead(name, int(row["seq"]), str(row["hash"]), hash_at)


def audit_chain_name(chain: str) -> str:
    """The checkpoint name of the audit chain whose head is ``AuditHead.chain == chain``
    (``"legacy"``, ``"network"``, ``"clinic:<id>"``)."""
    return f"audit:{chain}"


def _audit_chains() -> list[ChainHead]:
    from ketaflow.audit.models import LEGACY_CHAIN, NETWORK_CHAIN, AuditEntry, AuditHead

    heads = []
    for chain in AuditHead.objects.order_by("chain").values_list("chain", flat=True):
        if chain == LEGACY_CHAIN:
            entries: dict[str, Any] = {"hash_version": AuditEntry.LEGACY}
        elif chain == NETWORK_CHAIN:
            entries = {"hash_version__gte": AuditEntry.CURRENT, "clinic__isnull": True}
        else:
            clinic_id = int(chain.removeprefix("clinic:"))
            entries = {"hash_version__gte": AuditEntry.CURRENT, "clinic_id": clinic_id}
        heads.append(
            model_chain(
                audit_chain_name(chain),
                AuditHead,
                AuditEntry,
                head={"chain": chain},
                entries=entries,
            )
        )
    return heads


register_chains(_audit_chains)


def checkpoint_key() -> bytes:
    audit_key: str = settings.AUDIT_HMAC_KEY
    return hmac.new(audit_key.encode(), b"ketaflow-checkpoint", hashlib.sha256).digest()


def sign(checkpoint: Checkpoint) -> str:
    return hmac.new(checkpoint_key(), checkpoint.payload(), hashlib.sha256).hexdigest()


def configured_file() -> Path | None:
    name: str = settings.CHECKPOINT_FILE
    return Path(name) if name else None


def checkpoint_write(
    path: Path, *, only: set[str] | None = None, at: dt.datetime | None = None
) -> list[Checkpoint]:
    """Append one signed line per chain (or per chain named in ``only``) and sync the file."""
    when = at or timezone.now()
    written = [
        Checkpoint(head.name, head.seq, head.hash, when)
        for head in chains()
        if only is None or head.name in only
    ]
    lines = "".join(
        json.dumps(
            {
                "chain": c.chain,
                "seq": c.seq,
                "hash": c.hash,
                "at": c.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
                "mac": sign(c),
            },
            separators=(",", ":"),
        )
        + "\n"
        for c in written
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return written


def checkpoint_moved(path: Path, last: dict[str, tuple[int, str]]) -> list[Checkpoint]:
    """The worker's checkpoint: a line for each chain whose head moved since ``last`` (what
    this process wrote before; empty on its first pass, so every chain then), and remember it.
    A head that has not moved is covered by the line already written."""
    moved = {head.name for head in chains() if last.get(head.name) != (head.seq, head.hash)}
    written = checkpoint_write(path, only=moved) if moved else []
    for checkpoint in written:
        last[checkpoint.chain] = (checkpoint.seq, checkpoint.hash)
    return written


def checkpoints_read(path: Path) -> tuple[list[Checkpoint], list[CheckpointProblem]]:
    """The file's checkpoints whose signature holds, and a problem for every other line."""
    good: list[Checkpoint] = []
    problems: list[CheckpointProblem] = []
    with path.open(encoding="utf-8", errors="replace") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
                checkpoint = Checkpoint(
                    str(data["chain"]),
                    int(data["seq"]),
                    str(data["hash"]),
                    dt.datetime.fromisoformat(str(data["at"])),
                    number,
                )
                mac = str(data["mac"])
            except (ValueError, KeyError, TypeError):
                problems.append(
                    CheckpointProblem(
                        "", number, "unreadable", f"{path}:{number}: not a checkpoint"
                    )
                )
                continue
            if not hmac.compare_digest(sign(checkpoint), mac):
                problems.append(
                    CheckpointProblem(
                        checkpoint.chain,
                        number,
                        "bad_signature",
                        f"{path}:{number}: the checkpoint of the {checkpoint.chain} chain at "
                        f"#{checkpoint.seq} has a bad signature (edited or forged)",
                    )
                )
                continue
            good.append(checkpoint)
    return good, problems


def _when(at: dt.datetime) -> str:
    return f"{at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def checkpoints_verify(path: Path, *, chain: str | None = None) -> list[CheckpointProblem]:
    """Check every signed checkpoint in ``path`` (of ``chain``, or of every chain whose name
    starts with it followed by ``:``) against the chain as the database holds it now."""

    def wanted(name: str) -> bool:
        return chain is None or name == chain or name.startswith(f"{chain}:")

    checkpoints, problems = checkpoints_read(path)
    problems = [p for p in problems if p.kind == "unreadable" or wanted(p.chain)]
    heads = {head.name: head for head in chains() if wanted(head.name)}
    seen: set[tuple[str, int, str]] = set()
    for checkpoint in checkpoints:
        if not wanted(checkpoint.chain):
            continue
        key = (checkpoint.chain, checkpoint.seq, checkpoint.hash)
        if key in seen:
            continue
        seen.add(key)
        head = heads.get(checkpoint.chain)
        name = f"{checkpoint.chain} chain"
        when = _when(checkpoint.at)
        if head is None:
            problems.append(
                CheckpointProblem(
                    checkpoint.chain,
                    checkpoint.line,
                    "truncated",
                    f"{name}: it is gone from the database, but was checkpointed at "
                    f"#{checkpoint.seq} on {when}",
                )
            )
            continue
        if head.seq < checkpoint.seq:
            problems.append(
                CheckpointProblem(
                    checkpoint.chain,
                    checkpoint.line,
                    "truncated",
                    f"{name}: entries #{head.seq + 1}..#{checkpoint.seq} deleted after "
                    f"checkpoint of {when} (the head is now #{head.seq})",
                )
            )
            continue
        if checkpoint.seq == 0:
            continue
        stored = head.hash_at(checkpoint.seq)
        if stored is None:
            problems.append(
                CheckpointProblem(
                    checkpoint.chain,
                    checkpoint.line,
                    "truncated",
                    f"{name}: entry #{checkpoint.seq} deleted after checkpoint of {when}",
                )
            )
        elif not hmac.compare_digest(stored, checkpoint.hash):
            problems.append(
                CheckpointProblem(
                    checkpoint.chain,
                    checkpoint.line,
                    "rewritten",
                    f"{name}: entry #{checkpoint.seq} differs from the checkpoint of {when}: "
                    "the chain was rewritten",
                )
            )
    return sorted(problems, key=lambda p: p.line)


def latest_checkpoint(path: Path | None, chain: str) -> Checkpoint | None:
    """The newest well-signed checkpoint of ``chain`` in ``path`` (None without one)."""
    if path is None or not path.exists():
        return None
    checkpoints, _ = checkpoints_read(path)
    mine = [c for c in checkpoints if c.chain == chain]
    return max(mine, key=lambda c: (c.at, c.line)) if mine else None
