"""The browser tests' own helpers (tests/web/browser.py), where a race would make a browser test
fail at random: no browser needed."""

from __future__ import annotations

from typing import Any, cast

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.remote.webelement import WebElement

from tests.web.browser import page_text, replaced_mid_read, wait_text

# What Chromium answered in a CI run (4 Dec 2026) when the login page's <h1> went with its page
# between its lookup and the read of its text.
INSPECTOR = (
    'unknown error: unhandled inspector error: {"code":-32000,"message":"Node with given id '
    'does not belong to the document"}'
)


class Heading(WebElement):
    def __init__(self, text: str) -> None:
        super().__init__(parent=cast(Any, None), id_="heading")
        self._words = text

    @property
    def text(self) -> str:
        return self._words


class ReplacedOnce:
    """A page whose first heading goes while it is read, as after a click."""

    def __init__(self, error: WebDriverException) -> None:
        self.error = error
        self.reads = 0

    def find_elements(self, by: str, value: str) -> list[WebElement]:
        self.reads += 1
        if self.reads == 1:
            raise self.error
        return [Heading("Sign-in paused")]

    def find_element(self, by: str, value: str) -> WebElement:
        return self.find_elements(by, value)[0]


def test_a_node_gone_with_its_page_is_a_replaced_element_in_both_wordings() -> None:
    assert replaced_mid_read(StaleElementReferenceException("stale element reference"))
    assert replaced_mid_read(WebDriverException(INSPECTOR))
    assert replaced_mid_read(WebDriverException("unknown error: No node with given id found"))
    assert not replaced_mid_read(WebDriverException("chrome not reachable"))


def test_wait_text_reads_again_when_the_page_went_mid_read() -> None:
    for error in (WebDriverException(INSPECTOR), StaleElementReferenceException("stale")):
        page = ReplacedOnce(error)
        found = wait_text(cast(webdriver.Chrome, page), "h1", "Sign-in paused", timeout=2)
        assert found.text == "Sign-in paused"
        assert page.reads == 2


def test_page_text_reads_again_when_the_page_went_mid_read() -> None:
    page = ReplacedOnce(WebDriverException(INSPECTOR))
    assert page_text(cast(webdriver.Chrome, page)) == "Sign-in paused"
    assert page.reads == 2


def test_the_readers_do_not_hide_another_failure() -> None:
    for read in (
        lambda page: wait_text(page, "h1", "Sign-in paused", timeout=2),
        page_text,
    ):
        page = cast(webdriver.Chrome, ReplacedOnce(WebDriverException("chrome not reachable")))
        with pytest.raises(WebDriverException, match="chrome not reachable"):
            read(page)
