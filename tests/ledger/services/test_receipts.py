"""Receipts (ketaflow.ledger.services.receipts): each vial's identity and balance, the
supplier's DEA number (shape and check digit), a duplicate invoice warned and received only when
confirmed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from ketaflow.audit.models import AuditEntry
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    LedgerEntry,
    Receipt,
)
from ketaflow.ledger.verify import ledger_check
from tests.ledger.builders import (
    CONTENT_MG,
    Stock,
    nurse,
    refusal,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_receipt_gives_each_vial_its_identity_and_balance(world: World, stock: Stock) -> None:
    assert [v.label for v in stock.vials] == [
        f"K{timezone.localdate().year}-000{i}" for i in (1, 2, 3)
    ]
    for vial in stock.vials:
        assert (vial.status, vial.in_vial_mg, vial.drawn_pending_mg) == (
            "sealed",
            CONTENT_MG,
            Decimal(0),
        )
        entry = vial.entries.get()
        assert (entry.kind, entry.quantity_mg, entry.balance_after_mg) == (
            "received",
            CONTENT_MG,
            CONTENT_MG,
        )
        assert entry.reason == "invoice INV-1 from Supplier Inc"
    assert AuditEntry.objects.filter(object_type="ledger_receipt").count() == 1
    assert AuditEntry.objects.filter(object_type="ledger_entry", action="create").count() == 3


def receive_args(stock: Stock, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "product": stock.product,
        "lot": "LOT-2",
        "expires_on": stock.vials[0].expires_on,
        "vial_count": 2,
        "supplier_name": "Supplier Inc",
        "supplier_address": "1 Depot Rd",
        "supplier_dea_number": "AB1234563",
        "invoice_number": "INV-500",
    }
    args.update(extra)
    return args


@pytest.mark.parametrize("number", ["XY12", "AB1234567", "AB123456", "1B1234563"])
def test_a_bad_supplier_dea_number_is_refused_naming_the_field(
    world: World, stock: Stock, number: str
) -> None:
    before = Receipt.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.stock_receive(
            actor=nurse(world), **receive_args(stock, supplier_dea_number=number)
        )
    assert "supplier_dea_number" in exc.value.message_dict
    assert "DEA number" in refusal(exc)
    assert Receipt.objects.count() == before


def test_a_valid_dea_number_is_stored_normalised(world: World, stock: Stock) -> None:
    receipt = services.stock_receive(
        actor=nurse(world), **receive_args(stock, supplier_dea_number=" ab1234563 ")
    )
    assert receipt.supplier_dea_number == "AB1234563"
    assert ledger_check().ok


def test_the_receive_form_shows_the_dea_rule(world: World, stock: Stock, client_for: Any) -> None:
    c = client_for(world.nurse)
    data = receive_args(stock, supplier_dea_number="XY12", product=stock.product.pk)
    data["expires_on"] = data["expires_on"].isoformat()
    response = c.post(reverse("ledger_receive"), data)
    assert response.status_code == 200
    assert "XY12 is not a DEA number: two letters then seven digits" in response.content.decode()
    assert not Receipt.objects.filter(lot="LOT-2").exists()


def test_the_same_invoice_of_the_same_supplier_needs_a_confirmation(
    world: World, stock: Stock
) -> None:
    first = services.stock_receive(actor=nurse(world), **receive_args(stock))
    with pytest.raises(ValidationError) as exc:
        services.stock_receive(
            actor=nurse(world), **receive_args(stock, invoice_number=" inv-500 ", lot="LOT-3")
        )
    assert "invoice_number" in exc.value.message_dict
    assert "INV-500 from Supplier Inc was already received" in refusal(exc)
    assert not Receipt.objects.filter(lot="LOT-3").exists()
    # The same supplier known by its DEA number under another spelling of its name.
    with pytest.raises(ValidationError):
        services.stock_receive(
            actor=nurse(world), **receive_args(stock, supplier_name="SUPPLIER INC.", lot="LOT-3")
        )
    second = services.stock_receive(
        actor=nurse(world),
        **receive_args(stock, lot="LOT-3"),
        duplicate_invoice_confirmed=True,
    )
    entry = AuditEntry.objects.get(object_type="ledger_receipt", object_id=str(second.pk))
    assert entry.detail["duplicate_invoice_of"] == [first.pk]
    assert "invoice already received: confirmed" in entry.summary
    assert ledger_check().ok


def test_another_supplier_or_another_clinic_may_use_the_same_invoice_number(
    world: World, stock: Stock
) -> None:
    services.stock_receive(actor=nurse(world), **receive_args(stock))
    services.stock_receive(
        actor=nurse(world),
        **receive_args(stock, supplier_name="Other Pharma", supplier_dea_number="AP5836727"),
    )
    assert Receipt.objects.filter(invoice_number="INV-500").count() == 2
    assert not services.same_invoice_receipts(
        clinic_id=world.other_clinic.pk,
        supplier_name="Supplier Inc",
        supplier_dea_number="AB1234563",
        invoice_number="INV-500",
    )


def test_the_receive_form_warns_then_receives_on_confirmation(
    world: World, stock: Stock, client_for: Any
) -> None:
    services.stock_receive(actor=nurse(world), **receive_args(stock))
    c = client_for(world.nurse)
    data = receive_args(stock, product=stock.product.pk, lot="LOT-4")
    data["expires_on"] = data["expires_on"].isoformat()
    response = c.post(reverse("ledger_receive"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "was already received" in page
    assert 'name="duplicate_invoice_confirmed"' in page
    assert not Receipt.objects.filter(lot="LOT-4").exists()
    response = c.post(reverse("ledger_receive"), data | {"duplicate_invoice_confirmed": "on"})
    assert response.status_code == 302
    assert Receipt.objects.filter(lot="LOT-4").count() == 1
