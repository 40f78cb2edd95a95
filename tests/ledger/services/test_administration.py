"""Administration (ketaflow.ledger.services.administration): what the infusion record says
was delivered, never typed for a session; a paper record's typed amount; the syringe resolution."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services
from ketaflow.ledger.models import (
    LedgerEntry,
    Vial,
)
from tests.ledger.builders import (
    Stock,
    complete_session,
    draw,
    nurse,
    refusal,
    session_draw,
    waste,
)
from tests.web.conftest import World

Kind = LedgerEntry.Kind


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


def test_delivered_float_is_quantised_by_the_named_rule() -> None:
    assert services.quantise_mg(36.0004999) == Decimal("36.000")
    # The float nearest 0.0025 is 0.00250000000000000005...: above the tie, so it goes up.
    assert services.quantise_mg(0.0025) == Decimal("0.003")
    assert services.quantise_mg(Decimal("0.0025")) == Decimal("0.002")  # half to even
    assert "0.001 mg" in services.MG_RESOLUTION_RULE


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
