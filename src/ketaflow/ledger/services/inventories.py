"""Inventories: initial and biennial (21 CFR 1304.11), frozen once taken."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from ketaflow.accounts.clinictime import clinic_day
from ketaflow.accounts.models import Clinic
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.ledger.models import (
    Inventory,
    InventoryLine,
)
from ketaflow.ledger.services.base import (
    OPEN_SCHEDULE_III_MAY_BE_ESTIMATED,
    entry_time,
    person,
    refuse,
    same_clinic,
)
from ketaflow.ledger.services.counts import CountInput, check_lines, counted_mg, stock_locked


@dataclass(frozen=True)
class InventoryInput:
    vial_id: int
    present: bool
    measured_volume_ml: Decimal | None = None
    estimated: bool = False  # open vials only (21 CFR 1304.11(e)(3))


@transaction.atomic
def inventory_take(
    *,
    actor: Actor,
    clinic: Clinic,
    kind: str,
    timing: str,
    lines: Sequence[InventoryInput],
    note: str = "",
    at: dt.datetime | None = None,
) -> Inventory:
    """An initial or biennial inventory of every vial in stock, frozen once taken. The record
    says whether it was taken at the opening or close of business (21 CFR 1304.11(a)); sealed
    vials are counted exactly; an open vial may be estimated (21 CFR 1304.11(e)(3))."""
    user = person(actor, Perm.LEDGER_INVENTORY)
    same_clinic(user, clinic.pk, "The clinic")
    if kind not in Inventory.Kind.values:
        raise refuse("kind", "initial or biennial")
    earlier = Inventory.objects.filter(clinic=clinic)
    if kind == Inventory.Kind.INITIAL and earlier.exists():
        raise refuse("kind", "the clinic's initial inventory is already taken")
    if kind == Inventory.Kind.BIENNIAL and not earlier.exists():
        raise refuse("kind", "take the initial inventory first")
    stock = stock_locked(clinic.pk)
    by_vial_count = check_lines(
        stock, [CountInput(i.vial_id, i.present, i.measured_volume_ml) for i in lines]
    )
    by_vial = {i.vial_id: i for i in lines}
    inventory = Inventory(
        clinic=clinic,
        kind=kind,
        timing=timing,
        taken_at=entry_time(at),
        taken_by=user,
        note=note.strip(),
    )
    inventory.full_clean()
    inventory.save()
    for vial in stock:
        sealed, counted = counted_mg(vial, by_vial_count[vial.pk])
        estimated = by_vial[vial.pk].estimated
        if estimated and (sealed or not OPEN_SCHEDULE_III_MAY_BE_ESTIMATED):
            raise refuse(
                f"volume_{vial.pk}",
                f"vial {vial.label} is sealed: count it exactly (21 CFR 1304.11(e)(3))",
            )
        line = InventoryLine(
            inventory=inventory,
            vial=vial,
            product_name=vial.product.name,
            ndc=vial.product.ndc,
            lot=vial.lot,
            concentration_mg_per_ml=vial.product.concentration_mg_per_ml,
            sealed=sealed,
            method=InventoryLine.Method.ESTIMATED if estimated else InventoryLine.Method.EXACT,
            measured_volume_ml=None if sealed else by_vial[vial.pk].measured_volume_ml,
            counted_mg=counted,
            ledger_mg=vial.in_vial_mg,
        )
        line.full_clean()
        line.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_inventory",
        object_id=inventory.pk,
        summary=f"{inventory.get_kind_display().lower()} of {len(stock)} vials "
        f"({inventory.get_timing_display().lower()})",
    )
    return inventory


def biennial_due(clinic: Clinic) -> dt.date | None:
    """When the next biennial inventory is due: within two years of the previous inventory
    (21 CFR 1304.11(c); clinical.md section 7). None before the initial inventory."""
    last = Inventory.objects.filter(clinic=clinic).order_by("-taken_at").first()
    if last is None:
        return None
    taken = clinic_day(clinic, last.taken_at)
    try:
        return taken.replace(year=taken.year + 2)
    except ValueError:  # 29 February: the earlier of the two possible dates
        return taken.replace(year=taken.year + 2, day=28)
