"""Issue 11, items 8 and 9: the vial at the chair comes from the clinic's ledger stock, the
remainder is wasted with a witness from the session page, and reconciliation sees every session
in which ketamine was given."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.cli import main
from ketaflow.infusions import services, stock
from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services as ledger
from ketaflow.ledger.models import LedgerEntry, Vial
from tests.infusions.builders import compute_dose, event, prepare, stock_vial, undrawn
from tests.web.conftest import PASSWORD, World, make_user

FRAGMENT = {"HTTP_X_KETAFLOW_FRAGMENT": "1"}


def nurse(world: World) -> Actor:
    return Actor(user=world.nurse)


def refusal_of(exc: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    return " ".join(exc.value.message_dict[field])


def pick(world: World, session: InfusionSession, vial: Vial, ml: str = "3.50", **extra: Any) -> Any:
    session.refresh_from_db()
    return stock.vial_pick(
        actor=nurse(world),
        session=session,
        expected_version=session.version,
        vial_id=vial.pk,
        drawn_volume_ml=Decimal(ml),
        **extra,
    )


def ended(world: World) -> InfusionSession:
    """An infusion given from a vial picked from stock: 3.5 mL (35 mg) drawn, three quarters
    of the bag run (100 mL at 150 mL/h for 30 of 40 min: 26.25 mg), stopped 15 minutes ago."""
    session = prepare(world)
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=45)
    session.refresh_from_db()
    event(world, session, "start", t0, repr(session.rate_ml_per_h))
    event(world, session, "stop", t0 + dt.timedelta(minutes=30))
    session.refresh_from_db()
    return session


def other_director(world: World) -> User:
    return make_user(world.other_clinic, "other-director", Role.MEDICAL_DIRECTOR)


# ---- picking the vial -----------------------------------------------------------------------


def test_the_vial_picked_from_stock_is_drawn_in_the_ledger_and_names_the_session(
    world: World,
) -> None:
    session = undrawn(world)
    assert "vial: not picked from the clinic's stock and drawn" in " ".join(
        services.start_problems(session, world.nurse)
    )
    vial = stock_vial(world, lot="KET-77")
    entry = pick(world, session, vial)
    session.refresh_from_db()
    # Lot and expiry come from the vial record; the draw is in the ledger, tied to the session.
    assert (session.vial_lot, session.vial_expires_on, session.drawn_volume_ml) == (
        "KET-77",
        vial.expires_on,
        Decimal("3.50"),
    )
    assert (entry.kind, entry.session_id, entry.patient_id, entry.quantity_mg) == (
        "drawn",
        session.pk,
        session.patient_id,
        Decimal("35.000"),
    )
    vial.refresh_from_db()
    assert (vial.in_vial_mg, vial.drawn_pending_mg, vial.status) == (
        Decimal("165.000"),
        Decimal("35.000"),
        "open",
    )
    assert AuditEntry.objects.filter(object_type="ledger_entry", object_id=str(entry.pk)).exists()
    assert AuditEntry.objects.filter(
        object_type="infusion_session", summary__contains=f"ledger #{entry.seq}"
    ).exists()
    assert not any(p.startswith("vial") for p in services.start_problems(session, None))


def test_an_expired_an_empty_and_another_clinics_vial_are_refused(world: World) -> None:
    session = undrawn(world)
    expired = stock_vial(world, lot="OLD")
    Vial.objects.filter(pk=expired.pk).update(
        expires_on=timezone.localdate() - dt.timedelta(days=1)
    )
    with pytest.raises(ValidationError) as exc:
        pick(world, session, expired)
    assert f"vial {expired.label} (lot OLD) expired on" in refusal_of(exc, "vial")
    empty = stock_vial(world, lot="EMPTY")
    ledger.waste_record(
        actor=nurse(world),
        vial=empty,
        amount_mg=Decimal(200),
        reason="dropped",
        witness_username="prescriber",
        witness_password=PASSWORD,
    )
    with pytest.raises(ValidationError) as exc:
        pick(world, session, empty)
    assert f"vial {empty.label} is empty" in refusal_of(exc, "vial")
    # Another clinic's vial: its id is refused as not in this clinic's stock.
    foreign_nurse = make_user(world.other_clinic, "foreign-nurse", Role.NURSE)
    foreign = stock_vial(World(**{**world.__dict__, "nurse": foreign_nurse}), lot="THEIRS")
    with pytest.raises(ValidationError) as exc:
        pick(world, session, foreign)
    assert f"vial {foreign.pk} is not in this clinic's stock" in refusal_of(exc, "vial")
    assert not LedgerEntry.objects.filter(session=session).exists()
    # The page offers only this clinic's vials that can be drawn from.
    offered = stock.stock_on_hand(world.clinic, on=timezone.localdate())
    assert [v.lot for v in offered] == []
    good = stock_vial(world, lot="GOOD")
    assert [v.pk for v in stock.stock_on_hand(world.clinic, on=timezone.localdate())] == [good.pk]


def test_a_vial_of_another_strength_asks_for_the_dose_to_be_recomputed(world: World) -> None:
    session = undrawn(world)
    strong = stock_vial(world, conc="50", lot="KET-2611-A")
    with pytest.raises(ValidationError) as exc:
        pick(world, session, strong, "0.70")
    message = refusal_of(exc, "vial")
    assert "is 50 mg/mL; the dose was computed for 10 mg/mL" in message
    assert "the drug volume would be 0.70 mL" in message
    compute_dose(world, session, vial_concentration_mg_per_ml=Decimal(50))
    entry = pick(world, session, strong, "0.70")
    assert entry.quantity_mg == Decimal("35.000")


def test_the_volume_drawn_must_match_the_dose(world: World) -> None:
    session = undrawn(world)
    with pytest.raises(ValidationError) as exc:
        pick(world, session, stock_vial(world), "5.00")
    assert "differs from the computed drug volume 3.5 mL" in refusal_of(exc, "drawn_volume_ml")
    assert not LedgerEntry.objects.filter(kind="drawn").exists()


def test_picking_again_reverses_the_draw_and_after_the_start_needs_a_reason(
    world: World,
) -> None:
    session = prepare(world)
    first = ledger.live_session_draw(session)
    assert first is not None
    second_vial = stock_vial(world, lot="LOT-43")
    second = pick(world, session, second_vial)
    first_vial = Vial.objects.get(pk=first.vial_id)
    assert (first_vial.in_vial_mg, first_vial.drawn_pending_mg) == (Decimal(200), Decimal(0))
    correction = LedgerEntry.objects.get(corrects=first)
    assert correction.kind == "correction"
    assert ledger.live_session_draw(session) == second
    event(world, session, "start", timezone.now() - dt.timedelta(minutes=5), "150")
    third_vial = stock_vial(world, lot="LOT-44")
    with pytest.raises(ValidationError) as exc:
        pick(world, session, third_vial)
    assert "say why the vial is corrected" in refusal_of(exc, "reason")
    strong = stock_vial(world, conc="50", lot="STRONG")
    with pytest.raises(ValidationError) as exc:
        pick(world, session, strong, "0.70", reason="wrong vial")
    assert "only a vial of that strength can replace the vial" in refusal_of(exc, "vial")
    third = pick(world, session, third_vial, reason="label read wrongly; LOT-44 was used")
    assert LedgerEntry.objects.get(corrects=second).reason == (
        "label read wrongly; LOT-44 was used"
    )
    session.refresh_from_db()
    assert (session.vial_lot, session.status) == ("LOT-44", "running")
    assert ledger.live_session_draw(session) == third


# ---- the remainder, witnessed ---------------------------------------------------------------


def test_the_remainder_is_wasted_with_a_witness_and_reconciles(world: World) -> None:
    session = prepare(world)
    with pytest.raises(ValidationError) as exc:
        stock.remainder_waste(
            actor=nurse(world),
            session=session,
            witness_username="prescriber",
            witness_password=PASSWORD,
        )
    assert "the infusion has not ended" in " ".join(exc.value.messages)
    session = ended(world)
    with pytest.raises(ValidationError) as exc:
        stock.remainder_waste(
            actor=nurse(world), session=session, witness_username="prescriber", witness_password="x"
        )
    assert "username or password is wrong" in refusal_of(exc, "witness_username")
    with pytest.raises(ValidationError) as exc:
        stock.remainder_waste(
            actor=nurse(world), session=session, witness_username="nurse", witness_password=PASSWORD
        )
    assert "second person" in refusal_of(exc, "witness_username")
    assert not LedgerEntry.objects.filter(kind__in=["administered", "wasted"]).exists()
    entries = stock.remainder_waste(
        actor=nurse(world),
        session=session,
        witness_username="prescriber",
        witness_password=PASSWORD,
    )
    given = ledger.session_given_mg(session)
    assert given is not None
    assert [e.kind for e in entries] == ["administered", "wasted"]
    assert entries[0].quantity_mg == given
    assert entries[0].quantity_mg + entries[1].quantity_mg == Decimal("35.000")
    assert entries[1].witness_username == "prescriber"
    with pytest.raises(ValidationError):
        stock.remainder_waste(
            actor=nurse(world),
            session=session,
            witness_username="prescriber",
            witness_password=PASSWORD,
        )
    result = ledger.reconcile_clinic(world.clinic, timezone.localdate())
    assert result.balanced, result.problems
    [check] = [c for c in result.sessions if c.session == session]
    assert (check.session, check.drawn_mg, check.wasted_mg, check.remaining_mg) == (
        session,
        Decimal("35.000"),
        entries[1].quantity_mg,
        Decimal(0),
    )


# ---- reconciliation -------------------------------------------------------------------------


def test_reconciliation_flags_a_session_without_a_draw_and_given_more_than_drawn(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    session = ended(world)
    stock.remainder_waste(
        actor=nurse(world),
        session=session,
        witness_username="prescriber",
        witness_password=PASSWORD,
    )
    today = timezone.localdate()
    assert ledger.reconcile_clinic(world.clinic, today).balanced
    assert main(["ledger", "reconcile", "--clinic", "test"]) == 0
    assert "1 sessions in which ketamine was given" in capsys.readouterr().out
    # A session in which 1.2 mg was given with no draw (charted before the gate, say).
    bare = undrawn(world)
    InfusionSession.objects.filter(pk=bare.pk).update(
        started_at=timezone.now() - dt.timedelta(minutes=30), delivered_dose_mg=1.2
    )
    result = ledger.reconcile_clinic(world.clinic, today)
    assert not result.balanced
    assert [c.session.pk for c in result.sessions] == [session.pk, bare.pk]
    assert result.problems == [
        f"session {bare.pk}: 1.200 mg given per the infusion record, but no draw from the "
        "ledger's stock names the session"
    ]
    assert main(["ledger", "reconcile", "--clinic", "test"]) == 1
    err = capsys.readouterr().err
    assert f"NOT BALANCED: session {bare.pk}: 1.200 mg given" in err
    # Given more than drawn: the record says 50 mg delivered from a 35 mg draw.
    InfusionSession.objects.filter(pk=bare.pk).update(started_at=None, delivered_dose_mg=None)
    InfusionSession.objects.filter(pk=session.pk).update(delivered_dose_mg=50.0)
    problems = ledger.reconcile_clinic(world.clinic, today).problems
    assert problems[0] == (
        f"session {session.pk}: given more than drawn: the infusion record says 50.000 mg "
        "delivered, 35.000 mg was drawn"
    )


def test_the_reconciliation_page_lists_each_session_with_its_draw_and_waste(
    world: World, client_for: Any
) -> None:
    session = ended(world)
    url = reverse("ledger_reconcile")
    page = client_for(world.director).get(url).content.decode()
    assert "NOT BALANCED" in page  # given and the remainder not yet recorded
    stock.remainder_waste(
        actor=nurse(world),
        session=session,
        witness_username="prescriber",
        witness_password=PASSWORD,
    )
    page = client_for(world.director).get(url).content.decode()
    assert "Balanced to the milligram." in page
    assert "1 sessions in which ketamine was given" in page
    draw = ledger.live_session_draw(session)
    assert draw is not None
    assert f"#{draw.seq}</a> ({draw.vial.label})" in page
    assert str(session.patient) in page
    entry = AuditEntry.objects.filter(summary__contains="reconciliation of").latest("pk")
    assert session.patient_id in entry.patient_ids
    # The other clinic's director sees none of it.
    theirs = client_for(other_director(world)).get(url).content.decode()
    assert str(session.patient) not in theirs
    assert "0 sessions in which ketamine was given" in theirs


# ---- over HTTP, and who may not --------------------------------------------------------------


def test_the_session_page_picks_the_vial_and_wastes_the_remainder(
    world: World, client_for: Any
) -> None:
    session = undrawn(world)
    vial = stock_vial(world, lot="KET-9")
    c = client_for(world.nurse)
    page = c.get(reverse("infusion_session", args=[session.pk])).content.decode()
    assert f"{vial.label}: lot KET-9, 10 mg/mL" in page
    url = reverse("infusion_action", args=[session.pk, "vial"])
    session.refresh_from_db()
    form = {"version": session.version, "vial": vial.pk, "drawn_volume_ml": "3.50"}
    bad = c.post(url, {**form, "vial": 999_999}, **FRAGMENT)
    assert bad.status_code == 400
    assert "vial 999999 is not in this clinic's stock" in bad.json()["message"]
    ok = c.post(url, form, **FRAGMENT)
    assert ok.status_code == 200, ok.json()
    assert f"Vial {vial.label} (lot KET-9) drawn: 35.000 mg" in ok.json()["message"]
    assert f"{vial.label} from stock: lot KET-9" in ok.json()["fragments"]["dose"]
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=45)
    session.refresh_from_db()
    event(world, session, "start", t0, repr(session.rate_ml_per_h))
    event(world, session, "stop", t0 + dt.timedelta(minutes=30))
    page = c.get(reverse("infusion_session", args=[session.pk])).content.decode()
    assert 'id="waste-form"' in page
    waste_url = reverse("infusion_action", args=[session.pk, "waste"])
    witnessed = {"witness_username": "prescriber", "witness_password": PASSWORD, "reason": "rest"}
    wrong = c.post(waste_url, {**witnessed, "witness_password": "nope"}, **FRAGMENT)
    assert wrong.status_code == 400
    assert "username or password is wrong" in wrong.json()["message"]
    done = c.post(waste_url, witnessed, **FRAGMENT)
    assert done.status_code == 200, done.json()
    assert "wasted (witnessed)" in done.json()["message"]
    assert ledger.reconcile_clinic(world.clinic, timezone.localdate()).balanced


@pytest.mark.parametrize("who", ["other_director", "patient", "frontdesk"])
def test_others_see_and_change_nothing(world: World, client_for: Any, who: str) -> None:
    session = undrawn(world)
    vial = stock_vial(world)
    user = {
        "other_director": other_director(world),
        "patient": world.patient_user,
        "frontdesk": world.frontdesk,
    }[who]
    c = client_for(user)
    page = c.get(reverse("infusion_session", args=[session.pk]))
    assert page.status_code in (403, 404)
    session.refresh_from_db()
    form = {"version": session.version, "vial": vial.pk, "drawn_volume_ml": "3.50"}
    response = c.post(reverse("infusion_action", args=[session.pk, "vial"]), form)
    assert response.status_code in (403, 404)
    waste = {"witness_username": "prescriber", "witness_password": PASSWORD, "reason": "rest"}
    response = c.post(reverse("infusion_action", args=[session.pk, "waste"]), waste)
    assert response.status_code in (403, 404)
    assert not LedgerEntry.objects.filter(kind__in=["drawn", "wasted"]).exists()
    if who == "other_director":
        assert c.get(reverse("ledger_vial", args=[vial.pk])).status_code == 404
