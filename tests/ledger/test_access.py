"""Access to the ledger (ketaflow.ledger.access): front desk, patients, another clinic and
anonymous requests see nothing; the roles within the clinic."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketaflow.audit.models import AuditEntry
from ketaflow.ledger.models import (
    LedgerEntry,
)
from tests.ledger.builders import (
    Stock,
    ledger_pages,
    page_urls,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


@pytest.mark.parametrize("who", ["frontdesk", "patient_user"])
def test_front_desk_and_patients_see_nothing_of_the_ledger(
    world: World, stock: Stock, client_for: Any, who: str
) -> None:
    pages = ledger_pages(world, stock)
    c = client_for(getattr(world, who))
    expected = 403 if who == "frontdesk" else 404
    for name, url in page_urls(pages).items():
        assert c.get(url).status_code == expected, name
    home = c.get(reverse("home"))
    assert b"Ledger</a>" not in home.content
    if who == "frontdesk":
        assert AuditEntry.objects.filter(actor=world.frontdesk, action="denied").exists()


def test_another_clinic_sees_nothing_of_this_clinics_ledger(
    world: World, stock: Stock, client_for: Any
) -> None:
    pages = ledger_pages(world, stock)
    c = client_for(world.foreign_prescriber)
    for name, url in page_urls(pages).items():
        response = c.get(url)
        if name in (
            "vial",
            "draw",
            "waste",
            "destroy",
            "loss",
            "entry",
            "count",
            "case",
            "inventory",
            "vial_report",
            "inventory_report",
        ):
            assert response.status_code == 404, name
        else:
            assert response.status_code == 200, name
            assert b"K20" not in response.content, name  # no vial label of the other clinic


def test_roles_within_the_clinic(world: World, stock: Stock, client_for: Any) -> None:
    pages = ledger_pages(world, stock)
    urls = page_urls(pages)
    nurse_client = client_for(world.nurse)
    assert b'href="/ledger/">Ledger</a>' in nurse_client.get(reverse("home")).content
    assert nurse_client.get(urls["destroy"]).status_code == 403
    assert nurse_client.get(urls["inventory_new"]).status_code == 403
    resolve = nurse_client.post(urls["case"], {"outcome": "adjust", "reason": "x"})
    assert resolve.status_code == 403
    correct = nurse_client.post(reverse("ledger_correct", args=[pages.draw.pk]), {"reason": "x"})
    assert correct.status_code == 403
    assert client_for(world.prescriber).get(urls["destroy"]).status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_requests_go_to_login(world: World, stock: Stock, method: str) -> None:
    pages = ledger_pages(world, stock)
    for url in [*page_urls(pages).values(), reverse("ledger_verify")]:
        response = getattr(Client(), method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
