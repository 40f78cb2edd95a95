"""Reads of the ledger, audited: a page seen (and which patients it showed), a report exported."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Model

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.ledger.models import OBJECT_TYPES


def ledger_viewed(
    *,
    actor: Actor,
    what: str,
    object_type: str = "ledger",
    object_id: object = "",
    patient_ids: Sequence[int] = (),
) -> None:
    """Record that ``actor`` saw a ledger page (and which patients' names it showed)."""
    shown = sorted(set(patient_ids))
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type=object_type,
        object_id=object_id,
        patient_id=shown[0] if len(shown) == 1 else None,
        summary=f"viewed the ledger: {what}",
        detail={"patient_ids": shown} if shown else None,
        patient_ids=shown,
    )


def record_viewed(
    *, actor: Actor, what: str, record: Model | None = None, patient_ids: Sequence[int] = ()
) -> None:
    """Record that ``actor`` saw a ledger page: the page of one ``record`` (a vial, entry,
    receipt, case, count or inventory) or, without one, a page of the clinic's ledger."""
    if record is None:
        ledger_viewed(actor=actor, what=what, patient_ids=patient_ids)
    else:
        ledger_viewed(
            actor=actor,
            what=what,
            object_type=OBJECT_TYPES[type(record)],
            object_id=record.pk,
            patient_ids=patient_ids,
        )


def report_exported(
    *, actor: Actor, report: str, fmt: str, rows: int, patient_ids: Sequence[int] = ()
) -> None:
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="ledger_report",
        object_id=report,
        summary=f"exported the ledger report {report} as {fmt.upper()} ({rows} rows)",
        detail={"patient_ids": sorted(set(patient_ids))},
    )
