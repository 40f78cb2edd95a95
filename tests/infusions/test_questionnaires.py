"""Questionnaires at the chair item by item: one radio group per item, licensed instruments by
item number only, errors naming the item, the same service (a PHQ-9 item 9 above 0 raises the
urgent task), a live preview that records nothing, and access for every role."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketaflow.accounts.roles import Role
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.clinical import Instrument
from ketaflow.clinical.instruments import CSSRS_ITEM_LABELS, MADRS_ITEM_LABELS
from ketaflow.infusions.models import InfusionSession
from ketaflow.infusions.questionnaires import sheet
from ketaflow.portal.models import UrgentTask
from ketaflow.portal.questionnaires import PHQ9
from tests.infusions.builders import open_session
from tests.web.conftest import World, make_user


def _url(session: InfusionSession, instrument: str) -> str:
    return reverse("infusion_questionnaire", args=[session.pk, instrument])


def _answers(ratings: list[Any]) -> dict[str, str]:
    return {f"item_{n}": str(v) for n, v in enumerate(ratings, start=1)}


def test_phq9_page_has_one_fieldset_per_item_with_its_text(world: World, client_for: Any) -> None:
    session = open_session(world)
    page = client_for(world.nurse).get(_url(session, "phq9"))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<fieldset class="q-item"') == 9
    assert f"<legend>Item 9: {PHQ9.items[8]}</legend>" in html
    assert html.count('type="radio"') == 9 * 4
    assert "Nearly every day" in html
    assert "infusions/questionnaire.js" in html
    assert "<script>" not in html  # no inline script (strict CSP)


@pytest.mark.parametrize("instrument", ["cssrs", "cadss"])
def test_licensed_instruments_show_item_numbers_only(
    world: World, client_for: Any, instrument: str
) -> None:
    session = open_session(world)
    html = client_for(world.nurse).get(_url(session, instrument)).content.decode()
    count = len(sheet(Instrument(instrument)).items)
    assert html.count('<fieldset class="q-item"') == count
    assert f"<legend>Item {count}</legend>" in html
    for label in CSSRS_ITEM_LABELS:
        assert label not in html


def test_madrs_and_caps5_sheets_carry_no_item_text() -> None:
    for instrument in (Instrument.MADRS, Instrument.CAPS5, Instrument.CADSS, Instrument.CSSRS):
        found = sheet(instrument)
        assert found.licensed
        assert all(item.legend == f"Item {item.number}" for item in found.items)
        assert not any(label in found.stem for label in MADRS_ITEM_LABELS)
    assert len(sheet(Instrument.MADRS).items) == 10
    assert [v for v, _ in sheet(Instrument.MADRS).choices] == [str(v) for v in range(7)]
    assert not sheet(Instrument.PCL5).licensed


def test_a_missing_item_is_named_and_nothing_is_recorded(world: World, client_for: Any) -> None:
    session = open_session(world)
    data = _answers([0, 1, 0, 1, 0, 0, 0, 0, 0])
    del data["item_3"]
    response = client_for(world.nurse).post(_url(session, "phq9"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'href="#id_item_3_0">Item 3: choose an answer.</a>' in html
    # The item's fieldset names its error element (web/field_notes.html), which holds the words.
    assert 'id="q-item-3" data-item="3" aria-describedby="id_item_3_error"' in html
    assert '<div class="error" id="id_item_3_error"><p>Item 3: choose an answer.</p></div>' in html
    bad = client_for(world.nurse).post(_url(session, "phq9"), {**data, "item_3": "7"})
    assert "Item 3: 7 is not one of the answers." in bad.content.decode()
    assert not InstrumentResponse.objects.filter(patient=world.patient).exists()


def test_phq9_item_9_above_zero_raises_the_urgent_task(world: World, client_for: Any) -> None:
    session = open_session(world)
    c = client_for(world.nurse)
    ratings = [1, 1, 0, 2, 0, 1, 0, 0, 1]
    # The live preview scores the answers and names the flag, recording nothing.
    preview = c.post(_url(session, "phq9"), _answers(ratings), HTTP_X_KETAFLOW_PREVIEW="1")
    assert preview.json()["total"] == 6
    assert preview.json()["flag"].startswith("Suicide-risk flag")
    assert not InstrumentResponse.objects.exists()
    assert not UrgentTask.objects.exists()
    response = c.post(_url(session, "phq9"), _answers(ratings))
    assert response.status_code == 302
    assert response["Location"].endswith("#frag-checklist")
    recorded = InstrumentResponse.objects.get(patient=world.patient, instrument="phq9")
    assert recorded.suicide_risk_flag
    assert recorded.total == 6
    assert UrgentTask.objects.filter(patient=world.patient, acknowledged_at__isnull=True).exists()


def test_cssrs_yes_no_and_cadss_recorded_through_the_same_service(
    world: World, client_for: Any
) -> None:
    session = open_session(world)
    c = client_for(world.nurse)
    no = c.post(_url(session, "cssrs"), _answers(["n"] * 6), HTTP_X_KETAFLOW_PREVIEW="1")
    assert no.json() == {"total": 0, "complete": True, "flag": ""}
    assert c.post(_url(session, "cssrs"), _answers(["n"] * 6)).status_code == 302
    assert c.post(_url(session, "cadss"), _answers([1] * 23))["Location"].endswith("#frag-scores")
    totals = dict(
        InstrumentResponse.objects.filter(patient=world.patient).values_list("instrument", "total")
    )
    assert totals == {"cssrs": 0, "cadss": 23}


def test_who_may_answer_at_the_chair(world: World, client_for: Any) -> None:
    session = open_session(world)
    url = _url(session, "phq9")
    data = _answers([0] * 9)
    front = client_for(world.frontdesk)
    assert front.get(url).status_code == 403
    assert front.post(url, data).status_code == 403
    for outsider in (
        world.patient_user,
        make_user(world.other_clinic, "foreign-director", Role.MEDICAL_DIRECTOR),
    ):
        assert client_for(outsider).get(url).status_code == 404
        assert client_for(outsider).post(url, data).status_code == 404
    assert Client().get(url).status_code == 302
    for unknown in ("aldrete", "madrs", "nonsense"):
        assert client_for(world.nurse).get(_url(session, unknown)).status_code == 404
    assert not InstrumentResponse.objects.exists()
    assert client_for(world.prescriber).get(url).status_code == 200
