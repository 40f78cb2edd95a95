"""Writing and verifying the audit trail.

``audit_record`` is called by every service and view that reads or writes patient data, inside
the same transaction as the write it records, so a change without its audit entry cannot commit.

Each clinic's entries form their own chain (and actions of no clinic the network chain), each
with its own head row and lock; entries written before per-clinic chains form the legacy chain
(see ``audit.models``). ``audit_verify`` checks one clinic's chain or every chain.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.sql import InsertQuery
from django.utils import timezone

from ketaflow.accounts.models import Clinic
from ketaflow.audit.chain import GENESIS, VerifyResult, entry_hash, verify_chain
from ketaflow.audit.context import Actor
from ketaflow.audit.models import (
    LEGACY_CHAIN,
    NETWORK_CHAIN,
    AuditEntry,
    AuditEntryPatient,
    AuditHead,
    chain_key,
)
from ketaflow.prepared import Prepared

Action = AuditEntry.Action


class _Default(enum.Enum):
    CLINIC = "the actor's clinic, else the patient's"


FROM_ACTOR: Literal[_Default.CLINIC] = _Default.CLINIC


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
    clinic: Clinic | int | Literal[_Default.CLINIC] | None = FROM_ACTOR,
    patient_ids: Iterable[int] = (),
) -> AuditEntry:
    """Append one entry to its clinic's chain (one writer per chain at a time).

    ``clinic`` (a Clinic or its id; None: the network chain of actions of no clinic) defaults
    to the acting user's clinic, else the clinic of ``patient_id``, else None. ``patient_ids``
    names every patient the action showed or touched (e.g. each patient on a list page); they
    are hashed with the entry and indexed for each patient's access history. A
    ``detail["patient_ids"]`` list (how list pages named their patients before) counts too."""
    if action not in Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    named = sorted({int(p) for p in [*patient_ids, *_listed_in(detail)]})
    clinic_id = _clinic_id(clinic, actor, patient_id)
    key = chain_key(clinic_id)
    with transaction.atomic():
        head = _locked_head(key)
        entry = AuditEntry(
            seq=head.seq + 1,
            hash_version=AuditEntry.CURRENT,
            clinic_id=clinic_id,
            at=timezone.now(),
            actor=actor.user,
            actor_username=actor.username,
            actor_role=actor.role,
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id not in (None, "") else "",
            patient_id=patient_id,
            patient_ids=named,
            summary=summary[:300],
            detail=detail or {},
            ip_address=actor.ip_address,
            prev_hash=head.hash,
        )
        # Round-trip the JSON detail and timestamp exactly as the database will return them.
        entry.detail = _json_roundtrip(entry.detail)
        entry.hash = entry_hash(entry, _key())
        every = sorted({*named, *([patient_id] if patient_id is not None else [])})
        head.seq, head.hash = entry.seq, entry.hash
        _append(entry, every, head)
    return entry


def _append(entry: AuditEntry, patient_ids: list[int], head: AuditHead) -> None:
    """Write ``entry``, a patient index row for each of ``patient_ids`` and the chain's new
    ``head``, within the caller's transaction (the head locked).

    On PostgreSQL in one statement: the entry's INSERT as Django compiles it, the index rows and
    the head's UPDATE as data-modifying parts of it (``WITH``), the entry's id returned. An
    entry is written on every page a person opens, and each statement is a round trip to the
    server: three became one (issue 16). SQLite has no such statements (and no round trips):
    there, the ORM's three writes."""
    if connection.vendor != "postgresql":
        entry.save()
        AuditEntryPatient.objects.bulk_create(
            [AuditEntryPatient(entry=entry, patient_id=p) for p in patient_ids]
        )
        head.save(update_fields=["seq", "hash"])
        return
    meta = AuditEntry._meta
    query = InsertQuery(AuditEntry)
    query.insert_values(
        [f for f in meta.local_concrete_fields if f is not meta.auto_field], [entry]
    )
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk]
    ((insert_sql, insert_params),) = compiler.as_sql()
    sql = _append_statement(insert_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*insert_params, patient_ids, head.seq, head.hash, head.pk])
        (entry.pk,) = cursor.fetchone()
    entry._state.adding, entry._state.db = False, connection.alias


@functools.lru_cache(maxsize=4)
def _append_statement(insert_sql: str) -> str:
    """PostgreSQL's one statement for an entry around its compiled INSERT (the same text for
    every entry: composed once a process)."""
    qn = connection.ops.quote_name
    meta, links, heads = AuditEntry._meta, AuditEntryPatient._meta, AuditHead._meta

    def column(opts: Any, name: str) -> str:
        return str(qn(opts.get_field(name).column))

    return (
        f"WITH entry AS ({insert_sql}), "  # noqa: S608 (quoted names of the models)
        f"link AS (INSERT INTO {qn(links.db_table)} "
        f"({column(links, 'entry')}, {column(links, 'patient_id')}) "
        f"SELECT entry.{column(meta, 'id')}, p FROM entry, unnest(%s::bigint[]) AS p), "
        f"head AS (UPDATE {qn(heads.db_table)} "
        f"SET {column(heads, 'seq')} = %s, {column(heads, 'hash')} = %s "
        f"WHERE {column(heads, 'id')} = %s) "
        f"SELECT {column(meta, 'id')} FROM entry"
    )


class HasPk(Protocol):
    @property
    def pk(self) -> Any: ...


def audit_shown(
    *,
    actor: Actor,
    object_type: str,
    patients: Iterable[HasPk | int],
    summary: str,
    object_id: object = "",
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """One entry for one page view that showed ``patients`` (patients, or their ids): a list,
    a board, a form offering patients to choose from. Each patient's access history lists it."""
    ids = [p if isinstance(p, int) else int(p.pk) for p in patients]
    return audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        patient_ids=ids,
        summary=summary,
        detail=detail,
    )


def _listed_in(detail: dict[str, Any] | None) -> list[int]:
    listed = (detail or {}).get("patient_ids")
    if not isinstance(listed, list | tuple):
        return []
    return [p for p in listed if isinstance(p, int) and not isinstance(p, bool)]


def _clinic_id(
    clinic: Clinic | int | Literal[_Default.CLINIC] | None, actor: Actor, patient_id: int | None
) -> int | None:
    if isinstance(clinic, Clinic):
        return clinic.pk
    if clinic is None or isinstance(clinic, int):
        return clinic
    if actor.user is not None and actor.user.clinic_id is not None:
        return actor.user.clinic_id
    if patient_id is not None:
        patient_model = apps.get_model("patients", "Patient")
        found: int | None = (
            patient_model.objects.filter(pk=patient_id).values_list("clinic_id", flat=True).first()
        )
        return found
    return None


def _locked_head(key: str) -> AuditHead:
    """The head row of chain ``key``, locked until the transaction ends (PostgreSQL: a row
    lock on this chain's row only; SQLite serialises writers itself, IMMEDIATE transactions)."""
    locking = connection.vendor == "postgresql"
    head = (_HEAD_FOR_UPDATE if locking else _HEAD).first(chain=key)
    if head is None:  # the chain's first entry
        head, _ = AuditHead.objects.get_or_create(chain=key, defaults={"seq": 0, "hash": GENESIS})
        if locking:
            head = AuditHead.objects.select_for_update().get(pk=head.pk)
    return head


# A chain's head, read for every audit entry (every page), in a statement compiled once per
# process (ketaflow.prepared, issue 16); on PostgreSQL read and locked in one statement.
_HEAD = Prepared(lambda chain: AuditHead.objects.filter(chain=chain)[:1])
_HEAD_FOR_UPDATE = Prepared(
    lambda chain: AuditHead.objects.select_for_update().filter(chain=chain)[:1]
)


def _json_roundtrip(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    key: str  # the AuditHead.chain value: "legacy", "network" or "clinic:<id>"
    label: str  # for people: "the legacy chain", "Riverside's chain", ...
    entries: Q  # which entries belong to it


def clinic_chain(clinic: Clinic) -> Chain:
    return Chain(
        chain_key(clinic.pk),
        f"{clinic.name}'s audit chain",
        Q(hash_version__gte=AuditEntry.CURRENT, clinic_id=clinic.pk),
    )


def audit_chains() -> list[Chain]:
    """Every chain there is: the legacy chain if it has entries or a head, the network chain,
    and each clinic's (clinics with no entry yet included)."""
    heads = set(AuditHead.objects.values_list("chain", flat=True))
    chains: list[Chain] = []
    if LEGACY_CHAIN in heads or AuditEntry.objects.filter(hash_version=AuditEntry.LEGACY).exists():
        chains.append(
            Chain(
                LEGACY_CHAIN,
                "the legacy audit chain",
                Q(hash_version=AuditEntry.LEGACY),
            )
        )
    chains.append(
        Chain(
            NETWORK_CHAIN,
            "the network audit chain (actions of no clinic)",
            Q(hash_version__gte=AuditEntry.CURRENT, clinic__isnull=True),
        )
    )
    chains += [clinic_chain(c) for c in Clinic.objects.order_by("slug")]
    return chains


def audit_verify_chain(chain: Chain, *, chunk_size: int = 2000) -> VerifyResult:
    """Verify one chain, streaming its entries in sequence order."""
    head = AuditHead.objects.filter(chain=chain.key).first()
    entries = _in_chunks(AuditEntry.objects.filter(chain.entries), chunk_size)
    result = verify_chain(
        _with_links_checked(entries),
        _key(),
        head_seq=head.seq if head else None,
        name=chain.label[0].upper() + chain.label[1:],
    )
    if result.ok:
        return replace(result, chain=chain.key)
    return replace(result, chain=chain.key, message=f"{chain.label}: {result.message}")


def _in_chunks(entries: QuerySet[AuditEntry], chunk_size: int) -> Iterator[AuditEntry]:
    """The entries in sequence order, read ``chunk_size`` at a time by sequence number: each
    chunk is a query of its own, so a verification of a long trail holds no read open for its
    whole length (page views keep writing their audit entries meanwhile)."""
    chunk = list(entries.order_by("seq", "pk")[:chunk_size])
    while chunk:
        yield from chunk
        if len(chunk) < chunk_size:
            return
        last = chunk[-1]  # by (seq, pk): a forged entry repeating a number is not skipped
        after = Q(seq__gt=last.seq) | Q(seq=last.seq, pk__gt=last.pk)
        chunk = list(entries.filter(after).order_by("seq", "pk")[:chunk_size])


def _with_links_checked(entries: Iterator[AuditEntry]) -> Iterator[AuditEntry]:
    """The entries, each marked altered (its hash blanked) where its rows in the patient link
    table differ from the patients it names: a forged or removed link is found as well."""
    while True:
        batch = [e for _, e in zip(range(500), entries, strict=False)]
        if not batch:
            return
        linked: dict[int, set[int]] = {}
        for entry_id, patient in AuditEntryPatient.objects.filter(
            entry_id__in=[e.pk for e in batch]
        ).values_list("entry_id", "patient_id"):
            linked.setdefault(entry_id, set()).add(patient)
        for e in batch:
            if e.hash_version >= AuditEntry.CURRENT and linked.get(e.pk, set()) != _named(e):
                e.hash = ""
            yield e


def _named(entry: AuditEntry) -> set[int]:
    named = {int(p) for p in entry.patient_ids or []}
    if entry.patient_id is not None:
        named.add(entry.patient_id)
    return named


def audit_verify_all(*, chunk_size: int = 2000) -> list[VerifyResult]:
    """One result per chain (see :func:`audit_chains`)."""
    return [audit_verify_chain(c, chunk_size=chunk_size) for c in audit_chains()]


def audit_verify(*, clinic: Clinic | None = None, chunk_size: int = 2000) -> VerifyResult:
    """Verify ``clinic``'s chain, or (``clinic=None``) every chain: the first broken chain's
    result, else one result counting every entry checked."""
    if clinic is not None:
        return audit_verify_chain(clinic_chain(clinic), chunk_size=chunk_size)
    results = audit_verify_all(chunk_size=chunk_size)
    for result in results:
        if not result.ok:
            return result
    checked = sum(r.checked for r in results)
    return VerifyResult(
        True,
        checked,
        message=f"audit trail intact: {len(results)} chains, {checked} entries verified",
    )


def entries_for_clinic(clinic_id: int) -> QuerySet[AuditEntry]:
    """The entries a clinic's audit page lists (its chain, and its legacy entries)."""
    return AuditEntry.objects.filter(clinic_id=clinic_id)


def entries_naming_patient(patient_id: int) -> QuerySet[AuditEntry]:
    """Every entry that names the patient (as its patient or among those shown), newest first."""
    return AuditEntry.objects.filter(patient_links__patient_id=patient_id).order_by("-id")


def trail_read(
    *,
    actor: Actor,
    patient: HasPk | None,
    shown: dict[int, str],
    verified: bool,
    filters: dict[str, Any],
) -> None:
    """Reading the trail is itself audited, naming the patients the entries shown name."""
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="audit_trail",
        patient_id=patient.pk if patient is not None else None,
        patient_ids=shown,
        summary="read the audit trail" + (" and verified its chain" if verified else ""),
        detail={"filters": filters},
    )
