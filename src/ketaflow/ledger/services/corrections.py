"""Corrections and reversals: a new entry that names the entry it reverses and says why
(nothing is edited); a whole receipt reversed as one witnessed action."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpRequest

from ketaflow.accounts.clinictime import clinic_day
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.ledger.models import (
    LedgerEntry,
    Receipt,
    Vial,
)
from ketaflow.ledger.services.append import append_entry
from ketaflow.ledger.services.base import (
    Kind,
    Status,
    entry_time,
    live_entries,
    lock_vial,
    person,
    refuse,
    same_clinic,
)
from ketaflow.ledger.services.witness import witness_verify


def entry_correct(
    *, actor: Actor, entry: LedgerEntry, reason: str, at: dt.datetime | None = None
) -> LedgerEntry:
    """Reverse ``entry`` with a new entry that names it and says why (nothing is edited)."""
    user = person(actor, Perm.LEDGER_CORRECT)
    same_clinic(user, entry.clinic_id, "The entry")
    if not reason.strip():
        raise refuse("reason", "say why the entry is corrected")
    if entry.kind in (Kind.CORRECTION, Kind.ADJUSTED):
        raise refuse(
            NON_FIELD_ERRORS, "corrections and count adjustments are not corrected this way"
        )
    if entry.corrections.exists():
        raise refuse(NON_FIELD_ERRORS, f"entry #{entry.seq} is already corrected")
    if entry.kind == Kind.DRAWN and live_entries(entry.dispositions.all()):
        raise refuse(NON_FIELD_ERRORS, "correct the administration and waste of this draw first")
    return reverse_entry(actor=actor, user=user, entry=entry, reason=reason, at=at)


def reverse_entry(
    *, actor: Actor, user: User, entry: LedgerEntry, reason: str, at: dt.datetime | None
) -> LedgerEntry:
    """The reversing entry of ``entry`` (checked by the caller), and the vial back in stock."""
    with transaction.atomic():
        locked = lock_vial(entry.vial)
        correction = append_entry(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.CORRECTION,
            quantity_mg=entry.quantity_mg,
            amount_mg=-entry.amount_mg,
            pending_change_mg=-entry.pending_change_mg,
            volume_ml=entry.volume_ml,
            patient=entry.patient,
            session=entry.session,
            draw=None,
            corrects=entry,
            reason=reason.strip(),
            at=at,
            summary=f"corrected #{entry.seq} ({entry.get_kind_display().lower()})",
        )
        if locked.status in (Status.DESTROYED, Status.LOST, Status.EMPTY) and (
            locked.on_hand_mg > 0
        ):
            locked.status = Status.OPEN
            locked.save(update_fields=["status"])
    return correction


def receipt_reversal_problems(receipt: Receipt) -> list[str]:
    """Why ``receipt`` cannot be reversed as a whole (empty: it can): a vial of it was drawn
    from, or has any entry after its receipt (waste, destruction, loss, a count adjustment, a
    correction), or the receipt is already reversed."""
    problems: list[str] = []
    vials = Vial.objects.filter(receipt=receipt).order_by("pk")
    if not vials.exists():
        return [f"receipt {receipt.pk} has no vials"]
    for vial in vials:
        kinds = list(
            LedgerEntry.objects.filter(vial=vial).order_by("seq").values_list("kind", flat=True)
        )
        later = kinds[1:]
        if vial.status == Status.REVERSED:
            problems.append(f"vial {vial.label} is already reversed")
        elif not kinds or kinds[0] != Kind.RECEIVED:
            problems.append(f"vial {vial.label} has no receipt entry")
        elif Kind.DRAWN in later:
            problems.append(f"vial {vial.label} was drawn from")
        elif later:
            shown = ", ".join(sorted({Kind(k).label.lower() for k in later}))
            problems.append(f"vial {vial.label} has later entries ({shown})")
    return problems


def receipt_reverse(
    *,
    actor: Actor,
    receipt: Receipt,
    reason: str,
    witness_username: str,
    witness_password: str,
    request: HttpRequest | None = None,
    at: dt.datetime | None = None,
) -> list[LedgerEntry]:
    """Reverse a whole receipt (entered twice, the wrong product, a delivery sent back) as one
    witnessed action: one correction entry per vial, each naming the vial's receipt entry, the
    reason and the witness, in one transaction; every vial leaves stock (``reversed``). Refused
    if any vial of the receipt was drawn from or has any later entry: those are corrected first,
    entry by entry. The witness signs with their own password, through :func:`witness_verify`
    (its guessing limit included)."""
    user = person(actor, Perm.LEDGER_CORRECT)
    same_clinic(user, receipt.clinic_id, "The receipt")
    if not reason.strip():
        raise refuse("reason", "say why the receipt is reversed")
    problems = receipt_reversal_problems(receipt)
    if problems:
        raise refuse(NON_FIELD_ERRORS, "the receipt cannot be reversed: " + "; ".join(problems))
    day = clinic_day(receipt.clinic, entry_time(at))
    # Checked before the transaction, so that a failed witness log-in stays in the audit trail.
    witness = witness_verify(
        user=user, username=witness_username, password=witness_password, on=day, request=request
    )
    with transaction.atomic():
        vials = list(
            Vial.objects.select_for_update()
            .select_related("product", "clinic")
            .filter(receipt=receipt)
            .order_by("pk")
        )
        problems = receipt_reversal_problems(receipt)  # again, under the vials' locks
        if problems:
            raise refuse(NON_FIELD_ERRORS, "the receipt cannot be reversed: " + "; ".join(problems))
        corrections: list[LedgerEntry] = []
        for vial in vials:
            received = LedgerEntry.objects.get(vial=vial, kind=Kind.RECEIVED)
            corrections.append(
                append_entry(
                    actor=actor,
                    user=user,
                    vial=vial,
                    kind=Kind.CORRECTION,
                    quantity_mg=received.quantity_mg,
                    amount_mg=-received.amount_mg,
                    volume_ml=received.volume_ml,
                    witness=witness,
                    corrects=received,
                    reason=reason.strip(),
                    at=at,
                    summary=f"reversed the receipt of vial {vial.label} (#{received.seq}), "
                    f"witness {witness.get_username()}",
                )
            )
            vial.status = Status.REVERSED
            vial.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="ledger_receipt",
            object_id=receipt.pk,
            summary=f"reversed the receipt of invoice {receipt.invoice_number} "
            f"({len(vials)} vials), witness {witness.get_username()}",
            detail={
                "reason": reason.strip(),
                "witness": witness.get_username(),
                "ledger_seqs": [c.seq for c in corrections],
            },
        )
    return corrections
