"""Candidacy decisions and the course plan's preview in Chromium at a phone's, a tablet's and a
laptop's width: a hard stop recorded as not a candidate, its letter, and the predicted
concentration of a plan before it is saved. The strict CSP holds."""

from __future__ import annotations

from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from ketaflow.candidacy.models import CandidacyAssessment
from tests.treatment.conftest import ready_world
from tests.web.browser import at_widths, csp_violations, elements_now, login, shot, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]

__all__ = ["ready_world"]  # the fixture, used by name


def test_hard_stop_not_a_candidate_letter_and_plan_preview(
    browser: webdriver.Chrome, live_server: Any, ready_world: World
) -> None:
    world, base = ready_world, live_server.url
    stop = CandidacyAssessment.objects.create(
        patient=world.other_patient,
        created_by=world.prescriber,
        intake={"weight_kg": 70.0},
        decision=CandidacyAssessment.Decision.NOT_ELIGIBLE,
        indications=["ptsd"],
        resistance=[
            {
                "indication": "ptsd",
                "resistant": False,
                "explanation": "No adequate trial recorded.",
                "judgements": [],
                "source": "",
            }
        ],
        findings=[
            {
                "tier": "hard_stop",
                "rule_id": "psychiatric.psychosis",
                "message": "Active psychosis: ketamine may worsen it.",
                "source": "",
            }
        ],
        summary="Not eligible: a hard stop.",
    )
    login(browser, base, "prescriber")
    browser.get(f"{base}/candidacy/{stop.pk}/")
    assert "awaiting the prescriber" in browser.find_element(By.CSS_SELECTOR, "#decision h2").text
    at_widths(browser, "candidacy-hard-stop")
    browser.find_element(By.ID, "id_reason").send_keys(
        "Active psychosis: ketamine may worsen it; reassess when it has resolved."
    )
    browser.find_element(By.ID, "id_referrer").send_keys("Dr Ruth Mendel, Eastside Practice")
    browser.find_element(By.CSS_SELECTOR, "#decline-form button[type=submit]").click()
    wait_text(browser, "#letter", "To: Dr Ruth Mendel, Eastside Practice")
    at_widths(browser, "candidacy-letter")
    assert csp_violations(browser) == []
    browser.get(f"{base}/candidacy/{stop.pk}/")
    assert browser.find_element(By.CSS_SELECTOR, "#decision h2").text == "Not a candidate"

    browser.get(f"{base}/treatment/patients/{world.patient.pk}/plan/")
    browser.find_element(By.CSS_SELECTOR, "button[name=preview]").click()
    section = browser.find_element(By.ID, "preview-concentration")
    charts = section.find_elements(By.CSS_SELECTOR, "svg.chart-svg")
    assert len(charts) >= 2  # each planned infusion and the first close up
    assert elements_now(section, By.CSS_SELECTOR, "img") == []
    browser.execute_script("arguments[0].scrollIntoView()", section)
    at_widths(browser, "plan-preview")
    assert csp_violations(browser) == []


def test_a_field_error_is_announced_with_its_input(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    """The one field template in Chromium, on a phone: the refused weight's input is invalid and
    its accessible description (aria-describedby) is its help and its error, in words."""
    world, base = live_world, live_server.url
    login(browser, base, "nurse")
    browser.set_window_size(390, 900)
    browser.get(f"{base}/candidacy/patients/{world.patient.pk}/intake/")
    weight = browser.find_element(By.ID, "id_weight_kg")
    weight.clear()
    weight.send_keys("900")
    browser.find_element(By.CSS_SELECTOR, "#intake-form button[type=submit]").click()
    wait_text(browser, "#id_weight_kg_error", "outside the plausible range")
    weight = browser.find_element(By.ID, "id_weight_kg")
    assert weight.get_attribute("aria-invalid") == "true"
    described = [
        browser.find_element(By.ID, ref).text
        for ref in (weight.get_attribute("aria-describedby") or "").split()
    ]
    assert any("stored in kg" in text for text in described), described
    assert any("900 kg is outside the plausible range 20-400 kg" in t for t in described)
    error = browser.find_element(By.ID, "id_weight_kg_error")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", error)
    shot(browser, "field-error-390")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    assert csp_violations(browser) == []
