"""Issue 5's whole journey in Debian's headless Chromium, through the pages as staff use them:
a nurse takes the consultation intake, the prescriber signs the candidacy decision, the nurse
records consent, the prescriber plans the course, the front desk books it on the chair board, and
the nurse charts the first infusion (a critical blood pressure with its alert and a pause) to
discharge and a locked note. Also: a hard stop cannot be signed past, and a nurse cannot sign."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from ketaflow.audit.context import Actor
from ketaflow.audit.services import audit_verify
from ketaflow.candidacy.models import CandidacyAssessment, ConsentForm
from ketaflow.infusions.models import InfusionSession
from ketaflow.treatment.demo import load_demo
from ketaflow.treatment.models import Appointment, Course
from tests.infusions.builders import stock_vial
from tests.web.browser import (
    chart_infusion_to_lock,
    csp_violations,
    elements_now,
    login,
    shot,
    wait_text,
)
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


@pytest.fixture
def clinic_ready(live_world: World) -> World:
    """The clinic's set-up a medical director does once: chairs, opening hours, consent text."""
    load_demo(actor=Actor.system("tests"), clinic=live_world.clinic, today=timezone.localdate())
    ConsentForm.objects.create(
        clinic=live_world.clinic,
        version="2026.1",
        title="Consent to off-label ketamine infusion",
        body="Ketamine is not approved for PTSD; its risks include a rise in blood pressure.",
        effective_on=timezone.localdate(),
    )
    stock_vial(live_world)  # the ledger's stock the infusion's vial is picked from
    return live_world


def body(browser: webdriver.Chrome) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


def take_intake(browser: webdriver.Chrome, base: str, patient_id: int, **flags: bool) -> None:
    browser.get(f"{base}/patients/{patient_id}/")
    browser.find_element(By.LINK_TEXT, "New intake").click()
    form = browser.find_element(By.ID, "intake-form")
    Select(form.find_element(By.NAME, "pregnant")).select_by_value("no")
    Select(form.find_element(By.NAME, "breastfeeding")).select_by_value("no")
    Select(form.find_element(By.NAME, "cssrs_risk")).select_by_value("low")
    for name, value in {
        "weight_kg": "68",
        "height_cm": "165",
        "systolic_bp_mmhg": "122",
        "diastolic_bp_mmhg": "78",
        "heart_rate_bpm": "72",
    }.items():
        form.find_element(By.NAME, name).send_keys(value)
    for name, checked in flags.items():
        if checked:
            box = form.find_element(By.NAME, name)
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
            box.click()
    submit = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", submit)
    submit.click()


def test_from_consultation_to_a_locked_infusion_note(
    browser: webdriver.Chrome, live_server: Any, clinic_ready: World
) -> None:
    base, world = live_server.url, clinic_ready
    patient = world.patient

    # 1. Consultation: the nurse takes the intake; the rules decide, with reasons and sources.
    login(browser, base, "nurse")
    take_intake(browser, base, patient.pk)
    decision = browser.find_element(By.ID, "decision").text
    assert "Eligible" in decision
    assert "treatment-resistant" in browser.find_element(By.ID, "resistance").text
    assert "Only a prescriber or the medical director may decide a candidacy" in body(browser)
    assert elements_now(browser, By.CSS_SELECTOR, "#sign button") == []
    shot(browser, "journey-1-decision")
    assessment = CandidacyAssessment.objects.get(patient=patient)

    # 2. The prescriber signs it.
    login(browser, base, "prescriber")
    browser.get(f"{base}/candidacy/{assessment.pk}/")
    browser.find_element(By.CSS_SELECTOR, "#sign button[type=submit]").click()
    wait_text(browser, ".messages", "Candidacy decision signed.")
    assessment.refresh_from_db()
    assert (assessment.status, assessment.signed_by) == ("signed", world.prescriber)

    # 3. The nurse records the patient's informed consent as its witness.
    login(browser, base, "nurse")
    browser.get(f"{base}/patients/{patient.pk}/")
    browser.find_element(By.LINK_TEXT, "Consent").click()
    assert "not approved for PTSD" in browser.find_element(By.ID, "consent-text").text
    browser.find_element(By.ID, "id_signed_name").send_keys("Alice Anders")
    browser.find_element(By.ID, "id_understood").click()
    browser.find_element(By.CSS_SELECTOR, "#consent-text button[type=submit]").click()
    wait_text(browser, ".messages", "Consent recorded.")

    # 4. The prescriber plans the induction course (drug-library defaults) and sees its curve.
    login(browser, base, "prescriber")
    browser.get(f"{base}/patients/{patient.pk}/")
    browser.find_element(By.LINK_TEXT, "Plan a course").click()
    browser.find_element(By.CSS_SELECTOR, "button[name=save]").click()
    wait_text(browser, ".messages", "Course planned")
    assert browser.find_elements(By.CSS_SELECTOR, "#concentration svg.chart-svg")
    course = Course.objects.get(patient=patient)

    # 5. The front desk books it from the chair board.
    login(browser, base, "frontdesk")
    browser.find_element(By.LINK_TEXT, "Chair board").click()
    browser.find_element(By.CSS_SELECTOR, "#waiting a").click()
    browser.find_element(By.CSS_SELECTOR, "form.booking button[type=submit]").click()
    wait_text(browser, ".messages", "Booked 6 infusions")
    assert Appointment.objects.filter(course=course).count() == 6
    shot(browser, "journey-5-booked")

    # 6. The nurse charts the first infusion from the course page to a locked note.
    login(browser, base, "nurse")
    browser.get(f"{base}/treatment/courses/{course.pk}/")
    browser.find_element(By.CSS_SELECTOR, "button.chart-infusion").click()
    assert browser.find_elements(By.ID, "infusion")
    browser.execute_script("window.__ketaflowMarker = 'still here';")
    chart_infusion_to_lock(browser)
    session = InfusionSession.objects.get(patient=patient)
    assert session.locked
    assert session.appointment.sequence == 1
    assert session.vitals.filter(level="critical").exists()
    assert list(session.events.values_list("kind", flat=True)) == [
        "start",
        "pause",
        "resume",
        "stop",
    ]
    assert elements_now(browser, By.ID, "vitals-form") == []  # a locked note has no forms
    shot(browser, "journey-6-locked")
    assert csp_violations(browser) == []
    assert audit_verify().ok


def test_a_hard_stop_cannot_be_signed_past(
    browser: webdriver.Chrome, live_server: Any, clinic_ready: World
) -> None:
    base, world = live_server.url, clinic_ready
    login(browser, base, "nurse")
    take_intake(browser, base, world.patient.pk, active_psychosis=True)
    assert "Not eligible" in browser.find_element(By.ID, "decision").text
    assert "Hard stops" in browser.find_element(By.ID, "findings").text
    login(browser, base, "prescriber")
    assessment = CandidacyAssessment.objects.get(patient=world.patient)
    browser.get(f"{base}/candidacy/{assessment.pk}/")
    assert "A hard stop cannot be signed past" in browser.find_element(By.ID, "sign").text
    # Nothing signs past it; the one decision left is "not a candidate", with its reason.
    assert elements_now(browser, By.CSS_SELECTOR, "#sign form[action$='/sign/']") == []
    assert browser.find_elements(By.CSS_SELECTOR, "#decline-form button")
    shot(browser, "journey-hard-stop")
    assessment.refresh_from_db()
    assert assessment.status == "assessed"
    assert csp_violations(browser) == []
