"""Waste: a draw's residue or part of a vial, witnessed at the time by a second person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

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
    entry_time,
    exact_mg,
    lock_vial,
    mg_text,
    person,
    refuse,
    same_clinic,
)
from ketaflow.ledger.services.draws import draw_remaining_mg
from ketaflow.ledger.services.witness import witness_rules, witness_verify


def waste_record(
    *,
    actor: Actor,
    vial: Vial,
    amount_mg: Decimal,
    reason: str,
    witness_username: str,
    witness_password: str,
    draw: LedgerEntry | None = None,
    request: HttpRequest | None = None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Waste ``amount_mg``, witnessed at the time by a second credentialed person who signs with
    their own username and password.

    From a draw: the residue left after the infusion (it leaves the drawn amount); without a
    draw: from the vial itself (e.g. an open vial past its in-use time)."""
    user = person(actor, Perm.LEDGER_DRAW)
    same_clinic(user, vial.clinic_id, "The vial")
    amount = exact_mg("amount_mg", amount_mg)
    if not reason.strip():
        raise refuse("reason", "say why the drug is wasted")
    day = clinic_day(vial.clinic, entry_time(at))
    # Checked before the transaction, so that a failed witness log-in stays in the audit trail.
    witness = witness_verify(
        user=user,
        username=witness_username,
        password=witness_password,
        on=day,
        request=request,
    )
    return waste_witnessed(
        actor=actor,
        user=user,
        vial=vial,
        amount=amount,
        reason=reason,
        witness=witness,
        draw=draw,
        at=at,
    )


def waste_witnessed(
    *,
    actor: Actor,
    user: User,
    vial: Vial,
    amount: Decimal,
    reason: str,
    witness: User,
    draw: LedgerEntry | None,
    at: dt.datetime | None,
) -> LedgerEntry:
    """The waste entry, for a witness already authenticated by the caller (the waste form; the
    demo loader, acting for its own demo staff). The witness rules other than the password are
    checked again here."""
    witness_rules(user=user, witness=witness, on=clinic_day(vial.clinic, entry_time(at)))
    if draw is not None and (draw.kind != Kind.DRAWN or draw.vial_id != vial.pk):
        raise refuse("draw", "the waste must follow a draw from this vial")
    with transaction.atomic():
        locked = lock_vial(vial)
        moves: dict[str, Any]  # a draw's residue leaves the drawn amount; else the vial itself
        if draw is not None:
            if draw.corrections.exists():
                raise refuse("draw", f"draw #{draw.seq} was corrected")
            remaining = draw_remaining_mg(draw)
            if amount > remaining:
                raise refuse(
                    "amount_mg",
                    f"only {mg_text(remaining)} mg of draw #{draw.seq} is not yet accounted for",
                )
            moves = {
                "pending_change_mg": -amount,
                "patient": draw.patient,
                "session": draw.session,
                "draw": draw,
            }
            source = f"of draw #{draw.seq}"
        else:
            if locked.status not in IN_STOCK:
                raise refuse("vial", f"vial {locked.label} is not in stock")
            moves = {"amount_mg": -amount}
            source = f"from vial {locked.label}"
        return append_entry(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.WASTED,
            quantity_mg=amount,
            witness=witness,
            reason=reason.strip(),
            at=at,
            summary=f"wasted {mg_text(amount)} mg {source}, witness {witness.get_username()}",
            **moves,
        )
