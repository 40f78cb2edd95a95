"""Issue 11's one journey at the chair, in Debian's headless Chromium on a tablet held upright
(768x1024): the nurse picks the vial from the clinic's stock; a critical baseline refuses the
start, a prescriber overrides it with a reason and the nurse starts; a critical reading raises
the prescribers' urgent task, the nurse pauses and resume waits for the prescriber's decision;
the bag completes at its volume to be infused (the page's own clock notices it and asks the
server, the nurse confirms); the remainder is wasted with a witness; discharge is refused before
the observation time, then allowed; the nurse signs, the prescriber co-signs; the director's
reconciliation lists the session with its draw and witnessed waste and says balanced.

The clock is controlled, never slept through: the server's side moves the infusion's recorded
times into the past, and the page's clock (``Date.now``) is moved ahead by as much, so the page's
own timer finds the bag's expected end past at its next tick (at most 15 s)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import F
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from ketaflow.infusions.models import InfusionSession, PrescriberDecision
from ketaflow.ledger import services as ledger
from ketaflow.portal.models import UrgentTask
from tests.infusions.builders import prepare, stock_vial
from tests.web.browser import (
    as_user,
    click,
    confirm_and_send,
    csp_violations,
    fill,
    form_in,
    login,
    pause_with_reason,
    prescriber_decides,
    press,
    score_aldrete,
    send_discharge,
    shot,
    shots_at_widths,
    submit,
    vitals,
    wait_text,
)
from tests.web.conftest import PASSWORD, World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]


def server_clock_moves(session: InfusionSession, minutes: int) -> None:
    """The server's clock moves on ``minutes``: every time the infusion recorded moves that far
    into the past."""
    shift = dt.timedelta(minutes=minutes)
    moved = {
        name: F(name) - shift
        for name in ("started_at", "ended_at", "baseline_override_at")
        if getattr(InfusionSession.objects.get(pk=session.pk), name) is not None
    }
    InfusionSession.objects.filter(pk=session.pk).update(**moved)
    session.events.update(at=F("at") - shift)
    session.vitals.update(measured_at=F("measured_at") - shift)
    PrescriberDecision.objects.filter(session=session).update(at=F("at") - shift)


def page_clock_moves(browser: webdriver.Chrome, minutes: int) -> None:
    """The page's clock moves on ``minutes``: its ``Date.now`` runs that far ahead (set from
    outside the page, as a test's clock; the page's own script is unchanged). Its timer, which
    ticks every 15 s, then finds the bag's expected end past and asks the server."""
    browser.execute_script(
        "const real = Date.now.bind(Date); const ahead = arguments[0];"
        "Date.now = function () { return real() + ahead; };",
        minutes * 60_000,
    )


def test_one_infusion_from_vial_to_reconciliation(
    browser: webdriver.Chrome, live_server: Any, live_world: World
) -> None:
    base = live_server.url
    browser.set_window_size(768, 1024)
    # 72.5 kg: 36.25 mg, 3.625 mL of 10 mg/mL, drawn to the syringe's 0.01 mL mark.
    session = prepare(live_world, skip="baseline vitals", vial=False, weight_kg=Decimal("72.5"))
    vial = stock_vial(live_world, lot="KET-J1")
    planned_mg = session.dose_mg
    assert planned_mg == Decimal("36.25")
    login(browser, base, "nurse")
    browser.get(f"{base}/infusions/{session.pk}/")

    # The vial from stock: 3.63 mL of 10 mg/mL drawn.
    pick = form_in(browser, "dose", "vial")
    Select(pick.find_element(By.NAME, "vial")).select_by_value(str(vial.pk))
    fill(pick, {"drawn_volume_ml": "3.63"})
    submit(pick)
    wait_text(browser, "#vial-drawn", "from stock")

    # A critical baseline refuses the start once, naming the reading.
    vitals(browser, "185", "115", "80", "98")
    # The answer re-renders the cards (the start button's too): wait for it, then press.
    wait_text(browser, "#start-missing", "baseline vitals: 185/115")
    click(browser.find_element(By.ID, "btn-start"))
    flash = wait_text(browser, "#flash", "Cannot start the infusion")
    assert "185/115" in flash.text
    assert flash.text.count("Not saved") == 1

    # The prescriber overrides with a reason; the nurse starts.
    as_user(browser, "prescriber")
    override = browser.find_element(By.ID, "override-form")
    fill(override, {"reason": "Anxious on arrival; 176/104 after rest. Start, vitals every 5 min."})
    submit(override)
    wait_text(browser, "#flash", "Baseline override recorded")
    as_user(browser, "nurse")
    press(browser, "start", "Running")

    # A critical reading raises the prescribers' task; the nurse pauses; resume waits.
    vitals(browser, "188", "116", "98", "97")
    wait_text(browser, "#alert-banner", "CRITICAL")
    task = UrgentTask.objects.get(kind=UrgentTask.Kind.INFUSION_READING)
    assert "188/116" in task.reasons[0]
    pause_with_reason(browser, "vitals", "BP 188/116")
    click(browser.find_element(By.ID, "btn-resume"))
    wait_text(browser, "#flash", "needs a prescriber's decision")
    login(browser, base, "prescriber")
    wait_text(browser, "#urgent-banner", "188/116")
    browser.get(f"{base}/infusions/{session.pk}/")
    prescriber_decides(browser, "No headache or chest pain; recheck 148/90. Resume.")
    task.refresh_from_db()
    assert task.acknowledged_by == live_world.prescriber
    press(browser, "resume", "Running")
    assert "Confirm completion" not in browser.find_element(By.ID, "infusion").text

    # The bag completes at its volume to be infused: 45 minutes pass on the server and on the
    # page; the page's clock reaches the expected end and asks the server, which says the bag is
    # infused; the nurse confirms completion.
    server_clock_moves(session, 45)
    page_clock_moves(browser, 45)
    done = wait_text(browser, "#bag-done", "BAG INFUSED", timeout=30)
    assert "Stop the pump and confirm completion" in done.text
    shot(browser, "journey-bag-infused")
    shots_at_widths(browser, "journey-bag-infused")
    press(browser, "complete", "Stopped")
    final = InfusionSession.objects.get(pk=session.pk)
    assert final.delivered_dose_mg == planned_mg  # never more than the bag

    # The remainder (36.3 mg drawn, 36.25 mg given: 0.05 mg) wasted with a witness.
    waste = browser.find_element(By.ID, "waste-form")
    fill(waste, {"witness_username": "prescriber", "witness_password": PASSWORD})
    click(waste.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    wait_text(browser, "#frag-dose", "Wasted (witnessed)")
    assert "0.050 mg" in browser.find_element(By.ID, "frag-dose").text

    # Aldrete, then discharge: refused before the observation time, allowed after it.
    score_aldrete(browser)
    send_discharge(browser)
    wait_text(browser, "#flash", "observation")
    server_clock_moves(session, 90)
    as_user(browser, "nurse")
    send_discharge(browser)
    wait_text(browser, "#session-status", "Discharged")

    # The nurse signs; the prescriber co-signs (a critical reading and an override were charted).
    confirm_and_send(browser, "sign")
    wait_text(browser, "#cosign", "Awaiting the prescriber's co-signature")
    as_user(browser, "prescriber")
    confirm_and_send(browser, "cosign")
    wait_text(browser, "#locked-note", "locked")
    assert InfusionSession.objects.get(pk=session.pk).locked
    assert csp_violations(browser) == []

    # The director's reconciliation lists the session with its draw and witnessed waste.
    login(browser, base, "director")
    browser.get(f"{base}/ledger/reconcile/")
    verdict = browser.find_element(By.ID, "verdict").text
    assert "Balanced to the milligram." in verdict
    draw = ledger.live_session_draw(InfusionSession.objects.get(pk=session.pk))
    assert draw is not None
    row = browser.find_element(By.CSS_SELECTOR, "#reconcile-sessions tbody tr").text
    assert f"#{draw.seq} ({vial.label})" in row
    for figure in ("36.300", "36.250", "0.050"):
        assert figure in row
    shot(browser, "journey-reconciled")
    shots_at_widths(browser, "journey-reconciled")
    assert csp_violations(browser) == []
