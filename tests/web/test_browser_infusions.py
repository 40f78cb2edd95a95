"""A whole infusion charted on a tablet-sized headless Chromium (Debian's), without a full page
reload: checklist, dose, start, a critical blood pressure with its alert, pause, resume, stop,
Aldrete, discharge, sign; the locked note refuses edits; an incomplete checklist refuses the
start naming what is missing; an entry made offline is kept and sent when the connection is
back. Screenshots go to var/screenshots/; the strict CSP holds throughout."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import F
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.wait import WebDriverWait

from ketaflow.infusions.models import InfusionSession, VitalsEntry
from tests.infusions.builders import make_appointment, stock_vial
from tests.web.browser import csp_violations, login, shot, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def frag(browser: webdriver.Chrome, name: str) -> WebElement:
    return browser.find_element(By.ID, f"frag-{name}")


def fill(form: WebElement, values: dict[str, str]) -> None:
    for name, value in values.items():
        element = form.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)


def click(element: WebElement) -> None:
    """Click after scrolling the element to the bottom of the screen: the sticky bar (status,
    alert, pump controls, confirmation) covers the top of the page."""
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'end'});", element)
    element.click()


def submit(form: WebElement) -> None:
    click(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def form_in(browser: webdriver.Chrome, fragment: str, action: str) -> WebElement:
    return frag(browser, fragment).find_element(By.CSS_SELECTOR, f"form[action$='/do/{action}/']")


def not_reloaded(browser: webdriver.Chrome) -> bool:
    return bool(browser.execute_script("return window.__ketaflowMarker === 'still here';"))


def open_session(browser: webdriver.Chrome, base: str) -> None:
    browser.get(f"{base}/infusions/today/")
    browser.find_element(By.CSS_SELECTOR, "#today button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "infusion"))
    browser.execute_script("window.__ketaflowMarker = 'still here';")


def vitals(browser: webdriver.Chrome, sbp: str, dbp: str, hr: str, spo2: str) -> None:
    form = browser.find_element(By.ID, "vitals-form")
    fill(
        form,
        {
            "systolic_mmhg": sbp,
            "diastolic_mmhg": dbp,
            "heart_rate_bpm": hr,
            "spo2_percent": spo2,
            "respiratory_rate_per_min": "14",
        },
    )
    submit(form)


def press(browser: webdriver.Chrome, kind: str, status: str) -> None:
    click(browser.find_element(By.ID, f"btn-{kind}"))
    wait_text(browser, "#session-status", status)


def session_url(browser: webdriver.Chrome) -> tuple[str, str]:
    """The live server's address and the session page's path, from the page shown."""
    url = browser.current_url.split("#")[0]
    path = "/infusions/" + url.split("/infusions/", 1)[1]
    return url.split("/infusions/", 1)[0], path


def as_user(browser: webdriver.Chrome, username: str) -> None:
    """Log in as ``username`` on the same tablet and come back to the session page."""
    base, path = session_url(browser)
    login(browser, base, username)
    browser.get(base + path)
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "infusion"))
    browser.execute_script("window.__ketaflowMarker = 'still here';")


def pause_with_reason(browser: webdriver.Chrome, reason: str, note: str = "") -> None:
    form = browser.find_element(By.ID, "btn-pause").find_element(By.XPATH, "./ancestor::form")
    Select(form.find_element(By.NAME, "reason")).select_by_value(reason)
    if note:
        fill(form, {"note": note})
    press(browser, "pause", "Paused")


def prescriber_decides(browser: webdriver.Chrome, note: str) -> None:
    """The prescriber, called to the chair, records the decision to resume; the nurse logs in
    again."""
    as_user(browser, "prescriber")
    form = browser.find_element(By.ID, "decision-form")
    Select(form.find_element(By.NAME, "decision")).select_by_value("resume")
    fill(form, {"note": note})
    submit(form)
    wait_text(browser, "#flash", "Prescriber's decision recorded")
    shot(browser, "gates-decision-recorded")
    as_user(browser, "nurse")


def stop_early(browser: webdriver.Chrome, reason: str, note: str) -> None:
    form = browser.find_element(By.ID, "btn-stop").find_element(By.XPATH, "./ancestor::form")
    Select(form.find_element(By.NAME, "reason")).select_by_value(reason)
    fill(form, {"note": note})
    click(form.find_element(By.NAME, "confirm_early_stop"))
    press(browser, "stop", "Stopped")


def observation_passes(minutes: int = 90) -> None:
    """The clock moves on: the infusion's times move ``minutes`` into the past (no sleeps)."""
    from ketaflow.infusions.models import PrescriberDecision

    shift = dt.timedelta(minutes=minutes)
    session = InfusionSession.objects.get(status=InfusionSession.Status.RECOVERY)
    InfusionSession.objects.filter(pk=session.pk).update(
        started_at=F("started_at") - shift, ended_at=F("ended_at") - shift
    )
    session.events.update(at=F("at") - shift)
    session.vitals.update(measured_at=F("measured_at") - shift)
    PrescriberDecision.objects.filter(session=session).update(at=F("at") - shift)


def chart_infusion_to_lock(browser: webdriver.Chrome) -> None:
    """From an open session page to a signed, locked note, as a nurse on a tablet: checklist,
    pre-infusion questionnaires, baseline vitals, dose (0.5 mg/kg at 70 kg), vial, start, a
    critical blood pressure and its alert, pause (with its reason), resume after the
    prescriber's decision, an early stop (reason, confirmed), Aldrete, discharge after the
    observation time, the nurse's signature and the prescriber's co-signature."""

    checklist = form_in(browser, "checklist", "checklist")
    click(checklist.find_element(By.NAME, "fasting_confirmed"))
    click(checklist.find_element(By.NAME, "escort_confirmed"))
    Select(checklist.find_element(By.NAME, "pregnancy_test")).select_by_value("negative")
    fill(checklist, {"weight_kg": "70", "height_cm": "170"})
    submit(checklist)
    wait_text(browser, "#flash", "Checklist saved.")
    for instrument, label, answers in (
        ("pcl5", "PCL-5", ",".join(["1"] * 20)),
        ("phq9", "PHQ-9", "1,1,1,1,1,1,1,1,0"),
        ("cssrs", "C-SSRS screener", "n,n,n,n,n,n"),
    ):
        screening = form_in(browser, "checklist", "screening")
        Select(screening.find_element(By.NAME, "instrument")).select_by_value(instrument)
        fill(screening, {"answers": answers})
        submit(screening)
        wait_text(browser, "#flash", f"{label} recorded: total")
    vitals(browser, "122", "78", "72", "98")
    wait_text(browser, "#flowsheet", "122/78")

    dose = form_in(browser, "dose", "dose")
    fill(dose, {"vial_concentration_mg_per_ml": "10", "final_volume_ml": "100"})
    submit(dose)
    panel = wait_text(browser, "#dose-panel", "35.0 mg")
    assert "150.0 mL/h" in panel.text
    assert "3.5 mL" in panel.text
    vial = form_in(browser, "dose", "vial")
    # The vial is picked from the clinic's stock (the first offered), never typed.
    Select(vial.find_element(By.NAME, "vial")).select_by_index(1)
    fill(vial, {"drawn_volume_ml": "3.50"})
    submit(vial)
    wait_text(browser, "#vial-drawn", "from stock")
    wait_text(browser, "#start-ready", "may start")
    shot(browser, "infusion-ready")

    press(browser, "start", "Running")
    vitals(browser, "182", "112", "96", "97")
    banner = wait_text(browser, "#alert-banner", "CRITICAL")
    assert "Pause the infusion" in banner.text
    assert "Call the prescriber" in banner.text
    wait_text(browser, "#pending-list", "saved")
    assert not_reloaded(browser)
    shot(browser, "infusion-critical-alert")
    browser.execute_script("window.scrollTo(0, 0);")
    shot(browser, "infusion-critical-alert-top")

    pause_with_reason(browser, "vitals", "BP 182/112")
    vitals(browser, "128", "80", "84", "98")
    wait_text(browser, "#flowsheet", "128/80")
    wait_text(browser, "#decision-needed", "Prescriber's decision needed")
    prescriber_decides(browser, "Asymptomatic; recheck 128/80. Resume.")
    press(browser, "resume", "Running")
    stop_early(browser, "patient_request", "Asked to stop")
    # The predicted concentration of what was given: an SVG chart with its curve drawn.
    pk = browser.find_element(By.CSS_SELECTOR, "#frag-pump .pk svg.chart-svg")
    assert pk.find_elements(By.CSS_SELECTOR, "path.chart-series")
    aldrete = form_in(browser, "scores", "aldrete")
    for select in aldrete.find_elements(By.TAG_NAME, "select"):
        Select(select).select_by_value("2")
    submit(aldrete)
    wait_text(browser, "#aldrete-list", "10 of 10")
    discharge = form_in(browser, "discharge", "discharge")
    click(discharge.find_element(By.NAME, "escort_present"))
    click(discharge.find_element(By.NAME, "instructions_given"))
    submit(discharge)
    wait_text(browser, "#flash", "observation")
    observation_passes()
    as_user(browser, "nurse")
    discharge = form_in(browser, "discharge", "discharge")
    click(discharge.find_element(By.NAME, "escort_present"))
    click(discharge.find_element(By.NAME, "instructions_given"))
    submit(discharge)
    wait_text(browser, "#session-status", "Discharged")
    sign = form_in(browser, "discharge", "sign")
    click(sign.find_element(By.NAME, "confirm"))
    submit(sign)
    wait_text(browser, "#session-status", "awaiting the prescriber's co-signature")
    as_user(browser, "prescriber")
    cosign = form_in(browser, "discharge", "cosign")
    click(cosign.find_element(By.NAME, "confirm"))
    submit(cosign)
    wait_text(browser, "#locked-note", "locked")
    assert not_reloaded(browser)
    shot(browser, "infusion-signed")


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
    assert browser.find_elements(By.ID, "vitals-form") == []
    assert browser.find_elements(By.ID, "btn-start") == []
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
