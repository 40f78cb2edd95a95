"""The ledger's reports (ketaflow.ledger.reports): CSV and PDF exports, audited; the
administration record names patient, amount and witness."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from django.urls import reverse

from ketaflow.audit.models import AuditEntry
from ketaflow.ledger.models import (
    LedgerEntry,
)
from tests.ledger.builders import (
    Stock,
    draw,
    ledger_pages,
    page_urls,
    pdf_text,
    waste,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_exports_are_valid_csv_and_pdf_and_audited(
    world: World, stock: Stock, client_for: Any
) -> None:
    pages = ledger_pages(world, stock)
    c = client_for(world.prescriber)
    for name, url in page_urls(pages).items():
        if "/reports/" not in url or url == reverse("ledger_reports"):
            continue
        joiner = "&" if "?" in url else "?"
        response = c.get(f"{url}{joiner}format=csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0][0], name
        assert len(rows) >= 3, name
        pdf = c.get(f"{url}{joiner}format=pdf")
        assert pdf["Content-Type"] == "application/pdf"
        body = pdf.content
        assert body.startswith(b"%PDF-"), name
        assert body.rstrip().endswith(b"%%EOF"), name
        assert re.search(rb"/Type\s*/Page[^s]", body), name
    exports = AuditEntry.objects.filter(action="export", object_type="ledger_report")
    assert exports.count() == 10
    administration = exports.filter(object_id="administration").first()
    assert administration is not None
    assert administration.detail["patient_ids"] == [world.patient.pk]


def test_the_administration_record_names_patient_amount_and_witness(
    world: World, stock: Stock, client_for: Any
) -> None:
    d = draw(world, stock.vials[0], "1")
    waste(world, stock.fresh(0), "4.5", draw=d)
    c = client_for(world.nurse)
    url = reverse("ledger_report", args=["administration"])
    rows = list(csv.reader(io.StringIO(c.get(url + "?format=csv").content.decode())))
    header = rows.index(next(r for r in rows if r and r[0] == "Date"))
    table = [dict(zip(rows[header], r, strict=True)) for r in rows[header + 1 :]]
    assert [(r["Record"], r["Amount (mg)"], r["Witness"]) for r in table] == [
        ("Drawn for a patient", "50.000", ""),
        ("Wasted (witnessed)", "4.500", "Dana (prescriber)"),
    ]
    assert table[0]["Patient"].startswith("Anders, Alice")
    assert b"Anders, Alice" in pdf_text(c.get(url + "?format=pdf").content)


def test_only_a_report_of_a_period_offers_the_period(
    world: World, stock: Stock, client_for: Any
) -> None:
    """A vial's history and the discrepancies are whole records: a From/To form on them would
    filter nothing (it did before session 16)."""
    c = client_for(world.prescriber)
    dated = {"administration": "", "ledger": ""}
    whole = {"discrepancies": "", "vial": f"?vial={stock.vials[0].pk}"}
    for name, query in {**dated, **whole}.items():
        page = c.get(reverse("ledger_report", args=[name]) + query).content.decode()
        assert ('name="start"' in page) == (name in dated), name
