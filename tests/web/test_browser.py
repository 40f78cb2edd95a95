"""The app in a real browser: Debian's headless Chromium driven by Selenium against a live
server. Each role logs in through the login form and sees what it should, and the strict CSP
holds (the browser reports no blocked resource). Screenshots go to var/screenshots/."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from ketaflow.accounts.second_factor import enrol_totp
from tests.web.browser import csp_violations, elements_now, login, shot, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def test_nurse_finds_a_patient_and_reads_the_chart(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    login(browser, live_server.url, "nurse")
    browser.find_element(By.LINK_TEXT, "Patients").click()
    search = browser.find_element(By.ID, "id_q")
    search.send_keys("Anders")
    search.submit()
    browser.find_element(By.PARTIAL_LINK_TEXT, "Anders, Alice").click()
    body = wait_text(browser, "body", "F43.12").text
    assert "F43.12" in body
    assert "CONFIDENTIAL-NOTE-TEXT" in body
    assert "Sertraline" in body
    # The stylesheet is served locally and applied (cards have a white background).
    card = browser.find_element(By.ID, "demographics")
    assert card.value_of_css_property("background-color") == "rgba(255, 255, 255, 1)"
    shot(browser, "nurse-chart")
    assert csp_violations(browser) == []


def test_front_desk_registers_a_patient_and_sees_no_clinical_data(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    login(browser, live_server.url, "frontdesk")
    browser.get(f"{live_server.url}/patients/new/")
    browser.find_element(By.ID, "id_given_name").send_keys("Greta")
    browser.find_element(By.ID, "id_family_name").send_keys("Gruber")
    browser.find_element(By.ID, "id_phone").send_keys("+1 555 0100 777")
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    errors = browser.find_element(By.CLASS_NAME, "error-summary").text
    assert "Date of birth: This field is required." in errors
    shot(browser, "frontdesk-form-errors")
    browser.execute_script(
        "document.getElementById('id_date_of_birth').value = '1991-02-03';"
        "document.getElementById('id_sex_at_birth').value = 'female';"
    )
    for field, value in [
        ("id_emergency_contact_name", "Hans Gruber"),
        ("id_emergency_contact_relationship", "brother"),
        ("id_emergency_contact_phone", "+1 555 0100 778"),
    ]:
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    wait_text(browser, ".messages", "Registered Greta Gruber")
    browser.get(f"{live_server.url}/patients/{live_world.patient.pk}/")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Bo Anders" in body
    assert "CONFIDENTIAL-NOTE-TEXT" not in body
    assert "F43.12" not in body
    shot(browser, "frontdesk-chart")
    assert csp_violations(browser) == []


def test_patient_sees_only_their_own_record(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    secret = pyotp.random_base32()
    enrol_totp(user=live_world.patient_user, secret=secret, last_t=0)
    login(browser, live_server.url, "patient")
    assert "/portal/verify/" in browser.current_url  # the password alone opens nothing
    browser.find_element(By.NAME, "code").send_keys(pyotp.TOTP(secret).now())
    browser.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("/portal/"))
    browser.get(f"{live_server.url}/patients/{live_world.patient.pk}/")
    assert "Alice" in browser.find_element(By.TAG_NAME, "h1").text
    assert elements_now(browser, By.LINK_TEXT, "Patients") == []
    browser.get(f"{live_server.url}/patients/{live_world.other_patient.pk}/")
    assert "Not found" in browser.find_element(By.TAG_NAME, "h1").text
    shot(browser, "patient-other-chart")


def test_director_verifies_the_audit_chain(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    login(browser, live_server.url, "director")
    browser.find_element(By.LINK_TEXT, "Audit trail").click()
    browser.find_element(By.CSS_SELECTOR, "button[name=verify]").click()
    assert "audit chain intact" in browser.find_element(By.ID, "verify-result").text
    shot(browser, "director-audit")
    assert csp_violations(browser) == []


def test_director_administration_works_under_the_csp(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    login(browser, live_server.url, "director")
    browser.find_element(By.LINK_TEXT, "Administration").click()
    browser.find_element(By.LINK_TEXT, "Users").click()
    browser.find_element(By.LINK_TEXT, "nurse").click()
    wait_text(browser, "body", "Add another Credential")
    shot(browser, "director-admin-user")
    assert csp_violations(browser) == []


def test_director_signs_a_clinical_setting_under_the_csp(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    """Issue 10 item 7: from the navigation to a signed setting; a value out of bounds is
    refused naming the setting and its allowed range."""
    login(browser, live_server.url, "director")
    browser.find_element(By.LINK_TEXT, "Clinical settings").click()
    wait_text(browser, "#pending-summary", "awaiting your sign-off")
    card = "#setting-dosing-adjusted-bw-factor"
    box = browser.find_element(By.CSS_SELECTOR, f"{card} input[name=value]")
    box.clear()
    box.send_keys("0.9")
    browser.find_element(By.CSS_SELECTOR, f"{card} button[value=sign]").click()
    wait_text(browser, f"{card} .error-summary", "0.9 is outside the allowed range 0.2-0.5")
    box = browser.find_element(By.CSS_SELECTOR, f"{card} input[name=value]")
    box.clear()
    box.send_keys("0.4")
    browser.find_element(By.CSS_SELECTOR, f"{card} button[value=sign]").click()
    wait_text(browser, f"{card} .ok", "signed by director on")
    shot(browser, "director-clinical-settings")
    assert csp_violations(browser) == []
