"""A month of controlled-substance ledger history for the demo clinic, written through the
services exactly as the staff would, so that it reconciles to the milligram.

Thirty days back: the initial inventory (zero stock), two deliveries, three infusion days a week
with a draw for a patient, the amount given and the residue wasted with a witness, a closing
count on each infusion day, one of which finds an open vial short and is resolved by the medical
director. Every draw is for a patient: where the clinic has an infusion session with a delivered
dose (the infusions demo) the draw is made for it and the amount given comes from its infusion
record; the other demo days have no session in KetaFlow, and their entries say so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_zone
from ketaflow.accounts.models import Clinic, User
from ketaflow.audit.context import Actor
from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
from ketaflow.infusions.demo import DEMO_VIAL_LOT
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services
from ketaflow.ledger.models import Inventory, LedgerEntry, Product, Vial
from ketaflow.patients.models import Patient

DEMO_NDC = "99999-0110-20"  # a demo code, not a real product's NDC
DEMO_LOT = DEMO_VIAL_LOT  # the lot the infusions demo records on Riverside's sessions
SECOND_LOT = "KET-24B203"
DAYS = 30
# Drawn volumes (mL) and residue left in the line (mg) of the demo days without a session.
DRAWN_ML = [Decimal("3.6"), Decimal("3.8"), Decimal("4.0"), Decimal("3.5"), Decimal("4.2")]
RESIDUE_MG = [Decimal("0.5"), Decimal("0.8"), Decimal("0.4"), Decimal("1.1")]
PAPER_NOTE = (
    "Demo day without an infusion session in KetaFlow: drawn for this patient; the amount "
    "given is from the paper infusion record."
)


@dataclass(frozen=True)
class Supplies:
    """Where a demo clinic's ketamine comes from: its two delivered lots (the first arrives on
    the first day, the second two weeks later), their invoices and the supplier."""

    lots: tuple[str, str]
    invoices: tuple[str, str]
    supplier_name: str
    supplier_address: str
    supplier_dea_number: str


RIVERSIDE_SUPPLIES = Supplies(
    lots=(DEMO_LOT, SECOND_LOT),
    invoices=("INV-D-1001", "INV-D-1002"),
    supplier_name="Demo Pharma Distribution",
    supplier_address="200 Depot Way, Newark NJ",
    supplier_dea_number="RD0000000",
)


@dataclass(frozen=True)
class LedgerDemo:
    created: bool
    entries: int


def _at(clinic: Clinic, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """``hour:minute`` on the clinic's wall clock (inside its opening hours)."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clinic_zone(clinic))


def _stock_line(vial: Vial, *, short_ml: Decimal = Decimal(0)) -> services.CountInput:
    if vial.status == Vial.Status.SEALED:
        return services.CountInput(vial.pk, present=True)
    volume = vial.in_vial_mg / vial.product.concentration_mg_per_ml - short_ml
    return services.CountInput(vial.pk, present=True, measured_volume_ml=volume)


def _vial_for(clinic: Clinic, amount_mg: Decimal, lot: str | None = None) -> Vial:
    """The open vial if it holds enough, else the next sealed one (first in, first out)."""
    stock = Vial.objects.filter(clinic=clinic, status__in=[Vial.Status.OPEN, Vial.Status.SEALED])
    if lot is not None:
        stock = stock.filter(lot=lot)
    # "open" sorts before "sealed": the open vial is used up first.
    for vial in stock.select_related("product").order_by("status", "label"):
        if vial.in_vial_mg >= amount_mg:
            return vial
    raise ValueError(f"the demo stock holds no vial with {amount_mg} mg")


@transaction.atomic
def load_demo(
    *,
    clinic: Clinic,
    today: dt.date,
    staff: dict[str, User],
    supplies: Supplies = RIVERSIDE_SUPPLIES,
    days: int = DAYS,
) -> LedgerDemo:
    """Build ``days`` of history (a month by default) from ``supplies`` once (idempotent:
    nothing is added when the clinic has ledger entries)."""
    if LedgerEntry.objects.filter(clinic=clinic).exists():
        return LedgerDemo(False, LedgerEntry.objects.filter(clinic=clinic).count())
    director, prescriber, nurse = staff["director"], staff["prescriber"], staff["nurse"]
    as_director = Actor(user=director, system_name="demo")
    as_nurse = Actor(user=nurse, system_name="demo")
    start = today - dt.timedelta(days=days)

    # 21 CFR 1304.11(b): the initial inventory on the first day, zero counts if none on hand.
    services.inventory_take(
        actor=as_director,
        clinic=clinic,
        kind=Inventory.Kind.INITIAL,
        timing=Inventory.Timing.OPENING,
        lines=[],
        note="Initial inventory: no controlled substances on hand (zero count).",
        at=_at(clinic, start, 7, 30),
    )
    product = Product.objects.filter(clinic=clinic, ndc=DEMO_NDC).first()
    if product is None:
        product = services.product_create(
            actor=as_nurse,
            clinic=clinic,
            name="Ketamine HCl injection (demo)",
            ndc=DEMO_NDC,
            concentration_mg_per_ml=Decimal("10.000"),
            volume_per_vial_ml=Decimal("20.000"),
        )
    deliveries = [
        (start, supplies.lots[0], 6, supplies.invoices[0]),
        (start + dt.timedelta(days=14), supplies.lots[1], 4, supplies.invoices[1]),
    ]
    patients = [
        p
        for p in Patient.objects.filter(clinic=clinic).order_by("pk")
        if signed_candidacy_for(p) is not None and current_consent_for(p) is not None
    ]
    if not patients:
        raise ValueError("the demo ledger needs demo patients with candidacy and consent")
    delivered = 0
    day_index = 0
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        while delivered < len(deliveries) and deliveries[delivered][0] <= day:
            _, lot, vial_count, invoice = deliveries[delivered]
            services.stock_receive(
                actor=as_nurse,
                product=product,
                lot=lot,
                expires_on=today + dt.timedelta(days=300),
                vial_count=vial_count,
                supplier_name=supplies.supplier_name,
                supplier_address=supplies.supplier_address,
                supplier_dea_number=supplies.supplier_dea_number,
                invoice_number=invoice,
                at=_at(clinic, day, 8, 15),
            )
            delivered += 1
        if day.weekday() not in (0, 2, 4):  # infusion days: Monday, Wednesday, Friday
            continue
        patient = patients[day_index % len(patients)]
        volume = DRAWN_ML[day_index % len(DRAWN_ML)]
        residue = RESIDUE_MG[day_index % len(RESIDUE_MG)]
        amount = volume * product.concentration_mg_per_ml
        draw = services.draw_record(
            actor=as_nurse,
            vial=_vial_for(clinic, amount),
            volume_ml=volume,
            patient=patient,
            note=PAPER_NOTE,
            at=_at(clinic, day, 9, 40),
        )
        services.administration_record(
            actor=as_nurse,
            draw=draw,
            amount_mg=draw.quantity_mg - residue,
            at=_at(clinic, day, 10, 30),
        )
        _waste_residue(as_nurse, nurse, prescriber, draw, residue, _at(clinic, day, 10, 35))
        stock = services.IN_STOCK
        vials = list(Vial.objects.filter(clinic=clinic, status__in=stock).select_related("product"))
        # One count (the eighth infusion day) finds the open vial 0.2 mL (2 mg) short.
        short = Decimal("0.2") if day_index == 7 else Decimal(0)
        lines = []
        for vial in sorted(vials, key=lambda v: v.pk):
            take = short if vial.status == Vial.Status.OPEN else Decimal(0)
            short -= take
            lines.append(_stock_line(vial, short_ml=take))
        count = services.count_record(
            actor=as_nurse, clinic=clinic, shift="closing", lines=lines, at=_at(clinic, day, 17, 30)
        )
        for case in count.lines.filter(case__isnull=False).select_related("case"):
            services.case_resolve(
                actor=as_director,
                case=case.case,
                outcome="adjust",
                reason="Recounted with the nurse next morning: 2 mg (0.2 mL) short in the open "
                "vial; no sign of diversion, attributed to loss at the stopper on repeated "
                "punctures. Ledger adjusted; draw technique reviewed with staff.",
                at=_at(clinic, day + dt.timedelta(days=1), 8, 5),
            )
        day_index += 1
    _sessions(clinic, as_nurse, nurse, prescriber)
    return LedgerDemo(True, LedgerEntry.objects.filter(clinic=clinic).count())


def _sessions(clinic: Clinic, as_nurse: Actor, nurse: User, witness: User) -> None:
    """Draws for the clinic's infusion sessions that record a vial, with what each was given
    (from its infusion record) and its residue wasted; a running session stays drawn."""
    sessions = InfusionSession.objects.filter(
        patient__clinic=clinic, vial_lot__gt="", drawn_volume_ml__isnull=False
    ).order_by("pk")
    for session in sessions:
        if session.drawn_volume_ml is None or LedgerEntry.objects.filter(session=session).exists():
            continue
        product = Product.objects.get(clinic=clinic, ndc=DEMO_NDC)
        amount = session.drawn_volume_ml * product.concentration_mg_per_ml
        when = session.started_at or timezone.now()
        draw = services.draw_record(
            actor=as_nurse,
            vial=_vial_for(clinic, amount, lot=session.vial_lot),
            volume_ml=session.drawn_volume_ml,
            patient=session.patient,
            session=session,
            at=min(when - dt.timedelta(minutes=10), timezone.now()),
        )
        if session.ended_at is None:
            continue
        services.administration_record(actor=as_nurse, draw=draw, at=session.ended_at)
        residue = services.draw_remaining_mg(draw)
        if residue > 0:
            _waste_residue(
                as_nurse, nurse, witness, draw, residue, session.ended_at + dt.timedelta(minutes=5)
            )


def _waste_residue(
    as_nurse: Actor,
    nurse: User,
    witness: User,
    draw: LedgerEntry,
    residue: Decimal,
    at: dt.datetime,
) -> None:
    """The residue of ``draw`` in the bag and line after the infusion, wasted with ``witness``
    (the demo's own staff: no password is typed, the other witness rules are checked)."""
    services.waste_witnessed(
        actor=as_nurse,
        user=nurse,
        vial=draw.vial,
        amount=residue,
        reason="residue in the bag and line after the infusion",
        witness=witness,
        draw=draw,
        at=at,
    )
