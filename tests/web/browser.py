"""Driving Debian's headless Chromium for the browser tests: one way to start it, log in, take
a screenshot (into var/screenshots/, to look at) and read CSP violations from its console.
The ``browser`` and ``live_world`` fixtures in conftest.py use these."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

SHOTS = Path("var/screenshots")
TABLET = (1024, 1366)  # a tablet held upright, in CSS pixels

# As root on a machine whose network is closed: no sandbox, and none of Chromium's background
# connections (they are refused, many at a time, and slow every start).
_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def chromium(
    *,
    window: tuple[int, int] | None = TABLET,
    phone: tuple[int, int] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[webdriver.Chrome]:
    """Debian's Chromium at a tablet's window size, or emulating a phone's viewport."""
    binary = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.fail("Debian's chromium and chromium-driver are required: run `make system-deps`")
    profile = tempfile.mkdtemp(prefix="ketaflow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (*_ARGS, *extra_args, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    if window is not None:
        options.add_argument(f"--window-size={window[0]},{window[1]}")
    if phone is not None:
        options.add_experimental_option(
            "mobileEmulation",
            {"deviceMetrics": {"width": phone[0], "height": phone[1], "pixelRatio": 1.0}},
        )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def login(browser: webdriver.Chrome, base: str, username: str, password: str | None = None) -> None:
    """Log in through the login form (as a fresh visitor) and wait to leave the login page."""
    from tests.web.conftest import PASSWORD

    browser.delete_all_cookies()
    browser.get(f"{base}/login/")
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(password or PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/login/" not in d.current_url)
    if "/account/" in browser.current_url:
        second_factor(browser, username)


def next_code(username: str) -> str:
    """A code the enrolled staff member's authenticator would show that the server has not
    accepted yet (each time step is accepted once; one step of drift either way)."""
    import time

    import pyotp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from ketaflow.accounts.second_factor import STEP_SECONDS, secret_of

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    while True:
        now = int(time.time() // STEP_SECONDS)
        step = max(now - 1, device.last_t + 1)
        if step <= now + 1:
            return str(pyotp.TOTP(secret_of(device)).at(step * STEP_SECONDS))
        time.sleep(1)


def second_factor(browser: webdriver.Chrome, username: str) -> None:
    """Complete a staff login's second factor: the code page, or enrolment at the first login
    (reads the key from the page, enters its code, leaves the recovery codes page)."""
    import pyotp

    if "/account/enrol/" in browser.current_url:
        key = browser.find_element(By.CSS_SELECTOR, "code.secret").text.replace(" ", "")
        browser.find_element(By.ID, "id_code").send_keys(pyotp.TOTP(key).now())
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        WebDriverWait(browser, 10).until(lambda d: "Your recovery codes" in d.page_source)
        browser.find_element(By.PARTIAL_LINK_TEXT, "continue").click()
    else:
        browser.find_element(By.ID, "id_code").send_keys(next_code(username))
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/account/" not in d.current_url)


def shot(browser: webdriver.Chrome, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"{name}.png"))


def csp_violations(browser: webdriver.Chrome) -> list[str]:
    """Content-Security-Policy violations in the console since it was last read."""
    # WebDriver.get_log is untyped; this is the same command (Selenium's GET_LOG).
    logs: list[dict[str, Any]] = browser.execute("getLog", {"type": "browser"})["value"]
    return [e["message"] for e in logs if "Content Security Policy" in e["message"]]


def wait_text(browser: webdriver.Chrome, css: str, text: str, timeout: float = 10) -> WebElement:
    """The first element matching ``css`` whose text contains ``text``, waiting for it: after a
    click the old page (or an old fragment) may still be there, or be replaced mid-read."""

    def found(d: webdriver.Chrome) -> WebElement | bool:
        try:
            for element in d.find_elements(By.CSS_SELECTOR, css):
                if text in element.text:
                    return element
        except StaleElementReferenceException:
            return False  # replaced while we read it: look again
        return False

    result = WebDriverWait(browser, timeout).until(found)
    assert isinstance(result, WebElement)
    return result
