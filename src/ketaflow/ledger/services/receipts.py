"""Products and receipts: stock received against an invoice, each vial with its label."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from ketaflow.accounts.clinictime import clinic_day, clinic_local
from ketaflow.accounts.models import Clinic
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.clinical.dea import dea_number_normalised
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.ledger.models import (
    Product,
    Receipt,
    Vial,
)
from ketaflow.ledger.services.append import append_entry
from ketaflow.ledger.services.base import (
    Kind,
    entry_time,
    lock_vial,
    mg_text,
    person,
    quantise_mg,
    refuse,
    same_clinic,
)


@transaction.atomic
def product_create(
    *,
    actor: Actor,
    clinic: Clinic,
    name: str,
    ndc: str,
    concentration_mg_per_ml: Decimal,
    volume_per_vial_ml: Decimal,
) -> Product:
    user = person(actor, Perm.LEDGER_RECEIVE)
    same_clinic(user, clinic.pk, "The clinic")
    product = Product(
        clinic=clinic,
        name=name.strip(),
        ndc=ndc.strip(),
        concentration_mg_per_ml=concentration_mg_per_ml,
        volume_per_vial_ml=volume_per_vial_ml,
    )
    product.full_clean()
    product.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_product",
        object_id=product.pk,
        summary=f"ledger product {product}",
    )
    return product


def receipt_snapshot(receipt: Receipt) -> dict[str, Any]:
    """What a receipt records, as its audit entry keeps it (ketaflow.ledger.verify compares)."""
    return {
        "product": receipt.product_id,
        "supplier_name": receipt.supplier_name,
        "supplier_address": receipt.supplier_address,
        "supplier_dea_number": receipt.supplier_dea_number,
        "invoice_number": receipt.invoice_number,
        "lot": receipt.lot,
        "expires_on": receipt.expires_on.isoformat(),
        "vial_count": receipt.vial_count,
        "received_by": receipt.received_by_id,
    }


def _next_labels(clinic: Clinic, count: int, year: int) -> list[str]:
    prefix = f"K{year}-"
    taken = Vial.objects.filter(clinic=clinic, label__startswith=prefix).values_list(
        "label", flat=True
    )
    start = max((int(label[len(prefix) :]) for label in taken), default=0) + 1
    return [f"{prefix}{n:04d}" for n in range(start, start + count)]


def same_invoice_receipts(
    *, clinic_id: int, supplier_name: str, supplier_dea_number: str, invoice_number: str
) -> list[Receipt]:
    """The clinic's receipts of the same invoice number (letter case and surrounding spaces
    aside) from the same supplier (the same DEA number or the same name)."""
    return list(
        Receipt.objects.filter(clinic_id=clinic_id, invoice_number__iexact=invoice_number.strip())
        .filter(
            Q(supplier_dea_number__iexact=supplier_dea_number.strip())
            | Q(supplier_name__iexact=supplier_name.strip())
        )
        .order_by("received_at", "pk")
    )


@transaction.atomic
def stock_receive(
    *,
    actor: Actor,
    product: Product,
    lot: str,
    expires_on: dt.date,
    vial_count: int,
    supplier_name: str,
    supplier_address: str,
    supplier_dea_number: str,
    invoice_number: str,
    note: str = "",
    at: dt.datetime | None = None,
    duplicate_invoice_confirmed: bool = False,
) -> Receipt:
    """Receive ``vial_count`` sealed vials against an invoice: each vial gets its own label and
    a ``received`` entry of its labelled content (concentration × volume, exact).

    The supplier's DEA number must have the DEA's shape and check digit
    (:mod:`ketaflow.clinical.dea`). An invoice of the same supplier already received is refused
    (code ``duplicate_invoice``) unless ``duplicate_invoice_confirmed`` (a further delivery on
    the same invoice); the audit entry then names the earlier receipts."""
    user = person(actor, Perm.LEDGER_RECEIVE)
    same_clinic(user, product.clinic_id, "The product")
    received_at = entry_time(at)
    if expires_on <= clinic_day(product.clinic, received_at):
        raise refuse("expires_on", f"the stock expired on {expires_on.isoformat()}")
    try:
        dea_number = dea_number_normalised(supplier_dea_number)
    except ClinicalInputError as exc:
        raise refuse("supplier_dea_number", str(exc)) from None
    earlier = same_invoice_receipts(
        clinic_id=product.clinic_id,
        supplier_name=supplier_name,
        supplier_dea_number=dea_number,
        invoice_number=invoice_number,
    )
    if earlier and not duplicate_invoice_confirmed:
        first = earlier[0]
        raise ValidationError(
            {
                "invoice_number": ValidationError(
                    f"invoice {first.invoice_number} from {first.supplier_name} was already "
                    f"received on {clinic_local(product.clinic, first.received_at):%Y-%m-%d} "
                    f"({first.vial_count} vials, lot {first.lot}): confirm that this is a "
                    "further delivery on the same invoice to receive it",
                    code="duplicate_invoice",
                )
            }
        )
    receipt = Receipt(
        clinic_id=product.clinic_id,
        product=product,
        supplier_name=supplier_name.strip(),
        supplier_address=supplier_address.strip(),
        supplier_dea_number=dea_number,
        invoice_number=invoice_number.strip(),
        lot=lot.strip(),
        expires_on=expires_on,
        vial_count=vial_count,
        received_at=received_at,
        received_by=user,
        note=note.strip(),
    )
    receipt.full_clean()
    receipt.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="ledger_receipt",
        object_id=receipt.pk,
        summary=f"received {vial_count} vials of {product.name}, invoice {invoice_number}"
        + (" (invoice already received: confirmed)" if earlier else ""),
        detail={"receipt": receipt_snapshot(receipt)}
        | ({"duplicate_invoice_of": [r.pk for r in earlier]} if earlier else {}),
    )
    content = product.content_mg
    year = clinic_local(product.clinic, received_at).year
    for label in _next_labels(product.clinic, vial_count, year):
        vial = Vial(
            clinic_id=product.clinic_id,
            product=product,
            receipt=receipt,
            label=label,
            lot=receipt.lot,
            expires_on=expires_on,
        )
        vial.full_clean()
        vial.save()
        vial = lock_vial(vial)
        append_entry(
            actor=actor,
            user=user,
            vial=vial,
            kind=Kind.RECEIVED,
            quantity_mg=quantise_mg(content),
            amount_mg=quantise_mg(content),
            volume_ml=product.volume_per_vial_ml,
            at=received_at,
            reason=f"invoice {receipt.invoice_number} from {receipt.supplier_name}",
            summary=f"received vial {label} ({mg_text(quantise_mg(content))} mg)",
        )
    return receipt
