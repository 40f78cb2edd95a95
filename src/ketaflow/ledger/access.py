"""The one access check per kind of ledger record (vial, entry, receipt, case, count, inventory)
and for the clinic's ledger as a whole.

- not logged in, a patient, or no clinic: 404 (the ledger does not exist for them);
- a record of another clinic: 404, so that identifiers reveal nothing;
- a known record (or the clinic's ledger) without the permission: 403, audited as ``denied``.
Front desk has no ledger permission at all; patients never reach it.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

from ketaflow.accounts.access import require
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.ledger.models import (
    OBJECT_TYPES,
    Count,
    DiscrepancyCase,
    Inventory,
    LedgerEntry,
    Receipt,
    Vial,
)

M = TypeVar("M", bound=Model)


def _clinic_id(user: User) -> int:
    """The clinic whose ledger ``user`` may ask for; 404 when there is none for them: not
    logged in, a patient's account (its one permission is its own record) or no clinic."""
    if (
        not user.is_authenticated
        or not user.is_active
        or user.may(Perm.VIEW_OWN_RECORD)
        or user.clinic_id is None
    ):
        raise Http404("No such page.")
    return user.clinic_id


def ledger_for_user(user: User, *, need: Perm, actor: Actor | None = None) -> Clinic:
    """The user's clinic, whose ledger they may ``need``; else 404 or 403."""
    clinic_id = _clinic_id(user)
    require(user, need, object_type="ledger", object_id=clinic_id, actor=actor)
    # The clinic read with the user at the request's start (accounts.backends), not again.
    clinic = user.clinic
    if clinic is None:  # refused by _clinic_id already
        raise Http404("No such page.")
    return clinic


def _one(user: User, queryset: QuerySet[M], pk: int, need: Perm, actor: Actor | None) -> M:
    kind = OBJECT_TYPES[queryset.model]
    clinic_id = _clinic_id(user)
    record = queryset.filter(pk=pk, clinic_id=clinic_id).first()
    if record is None:
        raise Http404(f"No such {kind.replace('_', ' ')}.")
    require(user, need, object_type=kind, object_id=pk, actor=actor)
    return record


def vials_for_user(user: User) -> QuerySet[Vial]:
    if not user.is_authenticated or not user.may(Perm.LEDGER_VIEW) or user.clinic_id is None:
        return Vial.objects.none()
    return Vial.objects.filter(clinic_id=user.clinic_id).select_related("product")


def vial_for_user(user: User, vial_id: int, *, need: Perm, actor: Actor | None = None) -> Vial:
    qs = Vial.objects.select_related("product", "receipt", "clinic")
    return _one(user, qs, vial_id, need, actor)


def entry_for_user(
    user: User, entry_id: int, *, need: Perm, actor: Actor | None = None
) -> LedgerEntry:
    qs = LedgerEntry.objects.select_related("vial", "vial__product", "patient", "session")
    return _one(user, qs, entry_id, need, actor)


def case_for_user(
    user: User, case_id: int, *, need: Perm, actor: Actor | None = None
) -> DiscrepancyCase:
    qs = DiscrepancyCase.objects.select_related("vial", "vial__product", "count_line")
    return _one(user, qs, case_id, need, actor)


def count_for_user(user: User, count_id: int, *, need: Perm, actor: Actor | None = None) -> Count:
    return _one(user, Count.objects.all(), count_id, need, actor)


def inventory_for_user(
    user: User, inventory_id: int, *, need: Perm, actor: Actor | None = None
) -> Inventory:
    return _one(user, Inventory.objects.all(), inventory_id, need, actor)


def receipt_for_user(
    user: User, receipt_id: int, *, need: Perm, actor: Actor | None = None
) -> Receipt:
    qs = Receipt.objects.select_related("product", "received_by")
    return _one(user, qs, receipt_id, need, actor)
