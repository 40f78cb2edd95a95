"""Who entered what, on a shared tablet in Debian's Chromium: nurse A's vitals entry waits in
the offline queue (the server unreachable for it); logging out warns that it is unsent (cancel
keeps it, confirming deletes it) and clears the browser's storage; nurse B then logs in on the
same browser and nothing of A's is visible, stored or replayed. The automatic idle log-off
warns about unsent entries first, then clears them and returns to the login page."""

from __future__ import annotations

from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from ketaflow.accounts.roles import Role
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from tests.infusions.builders import make_appointment
from tests.web.browser import click, csp_violations, login, open_session, shot, vitals, wait_text
from tests.web.conftest import World, make_user

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]

STORED = "return Object.keys(localStorage).filter(k => k.startsWith('ketaflow.'));"
STORED_TEXT = "return Object.keys(localStorage).map(k => k + localStorage.getItem(k)).join('');"


def _block_entries(browser: webdriver.Chrome, blocked: bool) -> None:
    """The server unreachable for charting posts only (the tablet's connection is flaky)."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.setBlockedURLs", {"urls": ["*/do/vitals/*"] if blocked else []}
    )


def _queue_as_nurse_a(browser: webdriver.Chrome, base: str, world: World) -> InfusionSession:
    make_appointment(world)
    login(browser, base, "nurse")
    open_session(browser, base)
    session = InfusionSession.objects.get()
    _block_entries(browser, True)
    vitals(browser, "131", "79", "70", "99")
    wait_text(browser, "#pending-list", "not yet saved")
    keys = browser.execute_script(STORED)
    assert keys == [f"ketaflow.queue.{world.nurse.pk}.{session.pk}"]
    assert "131" in browser.execute_script(STORED_TEXT)
    assert not VitalsEntry.objects.exists()
    return session


def test_a_second_nurse_cannot_replay_the_first_nurses_queue(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    second = make_user(live_world.clinic, "nurse-b", Role.NURSE)
    try:
        session = _queue_as_nurse_a(browser, live_server.url, live_world)
        logout = browser.find_element(By.CSS_SELECTOR, "form[data-logout] button")
        click(logout)
        alert = WebDriverWait(browser, 5).until(expected_conditions.alert_is_present())
        assert alert
        assert "1 entry on this tablet is not yet saved" in alert.text
        alert.dismiss()  # cancel: still logged in, the entry still queued
        assert "/infusions/" in browser.current_url
        assert "131" in browser.execute_script(STORED_TEXT)
        click(browser.find_element(By.CSS_SELECTOR, "form[data-logout] button"))
        alert = WebDriverWait(browser, 5).until(expected_conditions.alert_is_present())
        assert alert
        alert.accept()
        WebDriverWait(browser, 10).until(lambda d: "/login/" in d.current_url)
        assert browser.execute_script(STORED) == []
        assert browser.execute_script("return sessionStorage.length;") == 0
    finally:
        _block_entries(browser, False)

    login(browser, live_server.url, second.username)
    browser.get(f"{live_server.url}/infusions/{session.pk}/")
    browser.execute_script("window.__ketaflowMarker = 'still here';")
    assert browser.find_element(By.ID, "pending").get_attribute("hidden") is not None
    # Nurse A's reading is nowhere on B's page (as "131/79": the random MRN may hold "131").
    assert "131/79" not in browser.find_element(By.TAG_NAME, "body").text
    assert "131" not in browser.find_element(By.ID, "pending-list").text
    # B charts: B's entry is the first and only one the queue sends (A's would have gone first).
    vitals(browser, "118", "76", "66", "98")
    wait_text(browser, "#flowsheet", "118/76")
    wait_text(browser, "#pending-list", "saved")
    shot(browser, "offline-queue-second-nurse")
    assert [(v.systolic_mmhg, v.by_id) for v in VitalsEntry.objects.all()] == [(118, second.pk)]
    assert "131" not in browser.execute_script(STORED_TEXT)
    assert csp_violations(browser) == []


def test_the_idle_log_off_warns_then_clears_the_queue(
    browser: webdriver.Chrome, live_server: Any, live_world: World, settings: Any
) -> None:
    # The idle time (the page's timer follows it), and a stored session that ends with it: the
    # queue's retries then find no session once the tablet is idle (they are answered by the
    # login page, which restarts nobody's idle time), so the page's log-off is what is tested.
    # In production the stored session outlives the idle time by its save interval.
    settings.SESSION_IDLE_SECONDS = 10
    settings.SESSION_TOUCH_SECONDS = 1
    settings.SESSION_COOKIE_AGE = 10
    try:
        _queue_as_nurse_a(browser, live_server.url, live_world)
        warning = wait_text(browser, "#idle-warning", "logged off", timeout=15)
        assert "1 entry on this tablet is not yet saved" in warning.text
        shot(browser, "offline-queue-idle-warning")
        WebDriverWait(browser, 15).until(lambda d: "/login/" in d.current_url)
        assert "idle=1" in browser.current_url
        assert browser.execute_script(STORED) == []
    finally:
        _block_entries(browser, False)
    assert not VitalsEntry.objects.exists()
