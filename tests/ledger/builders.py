"""Builders of ledger test data, in one place: stock received, draws and wastes, count lines,
the pages of one clinic's ledger, and the actors who write them. Plain functions over the
services (no factory library); the personas are tests/web/conftest.py's ``World``."""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.infusions.demo import demo_session
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    DiscrepancyCase,
    Inventory,
    LedgerEntry,
    Product,
    Receipt,
    Vial,
)
from tests.infusions.builders import make_appointment, make_ready
from tests.web.conftest import PASSWORD, World, make_user

__all__ = ["make_appointment", "make_ready"]

CONTENT_MG = Decimal("500.000")  # 50 mg/mL x 10 mL


@dataclass
class Stock:
    product: Product
    vials: list[Vial]

    def fresh(self, i: int = 0) -> Vial:
        return Vial.objects.select_related("product").get(pk=self.vials[i].pk)


def receive(world: World, *, lot: str = "LOT-1", count: int = 3, conc: str = "50") -> Stock:
    actor = Actor(user=world.nurse)
    product = Product.objects.filter(clinic=world.clinic, concentration_mg_per_ml=conc).first()
    if product is None:
        product = services.product_create(
            actor=actor,
            clinic=world.clinic,
            name="Ketamine HCl",
            ndc=f"0000-{conc}-10",
            concentration_mg_per_ml=Decimal(conc),
            volume_per_vial_ml=Decimal(10),
        )
    receipt = services.stock_receive(
        actor=actor,
        product=product,
        lot=lot,
        expires_on=timezone.localdate() + dt.timedelta(days=365),
        vial_count=count,
        supplier_name="Supplier Inc",
        supplier_address="1 Depot Rd",
        supplier_dea_number="RS0000000",
        invoice_number=f"INV-{Receipt.objects.count() + 1}",
    )
    return Stock(product, list(receipt.vials.order_by("label")))


def nurse(world: World) -> Actor:
    return Actor(user=world.nurse)


def draw(world: World, vial: Vial, ml: str, **extra: Any) -> LedgerEntry:
    return services.draw_record(
        actor=nurse(world), vial=vial, volume_ml=Decimal(ml), patient=world.patient, **extra
    )


def waste(world: World, vial: Vial, mg: str, **extra: Any) -> LedgerEntry:
    args: dict[str, Any] = {
        "witness_username": "prescriber",
        "witness_password": PASSWORD,
        "reason": "residue",
    }
    args.update(extra)
    return services.waste_record(actor=nurse(world), vial=vial, amount_mg=Decimal(mg), **args)


def refusal(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(exc.value.messages)


def raw(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def session_draw(session: InfusionSession) -> LedgerEntry:
    d = services.live_session_draw(session)
    assert d is not None
    return d


def complete_session(world: World) -> InfusionSession:
    """A whole charted infusion (the infusions demo): a vial of lot KET-24A117 at 10 mg/mL
    received into stock and drawn for the session; given and waste not yet recorded."""
    receive(world, lot="KET-24A117", conc="10")
    return demo_session(
        actor=Actor.system("tests"),
        appointment=make_appointment(world),
        nurse=world.nurse,
        scenario="complete",
    )


def count_lines_for(stock: Stock, short_ml: str = "0") -> list[services.CountInput]:
    lines = []
    for i in range(len(stock.vials)):
        vial = stock.fresh(i)
        if vial.status == "sealed":
            lines.append(services.CountInput(vial.pk, present=True))
        else:
            volume = vial.in_vial_mg / vial.product.concentration_mg_per_ml - Decimal(short_ml)
            lines.append(services.CountInput(vial.pk, True, volume))
    return lines


@dataclass
class Pages:
    vial: Vial
    draw: LedgerEntry
    case: DiscrepancyCase
    inventory: Inventory


def ledger_pages(world: World, stock: Stock) -> Pages:
    d = draw(world, stock.vials[0], "1")
    lines = count_lines_for(stock, short_ml="0.2")
    services.count_record(actor=nurse(world), clinic=world.clinic, shift="closing", lines=lines)
    inventory = services.inventory_take(
        actor=Actor(user=world.director),
        clinic=world.clinic,
        kind="initial",
        timing="closing",
        lines=[services.InventoryInput(c.vial_id, c.present, c.measured_volume_ml) for c in lines],
    )
    return Pages(stock.fresh(0), d, DiscrepancyCase.objects.get(), inventory)


def page_urls(p: Pages) -> dict[str, str]:
    return {
        "home": reverse("ledger_home"),
        "receive": reverse("ledger_receive"),
        "product_new": reverse("ledger_product_new"),
        "vial": reverse("ledger_vial", args=[p.vial.pk]),
        "draw": reverse("ledger_draw", args=[p.vial.pk]),
        "waste": reverse("ledger_waste", args=[p.vial.pk]),
        "destroy": reverse("ledger_destroy", args=[p.vial.pk]),
        "loss": reverse("ledger_loss", args=[p.vial.pk]),
        "entry": reverse("ledger_entry", args=[p.draw.pk]),
        "count_new": reverse("ledger_count_new"),
        "count": reverse("ledger_count", args=[p.case.count_line.count_id]),
        "case": reverse("ledger_case", args=[p.case.pk]),
        "inventory_new": reverse("ledger_inventory_new"),
        "inventory": reverse("ledger_inventory", args=[p.inventory.pk]),
        "reports": reverse("ledger_reports"),
        "administration": reverse("ledger_report", args=["administration"]),
        "ledger": reverse("ledger_report", args=["ledger"]),
        "discrepancies": reverse("ledger_report", args=["discrepancies"]),
        "vial_report": reverse("ledger_report", args=["vial"]) + f"?vial={p.vial.pk}",
        "inventory_report": reverse("ledger_report", args=["inventory"])
        + f"?inventory={p.inventory.pk}",
        "reconcile": reverse("ledger_reconcile"),
    }


def pdf_text(body: bytes) -> bytes:
    """The page streams of a ReportLab PDF (ASCII85, then Flate), decoded."""
    text = b""
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", body, re.S):
        data = stream.strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data[:-2])
        try:
            text += zlib.decompress(data)
        except zlib.error:
            text += data
    return text


def director(world: World) -> Actor:
    return Actor(user=world.director)


def other_director(world: World) -> User:
    found = User.objects.filter(username="otherdirector").first()
    return found or make_user(world.other_clinic, "otherdirector", Role.MEDICAL_DIRECTOR)


def grow(world: World, stock: Stock) -> list[LedgerEntry]:
    """Three entries: a draw, its partial waste, another draw (for the chain's tests)."""
    draw(world, stock.vials[0], "1")
    waste(world, stock.fresh(0), "3")
    draw(world, stock.fresh(1), "2")
    return list(LedgerEntry.objects.order_by("seq"))
