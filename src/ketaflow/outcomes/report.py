"""The patient progress report as a PDF (reportlab, pure Python: no system packages).

For the clinical record or a referring clinician: status per measure with its explanation, the
trajectory chart, every score, the infusions with dates and doses, adverse events from the
infusion sessions, and the booster history. Every page has a footer saying who generated it and
when, and that it is confidential. The caller checks access and audits the export.
"""

from __future__ import annotations

import io
from typing import Any

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ketaflow.accounts.models import User
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.infusions.models import InfusionSession, SideEffect
from ketaflow.outcomes.charts import trajectory_png
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.outcomes.selectors import INFUSION_STATUSES, trajectory
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Appointment
from ketaflow.treatment.services import clinic_zone
from ketaflow.web.export import pdf_text

MARGIN = 16 * mm
GRID = TableStyle(
    [
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6edf1")),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c4cc")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    """Every Paragraph of the report: its text is literal, never reportlab markup (plain string
    cells of a Table are drawn as they are and need no escaping)."""
    return Paragraph(pdf_text(text), style)


FRAME_WIDTH = A4[0] - 2 * MARGIN
CELL = ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=10)
HEAD = ParagraphStyle("head", parent=CELL, fontName="Helvetica-Bold")


def _table(
    header: list[str], rows: list[list[Any]], widths: list[float | None] | None = None
) -> Table:
    """A table that fits the page: every cell is a paragraph that wraps inside its column, and
    the columns without a set width share what the others leave of the frame."""
    empty: list[Any] = ["none recorded", *[""] * (len(header) - 1)]
    given = widths or [None] * len(header)
    free = FRAME_WIDTH - sum(w for w in given if w is not None)
    share = free / max(1, sum(1 for w in given if w is None))
    columns = [w if w is not None else share for w in given]
    data = [[_p(h, HEAD) for h in header]]
    data += [
        [v if isinstance(v, Flowable) else _p(v, CELL) for v in row] for row in rows or [empty]
    ]
    table = Table(data, colWidths=columns, repeatRows=1)
    table.setStyle(GRID)
    return table


def progress_report_pdf(patient: Patient, *, generated_by: User) -> tuple[bytes, int]:
    """The report as PDF bytes and its number of pages."""
    zone = clinic_zone(patient.clinic)
    now = timezone.localtime(timezone.now(), zone)
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    traj = trajectory(patient)
    story: list[Any] = [
        _p("Patient progress report", styles["Title"]),
        _p(
            f"{patient.given_name} {patient.family_name} · MRN {patient.mrn} · born "
            f"{patient.date_of_birth:%Y-%m-%d} · {patient.clinic}",
            styles["Heading3"],
        ),
        _p("For the clinical record or a referring clinician.", small),
        Spacer(1, 4 * mm),
        _p("Status per measure", styles["Heading2"]),
    ]
    rows: list[list[Any]] = []
    for m in traj.measures:
        change = (
            f"{m.assessment.percent_change:.1f}%"
            if m.assessment is not None and m.assessment.percent_change is not None
            else "—"
        )
        rows.append(
            [
                m.label,
                f"{m.baseline.score} ({m.baseline.on})" if m.baseline else "—",
                f"{m.latest.score} ({m.latest.on})" if m.latest else "—",
                change,
                m.status.label,
                f"{m.time_to_response_days} d" if m.time_to_response_days is not None else "—",
                f"{m.weeks_in_response}" if m.weeks_in_response is not None else "—",
            ]
        )
    story.append(
        _table(
            ["Measure", "Baseline", "Latest", "Change", "Status", "To response", "Weeks in resp."],
            rows,
        )
    )
    for m in traj.measures:
        story.append(_p(f"{m.label}: {m.explanation}", small))
    if any(m.points for m in traj.measures):
        png = trajectory_png(traj, width_px=1000, title=f"Trajectory of {patient.display_name}")
        width = A4[0] - 2 * MARGIN
        image = Image(io.BytesIO(png))
        image.drawHeight = image.imageHeight * width / image.imageWidth
        image.drawWidth = width
        story += [Spacer(1, 3 * mm), image]
    story.append(_p("Scores", styles["Heading2"]))
    scores = InstrumentResponse.objects.filter(patient=patient).order_by("taken_at", "pk")
    story.append(
        _table(
            ["Date", "Instrument", "Total", "Context", "Source"],
            [
                [
                    f"{timezone.localtime(r.taken_at, zone):%Y-%m-%d %H:%M}",
                    r.get_instrument_display(),
                    f"{r.total.normalize():f}",
                    r.context or "—",
                    r.get_source_display(),
                ]
                for r in scores
            ],
        )
    )
    story.append(_p("Infusions", styles["Heading2"]))
    sessions = {s.appointment_id: s for s in InfusionSession.objects.filter(patient=patient)}
    infusion_rows: list[list[Any]] = []
    for a in (
        Appointment.objects.filter(patient=patient, status__in=INFUSION_STATUSES)
        .select_related("course")
        .order_by("starts_at")
    ):
        s = sessions.get(a.pk)
        when = s.started_at if s is not None and s.started_at is not None else a.starts_at
        if s is not None and s.delivered_dose_mg is not None:
            dose = f"{s.delivered_dose_mg:.1f} mg delivered"
        elif s is not None and s.dose_mg is not None:
            dose = f"{s.dose_mg:.1f} mg ordered"
        else:
            dose = f"{a.course.dose_mg_per_kg.normalize():f} mg/kg planned"
        infusion_rows.append(
            [
                f"{timezone.localtime(when, zone):%Y-%m-%d}",
                f"{a.course.get_kind_display()} #{a.sequence}",
                dose,
                f"{a.course.duration_min.normalize():f} min",
                s.get_status_display() if s is not None else a.get_status_display(),
            ]
        )
    story.append(_table(["Date", "Course", "Dose", "Duration", "Status"], infusion_rows))
    story.append(_p("Adverse events", styles["Heading2"]))
    story.append(
        _table(
            ["Date", "Type", "Severity", "Treatment", "Note"],
            [
                [
                    f"{timezone.localtime(e.onset_at, zone):%Y-%m-%d %H:%M}",
                    e.get_kind_display()
                    + (f": {e.other_description}" if e.other_description else ""),
                    e.get_severity_display(),
                    " ".join(
                        x
                        for x in (
                            e.medication,
                            f"{e.dose_amount.normalize():f}" if e.dose_amount is not None else "",
                            e.dose_unit,
                            e.get_route_display() if e.route else "",
                        )
                        if x
                    )
                    or "—",
                    _p(e.note or "—", small),
                ]
                for e in SideEffect.objects.filter(session__patient=patient).order_by("onset_at")
            ],
            [28 * mm, 32 * mm, 20 * mm, 38 * mm, None],
        )
    )
    story.append(_p("Booster history", styles["Heading2"]))
    story.append(
        _table(
            ["Raised", "Measure", "Loss from", "Status", "Decided", "Reason / outcome"],
            [
                [
                    f"{timezone.localtime(r.created_at, zone):%Y-%m-%d}",
                    r.measure_label,
                    f"{r.lost_on}",
                    r.get_status_display(),
                    f"{r.decided_by} {timezone.localtime(r.decided_at, zone):%Y-%m-%d}"
                    if r.decided_by is not None and r.decided_at is not None
                    else "—",
                    _p(
                        r.decline_reason
                        or (f"Booster course from {r.course.start_on}" if r.course else r.reason),
                        small,
                    ),
                ]
                for r in BoosterRecommendation.objects.filter(patient=patient)
                .select_related("decided_by", "course")
                .order_by("created_at")
            ],
            [20 * mm, 18 * mm, 22 * mm, 18 * mm, 34 * mm, None],
        )
    )
    story.append(Spacer(1, 4 * mm))
    story.append(
        _p(
            "Outcome status from the clinic's outcome rules (ketaflow.clinical.outcomes); "
            "sources: " + "; ".join(sorted({m.source for m in traj.measures if m.source})),
            small,
        )
    )
    who = generated_by.get_full_name() or generated_by.get_username()
    footer = (
        f"CONFIDENTIAL patient information · generated by {who} "
        f"({generated_by.role_enum.label}) on {now:%Y-%m-%d %H:%M %Z} · KetaFlow"
    )

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#5b6b75"))
        page = f"page {doc.page}"
        room = FRAME_WIDTH - canvas.stringWidth(page, "Helvetica", 7) - 4 * mm
        size = 7.0
        while size > 4 and canvas.stringWidth(footer, "Helvetica", size) > room:
            size -= 0.25  # a long name or role: the footer shrinks rather than runs off the page
        canvas.setFont("Helvetica", size)
        canvas.drawString(MARGIN, 9 * mm, footer)
        canvas.setFont("Helvetica", 7)
        canvas.drawRightString(A4[0] - MARGIN, 9 * mm, page)
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=18 * mm,
        title=f"Progress report: {patient.given_name} {patient.family_name}",
        author=who,
        subject="Confidential patient progress report",
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue(), int(doc.page)
