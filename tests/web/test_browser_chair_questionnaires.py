"""A questionnaire at the chair in Chromium, keyboard first: digits answer and move on, the
total and the suicide-risk flag show live, and recording goes through the same service. At a
phone's, a tablet's and a laptop's width; the strict CSP holds."""

from __future__ import annotations

from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.portal.models import UrgentTask
from tests.infusions.builders import open_session
from tests.web.browser import at_widths, csp_violations, login, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def test_phq9_by_keyboard_with_live_total_and_flag(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    session = open_session(live_world)
    login(browser, live_server.url, "nurse")
    browser.get(f"{live_server.url}/infusions/{session.pk}/")
    browser.find_element(By.CSS_SELECTOR, ".q-links a[href$='/phq9/']").click()
    WebDriverWait(browser, 10).until(lambda d: "/questionnaire/phq9/" in d.current_url)
    first = browser.switch_to.active_element
    assert first.get_attribute("name") == "item_1"
    first.send_keys("1")  # answers item 1 and moves to item 2
    active = browser.switch_to.active_element
    assert active.get_attribute("name") == "item_2"
    active.send_keys(Keys.ARROW_UP)  # back to item 1
    assert browser.switch_to.active_element.get_attribute("name") == "item_1"
    browser.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    for digit in "10201001":
        browser.switch_to.active_element.send_keys(digit)
    assert browser.find_element(By.ID, "q-total-value").text == "6"
    assert browser.find_element(By.ID, "q-answered").text == "9"
    wait_text(browser, "#q-flag", "Suicide-risk flag")
    assert not InstrumentResponse.objects.exists()
    at_widths(browser, "chair-phq9")
    assert csp_violations(browser) == []
    browser.find_element(By.CSS_SELECTOR, "#questionnaire button[type=submit]").click()
    wait_text(browser, ".messages", "PHQ-9 recorded: total 6")
    assert UrgentTask.objects.filter(patient=live_world.patient).exists()
    browser.get(f"{live_server.url}/infusions/{session.pk}/questionnaire/cssrs/")
    at_widths(browser, "chair-cssrs")
    assert csp_violations(browser) == []
