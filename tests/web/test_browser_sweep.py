"""The display sweep (issue 14): every page of the app as each role, in one Chromium, at a
phone's, a tablet's and a desktop's width (390, 1024 and 1366 px). The visible text shows no
identifier-like code (snake_case words, dotted rule ids), no number in exponent notation; the
page never scrolls sideways; no word in a table is broken into pieces across lines (a squeezed
column: the table scrolls inside itself instead); the console logs no error. Printed (print
media), a page shows nothing to press and no box to fill in, but for the fields of a page that
is itself a form.

Each route is visited once per role, filled with the clinic's records (tests/web/sweep.py);
the login is made once per role (a session cookie past the second factor); each page is loaded
once and then resized, so the whole sweep stays within a few minutes. A route the role may not
open answers with the one refusal page (403 or 404): its text is checked for codes on every such
route, through the test client, and Chromium loads the first refusal of each kind per role for
its layout (before session 12 it loaded every refusal: most of the patient's, the front desk's
and the network administrator's routes, for the same page)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.treatment.models import Course
from tests.infusions.builders import charted, stock_vial
from tests.web import sweep
from tests.web.browser import (
    BROKEN_WORDS,
    OVERFLOW,
    WIDTHS,
    chromium,
    codes_in,
    console_errors,
    printed_controls,
    sign_in,
    viewport,
)
from tests.web.conftest import World, logged_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.sweep,
    pytest.mark.xdist_group(f"browser-{__name__}"),
]

# Responses that are files or machine answers, not pages: downloads, the monitoring answer, and
# the REST API (its JSON and its schema documentation name fields as programs spell them) and
# FHIR (JSON resources with their codes).
NOT_PAGES = re.compile(
    r"format=(csv|pdf)|\.png|\.svg|/export|\.csv|\.pdf|\.ics|\.json|/healthz|/api/|/fhir/"
)


def test_codes_in_finds_what_it_must() -> None:
    assert codes_in("Side effect: severe_headache") == ["severe_headache"]
    assert "airway.sleep_apnea" in codes_in("Rule airway.sleep_apnea applies")
    assert codes_in("Aldrete 1E+1 of 10") == ["1E+1"]
    assert codes_in("Times in America/New_York.") == ["America/New_York"]
    assert codes_in("Times in America/Indiana/Indianapolis") == ["America/Indiana/Indianapolis"]
    assert codes_in("Times are New York time (EST), 1/2 tablet") == []
    assert codes_in("someone@example.org, see clinical.md, e.g. the label, 10:30, 1.5 mg") == []
    # A refusal's text, read without the browser: what shows, not the head or a script.
    refusal = (
        "<html><head><title>not_shown</title><style>p{x:a_b}</style></head><body>"
        "<script>let also_hidden = 1;</script><p>No such <b>infusion_session</b>.</p></body></html>"
    )
    assert codes_in(sweep.visible_text(refusal)) == ["infusion_session"]


def one_url_per_route(world: World) -> list[str]:
    """Every route once (the first of its records), the files left out."""
    named, others = sweep.clinic_urls(world.clinic, sweep.patterns())
    seen: set[str] = set()
    urls: list[str] = []
    for url in [*others, *named]:
        key = re.sub(r"\d+", "N", url.split("?")[0])
        if key in seen or NOT_PAGES.search(url):
            continue
        seen.add(key)
        urls.append(url)
    return urls


REFUSED = (403, 404)


def _visits(urls: list[str], user: User) -> tuple[list[str], list[str]]:
    """The URLs Chromium loads as ``user``: each page the user may open (a form that only takes
    a POST left out) and the first refusal of each status; and the problems of every refusal's
    text (codes), read here through the test client."""
    client = logged_in(user)
    client.raise_request_exception = False  # an error page is the sweep's to find
    visits: list[str] = []
    problems: list[str] = []
    refused: set[int] = set()
    for url in urls:
        status = (response := client.get(url)).status_code
        if status == 405:
            continue
        if status in REFUSED:
            text = sweep.visible_text(response.content.decode())
            problems += [f"{user.username} {url}: code {c!r}" for c in sorted(set(codes_in(text)))]
            if status in refused:
                continue
            refused.add(status)
        visits.append(url)
    return visits, problems


@pytest.mark.slow
def test_every_page_as_each_role_reads_as_words_and_fits(
    live_server: Any, live_world: World
) -> None:
    world = live_world
    charted(world)  # a whole infusion: vitals, events, side effects, scores, the ledger draw
    stock_vial(world, lot="LOT-SWEEP")
    # The test helpers' courses skip planning: give them what a planned course has.
    for course in Course.objects.all():
        Course.objects.filter(pk=course.pk).update(
            weight_kg=70, height_cm=170, planned_dates=[course.start_on.isoformat()]
        )
    network = User.objects.create_user(
        username="network-sweep", password="x-sweep-x", role=Role.NETWORK_ADMIN, clinic=None
    )
    people = [*world.staff().values(), world.patient_user, network]
    routes = ["/", *one_url_per_route(world)]
    problems: list[str] = []
    pages = 0
    with chromium(window=(WIDTHS[-1], 900)) as browser:
        for user in people:
            urls, refusals = _visits(routes, user)
            problems += refusals
            sign_in(browser, live_server.url, user)
            viewport(browser, WIDTHS[-1])
            for url in urls:
                browser.get(live_server.url + url)
                pages += 1
                where = f"{user.username} {url}"
                text = (
                    browser.execute_script('return document.body ? document.body.innerText : ""')
                    or ""
                )
                problems += [f"{where}: code {c!r}" for c in sorted(set(codes_in(text)))]
                problems += [f"{where}: console {m}" for m in console_errors(browser)]
                for width in WIDTHS:
                    viewport(browser, width)
                    if over := browser.execute_script(OVERFLOW):
                        problems.append(f"{where} at {width} px: {over}")
                    if broken := browser.execute_script(BROKEN_WORDS):
                        problems.append(f"{where} at {width} px: {broken}")
                problems += [f"{where} on paper: {c}" for c in printed_controls(browser)]
        # The check can fail: a page made wider than the screen is found.
        browser.get(live_server.url + "/")
        viewport(browser, WIDTHS[0])
        browser.execute_script(
            "const d = document.createElement('div'); d.style.width = '2000px';"
            " d.textContent = 'wide'; document.body.append(d);"
        )
        assert "px too wide" in browser.execute_script(OVERFLOW)
        # And a word squeezed into pieces in a narrow table cell is found.
        browser.execute_script(  # styles set through the DOM: the CSP refuses style attributes
            "const t = document.createElement('table'); const c = t.insertRow().insertCell();"
            " c.textContent = 'frontdesk'; t.style.width = '3ch'; c.style.overflowWrap ="
            " 'anywhere'; document.querySelector('main').append(t);"
        )
        assert "'frontdesk' broken over" in browser.execute_script(BROKEN_WORDS)
        # And a box to fill in that would print is found; a search form is not printed.
        browser.get(live_server.url + reverse("patient_list"))
        assert printed_controls(browser) == []
        browser.execute_script(
            "const i = document.createElement('input'); i.name = 'loose';"
            " document.querySelector('main').append(i);"
        )
        assert printed_controls(browser) == ["input[name=loose] outside a form"]
    assert pages > 100
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:300])
