"""The research export page in Debian's Chromium at 390, 1024 and 1366 px (the display sweep
leaves it out: its URL ends in /export, which the sweep takes for a download): words, not codes;
no sideways scroll; no console error or CSP violation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.browser import (
    OVERFLOW,
    WIDTHS,
    chromium,
    codes_in,
    console_errors,
    csp_violations,
    shot,
    sign_in,
    viewport,
)
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def test_the_page_reads_as_words_and_fits(live_server: Any, live_world: World) -> None:
    with chromium(window=(WIDTHS[-1], 900)) as browser:
        sign_in(browser, live_server.url, live_world.director)
        browser.get(live_server.url + "/research/export/")
        text = browser.find_element("tag name", "main").text
        assert "Research export" in text
        assert "PK predictions" in text  # the tables in words
        assert "Medical record numbers" in text  # the identifiers removed
        assert codes_in(text) == []
        for width in WIDTHS:
            viewport(browser, width)
            assert browser.execute_script(OVERFLOW) == "", width
            shot(browser, f"research-export-{width}")
        assert console_errors(browser) == []
        assert csp_violations(browser) == []
