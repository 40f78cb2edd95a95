"""The ledger's pages (ketaflow.ledger.views): every page renders and is audited; receive, draw,
witnessed waste and a count with a discrepancy over HTTP; the verify button."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils import timezone

from ketaflow.audit.models import AuditEntry
from ketaflow.ledger.models import (
    DiscrepancyCase,
    LedgerEntry,
    Vial,
)
from tests.ledger.builders import (
    Stock,
    draw,
    ledger_pages,
    make_appointment,
    page_urls,
    receive,
)
from tests.web.conftest import PASSWORD, World

Kind = LedgerEntry.Kind


def test_every_ledger_page_renders_and_is_audited(
    world: World, stock: Stock, client_for: Any
) -> None:
    pages = ledger_pages(world, stock)
    c = client_for(world.director)
    for name, url in page_urls(pages).items():
        before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = c.get(url, REMOTE_ADDR="10.9.8.7")
        assert response.status_code == 200, (name, response.status_code)
        new = AuditEntry.objects.filter(
            id__gt=before, actor=world.director, ip_address="10.9.8.7", action="view"
        )
        assert new.exists(), name
        assert b"<script>" not in response.content, name
        assert b"style=" not in response.content, name


def test_receive_draw_and_witnessed_waste_over_http(world: World, client_for: Any) -> None:
    stock = receive(world, count=1)
    c = client_for(world.nurse)
    response = c.post(
        reverse("ledger_receive"),
        {
            "product": stock.product.pk,
            "lot": "LOT-9",
            "expires_on": (timezone.localdate() + dt.timedelta(days=200)).isoformat(),
            "vial_count": 2,
            "supplier_name": "Supplier Inc",
            "supplier_address": "1 Depot Rd",
            "supplier_dea_number": "RS0000000",
            "invoice_number": "INV-77",
        },
    )
    assert response.status_code == 302
    assert Vial.objects.filter(lot="LOT-9").count() == 2
    vial = stock.vials[0]
    url = reverse("ledger_draw", args=[vial.pk])
    # Only a patient with candidacy, consent and an infusion appointment today is offered.
    response = c.post(url, {"patient": world.patient.pk, "volume_ml": "2"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    make_appointment(world)
    assert b"Berg, Bruno" not in c.get(url).content
    response = c.post(url, {"patient": world.other_patient.pk, "volume_ml": "2"})
    assert b"Select a valid choice" in response.content
    assert b"Anders, Alice" in c.get(url).content
    response = c.post(url, {"patient": world.patient.pk, "volume_ml": "2"})
    assert response.status_code == 302
    d = LedgerEntry.objects.get(kind=Kind.DRAWN)
    form = {"draw": d.pk, "amount_mg": "100", "reason": "not needed"}
    wrong = c.post(
        reverse("ledger_waste", args=[vial.pk]),
        {**form, "witness_username": "prescriber", "witness_password": "wrong"},
    )
    assert wrong.status_code == 200
    assert b"username or password is wrong" in wrong.content
    assert b"wrong" not in wrong.content.split(b"witness_password")[1][:200]
    ok = c.post(
        reverse("ledger_waste", args=[vial.pk]),
        {**form, "witness_username": "prescriber", "witness_password": PASSWORD},
    )
    assert ok.status_code == 302
    assert LedgerEntry.objects.get(kind=Kind.WASTED).witness_id == world.prescriber.pk


def test_count_with_a_discrepancy_and_resolution_over_http(
    world: World, stock: Stock, client_for: Any
) -> None:
    draw(world, stock.vials[0], "1")  # 450 mg = 9 mL left
    data: dict[str, str] = {"shift": "closing"}
    for vial in stock.vials:
        data[f"present_{vial.pk}"] = "on"
    data[f"volume_{stock.vials[0].pk}"] = "8.8"
    response = client_for(world.nurse).post(reverse("ledger_count_new"), data)
    assert response.status_code == 302
    case = DiscrepancyCase.objects.get()
    assert case.difference_mg == Decimal(-10)
    director = client_for(world.director)
    page = director.get(reverse("ledger_case", args=[case.pk]))
    assert b"Resolve (medical director)" in page.content
    done = director.post(
        reverse("ledger_case", args=[case.pk]), {"outcome": "adjust", "reason": "recounted"}
    )
    assert done.status_code == 302
    assert LedgerEntry.objects.get(kind=Kind.ADJUSTED).amount_mg == Decimal(-10)


def test_verify_button_reports_the_chain(world: World, stock: Stock, client_for: Any) -> None:
    response = client_for(world.nurse).post(reverse("ledger_verify"), follow=True)
    assert b"ledger chain intact: 3 entries verified" in response.content


def _home_queries(client: Any) -> tuple[int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("ledger_home"))
    assert response.status_code == 200
    # The user's clinic comes with the user (accounts.backends); the page read it again.
    clinic_reads = [q["sql"] for q in queries if q["sql"].startswith('SELECT "accounts_clinic"')]
    assert clinic_reads == []
    return len(queries), response.content.decode()


def test_the_home_page_lists_open_draws_in_queries_that_do_not_grow_with_them(
    world: World, stock: Stock, client_for: Any
) -> None:
    from tests.ledger.builders import waste

    c = client_for(world.director)
    _home_queries(c)  # the session's first page (it is saved then, and once a minute after)
    first = draw(world, stock.vials[0], "1")  # 50 mg
    waste(world, stock.fresh(0), "3", draw=first)  # 47 mg left of it: open
    gone = draw(world, stock.fresh(1), "1")
    waste(world, stock.fresh(1), "50", draw=gone)  # all of it wasted: not open
    one, page = _home_queries(c)
    assert f"#{first.seq}</a>" in page
    assert f"#{gone.seq}</a>" not in page
    more = [draw(world, stock.fresh(2), "1") for _ in range(3)]
    three, page = _home_queries(c)
    assert all(f"#{d.seq}</a>" in page for d in [first, *more])
    assert three == one, "the ledger home page's queries grow with its open draws"
