"""The hash that seals a signed infusion note.

A signed note is locked: the services refuse every change. Someone with database access is not
stopped by that, and its vitals, pump events and side effects are plain rows (append-only in the
ORM only). Database triggers would not do here: the session row itself legitimately changes
until the moment it is signed, and a trigger is dropped with one statement by whoever owns the
database. So the lock takes a hash of the note's content as stored (the session's recorded
fields, every vitals entry, pump event, side effect and prescriber's decision, and the
co-signature; not the addenda, which are written after
signing by design) and keeps it twice: on the session (``lock_hash``, for the note page) and in
the signing's audit entry, which the audit chain and its off-database checkpoints vouch for.
:func:`lock_problem` recomputes it; the note page and ``ketaflow audit verify`` report a change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models

from ketaflow.audit.models import AuditEntry
from ketaflow.infusions.models import (
    PLAN_FIGURES,
    InfusionEvent,
    InfusionSession,
    PrescriberDecision,
    SideEffect,
    VitalsEntry,
)

# Session fields that change without changing what the note says (bookkeeping), and the seal.
_NOT_CONTENT = {"version", "updated_by_id", "updated_at", "lock_hash"}
AUDIT_KEY = "content_hash"


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _rows(objects: Iterable[models.Model], skip: Iterable[str] = ()) -> list[dict[str, Any]]:
    skip = set(skip)
    return [
        {
            f.attname: _value(getattr(obj, f.attname))
            for f in obj._meta.concrete_fields
            if f.attname not in skip
        }
        for obj in objects
    ]


# Fields added after notes were first sealed (issue 11: the baseline override, the co-signature,
# the reason of a pause or stop). They enter the hash only when they hold something, so a note
# sealed before they existed keeps its hash, and a co-signature or reason is covered.
_ADDED_LATER = {
    "baseline_override_vitals_id",
    "baseline_override_by_id",
    "baseline_override_at",
    "baseline_override_reason",
    "cosigned_by_id",
    "cosigned_at",
    "reason",
}


def _without_empty_additions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in row.items() if not (k in _ADDED_LATER and v in (None, ""))}
        for row in rows
    ]


def _session_row(session: InfusionSession) -> dict[str, Any]:
    """The session's fields, and the plan's figures under the names of the columns that once
    copied them (removed in migration infusions 0005): the same text, ``repr(float)``, as the
    columns gave, so a note sealed before the migration keeps its hash. The plan itself is
    hashed too, so a change to it by SQL changes the hash."""
    row = _without_empty_additions(_rows([session], _NOT_CONTENT))[0]
    for name in PLAN_FIGURES:
        try:
            figure: Any = getattr(session, name)
        except ValueError:  # not a number in the plan: hash what is there (it differs)
            figure = repr(session.plan.get(name) if isinstance(session.plan, dict) else None)
        row[name] = _value(figure)
    return row


def _stored(session: InfusionSession, relation: str, model: type[models.Model]) -> list[Any]:
    """The session's rows of ``relation`` by primary key: the ones prefetched onto it when its
    page read them (in this request, as stored), else read now."""
    cache: dict[str, Any] = getattr(session, "_prefetched_objects_cache", {})
    if relation in cache:
        return sorted(cache[relation], key=lambda row: row.pk)
    return list(model._default_manager.filter(session_id=session.pk).order_by("pk"))


def note_content_hash(session: InfusionSession) -> str:
    """SHA-256 of the note as the database holds it (read it fresh before hashing: a session
    read afresh, or one its page has just read with its records prefetched)."""
    content: dict[str, Any] = {
        "session": _session_row(session),
        "vitals": _rows(_stored(session, "vitals", VitalsEntry)),
        "events": _without_empty_additions(_rows(_stored(session, "events", InfusionEvent))),
        "side_effects": _rows(_stored(session, "side_effects", SideEffect)),
    }
    decisions = _rows(_stored(session, "decisions", PrescriberDecision))
    if decisions:
        content["decisions"] = decisions
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(session: InfusionSession) -> str:
    """Hash the just-signed note as stored and keep the hash on the session."""
    fresh = InfusionSession.objects.get(pk=session.pk)
    digest = note_content_hash(fresh)
    InfusionSession.objects.filter(pk=session.pk).update(lock_hash=digest)
    session.lock_hash = digest
    return digest


def _sealed_hash(session: InfusionSession) -> str | None:
    """The hash the signing's audit entry recorded (None for a note signed before sealing)."""
    details = AuditEntry.objects.filter(
        object_type="infusion_session", object_id=str(session.pk), detail__has_key=AUDIT_KEY
    ).values_list("detail", flat=True)
    for detail in details:
        if isinstance(detail, dict) and isinstance(detail.get(AUDIT_KEY), str):
            found: str = detail[AUDIT_KEY]
            return found
    return None


def lock_problem(session: InfusionSession, *, as_read: bool = False) -> str:
    """'' when the signed note is as it was signed, else what is wrong, in one sentence.

    ``as_read``: ``session`` and the records prefetched onto it were read from the database in
    this request with nothing written since (the session page's read), so they are hashed as
    they are; else the note is read afresh."""
    if not session.locked:
        return ""
    sealed = _sealed_hash(session)
    if sealed is None and not session.lock_hash:
        return ""  # signed before notes were sealed: nothing to compare with
    if sealed is None:
        return (
            f"infusion note {session.pk}: its signing has no sealed hash in the audit trail "
            "(the seal was added outside KetaFlow)"
        )
    now = note_content_hash(session if as_read else InfusionSession.objects.get(pk=session.pk))
    if now != sealed or session.lock_hash != sealed:
        when = session.signed_at.astimezone(dt.UTC) if session.signed_at else None
        signed = f" signed {when:%Y-%m-%d %H:%M} UTC" if when else ""
        return (
            f"infusion note {session.pk}{signed} has changed since it was signed "
            "(its vitals, events, side effects or recorded values differ from the sealed note)"
        )
    return ""


def locked_notes_verify() -> list[str]:
    """:func:`lock_problem` for every signed note."""
    sessions = InfusionSession.objects.filter(locked=True).order_by("pk")
    return [p for p in (lock_problem(s) for s in sessions.iterator(chunk_size=500)) if p]
