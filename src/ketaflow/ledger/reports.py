"""The reports an inspector reads, as tables, rendered to HTML (templates), CSV and PDF.

The dispensing/administration record holds what 21 CFR 1304.22(c) asks of a dispenser's
record (clinical.md section 7): substance, finished form and strength, container volume,
quantity dispensed or administered with the patient's name and address, the date, and who
dispensed or administered it; here also the witness of every waste."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ketaflow.accounts.clinictime import clinic_zone, zone_words
from ketaflow.accounts.models import Clinic
from ketaflow.ledger.models import DiscrepancyCase, Inventory, LedgerEntry, Vial
from ketaflow.patients.models import Patient
from ketaflow.web.export import csv_text, pdf_text


@dataclass
class Report:
    name: str
    title: str
    subtitle: list[str]
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    patient_ids: list[int] = field(default_factory=list)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def __post_init__(self) -> None:
        self.subtitle.append(f"Times are {zone_words(self.zone.key, abbreviation=False)}")


def _mg(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def _when(value: dt.datetime | None, zone: ZoneInfo) -> str:
    """An instant on the clinic's wall clock (the report says its zone)."""
    return "" if value is None else f"{timezone.localtime(value, zone):%Y-%m-%d %H:%M}"


def _address(patient: Patient) -> str:
    parts = [patient.address_line, patient.city, patient.region, patient.postal_code]
    return ", ".join(p for p in parts if p) or "(no address on file)"


def _product(vial: Vial) -> str:
    p = vial.product
    return (
        f"{p.name} {p.concentration_mg_per_ml.normalize():f} mg/mL, "
        f"{p.volume_per_vial_ml.normalize():f} mL vial, NDC {p.ndc}"
    )


def _entries(clinic: Clinic) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(clinic=clinic).select_related(
        "vial", "vial__product", "patient", "corrects", "actor", "witness", "witness2"
    )


def _person(username: str, user: object) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return f"{full} ({username})" if full else username


def administration_record(clinic: Clinic, start: dt.date, end: dt.date) -> Report:
    tz = zone = clinic_zone(clinic)
    since = dt.datetime.combine(start, dt.time.min).replace(tzinfo=tz)
    until = dt.datetime.combine(end, dt.time.max).replace(tzinfo=tz)
    entries = (
        _entries(clinic)
        .filter(at__gte=since, at__lte=until, patient__isnull=False)
        .order_by("at", "seq")
    )
    report = Report(
        zone=zone,
        name="administration",
        title="Dispensing and administration record (ketamine, Schedule III)",
        subtitle=[
            f"{clinic.name}, {clinic.address}",
            f"{start.isoformat()} to {end.isoformat()}; record content per 21 CFR 1304.22(c)",
        ],
        headers=[
            "Date",
            "Entry",
            "Record",
            "Patient",
            "Patient address",
            "Session",
            "Substance, form, strength",
            "Vial / lot",
            "Amount (mg)",
            "Volume (mL)",
            "By",
            "Witness",
        ],
    )
    for e in entries:
        if e.patient is None:
            continue
        record = e.get_kind_display()
        if e.corrects is not None:
            record = f"Correction of #{e.corrects.seq}: {e.reason}"
        report.rows.append(
            [
                _when(e.at, zone),
                f"#{e.seq}",
                record,
                f"{e.patient.family_name}, {e.patient.given_name} (MRN {e.patient.mrn})",
                _address(e.patient),
                str(e.session_id or ""),
                _product(e.vial),
                f"{e.vial.label} / {e.vial.lot}",
                _mg(e.quantity_mg),
                _mg(e.volume_ml),
                _person(e.actor_username, e.actor),
                _person(e.witness_username, e.witness) if e.witness_username else "",
            ]
        )
        report.patient_ids.append(e.patient.pk)
    return report


def full_ledger(clinic: Clinic, start: dt.date, end: dt.date) -> Report:
    """Every entry: receipts, draws, administrations, wastes, destructions, losses, adjustments
    and corrections, with the running balance of each vial."""
    tz = zone = clinic_zone(clinic)
    since = dt.datetime.combine(start, dt.time.min).replace(tzinfo=tz)
    until = dt.datetime.combine(end, dt.time.max).replace(tzinfo=tz)
    report = Report(
        zone=zone,
        name="ledger",
        title="Controlled-substance ledger (all entries)",
        subtitle=[f"{clinic.name}", f"{start.isoformat()} to {end.isoformat()}"],
        headers=[
            "Date",
            "Entry",
            "Vial / lot",
            "Kind",
            "Quantity (mg)",
            "Change in vial (mg)",
            "Vial balance (mg)",
            "Drawn, not yet given/wasted (mg)",
            "Patient",
            "By",
            "Witnesses",
            "Reason",
        ],
    )
    entries = _entries(clinic).filter(at__gte=since, at__lte=until).order_by("seq")
    _entry_rows(report, entries, zone, vial_column=True, reason=lambda e: e.reason)
    return report


def _entry_rows(
    report: Report,
    entries: Iterable[LedgerEntry],
    zone: ZoneInfo,
    *,
    vial_column: bool,
    reason: Callable[[LedgerEntry], str],
) -> None:
    """One row an entry (the full ledger's, with its vial; a vial's history, without), and the
    patients it names."""
    for e in entries:
        kind = e.get_kind_display()
        if e.corrects is not None:
            kind = f"Correction of #{e.corrects.seq}"
        report.rows.append(
            [
                _when(e.at, zone),
                f"#{e.seq}",
                *([f"{e.vial.label} / {e.vial.lot}"] if vial_column else []),
                kind,
                _mg(e.quantity_mg),
                _mg(e.amount_mg),
                _mg(e.balance_after_mg),
                _mg(e.pending_after_mg),
                e.patient.display_name if e.patient is not None else "",
                e.actor_username,
                ", ".join(w for w in (e.witness_username, e.witness2_username) if w),
                reason(e),
            ]
        )
        if e.patient_id is not None:
            report.patient_ids.append(e.patient_id)


def vial_history(vial: Vial) -> Report:
    zone = clinic_zone(vial.clinic)
    report = Report(
        zone=zone,
        name="vial",
        title=f"Vial {vial.label}: history",
        subtitle=[
            _product(vial),
            f"lot {vial.lot}, expires {vial.expires_on.isoformat()}, "
            f"received with invoice {vial.receipt.invoice_number} "
            f"from {vial.receipt.supplier_name}; status {vial.get_status_display()}",
        ],
        headers=[
            "Date",
            "Entry",
            "Kind",
            "Quantity (mg)",
            "Change (mg)",
            "Balance (mg)",
            "Pending (mg)",
            "Patient",
            "By",
            "Witnesses",
            "Reason / note",
        ],
    )
    entries = _entries(vial.clinic).filter(vial=vial).order_by("seq")
    _entry_rows(
        report,
        entries,
        zone,
        vial_column=False,
        reason=lambda e: "; ".join(t for t in (e.reason, e.note) if t),
    )
    return report


def inventory_report(inventory: Inventory) -> Report:
    zone = clinic_zone(inventory.clinic)
    report = Report(
        zone=zone,
        name="inventory",
        title=f"{inventory.get_kind_display()} of {inventory.clinic.name}",
        subtitle=[
            f"Taken {_when(inventory.taken_at, zone)} "
            f"at the {inventory.get_timing_display().lower()} "
            f"by {inventory.taken_by.get_full_name() or inventory.taken_by.get_username()} "
            "(21 CFR 1304.11(a): the record says opening or close of business)",
            "Sealed vials counted exactly; open Schedule III vials may be estimated "
            "(21 CFR 1304.11(e)(3)).",
        ],
        headers=[
            "Product",
            "NDC",
            "Strength (mg/mL)",
            "Vial",
            "Lot",
            "Container",
            "Count method",
            "Measured volume (mL)",
            "Counted (mg)",
            "Ledger (mg)",
        ],
    )
    for line in inventory.lines.select_related("vial").order_by("vial__label"):
        report.rows.append(
            [
                line.product_name,
                line.ndc,
                _mg(line.concentration_mg_per_ml),
                line.vial.label,
                line.lot,
                "sealed" if line.sealed else "open",
                line.get_method_display(),
                _mg(line.measured_volume_ml),
                _mg(line.counted_mg),
                _mg(line.ledger_mg),
            ]
        )
    return report


def discrepancy_history(clinic: Clinic) -> Report:
    zone = clinic_zone(clinic)
    report = Report(
        zone=zone,
        name="discrepancies",
        title="Count discrepancies",
        subtitle=[
            clinic.name,
            "Every difference between a count and the ledger, and its resolution",
        ],
        headers=[
            "Opened",
            "Case",
            "Vial",
            "Ledger (mg)",
            "Counted (mg)",
            "Difference (mg)",
            "Status",
            "Outcome",
            "Resolved by",
            "Resolved",
            "Reason",
        ],
    )
    cases = DiscrepancyCase.objects.filter(clinic=clinic).select_related("vial", "resolved_by")
    for case in cases.order_by("opened_at", "pk"):
        report.rows.append(
            [
                _when(case.opened_at, zone),
                str(case.pk),
                case.vial.label,
                _mg(case.expected_mg),
                _mg(case.counted_mg),
                _mg(case.difference_mg),
                case.get_status_display(),
                case.get_outcome_display() if case.outcome else "",
                case.resolved_by.get_username() if case.resolved_by else "",
                _when(case.resolved_at, zone),
                case.resolution_reason,
            ]
        )
    return report


def to_csv(report: Report) -> str:
    """The report as CSV; text cells a spreadsheet would run as formulas are neutralised."""
    return csv_text(
        [[report.title], *([line] for line in report.subtitle), report.headers, *report.rows]
    )


def pdf_story(report: Report) -> list[object]:
    """The PDF's flowables; every text from a record is escaped for reportlab's markup."""
    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=6.5, leading=8)
    head = cell.clone("head", fontName="Helvetica-Bold")
    body = styles["BodyText"]
    story: list[object] = [Paragraph(pdf_text(report.title), styles["Heading2"])]
    story += [Paragraph(pdf_text(line), body) for line in report.subtitle]
    story.append(
        Paragraph(pdf_text(f"Printed {_when(timezone.now(), report.zone)} from KetaFlow"), body)
    )
    story.append(Spacer(1, 8))
    data = [[Paragraph(pdf_text(h), head) for h in report.headers]]
    data += [[Paragraph(pdf_text(v), cell) for v in row] for row in report.rows]
    if not report.rows:
        data.append([Paragraph("No entries.", cell)] + [""] * (len(report.headers) - 1))
    table = Table(data, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6f2f6")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(table)
    return story


def to_pdf(report: Report) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(letter),
        leftMargin=0.4 * inch,
        rightMargin=0.4 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.5 * inch,
        title=report.title,
        author="KetaFlow",
    )
    doc.build(pdf_story(report))
    return out.getvalue()
