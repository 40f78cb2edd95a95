"""Corrections and reversals (ketaflow.ledger.services.corrections): a reversing entry with a
reason; a whole receipt reversed as one witnessed action, by the director of the clinic only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.urls import reverse

from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.cli import main
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    LedgerEntry,
    Receipt,
    Vial,
)
from ketaflow.ledger.verify import ledger_check
from tests.ledger.builders import (
    CONTENT_MG,
    Stock,
    director,
    draw,
    nurse,
    other_director,
    receive,
    refusal,
    waste,
)
from tests.web.conftest import PASSWORD, World

Kind = LedgerEntry.Kind


def test_a_correction_reverses_an_entry_with_a_reason(world: World, stock: Stock) -> None:
    wrong = waste(world, stock.vials[0], "40")
    director = Actor(user=world.director)
    with pytest.raises(PermissionDenied):
        services.entry_correct(actor=nurse(world), entry=wrong, reason="typo")
    with pytest.raises(ValidationError):
        services.entry_correct(actor=director, entry=wrong, reason=" ")
    fix = services.entry_correct(actor=director, entry=wrong, reason="typed 40 for 4")
    assert (fix.kind, fix.corrects_id, fix.amount_mg, fix.balance_after_mg) == (
        "correction",
        wrong.pk,
        Decimal(40),
        CONTENT_MG,
    )
    with pytest.raises(ValidationError, match="already corrected"):
        services.entry_correct(actor=director, entry=wrong, reason="again")
    result = services.reconcile_vial(stock.fresh(0))
    assert result.balanced
    assert result.wasted_mg == 0
    assert LedgerEntry.objects.filter(pk=wrong.pk).exists()  # the wrong entry is kept


def test_a_draw_is_corrected_only_after_its_dispositions(world: World, stock: Stock) -> None:
    d = draw(world, stock.vials[0], "1")
    w = waste(world, stock.fresh(0), "50", draw=d)
    director = Actor(user=world.director)
    with pytest.raises(ValidationError, match="administration and waste of this draw first"):
        services.entry_correct(actor=director, entry=d, reason="wrong vial")
    services.entry_correct(actor=director, entry=w, reason="wrong vial")
    services.entry_correct(actor=director, entry=d, reason="wrong vial")
    vial = stock.fresh(0)
    assert (vial.in_vial_mg, vial.drawn_pending_mg) == (CONTENT_MG, Decimal(0))
    assert services.reconcile_vial(vial).balanced


def reverse_receipt(world: World, receipt: Receipt, **extra: Any) -> list[LedgerEntry]:
    args: dict[str, Any] = {
        "reason": "entered twice",
        "witness_username": "prescriber",
        "witness_password": PASSWORD,
    }
    args.update(extra)
    return services.receipt_reverse(actor=director(world), receipt=receipt, **args)


def test_a_whole_receipt_is_reversed_in_one_witnessed_action(world: World) -> None:
    stock = receive(world, count=5)
    receipt = stock.vials[0].receipt
    corrections = reverse_receipt(world, receipt)
    assert len(corrections) == 5
    assert {c.kind for c in corrections} == {Kind.CORRECTION}
    assert {c.witness_username for c in corrections} == {"prescriber"}
    assert {c.corrects.kind for c in corrections if c.corrects} == {Kind.RECEIVED}
    assert [c.seq for c in corrections] == list(range(corrections[0].seq, corrections[0].seq + 5))
    for vial in Vial.objects.filter(receipt=receipt):
        assert vial.status == Vial.Status.REVERSED
        assert vial.in_vial_mg == 0
        assert services.reconcile_vial(vial).balanced
    audit = AuditEntry.objects.get(
        object_type="ledger_receipt", object_id=str(receipt.pk), action=AuditEntry.Action.UPDATE
    )
    assert audit.detail["witness"] == "prescriber"
    assert audit.detail["ledger_seqs"] == [c.seq for c in corrections]
    # The chain, every cross-check and the command still pass.
    assert ledger_check().ok
    assert main(["ledger", "verify"]) == 0
    # Reversed once only.
    with pytest.raises(ValidationError) as exc:
        reverse_receipt(world, receipt)
    assert "already reversed" in refusal(exc)


def test_a_receipt_with_a_vial_drawn_from_is_not_reversed(world: World) -> None:
    stock = receive(world, count=3)
    draw(world, stock.fresh(1), "2")
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        reverse_receipt(world, stock.vials[0].receipt)
    assert f"vial {stock.vials[1].label} was drawn from" in refusal(exc)
    assert LedgerEntry.objects.count() == before
    assert not Vial.objects.filter(status=Vial.Status.REVERSED).exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"witness_password": "wrong"}, "the witness's username or password is wrong"),
        ({"witness_username": "director"}, "the witness must be a second person"),
        ({"witness_username": "frontdesk"}, "the witness may not witness"),
        ({"reason": " "}, "say why the receipt is reversed"),
    ],
)
def test_the_reversal_needs_a_reason_and_a_proper_witness(
    world: World, extra: dict[str, str], message: str
) -> None:
    stock = receive(world, count=2)
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        reverse_receipt(world, stock.vials[0].receipt, **extra)
    assert message in refusal(exc)
    assert LedgerEntry.objects.count() == before


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_reversal_witness_password_has_the_guessing_limit(world: World) -> None:
    receipt = receive(world, count=2).vials[0].receipt
    for _ in range(3):
        with pytest.raises(ValidationError):
            reverse_receipt(world, receipt, witness_password="guess")
    with pytest.raises(ValidationError) as exc:
        reverse_receipt(world, receipt)  # the right password, after the limit
    assert "sign-in is paused after too many failed attempts" in refusal(exc)
    assert not Vial.objects.filter(status=Vial.Status.REVERSED).exists()


def test_only_the_director_of_the_clinic_reverses_a_receipt(world: World) -> None:
    receipt = receive(world, count=2).vials[0].receipt
    with pytest.raises(PermissionDenied):
        services.receipt_reverse(
            actor=nurse(world),
            receipt=receipt,
            reason="x",
            witness_username="prescriber",
            witness_password=PASSWORD,
        )
    with pytest.raises(PermissionDenied):
        services.receipt_reverse(
            actor=Actor(user=other_director(world)),
            receipt=receipt,
            reason="x",
            witness_username="prescriber",
            witness_password=PASSWORD,
        )


def test_the_reverse_page_both_ways(world: World, client_for: Any) -> None:
    receipt = receive(world, count=2).vials[0].receipt
    url = reverse("ledger_receipt_reverse", args=[receipt.pk])
    post = {"reason": "sent back", "witness_username": "prescriber", "witness_password": PASSWORD}
    # Another clinic's director and a patient: the receipt does not exist for them.
    for outsider in (other_director(world), world.patient_user):
        c = client_for(outsider)
        assert c.get(url).status_code == 404
        assert c.post(url, post).status_code == 404
    # The nurse and the front desk: known, not permitted (403).
    for user in (world.nurse, world.frontdesk):
        c = client_for(user)
        assert c.get(url).status_code in (403, 404)
        assert c.post(url, post).status_code in (403, 404)
    assert client_for(world.nurse).get(url).status_code == 403
    assert not Vial.objects.filter(status=Vial.Status.REVERSED).exists()
    # The director: the page lists the vials; the post reverses them all.
    c = client_for(world.director)
    page = c.get(url).content.decode()
    assert "Reverse the whole receipt" in page
    for vial in receipt.vials.all():
        assert vial.label in page
    response = c.post(url, post)
    assert response.status_code == 302
    assert Vial.objects.filter(receipt=receipt, status=Vial.Status.REVERSED).count() == 2
    assert "reversed" in c.get(reverse("ledger_receive")).content.decode()
    assert main(["ledger", "verify"]) == 0


def test_a_draw_still_works_after_a_reversed_receipt(world: World) -> None:
    first = receive(world, lot="LOT-A", count=2)
    second = receive(world, lot="LOT-B", count=1)
    reverse_receipt(world, first.vials[0].receipt)
    entry = draw(world, second.fresh(0), "1")
    assert entry.quantity_mg == Decimal("50.000")
    assert main(["ledger", "verify"]) == 0
