"""Destruction on site, witnessed by two authorised employees (the data of a DEA Form 41)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpRequest

from ketaflow.accounts.clinictime import clinic_day
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.ledger.models import (
    LedgerEntry,
    Vial,
)
from ketaflow.ledger.services.append import append_entry
from ketaflow.ledger.services.base import (
    IN_STOCK,
    Kind,
    Status,
    entry_time,
    lock_vial,
    mg_text,
    person,
    refuse,
    same_clinic,
)
from ketaflow.ledger.services.witness import witness_verify


def destruction_record(
    *,
    actor: Actor,
    vial: Vial,
    witnesses: Sequence[tuple[str, str]],
    method: str,
    location: str,
    reason: str,
    request: HttpRequest | None = None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Destroy what is left in ``vial`` on site, witnessed by two authorised employees who sign
    at the time: the data of a DEA Form 41 (21 CFR 1317; clinical.md section 7)."""
    user = person(actor, Perm.LEDGER_DESTROY)
    same_clinic(user, vial.clinic_id, "The vial")
    if len(witnesses) != 2:
        raise refuse(NON_FIELD_ERRORS, "a destruction needs two witnesses (DEA Form 41)")
    for name, text in (("method", method), ("location", location), ("reason", reason)):
        if not text.strip():
            raise refuse(name, "this is part of the DEA Form 41 record")
    when = entry_time(at)
    day = clinic_day(vial.clinic, when)
    signed: list[User] = []
    for (username, password), field_name in zip(
        witnesses, ("witness_username", "witness2_username"), strict=True
    ):
        signed.append(
            witness_verify(
                user=user,
                username=username,
                password=password,
                on=day,
                request=request,
                field_name=field_name,
                not_also=signed,
            )
        )
    first, second = signed
    with transaction.atomic():
        locked = lock_vial(vial)
        if locked.status not in IN_STOCK:
            raise refuse("vial", f"vial {locked.label} is not in stock")
        if locked.drawn_pending_mg != 0:
            raise refuse("vial", "a draw from this vial is not yet recorded as given or wasted")
        amount = locked.in_vial_mg
        if amount <= 0:
            raise refuse("vial", f"vial {locked.label} is empty")
        product = locked.product
        clinic = locked.clinic
        form = {
            "form": "DEA-41",
            "registrant": clinic.name,
            "registrant_address": clinic.address,
            "date": day.isoformat(),
            "product": product.name,
            "ndc": product.ndc,
            "schedule": product.schedule,
            "strength_mg_per_ml": mg_text(product.concentration_mg_per_ml),
            "container_volume_ml": mg_text(product.volume_per_vial_ml),
            "lot": locked.lot,
            "vial": locked.label,
            "quantity_mg": mg_text(amount),
            "method": method.strip(),
            "location": location.strip(),
            "reason": reason.strip(),
            "destroyed_by": user.get_full_name() or user.get_username(),
            "witnesses": [
                first.get_full_name() or first.get_username(),
                second.get_full_name() or second.get_username(),
            ],
        }
        entry = append_entry(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.DESTROYED,
            quantity_mg=amount,
            amount_mg=-amount,
            witness=first,
            witness2=second,
            reason=reason.strip(),
            form_data=form,
            at=when,
            summary=f"destroyed {mg_text(amount)} mg of vial {locked.label} (DEA Form 41)",
        )
        locked.status = Status.DESTROYED
        locked.save(update_fields=["status"])
    return entry
