"""Driving Debian's headless Chromium for the browser tests: one way to start it, log in, take
a screenshot (into var/screenshots/, to look at) and read CSP violations from its console.
The ``browser`` and ``live_world`` fixtures in conftest.py use these.

Also the steps the browser tests share (one place, not imported from another test module):
filling and sending the session page's forms (``form_in``, ``fill``, ``submit``, ``vitals``,
``pause_with_reason``, ``prescriber_decides``, ``chart_infusion_to_lock`` ...), signing the browser
in through a test-client session (``sign_in``), the widths a page must hold (``WIDTHS``,
``viewport``, ``at_widths``, ``shots_at_widths``) and what a screen must not show (``codes_in``,
``console_errors``)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db.models import F
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.wait import WebDriverWait

from ketaflow.accounts.models import User
from ketaflow.infusions.models import InfusionSession
from tests.web.conftest import logged_in

SHOTS = Path("var/screenshots")
# How long finding an element waits for it to appear (WebDriver's implicit wait). An empty answer
# always waits this long: a check that something is absent uses ``elements_now``.
IMPLICIT_WAIT_S = 5
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
    driver.implicitly_wait(IMPLICIT_WAIT_S)
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
    """A code the enrolled staff member's authenticator shows now, which the server accepts.

    The server accepts each time step once, within one step either way (RFC 6238), so a real
    authenticator allows three logins of one person in 30 s; the browser tests switch users on
    one tablet faster than that and waited up to half a minute each time (about 90 s of a
    suite run, a core left idle). So the helper forgets the steps this person used before
    (``last_t``): the test's clock cannot wait, and the rule itself is tested on its own
    (tests/accounts/test_signin.py ``test_an_authenticator_code_is_accepted_once``)."""
    import time

    import pyotp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from ketaflow.accounts.second_factor import STEP_SECONDS, secret_of

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    now = int(time.time() // STEP_SECONDS)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=now - 2)
    return str(pyotp.TOTP(secret_of(device)).at(now * STEP_SECONDS))


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


def shot(browser: webdriver.Chrome, name: str, folder: Path = SHOTS) -> None:
    """A screenshot of the window as ``folder/name.png`` (var/screenshots/ unless told)."""
    folder.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(folder / f"{name}.png"))


def csp_violations(browser: webdriver.Chrome) -> list[str]:
    """Content-Security-Policy violations in the console since it was last read."""
    # WebDriver.get_log is untyped; this is the same command (Selenium's GET_LOG).
    logs: list[dict[str, Any]] = browser.execute("getLog", {"type": "browser"})["value"]
    return [e["message"] for e in logs if "Content Security Policy" in e["message"]]


def elements_now(scope: webdriver.Chrome | WebElement, by: str, value: str) -> list[WebElement]:
    """The elements matching now, without the implicit wait: with it, ``find_elements`` that
    finds nothing waits the whole ``IMPLICIT_WAIT_S`` (five seconds a check that something is
    absent). For what must be absent from a loaded page; what appears later is waited for."""
    driver = scope if isinstance(scope, webdriver.Chrome) else scope.parent
    driver.implicitly_wait(0)
    try:
        return scope.find_elements(by, value)
    finally:
        driver.implicitly_wait(IMPLICIT_WAIT_S)


# Chromium's own words when a node it found went with its page before it was read: an
# "unhandled inspector error" Selenium does not map to a stale reference (a CI run failed on it).
GONE_NODE = ("does not belong to the document", "No node with given id")


def replaced_mid_read(error: WebDriverException) -> bool:
    """Whether ``error`` says the element being read went with its page (a click's answer
    replaced it): Selenium's stale reference, or Chromium's words for the same race."""
    if isinstance(error, StaleElementReferenceException):
        return True
    return any(words in (error.msg or "") for words in GONE_NODE)


def page_text(browser: webdriver.Chrome) -> str:
    """The page's text, read again if the page was replaced while it was being read."""
    for _ in range(20):
        try:
            text: str = browser.find_element(By.TAG_NAME, "body").text
        except WebDriverException as error:
            if not replaced_mid_read(error):
                raise
            continue
        return text
    raise AssertionError("the page kept changing while its text was read")


def wait_text(browser: webdriver.Chrome, css: str, text: str, timeout: float = 10) -> WebElement:
    """The first element matching ``css`` whose text contains ``text``, waiting for it: after a
    click the old page (or an old fragment) may still be there, or be replaced mid-read."""

    def found(d: webdriver.Chrome) -> WebElement | bool:
        try:
            for element in d.find_elements(By.CSS_SELECTOR, css):
                if text in element.text:
                    return element
        except WebDriverException as error:
            if not replaced_mid_read(error):
                raise
            return False  # replaced while we read it: look again
        return False

    result = WebDriverWait(browser, timeout).until(found)
    assert isinstance(result, WebElement)
    return result


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


def score_aldrete(browser: webdriver.Chrome) -> None:
    """Score the modified Aldrete with every item at 2 and wait for its 10 of 10."""
    aldrete = form_in(browser, "scores", "aldrete")
    for select in aldrete.find_elements(By.TAG_NAME, "select"):
        Select(select).select_by_value("2")
    submit(aldrete)
    wait_text(browser, "#aldrete-list", "10 of 10")


def send_discharge(browser: webdriver.Chrome) -> None:
    """Send the discharge form with the escort present and the instructions given."""
    discharge = form_in(browser, "discharge", "discharge")
    click(discharge.find_element(By.NAME, "escort_present"))
    click(discharge.find_element(By.NAME, "instructions_given"))
    submit(discharge)


def confirm_and_send(browser: webdriver.Chrome, action: str) -> None:
    """Tick the confirmation of the note's ``action`` form ("sign" or "cosign") and send it."""
    form = form_in(browser, "discharge", action)
    click(form.find_element(By.NAME, "confirm"))
    submit(form)


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
    score_aldrete(browser)
    send_discharge(browser)
    wait_text(browser, "#flash", "observation")
    observation_passes()
    as_user(browser, "nurse")
    send_discharge(browser)
    wait_text(browser, "#session-status", "Discharged")
    confirm_and_send(browser, "sign")
    wait_text(browser, "#session-status", "awaiting the prescriber's co-signature")
    as_user(browser, "prescriber")
    confirm_and_send(browser, "cosign")
    wait_text(browser, "#locked-note", "locked")
    assert not_reloaded(browser)
    shot(browser, "infusion-signed")


WIDTHS = (390, 1024, 1366)


SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


DOTTED = re.compile(r"(?<![\w.@/:-])[a-z][a-z0-9_]+(?:\.[a-z][a-z0-9_]+)+\b(?![@/-])")


FILE_ENDINGS = ("md", "py", "html", "txt", "pdf", "csv", "org", "com", "net", "json", "png", "svg")


EXPONENT = re.compile(r"\b\d+(?:\.\d+)?[eE][+-]?\d+\b")


# A time zone's IANA name ("America/New_York"): pages name the zone in words (zone_words).
ZONE_CODE = re.compile(
    r"\b(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)"
    r"/[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)?"
)


def codes_in(text: str) -> list[str]:
    """What in ``text`` looks like a code or an unformatted number."""
    found = SNAKE.findall(text) + EXPONENT.findall(text) + ZONE_CODE.findall(text)
    found += [m for m in DOTTED.findall(text) if m.rsplit(".", 1)[1] not in FILE_ENDINGS]
    return found


def sign_in(browser: webdriver.Chrome, base: str, user: User) -> None:
    """The browser as ``user``: a session made by the test client, past the second factor."""
    client = logged_in(user)
    cookie = client.cookies["sessionid"]
    browser.get(base + "/login/")
    browser.delete_all_cookies()
    browser.add_cookie({"name": "sessionid", "value": cookie.value, "path": "/"})


def console_errors(browser: webdriver.Chrome) -> list[str]:
    """Errors in the console, apart from the page's own refusal (a 403 or 404 is the answer
    the page means to give, tested elsewhere)."""
    logs: list[dict[str, Any]] = browser.execute("getLog", {"type": "browser"})["value"]
    page = browser.current_url.split("?")[0]
    return [
        e["message"]
        for e in logs
        if e.get("level") == "SEVERE"
        and not (e["message"].startswith(page) and "status of 4" in e["message"])
    ]


def viewport(browser: webdriver.Chrome, width: int) -> None:
    """The page at ``width`` CSS pixels wide."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    assert browser.execute_script("return window.innerWidth") == width


OVERFLOW = """
const root = document.documentElement;
const over = root.scrollWidth - root.clientWidth;
if (over <= 1) return "";
const wide = [...document.querySelectorAll("body *")].filter(
  (el) => el.getBoundingClientRect().right > root.clientWidth + 1
).slice(0, 3).map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
  + (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : ""));
return over + "px too wide: " + wide.join(", ");
"""


# Words of a table broken into pieces across lines ("fron / tdes / k"): a column squeezed below
# its longest word instead of the table scrolling inside itself. Words of letters only, four or
# more; visually hidden text (1 px boxes) left out.
BROKEN_WORDS = """
const found = [];
for (const cell of document.querySelectorAll("main th, main td")) {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode()) && found.length < 3) {
    const box = node.parentElement;
    if (!box || box.closest(".visually-hidden") || box.getBoundingClientRect().width <= 1) {
      continue;
    }
    const words = /[A-Za-z]{4,}/g;
    let m;
    while ((m = words.exec(node.textContent)) !== null) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
        .map((r) => Math.round(r.top)));
      if (lines.size > 1) {
        found.push("'" + m[0] + "' broken over " + lines.size + " lines in a table cell");
        break;
      }
    }
  }
  if (found.length >= 3) break;
}
return found.join("; ");
"""


# What a printed page shows that is to be pressed or filled in (run in print media): any button
# or submit, and any field but those of a form that is the page itself (it posts to its own
# address, or is marked print-keep). A search or filter box, or a form beside the record (a note,
# a deactivation, a setting), is a blank box on paper.
PRINTED_CONTROLS = """
const found = [];
const fields = "main input:not([type=hidden]), main select, main textarea, main button,"
  + " main a.button";
for (const e of document.querySelectorAll(fields)) {
  const box = e.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) continue;  // not shown
  const form = e.closest("form");
  const own = form && (form.getAttribute("method") || "get").toLowerCase() === "post"
    && (!form.getAttribute("action") || form.classList.contains("print-keep"));
  const pressed = e.matches("button, a.button, input[type=submit], input[type=button]");
  if (own && !pressed) continue;
  found.push(e.tagName.toLowerCase() + (e.name ? "[name=" + e.name + "]" : "")
    + (form ? " in a form " + (form.getAttribute("method") || "get") + " "
      + (form.getAttribute("action") || "(its own address)") : " outside a form"));
}
return found;
"""


def printed_controls(browser: webdriver.Chrome) -> list[str]:
    """:data:`PRINTED_CONTROLS` of the page as printed; the page back in screen media after."""
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        return list(browser.execute_script(PRINTED_CONTROLS))
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def shots_at_widths(browser: webdriver.Chrome, name: str) -> None:
    """Screenshots at 390, 1024 and 1366 px wide into $KETAFLOW_SHOTS (when set), full height."""
    target = os.environ.get("KETAFLOW_SHOTS")
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    size = browser.get_window_size()
    for width in (390, 1024, 1366):
        browser.set_window_size(width, 900)
        height = browser.execute_script("return document.documentElement.scrollHeight;")
        browser.set_window_size(width, min(int(height) + 100, 6000))
        browser.save_screenshot(str(Path(target) / f"{name}-{width}.png"))
    browser.set_window_size(size["width"], size["height"])


def at_widths(browser: webdriver.Chrome, name: str) -> None:
    for width in WIDTHS:
        browser.set_window_size(width, 900)
        shot(browser, f"{name}-{width}")
        # Nothing wider than the window: no sideways scrolling on a phone.
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width


def not_reloaded(browser: webdriver.Chrome) -> bool:
    return bool(browser.execute_script("return window.__ketaflowMarker === 'still here';"))


def session_url(browser: webdriver.Chrome) -> tuple[str, str]:
    """The live server's address and the session page's path, from the page shown."""
    url = browser.current_url.split("#")[0]
    path = "/infusions/" + url.split("/infusions/", 1)[1]
    return url.split("/infusions/", 1)[0], path
