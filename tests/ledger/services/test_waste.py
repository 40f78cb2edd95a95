"""Waste and its witness (ketaflow.ledger.services.waste, .witness): never rounded, never
self-witnessed, the witness's password checked and never stored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaflow.accounts.models import Credential
from ketaflow.audit.models import AuditEntry
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    LedgerEntry,
)
from tests.ledger.builders import (
    Stock,
    draw,
    refusal,
    waste,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


def test_typed_amounts_are_never_rounded(world: World, stock: Stock) -> None:
    with pytest.raises(ValidationError) as exc:
        waste(world, stock.vials[0], "1.0005")
    assert "more than three decimal places" in refusal(exc)


def test_a_self_witnessed_waste_is_refused(world: World, stock: Stock) -> None:
    with pytest.raises(ValidationError) as exc:
        waste(world, stock.vials[0], "1", witness_username="nurse")
    assert "second person" in refusal(exc)
    assert not LedgerEntry.objects.filter(kind=Kind.WASTED).exists()


def test_a_waste_with_a_wrong_witness_password_is_refused_and_audited(
    world: World, stock: Stock
) -> None:
    with pytest.raises(ValidationError) as exc:
        waste(world, stock.vials[0], "1", witness_password="not the password")
    assert "username or password is wrong" in refusal(exc)
    assert not LedgerEntry.objects.filter(kind=Kind.WASTED).exists()
    assert AuditEntry.objects.filter(
        action="login_failed", summary__contains="'prescriber'"
    ).exists()


@pytest.mark.parametrize("who", ["frontdesk", "foreign", "expired"])
def test_a_witness_who_may_not_witness_is_refused(world: World, stock: Stock, who: str) -> None:
    username = who
    if who == "expired":
        Credential.objects.filter(user=world.director).update(
            expires_on=timezone.localdate() - dt.timedelta(days=1)
        )
        username = "director"
    with pytest.raises(ValidationError) as exc:
        waste(world, stock.vials[0], "1", witness_username=username)
    expected = {
        "frontdesk": "may not witness",
        "foreign": "member of staff of this clinic",
        "expired": "expired on",
    }[who]
    assert expected in refusal(exc)


def test_the_database_refuses_an_unwitnessed_or_self_witnessed_waste(
    world: World, stock: Stock
) -> None:
    last = stock.vials[0].entries.get()
    for witness in (None, world.nurse):
        entry = LedgerEntry(
            seq=999 if witness is None else 1000,
            at=timezone.now(),
            clinic=world.clinic,
            vial=stock.vials[0],
            kind=Kind.WASTED,
            quantity_mg=Decimal(1),
            amount_mg=Decimal(-1),
            balance_after_mg=Decimal(499),
            actor=world.nurse,
            actor_username="nurse",
            witness=witness,
            prev_hash=last.hash,
            hash="0" * 64,
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            entry.save()


def test_the_witness_password_is_never_stored(world: World, stock: Stock) -> None:
    secret = "witness-secret-Pa55word!"
    world.prescriber.set_password(secret)
    world.prescriber.save()
    entry = waste(world, stock.vials[0], "2.5", witness_password=secret)
    assert entry.witness_id == world.prescriber.pk
    for entry_row in LedgerEntry.objects.values():
        assert secret not in str(entry_row)
    for audit_row in AuditEntry.objects.values():
        assert secret not in str(audit_row)


def test_waste_of_a_draws_residue_cannot_exceed_the_draw(world: World, stock: Stock) -> None:
    d = draw(world, stock.vials[0], "1")  # 50 mg
    waste(world, stock.fresh(0), "20", draw=d)
    with pytest.raises(ValidationError) as exc:
        waste(world, stock.fresh(0), "30.001", draw=d)
    assert "only 30.000 mg of draw" in refusal(exc)
    assert services.draw_remaining_mg(d) == Decimal(30)
