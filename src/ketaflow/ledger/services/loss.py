"""Loss and theft (the data of a DEA Form 106) and the deadline of the one-business-day notice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from ketaflow.accounts.clinictime import clinic_zone
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
    exact_mg,
    lock_vial,
    mg_text,
    person,
    refuse,
    same_clinic,
)


def notify_deadline(discovered_at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The end of the first business day after discovery: written notice of a theft or
    significant loss is due to the DEA Field Division within one business day of discovery
    (21 CFR 1301.76(b); clinical.md section 7). Business days are Monday to Friday; federal
    holidays are counted as business days, which can only make the deadline earlier."""
    day = discovered_at.astimezone(tz).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:  # Saturday (5) and Sunday (6) are not business days
        day += dt.timedelta(days=1)
    end = dt.datetime.combine(day, dt.time(23, 59, 59))
    return end.replace(tzinfo=tz)


LOSS_KINDS = {
    "theft": "Theft",
    "loss": "Significant loss",
    "in_transit": "Lost in transit",
    "breakage": "Breakage or spillage (non-recoverable)",
}


def loss_record(
    *,
    actor: Actor,
    vial: Vial,
    loss_kind: str,
    discovered_at: dt.datetime,
    circumstances: str,
    amount_mg: Decimal | None = None,
    police_report: str = "",
    at: dt.datetime | None = None,
) -> LedgerEntry:
    """Record a loss or theft from ``vial`` (all that is in it when ``amount_mg`` is None) with
    the data of a DEA Form 106 and the deadline of the one-business-day notice."""
    user = person(actor, Perm.LEDGER_REPORT_LOSS)
    same_clinic(user, vial.clinic_id, "The vial")
    if loss_kind not in LOSS_KINDS:
        raise refuse("loss_kind", f"{loss_kind!r} is not one of {', '.join(LOSS_KINDS)}")
    if not circumstances.strip():
        raise refuse("circumstances", "describe what happened (DEA Form 106)")
    when = entry_time(at)
    if discovered_at > when:
        raise refuse("discovered_at", "the discovery cannot be in the future")
    tz = clinic_zone(vial.clinic)
    deadline = notify_deadline(discovered_at, tz)
    with transaction.atomic():
        locked = lock_vial(vial)
        if locked.status not in IN_STOCK:
            raise refuse("vial", f"vial {locked.label} is not in stock")
        amount = locked.in_vial_mg if amount_mg is None else exact_mg("amount_mg", amount_mg)
        if amount <= 0:
            raise refuse("amount_mg", f"vial {locked.label} is empty")
        product = locked.product
        form = {
            "form": "DEA-106",
            "registrant": locked.clinic.name,
            "type": loss_kind,
            "type_label": LOSS_KINDS[loss_kind],
            "discovered_at": discovered_at.astimezone(tz).isoformat(timespec="minutes"),
            "notify_field_division_by": deadline.isoformat(timespec="minutes"),
            "notice_rule": "written notice within one business day of discovery "
            "(21 CFR 1301.76(b))",
            "circumstances": circumstances.strip(),
            "police_report": police_report.strip(),
            "product": product.name,
            "ndc": product.ndc,
            "strength_mg_per_ml": mg_text(product.concentration_mg_per_ml),
            "lot": locked.lot,
            "vial": locked.label,
            "quantity_mg": mg_text(amount),
        }
        entry = append_entry(
            actor=actor,
            user=user,
            vial=locked,
            kind=Kind.LOST,
            quantity_mg=amount,
            amount_mg=-amount,
            reason=f"{LOSS_KINDS[loss_kind]}: {circumstances.strip()}",
            form_data=form,
            at=when,
            summary=f"{LOSS_KINDS[loss_kind].lower()} of {mg_text(amount)} mg from vial "
            f"{locked.label}; notify DEA by {deadline:%Y-%m-%d %H:%M}",
        )
        if locked.in_vial_mg == 0 and locked.drawn_pending_mg == 0:
            locked.status = Status.LOST
            locked.save(update_fields=["status"])
    return entry
