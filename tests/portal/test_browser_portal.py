"""The portal in a real browser at a phone's size (390 x 844 CSS pixels): a patient is invited,
follows the link, sets a password and an authenticator code, answers a PHQ-9 with item 9 above 0
and is shown crisis resources at once; then a nurse sees the urgent-task banner and acknowledges
the task. Debian's headless Chromium; the strict CSP holds throughout. Screenshots go to
var/screenshots/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from ketaflow.portal.models import DueQuestionnaire, UrgentTask
from tests.web.browser import chromium, elements_now, login, shot
from tests.web.conftest import PASSWORD, World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]

PHONE = (390, 844)  # an iPhone 12-15 viewport in CSS pixels
NEW_PASSWORD = "river stones at dawn 7"
PHQ9_ANSWERS = [1, 2, 1, 1, 0, 1, 1, 0, 2]  # item 9 answered 2 ("more than half the days")


@pytest.fixture(scope="module")
def phone() -> Iterator[webdriver.Chrome]:
    with chromium(window=None, phone=PHONE, extra_args=("--hide-scrollbars",)) as driver:
        yield driver


class Console:
    """Collects the browser's console messages across pages (reading the log empties it)."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self.messages: list[str] = []

    def csp_violations(self) -> list[str]:
        # WebDriver.get_log is untyped; this is the same command (Selenium's GET_LOG).
        logs: list[dict[str, Any]] = self.driver.execute("getLog", {"type": "browser"})["value"]
        self.messages += [e["message"] for e in logs]
        return [m for m in self.messages if "Content Security Policy" in m]


def fits_the_phone(driver: webdriver.Chrome) -> bool:
    width = driver.execute_script("return document.documentElement.scrollWidth")
    return isinstance(width, int) and width <= PHONE[0]


def body_text(driver: webdriver.Chrome) -> str:
    text: str = driver.find_element(By.TAG_NAME, "body").text
    return text


def test_invited_patient_enrols_answers_phq9_and_the_nurse_acknowledges(
    phone: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    base = live_server.url
    console = Console(phone)
    patient = live_world.other_patient  # no portal login yet
    now = timezone.now()
    DueQuestionnaire.objects.create(
        patient=patient,
        instrument="phq9",
        timepoint="browser-check-in",
        label="weekly check-in",
        due_at=now - dt.timedelta(hours=1),
        window_ends_at=now + dt.timedelta(days=2),
    )

    # The front desk creates the login and the invitation from the patient's page.
    login(phone, base, "frontdesk", PASSWORD)
    phone.get(f"{base}/patients/{patient.pk}/")
    phone.find_element(By.LINK_TEXT, "Patient portal").click()
    phone.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    link = phone.find_element(By.ID, "invite-link").get_attribute("value")
    assert link is not None
    assert "/portal/join/" in link
    shot(phone, "portal-01-invitation-created")

    # The patient opens the link on their phone: password and authenticator in one page.
    phone.delete_all_cookies()
    phone.get(link)
    username = phone.find_element(By.ID, "username").text
    secret = phone.find_element(By.ID, "totp-secret").text.replace(" ", "")
    qr = phone.find_element(By.CSS_SELECTOR, ".qr-box svg")
    assert qr.size["width"] >= 150
    assert fits_the_phone(phone)
    shot(phone, "portal-02-join")
    phone.find_element(By.ID, "id_password1").send_keys(NEW_PASSWORD)
    phone.find_element(By.ID, "id_password2").send_keys(NEW_PASSWORD)
    phone.find_element(By.ID, "id_code").send_keys(pyotp.TOTP(secret).now())
    phone.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(phone, 10).until(lambda d: d.current_url.rstrip("/").endswith("/portal"))
    home = body_text(phone)
    assert "Questionnaires due" in home
    assert "988" in phone.find_element(By.ID, "crisis-link").text
    assert fits_the_phone(phone)
    shot(phone, "portal-03-home")

    # Signing in again needs the code as well as the password.
    login(phone, base, username, NEW_PASSWORD)
    assert "/portal/verify/" in phone.current_url
    shot(phone, "portal-04-verify")
    totp = pyotp.TOTP(secret)
    code = totp.at(timezone.now() + dt.timedelta(seconds=30))  # the next step: not yet used
    phone.find_element(By.ID, "id_code").send_keys(code)
    phone.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    WebDriverWait(phone, 10).until(lambda d: "/portal/verify/" not in d.current_url)

    # The PHQ-9 that is due, answered with item 9 above 0.
    phone.get(f"{base}/portal/")
    phone.find_element(By.PARTIAL_LINK_TEXT, "PHQ-9").click()
    assert "Thoughts that you would be better off dead" in body_text(phone)
    for number, value in enumerate(PHQ9_ANSWERS, start=1):
        phone.find_element(By.CSS_SELECTOR, f"label[for=id_item_{number}_{value}]").click()
    assert fits_the_phone(phone)
    shot(phone, "portal-05-phq9")
    phone.find_element(By.ID, "id_comment").send_keys("Hard week.")
    phone.find_element(By.CSS_SELECTOR, "form.questionnaire button[type=submit]").click()
    crisis = phone.find_element(By.ID, "crisis-resources")
    assert "988" in crisis.text
    assert "911" in crisis.text
    assert crisis.is_displayed()
    assert crisis.location["y"] < PHONE[1]  # at once: on the first screen, no scrolling
    assert fits_the_phone(phone)
    shot(phone, "portal-06-crisis-resources")
    task = UrgentTask.objects.get(patient=patient)
    assert task.is_open
    phone.find_element(By.LINK_TEXT, "My scores").click()
    assert phone.find_element(By.CSS_SELECTOR, "#chart-phq9 svg").size["width"] <= PHONE[0]
    assert fits_the_phone(phone)
    shot(phone, "portal-06b-my-scores")

    # The nurse sees the banner on every page and acknowledges the task.
    login(phone, base, "nurse", PASSWORD)
    banner = phone.find_element(By.ID, "urgent-banner")
    assert "1 urgent task" in banner.text
    assert patient.given_name in banner.text
    assert banner.value_of_css_property("background-color") == "rgba(179, 38, 30, 1)"
    shot(phone, "portal-07-nurse-banner")
    phone.get(f"{base}/patients/")
    assert phone.find_element(By.ID, "urgent-banner").is_displayed()
    phone.find_element(By.CSS_SELECTOR, "#urgent-banner a").click()
    assert "PHQ-9 item 9" in body_text(phone)
    Select(phone.find_element(By.ID, "id_action_taken")).select_by_value("called_patient")
    phone.find_element(By.ID, "id_note").send_keys("Called; safety plan reviewed; seen tomorrow.")
    phone.find_element(By.CSS_SELECTOR, "#acknowledge button[type=submit]").click()
    assert "Acknowledged" in phone.find_element(By.ID, "acknowledged").text
    assert not elements_now(phone, By.ID, "urgent-banner")
    shot(phone, "portal-08-acknowledged")
    task.refresh_from_db()
    assert task.acknowledged_by == live_world.nurse
    assert console.csp_violations() == []
