"""Issue 14, items 6 and 7, in Debian's Chromium at 390 (a phone), 1024 and 1366 px: the pages
this work changed, each as the medical director, with a screenshot to look at (in
``$TMPDIR/shots-records``), no CSP violation and nothing wider than the window. The ledger: the
duplicate-invoice warning on the receive form, a receipt's reversal, the count with a second
counter. The registry: the duplicate warning at registration, the search by date of birth, the
merge page, an inactive chart."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from ketaflow.audit.context import Actor
from ketaflow.ledger.models import LedgerSettings, Receipt
from ketaflow.patients import services as patients
from tests.ledger.builders import receive
from tests.web.browser import chromium, csp_violations, login, wait_text
from tests.web.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]

SHOTS = Path(tempfile.gettempdir()) / "shots-records"
SIZES = {"390": (390, 844), "1024": (1024, 768), "1366": (1366, 900)}


# Elements past the window's right edge, except inside a horizontally scrolling wrapper (a
# wide table scrolls within it; the wrapper itself must fit).
WIDER = """return [...document.querySelectorAll(arguments[0])].filter(
  e => e.getBoundingClientRect().right > window.innerWidth + 1
    && !(e.parentElement && e.parentElement.closest('.table-scroll, .scroll-x'))
).map(e => e.tagName + '#' + e.id + '.' + e.className);"""


def look(browser: webdriver.Chrome, name: str, width: int, mine: str = "main, main *") -> str:
    """Screenshot, no CSP violation, nothing of ``mine`` (this work's part of the page) wider
    than the window; the page's text."""
    browser.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    assert csp_violations(browser) == [], name
    wide = browser.execute_script(WIDER, mine)
    assert wide == [], (name, wide)
    text: str = browser.find_element(By.TAG_NAME, "body").text
    return text


def type_into(browser: webdriver.Chrome, values: dict[str, str]) -> None:
    for element_id, value in values.items():
        field = browser.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)


def submit(browser: webdriver.Chrome, expect: str, form_css: str = "main form.form") -> None:
    """Submit and wait for the answer page to say ``expect``."""
    browser.find_element(By.CSS_SELECTOR, f"{form_css} button[type=submit]").click()
    wait_text(browser, "body", expect, timeout=20)


@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
def test_records_pages_at_each_width(live_server: Any, live_world: World, size: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    width, height = SIZES[size]
    world = live_world
    stock = receive(world, count=3)
    receipt = Receipt.objects.get(pk=stock.vials[0].receipt_id)
    LedgerSettings.objects.create(clinic=world.clinic, second_counter_required=True)
    patients.patient_deactivate(
        actor=Actor(user=world.director), patient=world.other_patient, reason="moved away"
    )
    base = live_server.url
    options: dict[str, Any] = (
        {"window": None, "phone": (width, height)} if width < 600 else {"window": (width, height)}
    )
    with chromium(**options) as browser:
        login(browser, base, "director")

        # The receive form: the same invoice again is warned about, with the confirmation.
        browser.get(f"{base}/ledger/receive/")
        Select(browser.find_element(By.ID, "id_product")).select_by_index(1)
        expires = (timezone.localdate() + dt.timedelta(days=300)).isoformat()
        browser.execute_script(f"document.getElementById('id_expires_on').value = '{expires}';")
        type_into(
            browser,
            {
                "id_lot": "LOT-X",
                "id_vial_count": "2",
                "id_supplier_name": receipt.supplier_name,
                "id_supplier_address": "1 Depot Rd",
                "id_supplier_dea_number": receipt.supplier_dea_number,
                "id_invoice_number": receipt.invoice_number,
            },
        )
        submit(browser, "was already received")
        text = look(browser, "ledger-receive-duplicate", width)
        assert "was already received" in text
        assert browser.find_element(By.ID, "id_duplicate_invoice_confirmed")

        browser.get(f"{base}/ledger/receipts/{receipt.pk}/reverse/")
        text = look(browser, "ledger-receipt-reverse", width)
        assert "Reverse the whole receipt" in text
        assert stock.vials[2].label in text

        browser.get(f"{base}/ledger/counts/new/")
        text = look(browser, "ledger-count-second-counter", width)
        assert "Second counter" in text

        # The registry.
        browser.get(f"{base}/patients/new/")
        born = world.patient.date_of_birth
        browser.execute_script(
            f"document.getElementById('id_date_of_birth').value = '{born.isoformat()}';"
        )
        Select(browser.find_element(By.ID, "id_sex_at_birth")).select_by_value("female")
        type_into(
            browser,
            {
                "id_given_name": world.patient.given_name,
                "id_family_name": world.patient.family_name,
                "id_phone": "+1 555 0199 999",
                "id_emergency_contact_name": "Pat Contact",
                "id_emergency_contact_relationship": "friend",
                "id_emergency_contact_phone": "+1 555 0100 124",
            },
        )
        submit(browser, "possible duplicate")
        text = look(browser, "patients-register-duplicate", width)
        assert "possible duplicate" in text
        assert world.patient.mrn in text

        browser.get(f"{base}/patients/?q={born.strftime('%m/%d/%Y')}&inactive=on")
        text = look(browser, "patients-search-dob", width)
        assert world.patient.mrn in text
        assert "(inactive)" in text

        browser.get(f"{base}/patients/{world.patient.pk}/merge/")
        text = look(browser, "patients-merge", width)
        assert "Record number (MRN) of the duplicate" in text

        browser.get(f"{base}/patients/{world.other_patient.pk}/")
        # The chart's own sections are another engineer's display pass; this work's parts are
        # the inactive banner and the director's deactivation form.
        text = look(
            browser,
            "patients-inactive-chart",
            width,
            "#inactive, #inactive *, #activation, #activation *",
        )
        assert "Inactive record" in text
        assert "Reactivate this record" in text
