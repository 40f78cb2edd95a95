"""The ledger in Debian's headless Chromium against a live server: a nurse receives stock, a
waste is witnessed by a second person typing their own password (a wrong one is refused), and a
count with a discrepancy opens a case that the medical director resolves. Screenshots go to
var/screenshots/; the strict CSP holds throughout."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.wait import WebDriverWait

from ketaflow.audit.context import Actor
from ketaflow.ledger import services
from ketaflow.ledger.models import DiscrepancyCase, LedgerEntry, Product, Vial
from tests.ledger.builders import make_ready
from tests.web.browser import csp_violations, login, page_text, shot
from tests.web.conftest import PASSWORD, World, build_world

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


@pytest.fixture
def live_world(live_db: None) -> World:
    world = build_world()
    services.product_create(
        actor=Actor(user=world.nurse),
        clinic=world.clinic,
        name="Ketamine HCl",
        ndc="0000-0050-10",
        concentration_mg_per_ml=Decimal(50),
        volume_per_vial_ml=Decimal(10),
    )
    make_ready(world, world.patient)  # ketamine is drawn only for a signed, consented patient
    return world


def fill(browser: webdriver.Chrome, values: dict[str, str]) -> None:
    for field_id, value in values.items():
        element = browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)


def submit(browser: webdriver.Chrome) -> None:
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()


def receive_two(world: World) -> list[Vial]:
    receipt = services.stock_receive(
        actor=Actor(user=world.nurse),
        product=Product.objects.get(clinic=world.clinic),
        lot="LOT-B1",
        expires_on=timezone.localdate() + dt.timedelta(days=300),
        vial_count=2,
        supplier_name="Supplier Inc",
        supplier_address="1 Depot Rd",
        supplier_dea_number="RS0000000",
        invoice_number="INV-B1",
    )
    return list(receipt.vials.order_by("label"))


def test_nurse_receives_stock(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    login(browser, live_server.url, "nurse")
    browser.find_element(By.LINK_TEXT, "Ledger").click()
    assert "No stock" in page_text(browser)
    browser.find_element(By.CSS_SELECTOR, ".row a.button[href$='/ledger/receive/']").click()
    Select(browser.find_element(By.ID, "id_product")).select_by_index(1)
    expires = (timezone.localdate() + dt.timedelta(days=400)).isoformat()
    browser.execute_script(f"document.getElementById('id_expires_on').value = '{expires}';")
    fill(
        browser,
        {
            "id_lot": "KET-77",
            "id_vial_count": "3",
            "id_supplier_name": "Cardinal Demo",
            "id_supplier_address": "9 Supply Ave, Albany NY",
            "id_supplier_dea_number": "RC1234563",
            "id_invoice_number": "INV-5531",
        },
    )
    shot(browser, "ledger-receive-form")
    submit(browser)
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("/ledger/"))
    text = page_text(browser)
    year = timezone.localdate().year
    assert f"Received 3 vials (invoice INV-5531): K{year}-0001, K{year}-0002, K{year}-0003" in text
    rows = browser.find_elements(By.CSS_SELECTOR, "#stock tbody tr")
    assert len(rows) == 3
    assert "500.000" in rows[0].text
    assert "On hand 1500.000 mg" in browser.find_element(By.CSS_SELECTOR, "#stock tfoot").text
    # The ledger stylesheet is served locally and applied (status pills have a background).
    pill = browser.find_element(By.CSS_SELECTOR, "#stock .status")
    assert pill.value_of_css_property("border-radius") == "16px"
    shot(browser, "ledger-home-after-receipt")
    assert csp_violations(browser) == []


def test_a_waste_is_witnessed_by_a_second_person_with_their_password(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    vial = receive_two(live_world)[0]
    services.draw_record(
        actor=Actor(user=live_world.nurse),
        vial=vial,
        volume_ml=Decimal("0.8"),
        patient=live_world.patient,
    )
    login(browser, live_server.url, "nurse")
    browser.get(f"{live_server.url}/ledger/vials/{vial.pk}/")
    browser.find_element(By.LINK_TEXT, "Waste").click()
    Select(browser.find_element(By.ID, "id_draw")).select_by_index(1)
    fill(
        browser,
        {
            "id_amount_mg": "4.5",
            "id_reason": "residue in the bag and line",
            "id_witness_username": "prescriber",
            "id_witness_password": "not-the-password",
        },
    )
    submit(browser)
    summary = browser.find_element(By.CLASS_NAME, "error-summary").text
    assert "username or password is wrong" in summary
    # The password is not sent back to the page.
    assert browser.find_element(By.ID, "id_witness_password").get_attribute("value") == ""
    shot(browser, "ledger-waste-wrong-witness-password")
    fill(browser, {"id_witness_password": PASSWORD})
    submit(browser)
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith(f"/vials/{vial.pk}/"))
    assert "Wasted 4.500 mg, witnessed by prescriber" in page_text(browser)
    history = browser.find_element(By.ID, "history").text
    assert "Wasted (witnessed)" in history
    assert "prescriber" in history
    assert "balanced" in browser.find_element(By.ID, "balance").text
    shot(browser, "ledger-vial-after-witnessed-waste")
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.WASTED)
    assert entry.witness_id == live_world.prescriber.pk
    assert csp_violations(browser) == []


def test_a_count_with_a_discrepancy_is_resolved_by_the_director(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    opened, sealed = receive_two(live_world)
    services.draw_record(
        actor=Actor(user=live_world.nurse),
        vial=opened,
        volume_ml=Decimal(2),
        patient=live_world.patient,
    )  # 400 mg (8 mL) left in the open vial
    login(browser, live_server.url, "nurse")
    browser.get(f"{live_server.url}/ledger/")
    browser.find_element(By.CSS_SELECTOR, ".row a.button[href$='/ledger/counts/new/']").click()
    Select(browser.find_element(By.ID, "id_shift")).select_by_value("closing")
    fill(browser, {f"id_volume_{opened.pk}": "7.9"})
    assert browser.find_element(By.ID, f"id_present_{sealed.pk}").is_selected()
    shot(browser, "ledger-count-form")
    submit(browser)
    # The form itself is at /ledger/counts/new/: wait for the count's own page.
    WebDriverWait(browser, 10).until(
        lambda d: "/ledger/counts/" in d.current_url and not d.current_url.endswith("/new/")
    )
    assert "1 discrepancy case opened" in page_text(browser)
    result = browser.find_element(By.ID, "count-result").text
    assert "-5.000" in result
    shot(browser, "ledger-count-discrepancy")
    case = DiscrepancyCase.objects.get()
    browser.get(f"{live_server.url}/ledger/cases/{case.pk}/")
    assert "Only the medical director resolves" in page_text(browser)
    login(browser, live_server.url, "director")
    browser.get(f"{live_server.url}/ledger/")
    assert f"Case {case.pk}" in browser.find_element(By.ID, "open-cases").text
    browser.find_element(By.LINK_TEXT, f"Case {case.pk}").click()
    browser.find_element(By.CSS_SELECTOR, "input[value=adjust]").click()
    fill(browser, {"id_reason": "Recounted together: 0.1 mL short at the stopper."})
    shot(browser, "ledger-case-resolve-form")
    submit(browser)
    WebDriverWait(browser, 10).until(lambda d: "resolved" in page_text(d))
    text = page_text(browser)
    assert "Adjust the ledger to the count" in text
    assert "-5.000 mg" in text
    shot(browser, "ledger-case-resolved")
    assert services.reconcile_vial(Vial.objects.get(pk=opened.pk)).balanced
    assert csp_violations(browser) == []
