"""Counts (ketaflow.ledger.services.counts): every vial counted, a case for each difference,
the optional second counter."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ketaflow.audit.models import AuditEntry
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    Count,
    DiscrepancyCase,
    LedgerEntry,
    LedgerSettings,
    Vial,
)
from ketaflow.ledger.verify import ledger_check
from tests.ledger.builders import (
    Stock,
    count_lines_for,
    draw,
    nurse,
    other_director,
    refusal,
)
from tests.web.conftest import PASSWORD, World

Kind = LedgerEntry.Kind


def test_a_matching_count_opens_no_case(world: World, stock: Stock) -> None:
    draw(world, stock.vials[0], "2.5")
    count = services.count_record(
        actor=nurse(world), clinic=world.clinic, shift="closing", lines=count_lines_for(stock)
    )
    assert count.lines.count() == 3
    assert not DiscrepancyCase.objects.exists()


def test_a_count_must_cover_every_vial(world: World, stock: Stock) -> None:
    with pytest.raises(ValidationError, match="not counted: K"):
        services.count_record(
            actor=nurse(world),
            clinic=world.clinic,
            shift="closing",
            lines=count_lines_for(stock)[:2],
        )


def count_lines(world: World) -> list[services.CountInput]:
    return [
        services.CountInput(vial_id=v.pk, present=True)
        for v in Vial.objects.filter(clinic=world.clinic, status__in=services.IN_STOCK)
    ]


def test_a_count_needs_no_second_counter_by_default(world: World, stock: Stock) -> None:
    count = services.count_record(
        actor=nurse(world), clinic=world.clinic, shift="closing", lines=count_lines(world)
    )
    assert count.second_counter is None


def test_when_the_clinic_asks_a_count_needs_a_second_counter(world: World, stock: Stock) -> None:
    LedgerSettings.objects.create(clinic=world.clinic, second_counter_required=True)
    for username, password, message in [
        ("", "", "the second counter signs with their own username and password"),
        ("prescriber", "wrong", "the second counter's username or password is wrong"),
        ("nurse", PASSWORD, "the second counter must be a second person"),
        ("foreign", PASSWORD, "the second counter must be a member of staff of this clinic"),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.count_record(
                actor=nurse(world),
                clinic=world.clinic,
                shift="closing",
                lines=count_lines(world),
                second_counter_username=username,
                second_counter_password=password,
            )
        assert "second_counter_username" in exc.value.message_dict
        assert message in refusal(exc)
    assert not Count.objects.exists()
    count = services.count_record(
        actor=nurse(world),
        clinic=world.clinic,
        shift="closing",
        lines=count_lines(world),
        second_counter_username="prescriber",
        second_counter_password=PASSWORD,
    )
    assert count.second_counter == world.prescriber
    audit = AuditEntry.objects.get(object_type="ledger_count", object_id=str(count.pk))
    assert audit.detail["second_counter"] == "prescriber"
    assert ledger_check().ok


def test_the_count_page_asks_for_the_second_counter_only_when_on(
    world: World, stock: Stock, client_for: Any
) -> None:
    c = client_for(world.nurse)
    url = reverse("ledger_count_new")
    assert "second_counter_username" not in c.get(url).content.decode()
    LedgerSettings.objects.create(clinic=world.clinic, second_counter_required=True)
    assert "second_counter_username" in c.get(url).content.decode()
    post = {"shift": "closing"} | {f"present_{v.pk}": "on" for v in stock.vials}
    response = c.post(url, post)
    assert response.status_code == 200
    assert "Second counter: username" in response.content.decode()
    assert not Count.objects.exists()
    response = c.post(
        url, post | {"second_counter_username": "prescriber", "second_counter_password": "x"}
    )
    assert "the second counter&#x27;s username or password is wrong" in response.content.decode()
    assert not Count.objects.exists()
    response = c.post(
        url,
        post | {"second_counter_username": "prescriber", "second_counter_password": PASSWORD},
    )
    assert response.status_code == 302
    count = Count.objects.get()
    assert count.second_counter == world.prescriber
    page = c.get(reverse("ledger_count", args=[count.pk])).content.decode()
    assert "(second counter)" in page
    # Another clinic's director counts their own clinic's stock (no second counter asked:
    # the setting is this clinic's), never this clinic's vials; a patient has no ledger.
    other = client_for(other_director(world))
    page = other.get(url).content.decode()
    assert "second_counter_username" not in page
    assert stock.vials[0].label not in page
    other.post(url, post)
    patient = client_for(world.patient_user)
    assert patient.get(url).status_code == 404
    assert patient.post(url, post).status_code == 404
    assert Count.objects.filter(clinic=world.clinic).count() == 1
    assert not Count.objects.filter(clinic=world.other_clinic, lines__vial__in=stock.vials)
