"""A patient cannot reach another patient's data by any URL.

The whole demo clinic is loaded (patients at every stage, sessions, courses, outcomes, portal,
ledger), the demo patient logs in with their second factor passed, and every URL pattern of the
app is requested with every record id that exists for its integer parameters. No response may
show another patient's name or record number.

The demo is loaded once for the module (one transaction, rolled back at the end; each test runs
in a savepoint of it, as in test_outsider), not once per test: five loads became one."""

from __future__ import annotations

from typing import Any

import pytest

from ketaflow.accounts.models import User
from ketaflow.patients.models import Patient
from tests.web import sweep
from tests.web.conftest import logged_in

# One worker holds the module's demo (with the mark, loadgroup sends every test here to it).
pytestmark = [pytest.mark.slow, pytest.mark.sweep, pytest.mark.xdist_group("patient-isolation")]


def test_a_patient_sees_no_other_patient_by_any_url(demo_clinics: None, db: None) -> None:
    me = User.objects.get(username="patient")
    own = Patient.objects.get(user=me)
    others = Patient.objects.exclude(pk=own.pk)
    assert others.count() >= 10
    forbidden = [p.mrn for p in others] + [f"{p.given_name} {p.family_name}" for p in others]
    client = logged_in(me)
    ints = list(range(1, 13))
    slugs = [
        "allergy",
        "diagnosis",
        "medication",
        "psychotherapy",
        "medication-trial",
        "pcl5",
        "phq9",
        "gad7",
        "vitals",
        "start",
        "csv",
    ]
    checked = 0
    leaks: list[str] = []
    for route in sweep.patterns():
        for url in sweep.fill(route, ints, slugs):
            response: Any = client.get(url)
            checked += 1
            if response.status_code != 200 or response.get("Content-Type", "").startswith("image/"):
                continue
            text = response.content.decode(errors="replace")
            leaks += [f"{url}: {name}" for name in forbidden if name in text]
    assert checked > 500
    assert leaks == []


# The director's sweep also runs on PostgreSQL (mark pg_sweep): every staff page's queries there.
@pytest.mark.parametrize(
    "username",
    [pytest.param("director", marks=pytest.mark.pg_sweep), "prescriber", "nurse", "frontdesk"],
)
def test_no_url_fails_for_any_staff_role(demo_clinics: None, db: None, username: str) -> None:
    """Every page, picture and export of the demo clinic, with every existing record id,
    answers without a server error (and without a warning: the suite fails on warnings)."""
    # Past the second factor: signed in with the password alone, staff are sent to enrol and
    # almost every URL answered a redirect, so the sweep could hardly fail.
    client = logged_in(User.objects.get(username=username))
    checked = answered = 0
    for route in sweep.patterns():
        for url in sweep.fill(route, list(range(1, 13)), ["allergy", "diagnosis", "pcl5", "csv"]):
            response: Any = client.get(url)
            # /healthz answers 503 by design when the worker or the backups are not well.
            assert response.status_code < 500 or url == "/healthz", url
            assert "/account/enrol/" not in response.get("Location", ""), url
            checked += 1
            answered += response.status_code == 200
    assert checked > 500
    # Pages did answer (not only redirects). On PostgreSQL the demo's record ids are not 1-12
    # (sequences are not reset between tests), so fewer record pages answer: 14-43 there.
    assert answered >= 10, f"only {answered} of {checked} URLs answered 200"
