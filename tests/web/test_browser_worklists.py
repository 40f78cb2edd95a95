"""The home page's worklists in Chromium at a phone's, a tablet's and a laptop's width: each
item is one click from its page, and the strict CSP holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from ketaflow.infusions.models import InfusionSession
from ketaflow.portal.models import UrgentTask
from tests.infusions.builders import assessed, session_in
from tests.web.browser import at_widths, csp_violations, login
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def test_each_role_sees_its_worklists_and_follows_one(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    world = live_world
    candidacy = assessed(world, world.other_patient, "needs_review")
    session_in(
        world,
        world.patient,
        InfusionSession.Status.RUNNING,
        started_at=timezone.now() - dt.timedelta(minutes=50),
    )
    UrgentTask.objects.create(clinic=world.clinic, patient=world.patient, reasons=["PHQ-9 item 9"])
    for username in ("prescriber", "nurse", "frontdesk", "director"):
        login(browser, live_server.url, username)
        browser.get(f"{live_server.url}/")
        assert browser.find_elements(By.CSS_SELECTOR, ".worklist")
        at_widths(browser, f"worklists-{username}")
        assert csp_violations(browser) == []
    login(browser, live_server.url, "prescriber")
    browser.get(f"{live_server.url}/")
    browser.find_element(By.CSS_SELECTOR, "#worklist-candidacies li a").click()
    WebDriverWait(browser, 10).until(lambda d: f"/candidacy/{candidacy.pk}/" in d.current_url)
