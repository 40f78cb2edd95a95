"""Issue 14, item 7: the ledger's entry checks. The supplier's DEA number (shape and check
digit), a duplicate invoice (warned, received only when confirmed), the reversal of a whole
receipt as one witnessed action, and the optional second counter of counts; each as the
clinic's staff, the other clinic's director and a patient, and the chain still verifying."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.urls import reverse

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.cli import main
from ketaflow.ledger import services
from ketaflow.ledger.models import Count, LedgerEntry, LedgerSettings, Receipt, Vial
from ketaflow.ledger.verify import ledger_check
from tests.web.conftest import PASSWORD, World, make_user
from tests.web.test_infusions import make_ready
from tests.web.test_ledger import Stock, draw, receive, refusal

Kind = LedgerEntry.Kind


@pytest.fixture(autouse=True)
def drawable(world: World) -> None:
    """Ketamine is drawn only for a patient with a signed candidacy and a current consent."""
    make_ready(world, world.patient)


@pytest.fixture
def stock(world: World) -> Stock:
    return receive(world)


def receive_args(stock: Stock, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "product": stock.product,
        "lot": "LOT-2",
        "expires_on": stock.vials[0].expires_on,
        "vial_count": 2,
        "supplier_name": "Supplier Inc",
        "supplier_address": "1 Depot Rd",
        "supplier_dea_number": "AB1234563",
        "invoice_number": "INV-500",
    }
    args.update(extra)
    return args


def nurse(world: World) -> Actor:
    return Actor(user=world.nurse)


def director(world: World) -> Actor:
    return Actor(user=world.director)


def other_director(world: World) -> User:
    found = User.objects.filter(username="otherdirector").first()
    return found or make_user(world.other_clinic, "otherdirector", Role.MEDICAL_DIRECTOR)


# ---- DEA number -----------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["XY12", "AB1234567", "AB123456", "1B1234563"])
def test_a_bad_supplier_dea_number_is_refused_naming_the_field(
    world: World, stock: Stock, number: str
) -> None:
    before = Receipt.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.stock_receive(
            actor=nurse(world), **receive_args(stock, supplier_dea_number=number)
        )
    assert "supplier_dea_number" in exc.value.message_dict
    assert "DEA number" in refusal(exc)
    assert Receipt.objects.count() == before


def test_a_valid_dea_number_is_stored_normalised(world: World, stock: Stock) -> None:
    receipt = services.stock_receive(
        actor=nurse(world), **receive_args(stock, supplier_dea_number=" ab1234563 ")
    )
    assert receipt.supplier_dea_number == "AB1234563"
    assert ledger_check().ok


def test_the_receive_form_shows_the_dea_rule(world: World, stock: Stock, client_for: Any) -> None:
    c = client_for(world.nurse)
    data = receive_args(stock, supplier_dea_number="XY12", product=stock.product.pk)
    data["expires_on"] = data["expires_on"].isoformat()
    response = c.post(reverse("ledger_receive"), data)
    assert response.status_code == 200
    assert "XY12 is not a DEA number: two letters then seven digits" in response.content.decode()
    assert not Receipt.objects.filter(lot="LOT-2").exists()


# ---- duplicate invoice ----------------------------------------------------------------------


def test_the_same_invoice_of_the_same_supplier_needs_a_confirmation(
    world: World, stock: Stock
) -> None:
    first = services.stock_receive(actor=nurse(world), **receive_args(stock))
    with pytest.raises(ValidationError) as exc:
        services.stock_receive(
            actor=nurse(world), **receive_args(stock, invoice_number=" inv-500 ", lot="LOT-3")
        )
    assert "invoice_number" in exc.value.message_dict
    assert "INV-500 from Supplier Inc was already received" in refusal(exc)
    assert not Receipt.objects.filter(lot="LOT-3").exists()
    # The same supplier known by its DEA number under another spelling of its name.
    with pytest.raises(ValidationError):
        services.stock_receive(
            actor=nurse(world), **receive_args(stock, supplier_name="SUPPLIER INC.", lot="LOT-3")
        )
    second = services.stock_receive(
        actor=nurse(world),
        **receive_args(stock, lot="LOT-3"),
        duplicate_invoice_confirmed=True,
    )
    entry = AuditEntry.objects.get(object_type="ledger_receipt", object_id=str(second.pk))
    assert entry.detail["duplicate_invoice_of"] == [first.pk]
    assert "invoice already received: confirmed" in entry.summary
    assert ledger_check().ok


def test_another_supplier_or_another_clinic_may_use_the_same_invoice_number(
    world: World, stock: Stock
) -> None:
    services.stock_receive(actor=nurse(world), **receive_args(stock))
    services.stock_receive(
        actor=nurse(world),
        **receive_args(stock, supplier_name="Other Pharma", supplier_dea_number="AP5836727"),
    )
    assert Receipt.objects.filter(invoice_number="INV-500").count() == 2
    assert not services.same_invoice_receipts(
        clinic_id=world.other_clinic.pk,
        supplier_name="Supplier Inc",
        supplier_dea_number="AB1234563",
        invoice_number="INV-500",
    )


def test_the_receive_form_warns_then_receives_on_confirmation(
    world: World, stock: Stock, client_for: Any
) -> None:
    services.stock_receive(actor=nurse(world), **receive_args(stock))
    c = client_for(world.nurse)
    data = receive_args(stock, product=stock.product.pk, lot="LOT-4")
    data["expires_on"] = data["expires_on"].isoformat()
    response = c.post(reverse("ledger_receive"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "was already received" in page
    assert 'name="duplicate_invoice_confirmed"' in page
    assert not Receipt.objects.filter(lot="LOT-4").exists()
    response = c.post(reverse("ledger_receive"), data | {"duplicate_invoice_confirmed": "on"})
    assert response.status_code == 302
    assert Receipt.objects.filter(lot="LOT-4").count() == 1


# ---- reversing a whole receipt --------------------------------------------------------------


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


# ---- the second counter ---------------------------------------------------------------------


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


def test_a_draw_still_works_after_a_reversed_receipt(world: World) -> None:
    first = receive(world, lot="LOT-A", count=2)
    second = receive(world, lot="LOT-B", count=1)
    reverse_receipt(world, first.vials[0].receipt)
    entry = draw(world, second.fresh(0), "1")
    assert entry.quantity_mg == Decimal("50.000")
    assert main(["ledger", "verify"]) == 0
