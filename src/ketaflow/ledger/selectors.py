"""Reads for the ledger's pages: one function a page or report, each returning a typed dataclass
(its :meth:`Page.context` is what the template sees). Views call an access function first
(:mod:`ketaflow.ledger.access`), then a selector; they never query the database themselves.
Writes are in :mod:`ketaflow.ledger.services`; so is the reconciliation, which the command line
shares."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.models import Clinic, User
from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import reports, services
from ketaflow.ledger.access import vials_for_user
from ketaflow.ledger.models import (
    Count,
    CountLine,
    DiscrepancyCase,
    Inventory,
    LedgerEntry,
    Product,
    Receipt,
    Vial,
)
from ketaflow.patients.access import patients_for_user
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Appointment
from ketaflow.treatment.services import clinic_datetime

Kind = LedgerEntry.Kind
NOT_ATTENDED = (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)


@dataclass
class Page:
    """A page's data; :meth:`context` hands its fields to the template by name."""

    def context(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ---- stock ----------------------------------------------------------------------------------


def stock_on_hand(user: User) -> list[Vial]:
    """The vials in stock (sealed, open or expired) of ``user``'s clinic, in receipt order."""
    return list(vials_for_user(user).filter(status__in=services.IN_STOCK).order_by("pk"))


@dataclass
class HomePage(Page):
    clinic: Clinic
    today: dt.date
    vials: list[Vial]
    total_mg: Decimal
    open_cases: list[DiscrepancyCase]
    todays_counts: list[Count]
    losses: list[LedgerEntry]
    open_draws: list[LedgerEntry]

    @property
    def patient_ids(self) -> list[int]:
        """The patients the page names (its open draws')."""
        return [d.patient_id for d in self.open_draws if d.patient_id is not None]


def home_page(user: User, clinic: Clinic) -> HomePage:
    today = clinic_today(clinic)
    vials = stock_on_hand(user)
    return HomePage(
        clinic=clinic,
        today=today,
        vials=vials,
        total_mg=sum((v.on_hand_mg for v in vials), services.ZERO),
        open_cases=list(
            DiscrepancyCase.objects.filter(
                clinic=clinic, status=DiscrepancyCase.Status.OPEN
            ).select_related("vial")
        ),
        todays_counts=list(
            Count.objects.filter(clinic=clinic, at__date=today).select_related("counted_by")
        ),
        losses=list(
            LedgerEntry.objects.filter(clinic=clinic, kind=Kind.LOST)
            .select_related("vial")
            .order_by("-seq")[:10]
        ),
        open_draws=services.open_draws(clinic),
    )


def products(clinic: Clinic) -> QuerySet[Product]:
    """The clinic's products (the choices of the receipt form)."""
    return Product.objects.filter(clinic=clinic)


@dataclass
class ReceivePage(Page):
    receipts: list[Receipt]
    reversed: set[int]  # the receipts whose vials were reversed
    has_products: bool


def receive_page(clinic: Clinic) -> ReceivePage:
    return ReceivePage(
        receipts=list(Receipt.objects.filter(clinic=clinic).select_related("product")[:20]),
        reversed={
            receipt_id
            for receipt_id in Vial.objects.filter(
                clinic=clinic, status=Vial.Status.REVERSED
            ).values_list("receipt_id", flat=True)
            if receipt_id is not None
        },
        has_products=products(clinic).exists(),
    )


def receipt_vial_labels(receipt: Receipt) -> list[str]:
    return list(receipt.vials.order_by("label").values_list("label", flat=True))


@dataclass
class ReceiptReversePage(Page):
    receipt: Receipt
    vials: list[Vial]
    problems: list[str]


def receipt_reverse_page(receipt: Receipt) -> ReceiptReversePage:
    return ReceiptReversePage(
        receipt=receipt,
        vials=list(receipt.vials.order_by("label")),
        problems=services.receipt_reversal_problems(receipt),
    )


@dataclass
class VialPage(Page):
    vial: Vial
    entries: list[LedgerEntry]
    reconciliation: services.VialReconciliation
    open_draws: list[LedgerEntry]
    patient_ids: list[int] = field(default_factory=list)


def vial_page(vial: Vial) -> VialPage:
    return VialPage(
        vial=vial,
        entries=list(
            LedgerEntry.objects.filter(vial=vial)
            .select_related("patient", "corrects", "session")
            .order_by("seq")
        ),
        reconciliation=services.reconcile_vial(vial),
        open_draws=vial_open_draws(vial),
        patient_ids=reports.vial_history(vial).patient_ids,
    )


def vial_open_draws(vial: Vial) -> list[LedgerEntry]:
    """The draws from ``vial`` not yet recorded as given or wasted in full."""
    return [d for d in services.open_draws(vial.clinic) if d.vial_id == vial.pk]


def waste_choices(draws: list[LedgerEntry]) -> list[tuple[int, str]]:
    """The waste form's choice of draw, each with what of it is not yet accounted for."""
    return [
        (
            d.pk,
            f"#{d.seq} {d.patient.display_name if d.patient else ''}: "
            f"{services.draw_remaining_mg(d)} mg not yet accounted for",
        )
        for d in draws
    ]


# ---- draws ----------------------------------------------------------------------------------


def _day_appointments(user: User, day: dt.date) -> QuerySet[Appointment]:
    """The user's clinic's appointments on ``day`` (the clinic's day), not cancelled."""
    if user.clinic is None:
        return Appointment.objects.none()
    start = clinic_datetime(user.clinic, day, dt.time.min)
    return Appointment.objects.filter(
        patient__in=patients_for_user(user),
        starts_at__gte=start,
        starts_at__lt=clinic_datetime(user.clinic, day + dt.timedelta(days=1), dt.time.min),
    ).exclude(status__in=NOT_ATTENDED)


def draw_patients(user: User, day: dt.date) -> QuerySet[Patient]:
    """The patients ketamine may be drawn for on ``day``: this clinic's, with a signed candidacy
    decision, a current informed consent and an infusion appointment that day; active records
    only."""
    booked = {a.patient_id for a in _day_appointments(user, day)}
    ready = [
        p.pk
        for p in Patient.objects.filter(pk__in=booked)
        if signed_candidacy_for(p) is not None and current_consent_for(p) is not None
    ]
    return (
        patients_for_user(user)
        .filter(pk__in=ready, active=True)
        .order_by("family_name", "given_name")
    )


def draw_sessions(user: User, day: dt.date, lot: str) -> QuerySet[InfusionSession]:
    """The infusion sessions of that day whose record names ``lot`` (for a draw to name)."""
    appointments = _day_appointments(user, day).values_list("pk", flat=True)
    return (
        InfusionSession.objects.filter(appointment_id__in=list(appointments), vial_lot=lot)
        .select_related("patient")
        .order_by("-created_at")
    )


# ---- entries --------------------------------------------------------------------------------


@dataclass
class SessionCheck:
    """A draw for an infusion session against what its record says was delivered."""

    infusion_mg: Decimal | None
    remaining_mg: Decimal
    ended: bool


@dataclass
class EntryPage(Page):
    entry: LedgerEntry
    deadline: dt.datetime | None  # a loss: when the DEA Field Division must be told
    overdue: bool
    session_check: SessionCheck | None
    corrections: list[LedgerEntry]
    remaining_mg: Decimal | None  # a draw: what is not yet given or wasted
    open_draw: bool  # a draw still standing whose administration is not recorded

    @property
    def corrected(self) -> bool:
        return bool(self.corrections)


def entry_page(entry: LedgerEntry) -> EntryPage:
    deadline = None
    if entry.kind == Kind.LOST and entry.form_data.get("notify_field_division_by"):
        deadline = dt.datetime.fromisoformat(entry.form_data["notify_field_division_by"])
    corrections = list(entry.corrections.all())
    drawn = entry.kind == Kind.DRAWN
    session_check = None
    if drawn and entry.session is not None:
        session_check = SessionCheck(
            infusion_mg=services.session_given_mg(entry.session),
            remaining_mg=services.draw_remaining_mg(entry),
            ended=entry.session.ended_at is not None,
        )
    return EntryPage(
        entry=entry,
        deadline=deadline,
        overdue=deadline is not None and deadline < timezone.now(),
        session_check=session_check,
        corrections=corrections,
        remaining_mg=services.draw_remaining_mg(entry) if drawn else None,
        open_draw=drawn
        and not corrections
        and not entry.dispositions.filter(kind=Kind.ADMINISTERED).exists(),
    )


# ---- counts, cases, inventories -------------------------------------------------------------


def second_counter_required(clinic: Clinic) -> bool:
    return services.ledger_settings_for(clinic.pk).second_counter_required


def cases_opened(count: Count) -> int:
    """How many discrepancy cases ``count`` opened."""
    return DiscrepancyCase.objects.filter(count_line__count=count).count()


@dataclass
class CountPage(Page):
    count: Count
    rows: list[tuple[CountLine, DiscrepancyCase | None]]


def count_page(count: Count) -> CountPage:
    lines = count.lines.select_related("vial", "vial__product")
    cases = {c.count_line_id: c for c in DiscrepancyCase.objects.filter(count_line__count=count)}
    return CountPage(count=count, rows=[(line, cases.get(line.pk)) for line in lines])


@dataclass
class CasePage(Page):
    case: DiscrepancyCase
    adjustments: list[LedgerEntry]


def case_page(case: DiscrepancyCase) -> CasePage:
    return CasePage(case=case, adjustments=list(case.entries.all()))


# ---- reports --------------------------------------------------------------------------------


@dataclass
class ReportsIndex(Page):
    start: dt.date
    end: dt.date
    inventories: list[Inventory]
    biennial_due: dt.date | None
    counts: list[Count]


def reports_index(clinic: Clinic) -> ReportsIndex:
    today = clinic_today(clinic)
    return ReportsIndex(
        start=today - dt.timedelta(days=31),
        end=today,
        inventories=list(Inventory.objects.filter(clinic=clinic).select_related("taken_by")),
        biennial_due=services.biennial_due(clinic),
        counts=list(Count.objects.filter(clinic=clinic).select_related("counted_by")[:30]),
    )
