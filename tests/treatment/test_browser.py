"""Course planning and booking in Debian's headless Chromium: a prescriber plans a standard
induction from the chart and sees the predicted concentration; the front desk books it from the
chair board and sees it on the board, without doses. The strict CSP holds on every page."""

from __future__ import annotations

from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from ketaflow.treatment.models import Appointment, Course
from tests.web.browser import csp_violations, elements_now, login, shot, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def test_prescriber_plans_and_front_desk_books_a_course(
    browser: webdriver.Chrome, live_server: Any, ready_world: World
) -> None:
    base = live_server.url
    login(browser, base, "prescriber")
    browser.get(f"{base}/patients/{ready_world.patient.pk}/")
    browser.find_element(By.LINK_TEXT, "Plan a course").click()
    assert browser.find_element(By.ID, "id_dose_mg_per_kg").get_attribute("value") == "0.5"
    assert browser.find_element(By.ID, "id_infusions_planned").get_attribute("value") == "6"
    assert browser.find_element(By.ID, "id_weight_kg").get_attribute("value") == "68.0"
    browser.find_element(By.CSS_SELECTOR, "button[name=preview]").click()
    preview = browser.find_element(By.ID, "preview").text
    assert "6 infusions, up to 3 a week" in preview
    assert "34.0 mg" in preview
    shot(browser, "prescriber-course-preview")
    assert csp_violations(browser) == []
    browser.find_element(By.CSS_SELECTOR, "button[name=save]").click()
    wait_text(browser, ".messages", "Course planned")
    course = Course.objects.get()
    # One SVG chart per planned infusion and the first infusion close up, no picture.
    charts = browser.find_elements(By.CSS_SELECTOR, "#concentration svg.chart-svg")
    assert len(charts) == course.infusions_planned + 1
    assert elements_now(browser, By.CSS_SELECTOR, "#concentration img") == []
    assert "Domino" in browser.find_element(By.ID, "pk-citation").text
    shot(browser, "prescriber-course-plan")
    assert csp_violations(browser) == []

    login(browser, base, "frontdesk")
    browser.find_element(By.LINK_TEXT, "Chair board").click()
    browser.find_element(By.CSS_SELECTOR, "#waiting a").click()
    browser.execute_script("document.getElementById('id_time_of_day').value = '10:30';")
    browser.find_element(By.CSS_SELECTOR, "form.booking button[type=submit]").click()
    wait_text(browser, ".messages", "Booked 6 infusions")
    assert Appointment.objects.filter(course=course).count() == 6
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "mg/kg" not in page
    assert elements_now(browser, By.CSS_SELECTOR, "svg.chart-svg") == []
    first_day = course.planned_dates[0]
    browser.get(f"{base}/treatment/board/?day={first_day}")
    board = browser.find_element(By.ID, "board").text
    assert "Alice Anders" in board
    assert "10:30-12:30" in board
    assert "mg/kg" not in board
    # The stylesheet of the treatment pages is served locally and applied.
    cell = browser.find_element(By.CSS_SELECTOR, "td.booked")
    assert cell.value_of_css_property("background-color") == "rgba(226, 240, 246, 1)"
    shot(browser, "frontdesk-chair-board")
    assert csp_violations(browser) == []
