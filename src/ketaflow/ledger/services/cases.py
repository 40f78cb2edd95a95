"""Discrepancy cases: the medical director resolves one with a reason (an adjustment entry,
or a count error)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.ledger.models import (
    DiscrepancyCase,
)
from ketaflow.ledger.services.append import append_entry
from ketaflow.ledger.services.base import (
    Kind,
    entry_time,
    lock_vial,
    mg_text,
    person,
    refuse,
    same_clinic,
)


def case_resolve(
    *,
    actor: Actor,
    case: DiscrepancyCase,
    outcome: str,
    reason: str,
    at: dt.datetime | None = None,
) -> DiscrepancyCase:
    """The medical director resolves a discrepancy with a reason. ``adjust`` writes the count
    adjustment entry (the ledger follows the count); ``count_error`` records that a recount
    matched the ledger (no entry)."""
    user = person(actor, Perm.LEDGER_RESOLVE)
    same_clinic(user, case.clinic_id, "The case")
    if outcome not in (DiscrepancyCase.Outcome.ADJUST, DiscrepancyCase.Outcome.COUNT_ERROR):
        raise refuse("outcome", "choose how the discrepancy is resolved")
    if not reason.strip():
        raise refuse("reason", "the resolution needs a reason")
    with transaction.atomic():
        locked_case = DiscrepancyCase.objects.select_for_update().get(pk=case.pk)
        if locked_case.status != DiscrepancyCase.Status.OPEN:
            raise refuse(NON_FIELD_ERRORS, f"case {case.pk} is already resolved")
        when = entry_time(at)
        if outcome == DiscrepancyCase.Outcome.ADJUST:
            vial = lock_vial(locked_case.vial)
            difference = locked_case.difference_mg
            append_entry(
                actor=actor,
                user=user,
                vial=vial,
                kind=Kind.ADJUSTED,
                quantity_mg=abs(difference),
                amount_mg=difference,
                case=locked_case,
                reason=reason.strip(),
                at=when,
                summary=f"count adjustment {mg_text(difference)} mg on vial {vial.label} "
                f"(case {locked_case.pk})",
            )
        locked_case.status = DiscrepancyCase.Status.RESOLVED
        locked_case.outcome = outcome
        locked_case.resolved_by = user
        locked_case.resolved_at = when
        locked_case.resolution_reason = reason.strip()
        locked_case.full_clean()
        locked_case.save()
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="ledger_case",
            object_id=locked_case.pk,
            summary=f"resolved discrepancy {locked_case.pk}: {locked_case.get_outcome_display()}",
            detail={"reason": locked_case.resolution_reason},
        )
    return locked_case
