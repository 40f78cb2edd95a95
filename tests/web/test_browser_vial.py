"""Issue 11, items 8 and 9, on Debian's Chromium at tablet sizes: the nurse picks the vial from
the clinic's stock on the session page, the infusion is given, the remainder is wasted with a
witness from the session page, and the director's reconciliation lists the session with its
draw and waste and says balanced; a session in which ketamine was given without a draw makes
it unbalanced. The pump events are recorded through the service with chosen times (the
controllable clock), not by waiting."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from ketaflow.infusions.models import InfusionSession
from ketaflow.ledger import services as ledger
from tests.infusions.builders import event, prepare, stock_vial, undrawn
from tests.web.browser import (
    chromium,
    click,
    csp_violations,
    fill,
    form_in,
    login,
    submit,
    wait_text,
)
from tests.web.conftest import PASSWORD, World

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group(f"browser-{__name__}")]

SHOTS = Path(tempfile.gettempdir()) / "shots-vial"


@pytest.mark.parametrize("size", [(768, 1024), (1024, 768)], ids=["portrait", "landscape"])
def test_vial_from_stock_waste_witnessed_and_reconciled(
    live_server: Any, live_world: World, size: tuple[int, int]
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tag = f"{size[0]}x{size[1]}"
    session = undrawn(live_world)
    vial = stock_vial(live_world, lot="KET-31B")
    base = live_server.url
    with chromium(window=size) as browser:
        login(browser, base, "nurse")
        browser.get(f"{base}/infusions/{session.pk}/")
        pick = form_in(browser, "dose", "vial")
        choices = [o.text for o in Select(pick.find_element(By.NAME, "vial")).options]
        assert any(c.startswith(f"{vial.label}: lot KET-31B, 10 mg/mL") for c in choices)
        Select(pick.find_element(By.NAME, "vial")).select_by_value(str(vial.pk))
        fill(pick, {"drawn_volume_ml": "3.50"})
        submit(pick)
        drawn = wait_text(browser, "#vial-drawn", "from stock")
        assert f"{vial.label} from stock: lot KET-31B, 10 mg/mL" in drawn.text
        browser.save_screenshot(str(SHOTS / f"session-vial-picked-{tag}.png"))

        # The infusion: started 45 min ago, stopped after 30 of its 40 min (26.25 mg given).
        t0 = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=45)
        session.refresh_from_db()
        event(live_world, session, "start", t0, repr(session.rate_ml_per_h))
        event(live_world, session, "stop", t0 + dt.timedelta(minutes=30))
        browser.get(f"{base}/infusions/{session.pk}/")
        waste = browser.find_element(By.ID, "waste-form")
        fill(waste, {"witness_username": "prescriber", "witness_password": "wrong"})
        submit(waste)
        wait_text(browser, "#waste-form", "username or password is wrong")
        waste = browser.find_element(By.ID, "waste-form")
        fill(waste, {"witness_username": "prescriber", "witness_password": PASSWORD})
        click(waste.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        wait_text(browser, "#frag-dose", "Wasted (witnessed)")
        text = browser.find_element(By.ID, "frag-dose").text
        assert "26.250 mg" in text
        assert "8.750 mg" in text
        assert "witness prescriber" in text
        browser.save_screenshot(str(SHOTS / f"session-waste-witnessed-{tag}.png"))
        assert csp_violations(browser) == []

        login(browser, base, "director")
        browser.get(f"{base}/ledger/reconcile/")
        verdict = browser.find_element(By.ID, "verdict").text
        assert "Balanced to the milligram." in verdict
        assert "1 sessions in which ketamine was given" in verdict
        row = browser.find_element(By.CSS_SELECTOR, "#reconcile-sessions tbody tr").text
        draw = ledger.live_session_draw(session)
        assert draw is not None
        assert f"#{draw.seq} ({vial.label})" in row
        assert "35.000" in row
        assert "26.250" in row
        assert "8.750" in row
        browser.save_screenshot(str(SHOTS / f"reconcile-balanced-{tag}.png"))

        # A session in which ketamine was given with no draw: not balanced, and named.
        bare = prepare(live_world, skip="vial")
        InfusionSession.objects.filter(pk=bare.pk).update(
            started_at=timezone.now() - dt.timedelta(minutes=20), delivered_dose_mg=1.2
        )
        browser.get(f"{base}/ledger/reconcile/")
        assert "NOT BALANCED" in browser.find_element(By.ID, "verdict").text
        problems = browser.find_element(By.CSS_SELECTOR, ".error-summary").text
        assert f"session {bare.pk}: 1.200 mg given per the infusion record" in problems
        assert "no draw" in browser.find_element(By.ID, "reconcile-sessions").text
        browser.save_screenshot(str(SHOTS / f"reconcile-unbalanced-{tag}.png"))
        assert csp_violations(browser) == []
