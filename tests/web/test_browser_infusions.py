"""A whole infusion charted on a tablet-sized headless Chromium (Debian's), without a full page
reload: checklist, dose, start, a critical blood pressure with its alert, pause, resume, stop,
Aldrete, discharge, sign; the locked note refuses edits; an incomplete checklist refuses the
start naming what is missing; an entry made offline is kept and sent when the connection is
back. Screenshots go to var/screenshots/; the strict CSP holds throughout."""

from __future__ import annotations

from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from ketaflow.infusions.models import InfusionSession, VitalsEntry
from tests.infusions.builders import make_appointment, stock_vial
from tests.web.browser import (
    chart_infusion_to_lock,
    click,
    csp_violations,
    elements_now,
    frag,
    login,
    not_reloaded,
    open_session,
    shot,
    vitals,
    wait_text,
)
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def test_a_nurse_charts_a_whole_infusion_without_a_reload(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    make_appointment(live_world)
    stock_vial(live_world)
    login(browser, live_server.url, "nurse")
    open_session(browser, live_server.url)
    base = live_server.url
    chart_infusion_to_lock(browser)

    session = InfusionSession.objects.get()
    assert session.locked
    assert session.status == InfusionSession.Status.SIGNED
    assert session.vitals.filter(level="critical").count() == 1
    assert list(session.events.values_list("kind", flat=True)) == [
        "start",
        "pause",
        "resume",
        "stop",
    ]
    # The locked note has no charting forms, and the server refuses a posted change.
    assert elements_now(browser, By.ID, "vitals-form") == []
    assert elements_now(browser, By.ID, "btn-start") == []
    status = browser.execute_script(
        "const body = new URLSearchParams({csrfmiddlewaretoken:"
        " document.querySelector('input[name=csrfmiddlewaretoken]').value,"
        " client_uuid: crypto.randomUUID(), systolic_mmhg: '120', diastolic_mmhg: '80',"
        " heart_rate_bpm: '70', spo2_percent: '98'});"
        "const r = await fetch(arguments[0], {method: 'POST', body: body,"
        " headers: {'X-KetaFlow-Fragment': '1'}});"
        "const j = await r.json(); return [r.status, j.message];",
        f"{base}/infusions/{session.pk}/do/vitals/",
    )
    assert status[0] == 400
    assert "locked" in status[1]
    assert session.vitals.count() == 3
    browser.get(f"{base}/infusions/{session.pk}/instructions/")
    assert "Do not drive" in browser.find_element(By.TAG_NAME, "body").text
    shot(browser, "infusion-instructions")
    assert csp_violations(browser) == []


def test_start_is_refused_with_the_missing_items(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    make_appointment(live_world)
    login(browser, live_server.url, "nurse")
    open_session(browser, live_server.url)
    click(browser.find_element(By.ID, "btn-start"))
    refusal = wait_text(browser, "#flash", "Cannot start the infusion")
    for item in ("fasting: not confirmed", "escort: not confirmed", "baseline vitals", "dose"):
        assert item in refusal.text
    # Once: the pump card does not repeat it, the tablet's queue only says "not saved".
    assert "Cannot start" not in frag(browser, "pump").text
    assert "Cannot start" not in browser.find_element(By.ID, "pending").text
    assert not_reloaded(browser)
    assert not InfusionSession.objects.get().events.exists()
    shot(browser, "infusion-start-refused")
    assert csp_violations(browser) == []


def test_a_vital_entered_offline_is_kept_and_sent_later(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    make_appointment(live_world)
    login(browser, live_server.url, "nurse")
    open_session(browser, live_server.url)
    browser.set_network_conditions(
        offline=True, latency=0, download_throughput=0, upload_throughput=0
    )
    try:
        vitals(browser, "131", "79", "70", "99")
        wait_text(browser, "#pending-list", "not yet saved — will retry")
        shot(browser, "infusion-offline-entry")
        assert not VitalsEntry.objects.exists()
    finally:
        browser.set_network_conditions(
            offline=False, latency=0, download_throughput=-1, upload_throughput=-1
        )
    wait_text(browser, "#flowsheet", "131/79", timeout=20)
    wait_text(browser, "#pending-list", "saved")
    assert VitalsEntry.objects.count() == 1
    assert not_reloaded(browser)
    stored = browser.execute_script(
        "return Object.keys(localStorage).map(k => localStorage.getItem(k)).join('');"
    )
    assert "131" not in stored
