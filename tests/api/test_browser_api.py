"""The API tokens page and the API's documentation in Chromium under the strict CSP: a nurse
creates a token (shown once), and Swagger UI, served from this app, lists the operations."""

from __future__ import annotations

from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from ketaflow.api.models import ApiToken
from ketaflow.api.services import token_digest
from tests.web.browser import csp_violations, login, shot, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def test_nurse_creates_a_token_and_reads_the_api_documentation(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    login(browser, live_server.url, "nurse")
    browser.find_element(By.LINK_TEXT, "API tokens").click()
    browser.find_element(By.ID, "id_name").send_keys("referral letters")
    browser.find_element(By.CSS_SELECTOR, "input[value='patients:read']").click()
    browser.find_element(By.CSS_SELECTOR, "input[value='vitals:write']").click()
    browser.find_element(By.XPATH, "//button[text()='Create token']").click()
    token = wait_text(browser, "code.secret", "kf_").text
    record = ApiToken.objects.get()
    assert record.digest == token_digest(token)
    assert record.scopes == ["patients:read", "vitals:write"]
    assert "Vitals: record" in browser.find_element(By.CSS_SELECTOR, "table").text
    shot(browser, "api-tokens")
    assert csp_violations(browser) == []

    browser.find_element(By.LINK_TEXT, "API reference").click()
    operations = wait_text(browser, "#swagger-ui", "/api/sessions/{session_id}/vitals/", 20)
    assert "/api/patients/" in operations.text
    shot(browser, "api-docs")
    assert csp_violations(browser) == []
