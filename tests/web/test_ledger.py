"""The controlled-substance ledger: every invariant failing closed, the hash chain, counts and
cases, reports, access both ways, and a demo month that reconciles to the milligram."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import re
import threading
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import Credential
from ketaflow.audit.context import Actor
from ketaflow.audit.db import drop_triggers, install_triggers
from ketaflow.audit.models import AuditEntry
from ketaflow.cli import main
from ketaflow.infusions.demo import demo_session
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services
from ketaflow.ledger.demo import load_demo
from ketaflow.ledger.models import (
    AppendOnlyError,
    DiscrepancyCase,
    Inventory,
    InventoryLine,
    LedgerEntry,
    Product,
    Receipt,
    Vial,
)
from tests.web.conftest import PASSWORD, World, build_world
from tests.web.test_infusions import make_appointment, make_ready

Kind = LedgerEntry.Kind
CONTENT_MG = Decimal("500.000")  # 50 mg/mL x 10 mL


@dataclass
class Stock:
    product: Product
    vials: list[Vial]

    def fresh(self, i: int = 0) -> Vial:
        return Vial.objects.select_related("product").get(pk=self.vials[i].pk)


def receive(world: World, *, lot: str = "LOT-1", count: int = 3, conc: str = "50") -> Stock:
    actor = Actor(user=world.nurse)
    product = Product.objects.filter(clinic=world.clinic, concentration_mg_per_ml=conc).first()
    if product is None:
        product = services.product_create(
            actor=actor,
            clinic=world.clinic,
            name="Ketamine HCl",
            ndc=f"0000-{conc}-10",
            concentration_mg_per_ml=Decimal(conc),
            volume_per_vial_ml=Decimal(10),
        )
    receipt = services.stock_receive(
        actor=actor,
        product=product,
        lot=lot,
        expires_on=timezone.localdate() + dt.timedelta(days=365),
        vial_count=count,
        supplier_name="Supplier Inc",
        supplier_address="1 Depot Rd",
        supplier_dea_number="RS0000000",
        invoice_number=f"INV-{Receipt.objects.count() + 1}",
    )
    return Stock(product, list(receipt.vials.order_by("label")))


@pytest.fixture
def stock(world: World) -> Stock:
    return receive(world)


def nurse(world: World) -> Actor:
    return Actor(user=world.nurse)


def draw(world: World, vial: Vial, ml: str, **extra: Any) -> LedgerEntry:
    return services.draw_record(
        actor=nurse(world), vial=vial, volume_ml=Decimal(ml), patient=world.patient, **extra
    )


def waste(world: World, vial: Vial, mg: str, **extra: Any) -> LedgerEntry:
    args: dict[str, Any] = {
        "witness_username": "prescriber",
        "witness_password": PASSWORD,
        "reason": "residue",
    }
    args.update(extra)
    return services.waste_record(actor=nurse(world), vial=vial, amount_mg=Decimal(mg), **args)


def refusal(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(exc.value.messages)


def raw(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture(autouse=True)
def ready(request: pytest.FixtureRequest) -> None:
    """Ketamine is drawn only for a patient with a signed candidacy and a current consent."""
    if "world" in request.fixturenames:
        world = request.getfixturevalue("world")
        make_ready(world, world.patient)


def session_draw(session: InfusionSession) -> LedgerEntry:
    d = services.live_session_draw(session)
    assert d is not None
    return d


def complete_session(world: World) -> InfusionSession:
    """A whole charted infusion (the infusions demo): a vial of lot KET-24A117 at 10 mg/mL
    received into stock and drawn for the session; given and waste not yet recorded."""
    receive(world, lot="KET-24A117", conc="10")
    return demo_session(
        actor=Actor.system("tests"),
        appointment=make_appointment(world),
        nurse=world.nurse,
        scenario="complete",
    )


# ---- receipt, draw, administration, waste ---------------------------------------------------


def test_receipt_gives_each_vial_its_identity_and_balance(world: World, stock: Stock) -> None:
    assert [v.label for v in stock.vials] == [
        f"K{timezone.localdate().year}-000{i}" for i in (1, 2, 3)
    ]
    for vial in stock.vials:
        assert (vial.status, vial.in_vial_mg, vial.drawn_pending_mg) == (
            "sealed",
            CONTENT_MG,
            Decimal(0),
        )
        entry = vial.entries.get()
        assert (entry.kind, entry.quantity_mg, entry.balance_after_mg) == (
            "received",
            CONTENT_MG,
            CONTENT_MG,
        )
        assert entry.reason == "invoice INV-1 from Supplier Inc"
    assert AuditEntry.objects.filter(object_type="ledger_receipt").count() == 1
    assert AuditEntry.objects.filter(object_type="ledger_entry", action="create").count() == 3


def test_a_session_draw_is_given_what_the_infusion_record_says_and_the_rest_wasted(
    world: World,
) -> None:
    session = complete_session(world)
    d = session_draw(session)
    assert d.quantity_mg == Decimal("36.000")
    assert d.patient_id == world.patient.pk
    given = services.administration_record(actor=nurse(world), draw=d)
    assert given.quantity_mg == services.quantise_mg(session.delivered_dose_mg or 0)
    assert (given.session_id, given.draw_id, given.amount_mg) == (session.pk, d.pk, Decimal(0))
    checks = services.session_checks(world.clinic)
    assert [c.problems for c in checks] == [[]]
    result = services.reconcile_vial(Vial.objects.get(pk=d.vial_id))
    assert result.balanced, result.problems
    assert result.given_mg == given.quantity_mg


def test_the_amount_given_for_a_session_is_never_typed(world: World) -> None:
    session = complete_session(world)
    d = session_draw(session)
    with pytest.raises(ValidationError) as exc:
        services.administration_record(actor=nurse(world), draw=d, amount_mg=Decimal(30))
    assert "comes from the infusion record" in refusal(exc)


def test_a_draw_must_match_the_infusion_records_lot_and_volume(world: World) -> None:
    session = complete_session(world)
    other_lot = receive(world, lot="OTHER", conc="10")
    with pytest.raises(ValidationError) as exc:
        draw(world, other_lot.vials[0], "3.60", session=session)
    assert "names lot KET-24A117" in refusal(exc)
    right_lot = receive(world, lot="KET-24A117", conc="10")
    with pytest.raises(ValidationError) as exc:
        draw(world, right_lot.vials[0], "4.00", session=session)
    assert "says 3.60 mL was drawn" in refusal(exc)


def test_reconciliation_flags_a_session_whose_record_changed(world: World) -> None:
    session = complete_session(world)
    d = session_draw(session)
    services.administration_record(actor=nurse(world), draw=d)
    InfusionSession.objects.filter(pk=session.pk).update(delivered_dose_mg=35.25)
    [check] = services.session_checks(world.clinic)
    assert check.problems[0].startswith(f"session {session.pk}: the ledger records 36.000 mg")
    assert not services.reconcile_clinic(world.clinic, timezone.localdate()).balanced


def test_delivered_float_is_quantised_by_the_named_rule() -> None:
    assert services.quantise_mg(36.0004999) == Decimal("36.000")
    # The float nearest 0.0025 is 0.00250000000000000005...: above the tie, so it goes up.
    assert services.quantise_mg(0.0025) == Decimal("0.003")
    assert services.quantise_mg(Decimal("0.0025")) == Decimal("0.002")  # half to even
    assert "0.001 mg" in services.MG_RESOLUTION_RULE


def test_typed_amounts_are_never_rounded(world: World, stock: Stock) -> None:
    with pytest.raises(ValidationError) as exc:
        waste(world, stock.vials[0], "1.0005")
    assert "more than three decimal places" in refusal(exc)


# ---- invariants failing closed ------------------------------------------------------------


def test_an_overdraw_is_refused_and_changes_nothing(world: World, stock: Stock) -> None:
    draw(world, stock.vials[0], "9")  # 450 of 500 mg
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        draw(world, stock.fresh(0), "1.5")  # 75 mg more
    assert "overdraw refused" in refusal(exc)
    assert "holds 50.000 mg" in refusal(exc)
    assert LedgerEntry.objects.count() == before
    assert stock.fresh(0).in_vial_mg == Decimal("50.000")


def test_the_database_refuses_a_negative_balance(world: World, stock: Stock) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Vial.objects.filter(pk=stock.vials[0].pk).update(in_vial_mg=Decimal("-0.001"))


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


# ---- the hash chain -------------------------------------------------------------------------


def _grow(world: World, stock: Stock) -> list[LedgerEntry]:
    draw(world, stock.vials[0], "1")
    waste(world, stock.fresh(0), "3")
    draw(world, stock.fresh(1), "2")
    return list(LedgerEntry.objects.order_by("seq"))


def test_the_chain_is_intact_after_normal_use(world: World, stock: Stock) -> None:
    entries = _grow(world, stock)
    result = services.ledger_verify()
    assert (result.ok, result.checked) == (True, len(entries))
    assert result.message == f"ledger chain intact: {len(entries)} entries verified"


def test_an_edited_amount_is_found(world: World, stock: Stock) -> None:
    entries = _grow(world, stock)
    victim = entries[3]
    drop_triggers(connection)
    raw("UPDATE ledger_ledgerentry SET quantity_mg = %s WHERE seq = %s", ["1.000", victim.seq])
    result = services.ledger_verify()
    assert (result.ok, result.problem, result.seq) == (False, "altered", victim.seq)


def test_a_deleted_entry_is_found(world: World, stock: Stock) -> None:
    entries = _grow(world, stock)
    drop_triggers(connection)
    raw("DELETE FROM ledger_ledgerentry WHERE seq = %s", [entries[2].seq])
    result = services.ledger_verify()
    assert (result.ok, result.problem, result.seq) == (False, "deleted", entries[2].seq)


def test_deleted_newest_entries_are_found(world: World, stock: Stock) -> None:
    entries = _grow(world, stock)
    drop_triggers(connection)
    raw("DELETE FROM ledger_ledgerentry WHERE seq >= %s", [entries[-2].seq])
    assert (services.ledger_verify().problem, services.ledger_verify().seq) == (
        "deleted",
        entries[-2].seq,
    )


def test_an_inserted_entry_is_found(world: World, stock: Stock) -> None:
    entries = _grow(world, stock)
    victim = entries[2]
    drop_triggers(connection)
    raw("UPDATE ledger_ledgerentry SET seq = seq + 1000 WHERE seq > %s", [victim.seq])
    raw(
        "INSERT INTO ledger_ledgerentry (seq, at, clinic_id, vial_id, kind, quantity_mg,"
        " amount_mg, balance_after_mg, pending_change_mg, pending_after_mg, actor_username,"
        " witness_username, witness2_username, reason, note, form_data, prev_hash, hash)"
        " VALUES (%s, %s, %s, %s, 'received', 100, 100, 600, 0, 0, 'intruder', '', '', '',"
        " '', '{}', %s, %s)",
        [victim.seq + 1, victim.at, world.clinic.pk, victim.vial_id, victim.hash, "f" * 64],
    )
    result = services.ledger_verify()
    assert (result.ok, result.problem, result.seq) == (False, "inserted", victim.seq + 1)


def test_the_database_refuses_update_and_delete_of_ledger_records(
    world: World, stock: Stock, audit_triggers: None
) -> None:
    entry = stock.vials[0].entries.get()
    for sql in (
        "UPDATE ledger_ledgerentry SET quantity_mg = 1 WHERE id = %s",
        "DELETE FROM ledger_ledgerentry WHERE id = %s",
        "UPDATE ledger_receipt SET invoice_number = 'x' WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            raw(sql, [entry.pk if "ledgerentry" in sql else entry.vial.receipt_id])
    assert services.ledger_verify().ok


def test_the_model_refuses_update_and_delete(world: World, stock: Stock) -> None:
    entry = stock.vials[0].entries.get()
    entry.reason = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_ledger_verify_command(
    world: World, stock: Stock, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = _grow(world, stock)
    assert main(["ledger", "verify"]) == 0
    assert "ledger chain intact: 6 entries verified" in capsys.readouterr().out
    drop_triggers(connection)
    raw("UPDATE ledger_ledgerentry SET amount_mg = 0 WHERE seq = %s", [entries[4].seq])
    assert main(["ledger", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"LEDGER CHAIN BROKEN: entry #{entries[4].seq} was altered" in err


def test_ledger_reconcile_command(
    world: World, stock: Stock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "reconcile", "--clinic", "test"]) == 0
    out = capsys.readouterr().out
    assert "balanced: 3 vials, 0 sessions in which ketamine was given, 0 draws without" in out
    _grow(world, stock)  # two draws for no session and no paper infusion record
    assert main(["ledger", "reconcile", "--clinic", "test"]) == 1
    captured = capsys.readouterr()
    assert "received 1500.000 mg" in captured.out
    assert "draw #4 (50.000 mg from vial K" in captured.err
    assert "a draw without a session" in captured.err
    assert main(["ledger", "reconcile", "--clinic", "nowhere"]) == 2


# ---- corrections ----------------------------------------------------------------------------


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


# ---- destruction and loss -------------------------------------------------------------------


def test_destruction_needs_two_different_witnesses_and_keeps_form_41_data(
    world: World, stock: Stock
) -> None:
    director = Actor(user=world.director)
    with pytest.raises(ValidationError) as exc:
        services.destruction_record(
            actor=director,
            vial=stock.vials[0],
            witnesses=[("prescriber", PASSWORD), ("prescriber", PASSWORD)],
            method="digestion kit",
            location="med room",
            reason="expired",
        )
    assert "each witness must be a different person" in refusal(exc)
    with pytest.raises(PermissionDenied):
        services.destruction_record(
            actor=nurse(world),
            vial=stock.vials[0],
            witnesses=[("prescriber", PASSWORD), ("director", PASSWORD)],
            method="digestion kit",
            location="med room",
            reason="expired",
        )
    entry = services.destruction_record(
        actor=director,
        vial=stock.vials[0],
        witnesses=[("prescriber", PASSWORD), ("nurse", PASSWORD)],
        method="digestion kit",
        location="med room",
        reason="expired",
    )
    assert (entry.witness_id, entry.witness2_id) == (world.prescriber.pk, world.nurse.pk)
    assert entry.form_data["form"] == "DEA-41"
    assert entry.form_data["quantity_mg"] == "500.000"
    assert stock.fresh(0).status == "destroyed"
    assert services.reconcile_vial(stock.fresh(0)).destroyed_mg == CONTENT_MG


@pytest.mark.parametrize(
    ("discovered", "deadline"),
    [
        ((2026, 11, 20, 16), dt.date(2026, 11, 23)),  # Friday -> Monday
        ((2026, 11, 17, 9), dt.date(2026, 11, 18)),  # Tuesday -> Wednesday
        ((2026, 11, 21, 12), dt.date(2026, 11, 23)),  # Saturday -> Monday
    ],
)
def test_the_loss_notice_is_due_within_one_business_day(
    discovered: tuple[int, int, int, int], deadline: dt.date
) -> None:
    tz = timezone.get_current_timezone()
    due = services.notify_deadline(dt.datetime(*discovered, tzinfo=tz), tz)
    assert (due.date(), due.time()) == (deadline, dt.time(23, 59, 59))


def test_a_loss_report_keeps_form_106_data_and_the_deadline(world: World, stock: Stock) -> None:
    found = timezone.now() - dt.timedelta(hours=2)
    entry = services.loss_record(
        actor=nurse(world),
        vial=stock.vials[0],
        loss_kind="theft",
        discovered_at=found,
        circumstances="vial missing from the locked cabinet at the morning count",
        police_report="PR-1",
    )
    tz = timezone.get_current_timezone()
    assert entry.form_data["form"] == "DEA-106"
    due = services.notify_deadline(found, tz)
    assert entry.form_data["notify_field_division_by"] == due.isoformat(timespec="minutes")
    assert stock.fresh(0).status == "lost"
    assert services.reconcile_vial(stock.fresh(0)).lost_mg == CONTENT_MG


# ---- counts, discrepancies, inventories -----------------------------------------------------


def _count_lines(stock: Stock, short_ml: str = "0") -> list[services.CountInput]:
    lines = []
    for i in range(len(stock.vials)):
        vial = stock.fresh(i)
        if vial.status == "sealed":
            lines.append(services.CountInput(vial.pk, present=True))
        else:
            volume = vial.in_vial_mg / vial.product.concentration_mg_per_ml - Decimal(short_ml)
            lines.append(services.CountInput(vial.pk, True, volume))
    return lines


def test_a_matching_count_opens_no_case(world: World, stock: Stock) -> None:
    draw(world, stock.vials[0], "2.5")
    count = services.count_record(
        actor=nurse(world), clinic=world.clinic, shift="closing", lines=_count_lines(stock)
    )
    assert count.lines.count() == 3
    assert not DiscrepancyCase.objects.exists()


def test_a_count_must_cover_every_vial(world: World, stock: Stock) -> None:
    with pytest.raises(ValidationError, match="not counted: K"):
        services.count_record(
            actor=nurse(world), clinic=world.clinic, shift="closing", lines=_count_lines(stock)[:2]
        )


def test_a_discrepancy_is_resolved_by_the_director_only(world: World, stock: Stock) -> None:
    draw(world, stock.vials[0], "2")  # 400 mg left = 8 mL
    lines = _count_lines(stock, short_ml="0.1")  # open vial 5 mg short
    lines[1] = services.CountInput(stock.vials[1].pk, present=True)
    services.count_record(actor=nurse(world), clinic=world.clinic, shift="closing", lines=lines)
    case = DiscrepancyCase.objects.get()
    assert (case.expected_mg, case.counted_mg, case.difference_mg) == (
        Decimal(400),
        Decimal(395),
        Decimal(-5),
    )
    for person in (world.nurse, world.prescriber):
        with pytest.raises(PermissionDenied):
            services.case_resolve(actor=Actor(user=person), case=case, outcome="adjust", reason="x")
    director = Actor(user=world.director)
    with pytest.raises(ValidationError, match="needs a reason"):
        services.case_resolve(actor=director, case=case, outcome="adjust", reason="")
    services.case_resolve(actor=director, case=case, outcome="adjust", reason="recount: short")
    case.refresh_from_db()
    assert (case.status, case.resolved_by_id) == ("resolved", world.director.pk)
    adjustment = LedgerEntry.objects.get(kind=Kind.ADJUSTED)
    assert (adjustment.case_id, adjustment.amount_mg, adjustment.balance_after_mg) == (
        case.pk,
        Decimal(-5),
        Decimal(395),
    )
    result = services.reconcile_vial(stock.fresh(0))
    assert result.balanced
    assert result.adjusted_mg == Decimal(-5)
    with pytest.raises(ValidationError, match="already resolved"):
        services.case_resolve(actor=director, case=case, outcome="adjust", reason="again")


def test_a_count_error_is_resolved_without_an_entry(world: World, stock: Stock) -> None:
    lines = _count_lines(stock)
    lines[2] = services.CountInput(stock.vials[2].pk, present=False)
    services.count_record(actor=nurse(world), clinic=world.clinic, shift="shift", lines=lines)
    case = DiscrepancyCase.objects.get()
    assert case.difference_mg == -CONTENT_MG
    services.case_resolve(
        actor=Actor(user=world.director),
        case=case,
        outcome="count_error",
        reason="found in the second drawer of the locked cabinet",
    )
    assert not LedgerEntry.objects.filter(kind=Kind.ADJUSTED).exists()


def test_the_inventory_is_frozen_and_estimates_only_open_vials(
    world: World, stock: Stock, audit_triggers: None
) -> None:
    draw(world, stock.vials[0], "3")
    director = Actor(user=world.director)
    lines = [
        services.InventoryInput(c.vial_id, c.present, c.measured_volume_ml, estimated=False)
        for c in _count_lines(stock)
    ]
    sealed_estimate = list(lines)
    sealed_estimate[1] = services.InventoryInput(stock.vials[1].pk, True, estimated=True)
    with pytest.raises(ValidationError, match=r"sealed: count it exactly \(21 CFR 1304.11"):
        services.inventory_take(
            actor=director,
            clinic=world.clinic,
            kind="initial",
            timing="opening",
            lines=sealed_estimate,
        )
    lines[0] = services.InventoryInput(stock.vials[0].pk, True, Decimal("7.0"), estimated=True)
    inventory = services.inventory_take(
        actor=director, clinic=world.clinic, kind="initial", timing="opening", lines=lines
    )
    line = inventory.lines.get(vial=stock.vials[0])
    assert (line.method, line.counted_mg, line.ledger_mg) == (
        "estimated",
        Decimal(350),
        Decimal(350),
    )
    with pytest.raises(ValidationError, match="already taken"):
        services.inventory_take(
            actor=director, clinic=world.clinic, kind="initial", timing="closing", lines=lines
        )
    with pytest.raises(PermissionDenied):
        services.inventory_take(
            actor=nurse(world), clinic=world.clinic, kind="biennial", timing="closing", lines=lines
        )
    inventory.note = "changed"
    with pytest.raises(AppendOnlyError):
        inventory.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        InventoryLine.objects.filter(pk=line.pk).update(counted_mg=1)
    assert Inventory.objects.count() == 1


# ---- the demo month -------------------------------------------------------------------------


def test_the_demo_month_reconciles_to_the_milligram(world: World) -> None:
    staff = {"director": world.director, "prescriber": world.prescriber, "nurse": world.nurse}
    today = timezone.localdate()
    first = load_demo(clinic=world.clinic, today=today, staff=staff)
    assert first.created
    assert first.entries > 40
    assert load_demo(clinic=world.clinic, today=today, staff=staff) == type(first)(
        False, first.entries
    )
    # The demo's infusion picks its vial from that stock and wastes the remainder, witnessed.
    demo_session(
        actor=Actor.system("tests"),
        appointment=make_appointment(world),
        nurse=world.nurse,
        scenario="complete",
        witness=world.prescriber,
    )
    for offset in range(31):
        day = today - dt.timedelta(days=offset)
        result = services.reconcile_clinic(world.clinic, day)
        assert result.balanced, (day, result.problems)
        assert result.total("received_mg") + result.total("adjusted_mg") == (
            result.total("given_mg")
            + result.total("wasted_mg")
            + result.total("destroyed_mg")
            + result.total("lost_mg")
            + result.total("on_hand_mg")
        )
    now = services.reconcile_clinic(world.clinic, today)
    assert now.total("received_mg") == Decimal(2000)  # ten vials of 10 mg/mL x 20 mL
    assert now.total("adjusted_mg") == Decimal(-2)
    assert len(now.sessions) == 1
    assert now.sessions[0].problems == []
    assert services.ledger_verify().ok
    entries = LedgerEntry.objects.filter(clinic=world.clinic)
    assert not entries.filter(kind=Kind.DRAWN, patient__isnull=True).exists()
    assert (
        entries.filter(kind=Kind.WASTED).exclude(witness=None).count()
        == entries.filter(kind=Kind.WASTED).count()
        > 5
    )
    case = DiscrepancyCase.objects.get(clinic=world.clinic)
    assert (case.status, case.resolved_by_id) == ("resolved", world.director.pk)
    assert Inventory.objects.get(clinic=world.clinic).kind == "initial"
    assert entries.filter(note__startswith="Demo day without an infusion session").exists()


# ---- concurrency ----------------------------------------------------------------------------


def test_two_nurses_drawing_at_once_cannot_overdraw(live_db: None) -> None:
    """On PostgreSQL two real transactions on separate connections draw 300 mg each from a
    500 mg vial at the same moment: the row lock makes the second wait and see the first, so
    exactly one succeeds. SQLite serialises writers (IMMEDIATE transactions): the second draw
    starts after the first commits and sees its balance."""
    world = build_world()
    make_ready(world, world.patient)
    stock = receive(world, count=1)
    vial = stock.vials[0]
    outcomes: list[str] = []
    if connection.vendor == "postgresql":
        barrier = threading.Barrier(2)

        def nurse_draws() -> None:
            try:
                barrier.wait(timeout=10)
                draw(world, vial, "6")
                outcomes.append("drawn")
            except ValidationError as exc:
                outcomes.append("refused: " + " ".join(exc.messages))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=nurse_draws) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    else:
        assert connection.vendor == "sqlite"
        for _ in range(2):
            try:
                draw(world, Vial.objects.get(pk=vial.pk), "6")
                outcomes.append("drawn")
            except ValidationError as exc:
                outcomes.append("refused: " + " ".join(exc.messages))
    assert sorted(outcomes)[0] == "drawn"
    assert sorted(outcomes)[1].startswith("refused: overdraw refused: vial")
    assert "holds 200.000 mg" in sorted(outcomes)[1]
    fresh = Vial.objects.get(pk=vial.pk)
    assert (fresh.in_vial_mg, fresh.drawn_pending_mg) == (Decimal(200), Decimal(300))
    assert LedgerEntry.objects.filter(kind=Kind.DRAWN).count() == 1
    assert services.ledger_verify().ok


# ---- pages, access and audit ----------------------------------------------------------------


@dataclass
class Pages:
    vial: Vial
    draw: LedgerEntry
    case: DiscrepancyCase
    inventory: Inventory


def _pages(world: World, stock: Stock) -> Pages:
    d = draw(world, stock.vials[0], "1")
    lines = _count_lines(stock, short_ml="0.2")
    services.count_record(actor=nurse(world), clinic=world.clinic, shift="closing", lines=lines)
    inventory = services.inventory_take(
        actor=Actor(user=world.director),
        clinic=world.clinic,
        kind="initial",
        timing="closing",
        lines=[services.InventoryInput(c.vial_id, c.present, c.measured_volume_ml) for c in lines],
    )
    return Pages(stock.fresh(0), d, DiscrepancyCase.objects.get(), inventory)


def page_urls(p: Pages) -> dict[str, str]:
    return {
        "home": reverse("ledger_home"),
        "receive": reverse("ledger_receive"),
        "product_new": reverse("ledger_product_new"),
        "vial": reverse("ledger_vial", args=[p.vial.pk]),
        "draw": reverse("ledger_draw", args=[p.vial.pk]),
        "waste": reverse("ledger_waste", args=[p.vial.pk]),
        "destroy": reverse("ledger_destroy", args=[p.vial.pk]),
        "loss": reverse("ledger_loss", args=[p.vial.pk]),
        "entry": reverse("ledger_entry", args=[p.draw.pk]),
        "count_new": reverse("ledger_count_new"),
        "count": reverse("ledger_count", args=[p.case.count_line.count_id]),
        "case": reverse("ledger_case", args=[p.case.pk]),
        "inventory_new": reverse("ledger_inventory_new"),
        "inventory": reverse("ledger_inventory", args=[p.inventory.pk]),
        "reports": reverse("ledger_reports"),
        "administration": reverse("ledger_report", args=["administration"]),
        "ledger": reverse("ledger_report", args=["ledger"]),
        "discrepancies": reverse("ledger_report", args=["discrepancies"]),
        "vial_report": reverse("ledger_report", args=["vial"]) + f"?vial={p.vial.pk}",
        "inventory_report": reverse("ledger_report", args=["inventory"])
        + f"?inventory={p.inventory.pk}",
        "reconcile": reverse("ledger_reconcile"),
    }


def test_every_ledger_page_renders_and_is_audited(
    world: World, stock: Stock, client_for: Any
) -> None:
    pages = _pages(world, stock)
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


def test_exports_are_valid_csv_and_pdf_and_audited(
    world: World, stock: Stock, client_for: Any
) -> None:
    pages = _pages(world, stock)
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


def _pdf_text(body: bytes) -> bytes:
    """The page streams of a ReportLab PDF (ASCII85, then Flate), decoded."""
    text = b""
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", body, re.S):
        data = stream.strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data[:-2])
        try:
            text += zlib.decompress(data)
        except zlib.error:
            text += data
    return text


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
    assert b"Anders, Alice" in _pdf_text(c.get(url + "?format=pdf").content)


@pytest.mark.parametrize("who", ["frontdesk", "patient_user"])
def test_front_desk_and_patients_see_nothing_of_the_ledger(
    world: World, stock: Stock, client_for: Any, who: str
) -> None:
    pages = _pages(world, stock)
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
    pages = _pages(world, stock)
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
    pages = _pages(world, stock)
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
    pages = _pages(world, stock)
    for url in [*page_urls(pages).values(), reverse("ledger_verify")]:
        response = getattr(Client(), method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


# ---- the web flows --------------------------------------------------------------------------


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


def test_triggers_are_reinstalled_for_ledger_tables(world: World) -> None:
    drop_triggers(connection)
    install_triggers(connection)
    entry = receive(world, count=1).vials[0].entries.get()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("DELETE FROM ledger_ledgerentry WHERE id = %s", [entry.pk])


def test_a_draw_without_a_session_is_given_per_the_paper_record(
    world: World, stock: Stock, client_for: Any
) -> None:
    d = draw(world, stock.vials[0], "1")
    c = client_for(world.nurse)
    page = c.get(reverse("ledger_entry", args=[d.pk]))
    assert b"per the paper infusion record" in page.content
    url = reverse("ledger_administer", args=[d.pk])
    assert c.post(url, {"amount_mg": "50.001"}).status_code == 302
    assert not LedgerEntry.objects.filter(kind=Kind.ADMINISTERED).exists()  # more than drawn
    assert c.post(url, {"amount_mg": "46.5"}).status_code == 302
    given = LedgerEntry.objects.get(kind=Kind.ADMINISTERED)
    assert (given.quantity_mg, given.patient_id, given.session_id) == (
        Decimal("46.5"),
        world.patient.pk,
        None,
    )
    assert "paper infusion record" in given.reason
    waste(world, stock.fresh(0), "3.5", draw=d)
    assert services.draw_remaining_mg(d) == 0
    assert services.reconcile_vial(stock.fresh(0)).balanced


@pytest.mark.parametrize(("delivered", "accepted"), [(36.05, True), (36.1, True), (36.11, False)])
def test_an_infusion_record_above_the_draw_within_the_syringe_resolution(
    world: World, delivered: float, accepted: bool
) -> None:
    """The drawn volume is read to 0.01 mL (SYRINGE_RESOLUTION_ML): at 10 mg/mL the infusion
    record may say up to 0.1 mg more than was drawn; then the whole draw is what was given."""
    session = complete_session(world)
    d = session_draw(session)
    InfusionSession.objects.filter(pk=session.pk).update(delivered_dose_mg=delivered)
    if not accepted:
        with pytest.raises(ValidationError, match=r"36\.110 mg given is more than the 36\.000 mg"):
            services.administration_record(actor=nurse(world), draw=d)
        return
    given = services.administration_record(actor=nurse(world), draw=d)
    assert given.quantity_mg == Decimal("36.000")
    assert "within the syringe resolution (0.01 mL x 10 mg/mL = 0.1 mg)" in given.reason
    [check] = services.session_checks(world.clinic)
    assert check.problems == []
    assert "within the syringe resolution" in check.notes[0]
    assert services.reconcile_clinic(world.clinic, timezone.localdate()).balanced


def test_the_biennial_inventory_is_due_within_two_years(world: World, client_for: Any) -> None:
    assert services.biennial_due(world.clinic) is None
    taken = dt.datetime(2024, 2, 29, 8, 0, tzinfo=timezone.get_current_timezone())
    services.inventory_take(
        actor=Actor(user=world.director),
        clinic=world.clinic,
        kind="initial",
        timing="opening",
        lines=[],
        at=taken,
    )
    assert services.biennial_due(world.clinic) == dt.date(2026, 2, 28)
    page = client_for(world.director).get(reverse("ledger_reports"))
    assert b"due by 2026-02-28" in page.content
