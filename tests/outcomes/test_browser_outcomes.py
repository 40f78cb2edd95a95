"""Outcomes in Debian's headless Chromium: the medical director opens the clinic dashboard and
follows a figure to the patients behind it; a prescriber reads a relapsing patient's trajectory
on the chart and accepts the booster recommendation, which books a booster. The strict CSP holds
on every page (the browser reports no blocked resource). Screenshots go to var/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.common.by import By

from ketaflow.audit.context import Actor
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.treatment.demo import load_demo
from ketaflow.treatment.models import Course
from tests.outcomes.builders import NON_RESPONDER, RELAPSE, REMISSION, history, new_patient
from tests.web.browser import csp_violations, login, shot, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


@pytest.fixture
def cohort_world(live_world: World) -> World:
    load_demo(actor=Actor.system("tests"), clinic=live_world.clinic, today=timezone.localdate())
    history(live_world, live_world.patient, RELAPSE, weeks_ago=8)
    history(live_world, live_world.other_patient, REMISSION, weeks_ago=9)
    history(live_world, new_patient(live_world, "Nora", "Nonresp"), NON_RESPONDER, weeks_ago=10)
    return live_world


def test_director_follows_a_dashboard_figure_to_its_patients(
    browser: webdriver.Chrome, live_server: Any, cohort_world: World
) -> None:
    base = live_server.url
    login(browser, base, "director")
    browser.find_element(By.LINK_TEXT, "Outcomes").click()
    wait_text(browser, "h1", "Clinic outcomes")
    responders = browser.find_element(By.ID, "fig-responders").text
    assert "67%" in responders  # 2 of 3 responded at the end of induction
    survival = browser.find_element(By.CSS_SELECTOR, "#survival svg.chart-svg")
    assert survival.size["width"] > 300  # drawn in the page, no picture to load
    shot(browser, "director-outcome-dashboard")
    assert csp_violations(browser) == []
    browser.find_element(By.ID, "fig-losses").click()
    wait_text(browser, "h1", "Lost their response")
    rows = browser.find_element(By.ID, "figure-patients").text
    assert "Anders, Alice" in rows
    assert "Nonresp" not in rows
    shot(browser, "director-figure-patients")
    assert csp_violations(browser) == []


def test_prescriber_reads_a_trajectory_and_accepts_a_booster(
    browser: webdriver.Chrome, live_server: Any, cohort_world: World
) -> None:
    base = live_server.url
    login(browser, base, "prescriber")
    browser.get(f"{base}/patients/{cohort_world.patient.pk}/")
    section = browser.find_element(By.ID, "outcomes")
    assert "Loss of response" in section.text
    chart = section.find_element(By.CSS_SELECTOR, "#trajectory-pcl5 svg.chart-svg")
    assert chart.size["width"] > 300
    browser.execute_script("arguments[0].scrollIntoView();", section)
    shot(browser, "prescriber-chart-outcomes")
    assert csp_violations(browser) == []
    section.find_element(By.LINK_TEXT, "Trajectory and status").click()
    status = browser.find_element(By.ID, "measure-pcl5").text
    assert "Loss of response" in status
    assert "12 days" in status
    recommendation = browser.find_element(By.ID, "open-recommendation").text
    assert "below 30%" in recommendation
    assert "Proposed visits" in recommendation
    shot(browser, "prescriber-trajectory")
    assert csp_violations(browser) == []
    browser.find_element(By.ID, "accept-booster").click()
    message = wait_text(browser, ".messages", "Booster").text
    assert "Booster accepted and booked" in message
    rec = BoosterRecommendation.objects.get(patient=cohort_world.patient)
    assert rec.status == BoosterRecommendation.Status.ACCEPTED
    assert rec.course is not None
    assert rec.course.kind == Course.Kind.BOOSTER
    assert "Booster course from" in browser.find_element(By.ID, "boosters").text
    shot(browser, "prescriber-booster-accepted")
    assert csp_violations(browser) == []
