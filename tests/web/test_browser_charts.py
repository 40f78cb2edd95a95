"""Every page with a chart in Debian's headless Chromium at 390, 1024 and 1366 px: the charts are
SVG drawn in the page (no picture), fit the width without sideways scrolling, keep their text at
least 9 px high, point to a data table that exists, and the strict CSP reports nothing.
Screenshots go to /tmp/ketaflow-charts/ (look at them)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.common.by import By

from ketaflow.audit.context import Actor
from ketaflow.treatment.demo import load_demo
from ketaflow.treatment.models import Course
from tests.infusions.builders import run_to_stop
from tests.outcomes.builders import RELAPSE, history
from tests.web.browser import chromium, elements_now, sign_in
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]

WIDTHS = (390, 1024, 1366)
SHOTS = Path(tempfile.gettempdir()) / "ketaflow-charts"
MIN_TEXT_PX = 9.0

# Per chart: its width, the viewport's, the smallest text's rendered size, and the rows of the
# table its aria-describedby names.
MEASURE = """
return Array.from(document.querySelectorAll('svg.chart-svg')).map(function (svg) {
  var scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  var sizes = Array.from(svg.querySelectorAll('text')).map(function (t) {
    return parseFloat(t.getAttribute('font-size')) * scale;
  });
  var table = document.getElementById(svg.getAttribute('aria-describedby'));
  return {
    id: svg.closest('figure').id,
    right: svg.getBoundingClientRect().right,
    smallest: Math.min.apply(null, sizes),
    rows: table ? table.querySelectorAll('tbody tr').length : -1,
    title: document.getElementById(svg.getAttribute('aria-labelledby')).textContent
  };
});
"""


@pytest.fixture(scope="module")
def chrome() -> Iterator[webdriver.Chrome]:
    with chromium(window=(1366, 900)) as driver:
        yield driver


def _check(browser: webdriver.Chrome, name: str, url: str, *, charts: int) -> None:
    browser.get(url)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        browser.set_window_size(width, 900)
        viewport = browser.execute_script("return document.documentElement.clientWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= viewport, (name, width, scroll, viewport)
        found: list[dict[str, Any]] = browser.execute_script(MEASURE)
        assert len(found) >= charts, (name, width, found)
        for chart in found:
            assert chart["right"] <= viewport + 0.5, (name, width, chart)
            assert chart["smallest"] >= MIN_TEXT_PX, (name, width, chart)
            assert chart["rows"] > 0, (name, width, chart)
            assert chart["title"].strip(), (name, width, chart)
        first = browser.find_element(By.CSS_SELECTOR, "svg.chart-svg")
        browser.execute_script("arguments[0].scrollIntoView()", first)
        browser.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    assert elements_now(browser, By.CSS_SELECTOR, "figure.chart img") == []
    # The console since the page loaded: no CSP violation, no error of any kind.
    logs: list[dict[str, Any]] = browser.execute("getLog", {"type": "browser"})["value"]
    assert [e["message"] for e in logs if e["level"] == "SEVERE"] == [], name


def test_every_chart_page_holds_at_phone_tablet_and_desktop_width(
    chrome: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    world = live_world
    load_demo(actor=Actor.system("tests"), clinic=world.clinic, today=timezone.localdate())
    history(world, world.patient, RELAPSE, weeks_ago=8)
    session = run_to_stop(world)
    base = live_server.url
    sign_in(chrome, base, world.nurse)
    _check(chrome, "infusion", base + reverse("infusion_session", args=[session.pk]), charts=2)
    _check(chrome, "flowsheet", base + reverse("infusion_flowsheet", args=[session.pk]), charts=1)
    sign_in(chrome, base, world.prescriber)
    _check(
        chrome,
        "trajectory",
        base + reverse("outcomes_trajectory", args=[world.patient.pk]),
        charts=1,
    )
    _check(
        chrome, "patient-chart", base + reverse("patient_chart", args=[world.patient.pk]), charts=1
    )
    course = Course.objects.filter(patient__clinic=world.clinic).exclude(weight_kg=None).first()
    assert course is not None
    _check(
        chrome,
        "course",
        base + reverse("course_detail", args=[course.pk]),
        charts=course.infusions_planned + 1,
    )
    sign_in(chrome, base, world.director)
    _check(chrome, "dashboard", base + reverse("outcomes_dashboard"), charts=2)
    sign_in(chrome, base, world.patient_user)
    _check(chrome, "portal-scores", base + reverse("portal_scores"), charts=1)
