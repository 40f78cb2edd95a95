"""Counts: every vial in stock against the ledger, with a second counter where the clinic
asks for one; each difference opens a discrepancy case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpRequest

from ketaflow.accounts.clinictime import clinic_day
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.ledger.models import (
    Count,
    CountLine,
    DiscrepancyCase,
    Vial,
)
from ketaflow.ledger.services.base import (
    IN_STOCK,
    ZERO,
    Status,
    entry_time,
    ledger_settings_for,
    mg_text,
    person,
    quantise_mg,
    refuse,
    same_clinic,
)
from ketaflow.ledger.services.witness import witness_verify


@dataclass(frozen=True)
class CountInput:
    vial_id: int
    present: bool
    measured_volume_ml: Decimal | None = None  # open vials: what is left in the vial


def counted_mg(vial: Vial, line: CountInput) -> tuple[bool, Decimal]:
    """(sealed, counted mg): a sealed vial holds its labelled content; an open one what its
    measured remaining volume holds at the product's concentration."""
    sealed = vial.status == Status.SEALED
    if not line.present:
        return sealed, ZERO
    if sealed:
        return sealed, quantise_mg(vial.product.content_mg)
    if line.measured_volume_ml is None or line.measured_volume_ml < 0:
        raise refuse(
            f"volume_{vial.pk}", f"vial {vial.label} is open: measure the remaining volume"
        )
    return sealed, quantise_mg(line.measured_volume_ml * vial.product.concentration_mg_per_ml)


def stock_locked(clinic_id: int) -> list[Vial]:
    return list(
        Vial.objects.select_for_update()
        .select_related("product")
        .filter(clinic_id=clinic_id, status__in=IN_STOCK)
        .order_by("pk")
    )


def check_lines(stock: list[Vial], lines: Sequence[CountInput]) -> dict[int, CountInput]:
    by_vial: dict[int, CountInput] = {}
    for line in lines:
        if line.vial_id in by_vial:
            raise refuse(NON_FIELD_ERRORS, "each vial is counted once")
        by_vial[line.vial_id] = line
    stock_ids = {v.pk for v in stock}
    if set(by_vial) != stock_ids:
        missing = sorted(v.label for v in stock if v.pk not in by_vial)
        raise refuse(
            NON_FIELD_ERRORS,
            "count every vial in stock"
            + (f"; not counted: {', '.join(missing)}" if missing else ""),
        )
    return by_vial


def count_record(
    *,
    actor: Actor,
    clinic: Clinic,
    shift: str,
    lines: Sequence[CountInput],
    note: str = "",
    at: dt.datetime | None = None,
    second_counter_username: str = "",
    second_counter_password: str = "",
    request: HttpRequest | None = None,
) -> Count:
    """A count of every vial in stock against the ledger; each difference opens a case.

    A second counter signs with their own username and password (checked like a witness, with
    its guessing limit) when given, and must when the clinic's ledger settings ask for one."""
    user = person(actor, Perm.LEDGER_COUNT)
    same_clinic(user, clinic.pk, "The clinic")
    when = entry_time(at)
    second: User | None = None
    required = ledger_settings_for(clinic.pk).second_counter_required
    if required or second_counter_username.strip():
        # Checked before the transaction, so that a failed log-in stays in the audit trail.
        second = witness_verify(
            user=user,
            username=second_counter_username,
            password=second_counter_password,
            on=clinic_day(clinic, when),
            request=request,
            field_name="second_counter_username",
            who="second counter",
        )
    return _count(
        actor=actor,
        user=user,
        clinic=clinic,
        shift=shift,
        lines=lines,
        note=note,
        when=when,
        second=second,
    )


@transaction.atomic
def _count(
    *,
    actor: Actor,
    user: User,
    clinic: Clinic,
    shift: str,
    lines: Sequence[CountInput],
    note: str,
    when: dt.datetime,
    second: User | None,
) -> Count:
    stock = stock_locked(clinic.pk)
    by_vial = check_lines(stock, lines)
    count = Count(
        clinic=clinic,
        at=when,
        shift=shift,
        counted_by=user,
        second_counter=second,
        note=note.strip(),
    )
    count.full_clean()
    count.save()
    opened = 0
    for vial in stock:
        sealed, counted = counted_mg(vial, by_vial[vial.pk])
        line = CountLine(
            count=count,
            vial=vial,
            sealed=sealed,
            present=by_vial[vial.pk].present,
            measured_volume_ml=None if sealed else by_vial[vial.pk].measured_volume_ml,
            expected_mg=vial.in_vial_mg,
            counted_mg=counted,
            difference_mg=counted - vial.in_vial_mg,
        )
        line.full_clean()
        line.save()
        if line.difference_mg != 0:
            case = DiscrepancyCase(
                clinic=clinic,
                vial=vial,
                count_line=line,
                expected_mg=line.expected_mg,
                counted_mg=line.counted_mg,
                difference_mg=line.difference_mg,
                opened_at=when,
                opened_by=user,
            )
            case.full_clean()
            case.save()
            opened += 1
            audit_record(
                actor=actor,
                action=Action.CREATE,
                object_type="ledger_case",
                object_id=case.pk,
                summary=f"discrepancy on vial {vial.label}: counted {mg_text(counted)} mg, "
                f"ledger {mg_text(vial.in_vial_mg)} mg",
            )
        if vial.status != Status.EXPIRED and vial.expires_on < clinic_day(clinic, when):
            vial.status = Status.EXPIRED  # set aside for destruction
            vial.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_count",
        object_id=count.pk,
        summary=f"count of {len(stock)} vials ({count.get_shift_display()}): "
        f"{opened} discrepancies"
        + (f", second counter {second.get_username()}" if second is not None else ""),
        detail={"lines": count_lines_snapshot(count)}
        | ({"second_counter": second.get_username()} if second is not None else {}),
    )
    return count


def count_lines_snapshot(count: Count) -> list[dict[str, Any]]:
    """A count's lines, as its audit entry keeps them (ketaflow.ledger.verify compares)."""
    return [
        {
            "vial": line.vial_id,
            "sealed": line.sealed,
            "present": line.present,
            "measured_volume_ml": (
                None if line.measured_volume_ml is None else f"{line.measured_volume_ml:.3f}"
            ),
            "expected_mg": f"{line.expected_mg:.3f}",
            "counted_mg": f"{line.counted_mg:.3f}",
            "difference_mg": f"{line.difference_mg:.3f}",
        }
        for line in CountLine.objects.filter(count=count).order_by("vial_id")
    ]
