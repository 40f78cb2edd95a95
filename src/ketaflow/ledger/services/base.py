"""What every ledger service shares: the ledger's resolution, the refusals, the person who
acts, the vial's row lock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, refusal
from ketaflow.audit.context import Actor
from ketaflow.ledger.models import (
    LedgerEntry,
    LedgerSettings,
    Vial,
)

Kind = LedgerEntry.Kind
Status = Vial.Status

# The ledger records milligrams to one microgram. KetaFlow record-keeping policy: it is finer
# than anything the clinic can measure (a syringe reads to 0.01 mL, ketaflow.clinical.dosing.
# SYRINGE_RESOLUTION_ML; at 100 mg/mL that is 1 mg), so quantising a computed amount to it loses
# nothing a count could detect. Ties go to the even digit (ROUND_HALF_EVEN).
MG_RESOLUTION = Decimal("0.001")
MG_RESOLUTION_RULE = "ledger resolution 0.001 mg (one microgram), round half to even"
ZERO = Decimal(0)

# Vials that are still stock: counted at every count and inventory.
IN_STOCK = (Status.SEALED, Status.OPEN, Status.EXPIRED)

# Open containers of a Schedule III-V substance may be estimated at an inventory, unless the
# container holds more than 1,000 tablets or capsules (21 CFR 1304.11(e)(3); clinical.md
# section 7). A vial of solution is never such a container, so open vials may be estimated;
# sealed vials are counted exactly.
OPEN_SCHEDULE_III_MAY_BE_ESTIMATED = True


def quantise_mg(value: Decimal | float) -> Decimal:
    """A computed amount at the ledger's resolution (rule: :data:`MG_RESOLUTION_RULE`)."""
    exact = value if isinstance(value, Decimal) else Decimal(value)  # a float's exact value
    return exact.quantize(MG_RESOLUTION, rounding=ROUND_HALF_EVEN)


def exact_mg(field_name: str, value: Decimal) -> Decimal:
    """An amount a person typed: positive, at most three decimal places, never rounded."""
    if not value.is_finite() or value <= 0:
        raise refuse(field_name, f"{value} mg: give a positive amount")
    if value.quantize(MG_RESOLUTION) != value:
        raise refuse(
            field_name, f"{value} mg has more than three decimal places (the ledger records µg)"
        )
    return value.quantize(MG_RESOLUTION)


def refuse(field_name: str, message: str) -> ValidationError:
    return ValidationError({field_name: [message]})


def person(actor: Actor, perm: Perm) -> User:
    user = actor.user
    if user is None:
        raise PermissionDenied("A person must make ledger entries.")
    if not user.may(perm) or user.clinic_id is None:
        raise PermissionDenied(refusal(user.role, perm))
    return user


def same_clinic(user: User, clinic_id: int, what: str) -> None:
    if user.clinic_id != clinic_id:
        raise PermissionDenied(f"{what} belongs to another clinic.")


def entry_time(at: dt.datetime | None) -> dt.datetime:
    now = timezone.now()
    if at is None:
        return now
    if at > now + dt.timedelta(minutes=1):
        raise refuse(NON_FIELD_ERRORS, "a ledger entry cannot be dated in the future")
    return at


def lock_vial(vial: Vial) -> Vial:
    return Vial.objects.select_for_update().select_related("product", "clinic").get(pk=vial.pk)


def as_json(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


def mg_text(value: Decimal) -> str:
    return f"{value:f}"


def live_entries(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """Entries not reversed by a correction."""
    return [e for e in entries if not e.corrections.exists()]


def live_among(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """:func:`live_entries` of a list read with every correction of its entries (a correction
    names the entry it reverses): those no entry of the list corrects, in the list's order, with
    no query an entry."""
    corrected = {e.corrects_id for e in entries if e.corrects_id is not None}
    return [e for e in entries if e.pk not in corrected]


def ledger_settings_for(clinic_id: int) -> LedgerSettings:
    """The clinic's ledger settings (the defaults when it has none)."""
    found = LedgerSettings.objects.filter(clinic_id=clinic_id).first()
    return found if found is not None else LedgerSettings(clinic_id=clinic_id)
