"""Printing shows one patient, in Debian's Chromium: every printable page (the session page,
the discharge sheet, the flowsheet, the patient's chart) printed with print media while another
patient's urgent suicide-risk task is open. On screen the banner names her (so the check can
fail); on paper neither her name nor any staff chrome appears. The flowsheet prints on one page
of A4 and of Letter. PDFs and print-media screenshots go to /tmp/shots-printq/ to look at."""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.print_page_options import PrintOptions

from ketaflow.portal.models import UrgentTask
from tests.infusions.builders import charted, running
from tests.web.browser import csp_violations, elements_now, login, shot, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]

SHOTS = Path(tempfile.gettempdir()) / "shots-printq"
PAPER = {"a4": (21.0, 29.7), "letter": (21.59, 27.94)}  # centimetres


def _media(browser: webdriver.Chrome, media: str) -> None:
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})


def _visible_text(browser: webdriver.Chrome) -> str:
    return str(browser.execute_script("return document.body.innerText;"))


def _pdf(browser: webdriver.Chrome, name: str, paper: str) -> bytes:
    options = PrintOptions()
    options.page_width, options.page_height = PAPER[paper]
    data = base64.b64decode(browser.print_page(options))
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"{name}-{paper}.pdf").write_bytes(data)
    return data


def _controls(browser: webdriver.Chrome) -> list[str]:
    """Buttons, links drawn as buttons, fields (the chart's clinical note, its deactivation
    reason), the infusion page's action forms and its flowsheet's correction links that show."""
    found = elements_now(
        browser,
        By.CSS_SELECTOR,
        "main button, main a.button, main form[data-ajax], main #flowsheet a,"
        " main input:not([type=hidden]), main select, main textarea",
    )
    return [(e.get_attribute("outerHTML") or "")[:80] for e in found if e.is_displayed()]


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_every_printable_page_prints_only_its_patient(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    session = charted(live_world)
    still_running = running(live_world, started_min_ago=20)
    UrgentTask.objects.create(
        clinic=live_world.clinic,
        patient=live_world.other_patient,
        reasons=["PHQ-9 item 9 answered: nearly every day"],
    )
    pages = {
        "session": reverse("infusion_session", args=[session.pk]),
        "running session": reverse("infusion_session", args=[still_running.pk]),
        "instructions": reverse("infusion_instructions", args=[session.pk]),
        "flowsheet": reverse("infusion_flowsheet", args=[session.pk]),
        "chart": reverse("patient_chart", args=[live_world.patient.pk]),
    }
    login(browser, live_server.url, "nurse")
    try:
        for name, url in pages.items():
            _media(browser, "screen")
            browser.set_window_size(1024, 1366)
            browser.get(live_server.url + url)
            banner = wait_text(browser, "#urgent-banner", "Berg")
            assert banner.is_displayed(), name  # on screen the banner shows (the check can fail)
            on_screen = _controls(browser)
            if name == "session":
                assert on_screen, "on screen the page has buttons and forms (the check can fail)"
            if name == "running session":  # a reading's correction link (the check can fail)
                assert any(">Correct</a>" in c for c in on_screen), on_screen
            if name == "chart":  # the clinical note's box (the check can fail)
                assert any("<textarea" in c for c in on_screen), on_screen
            _media(browser, "print")
            assert _controls(browser) == [], name  # on paper nothing to press or fill in
            printed = _visible_text(browser)
            assert "Anders" in printed, name
            for absent in ("Berg", "Bruno", "urgent task", "Log out", "· Test Clinic"):
                assert absent not in printed, (name, absent)
            browser.set_window_size(800, 1100)  # about A4 at 96 dpi
            shot(browser, f"print-{name}", folder=SHOTS)
            for paper in PAPER:
                pdf = _pdf(browser, f"print-{name}", paper)
                assert pdf.startswith(b"%PDF"), name
                if name == "flowsheet":
                    assert _pages(pdf) == 1, (paper, _pages(pdf))
        assert csp_violations(browser) == []
    finally:
        _media(browser, "screen")
        browser.set_window_size(1024, 1366)


@pytest.mark.parametrize(
    ("width", "who"), [(390, "nurse"), (1024, "prescriber"), (1366, "director")]
)
def test_the_flowsheet_and_discharge_sheet_on_screen(
    browser: webdriver.Chrome, live_server: Any, live_world: World, width: int, who: str
) -> None:
    session = charted(live_world)
    login(browser, live_server.url, who)
    browser.set_window_size(width, 1100)
    try:
        browser.get(live_server.url + reverse("infusion_session", args=[session.pk]))
        link = browser.find_element(By.ID, "flowsheet-link")
        href = link.get_attribute("href") or ""
        assert href.endswith(reverse("infusion_flowsheet", args=[session.pk]))
        for name, url in (
            ("flowsheet", href),
            ("instructions", reverse("infusion_instructions", args=[session.pk])),
        ):
            browser.get(url if url.startswith("http") else live_server.url + url)
            wait_text(browser, "main", "Anders")
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth"
                " - document.documentElement.clientWidth;"
            )
            shot(browser, f"{name}-{who}-{width}", folder=SHOTS)
            assert overflow <= 0, (name, overflow)
        assert csp_violations(browser) == []
    finally:
        browser.set_window_size(1024, 1366)
