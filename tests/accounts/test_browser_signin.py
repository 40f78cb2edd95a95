"""The sign-in pages in Debian's headless Chromium at a phone's, a tablet's and a laptop's width
(390, 1024, 1366 CSS pixels): a nurse's first login enrols an authenticator and is shown the
recovery codes; the next login asks for the code; the security page; the director's sign-ins
page with a paused account; the lockout page. The strict CSP holds; nothing overflows the
width. Screenshots go to var/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.web.browser import chromium, csp_violations, elements_now, login, shot, wait_text
from tests.web.conftest import PASSWORD, World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]

WIDTHS = (390, 1024, 1366)


@pytest.fixture(scope="module", params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def sized(request: pytest.FixtureRequest) -> Iterator[tuple[webdriver.Chrome, int]]:
    width = int(request.param)
    with chromium(window=(width, 900)) as driver:
        yield driver, width


def _fits(browser: webdriver.Chrome) -> bool:
    return bool(
        browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
    )


def test_sign_in_pages_at_three_widths(
    sized: tuple[webdriver.Chrome, int], live_server: Any, live_world: World
) -> None:
    browser, width = sized
    base = live_server.url
    # First login: the password, then enrolment (QR code and key), then the recovery codes.
    browser.delete_all_cookies()
    browser.get(f"{base}/login/")
    browser.find_element(By.ID, "id_username").send_keys("nurse")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/login/" not in d.current_url)
    assert "/account/enrol/" in browser.current_url
    assert browser.find_element(By.CSS_SELECTOR, "svg.qr").is_displayed()
    assert elements_now(browser, By.LINK_TEXT, "Patients") == []
    assert _fits(browser)
    shot(browser, f"signin-01-enrol-{width}")
    login(browser, base, "nurse")  # the helper completes enrolment the same way
    assert browser.current_url.rstrip("/") == base
    # The next login asks for the code.
    browser.delete_all_cookies()
    browser.get(f"{base}/login/")
    browser.find_element(By.ID, "id_username").send_keys("nurse")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/login/" not in d.current_url)
    assert "/account/verify/" in browser.current_url
    assert _fits(browser)
    shot(browser, f"signin-02-verify-{width}")
    login(browser, base, "nurse")
    browser.get(f"{base}{reverse('account_security')}")
    assert "Sign-in security" in browser.find_element(By.TAG_NAME, "h1").text
    assert _fits(browser)
    shot(browser, f"signin-03-security-{width}")
    # The director's page, with the prescriber paused after ten wrong passwords.
    for _ in range(10):
        Client(REMOTE_ADDR="192.0.2.200").post(
            reverse("login"), {"username": "prescriber", "password": "wrong"}
        )
    login(browser, base, "director")
    browser.get(f"{base}{reverse('signin_list')}")
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "prescriber" in page
    assert "paused" in page
    assert _fits(browser)
    shot(browser, f"signin-04-director-{width}")
    assert csp_violations(browser) == []
    # The lockout page, for the paused prescriber.
    browser.delete_all_cookies()
    browser.get(f"{base}/login/")
    browser.find_element(By.ID, "id_username").send_keys("prescriber")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_text(browser, "h1", "Sign-in paused")
    assert _fits(browser)
    shot(browser, f"signin-05-lockout-{width}")
