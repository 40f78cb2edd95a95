"""Every URL of the app, as a patient and as each staff role, on the whole demo clinic.

The whole demo clinic is loaded (patients at every stage, sessions, courses, outcomes, portal,
ledger) and every URL pattern of the app is requested with the ids 1-12 for its integer
parameters (a patient's record by kind: every record there is, under its own patient's address
and under another's, ``sweep.fill_records``), signed in past the second factor:
- as the demo patient: no response may show another patient's name or record number;
- as each staff role: no server error, and every page that shows a patient names that patient
  in an audit entry written by the same request (the patient's access history is complete).

The demo is loaded once for the module (one transaction, rolled back at the end; each test runs
in a savepoint of it, as in test_outsider), not once per test: five loads became one."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from ketaflow.accounts.models import User
from ketaflow.audit.models import AuditEntryPatient
from ketaflow.patients.models import Patient
from tests.audit.builders import newest_entry_id
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
        for url in sweep.fill_records(route, ints, slugs, probes=[own.pk]):
            response: Any = client.get(url)
            checked += 1
            if response.status_code != 200 or response.get("Content-Type", "").startswith("image/"):
                continue
            text = response.content.decode(errors="replace")
            leaks += [f"{url}: {name}" for name in forbidden if name in text]
    assert checked > 500
    assert leaks == []


def _identifiers(patient: Patient) -> list[str]:
    return sorted(
        {
            f"{patient.given_name} {patient.family_name}",
            f"{patient.display_name}",
            f"{patient.family_name}, {patient.given_name}",
            patient.mrn,
        }
    )


# The director's sweep also runs on PostgreSQL (mark pg_sweep): every staff page's queries there.
@pytest.mark.parametrize(
    "username",
    [pytest.param("director", marks=pytest.mark.pg_sweep), "prescriber", "nurse", "frontdesk"],
)
def test_every_url_answers_each_staff_role_and_audits_the_patients_it_shows(
    demo_clinics: None, db: None, username: str
) -> None:
    """Every page, picture and export of the demo clinic, with every existing record id, as each
    staff role:
    - answers without a server error (and without a warning: the suite fails on warnings);
    - wherever the page shows a patient's name or record number, an audit entry written by that
      very request names the patient (as its patient or among the patients it lists), so that
      the patient's access history is complete;
    - a page writes one audit entry at most, naming all it shows: each entry is a chained write
      (the chart wrote a second one for its outcomes section; session 14).

    One visit of each URL serves both checks (they were two sweeps of the same URLs as the same
    roles: a sixth of the suite's time). Signed in past the second factor: with the password
    alone, staff are sent to enrol, almost every URL answered a redirect and neither check could
    fail."""
    patients = [(p, _identifiers(p)) for p in Patient.objects.all()]
    ints = list(range(1, 13))
    client = logged_in(User.objects.get(username=username))
    checked = answered = showing = 0
    unaudited: list[str] = []
    several: list[str] = []
    for route in sweep.patterns():
        for url in sweep.fill_records(route, ints, ["allergy", "diagnosis", "pcl5", "csv"]):
            before = newest_entry_id()
            response: Any = client.get(url)
            # /healthz answers 503 by design when the worker or the backups are not well.
            assert response.status_code < 500 or url == "/healthz", url
            assert "/account/enrol/" not in response.get("Location", ""), url
            checked += 1
            if response.status_code != 200:
                continue
            answered += 1
            written = newest_entry_id() - before
            if written > 1:
                several.append(f"{url}: {written} audit entries")
            if response.get("Content-Type", "").startswith("image/"):
                continue
            text = response.content.decode(errors="replace")
            shown = {p.pk: p for p, names in patients if any(n in text for n in names)}
            if not shown:
                continue
            showing += 1
            named = set(
                AuditEntryPatient.objects.filter(entry_id__gt=before).values_list(
                    "patient_id", flat=True
                )
            )
            unaudited += [f"{url}: {shown[pk].display_name}" for pk in sorted(set(shown) - named)]
    assert checked > 500
    # Pages did answer (not only redirects). On PostgreSQL the demo's record ids are not 1-12
    # (sequences are not reset between tests), so fewer record pages answer: 14-43 there.
    assert answered >= 10, f"only {answered} of {checked} URLs answered 200"
    assert showing >= 10 or connection.vendor == "postgresql", (
        f"only {showing} pages showed a patient: is the sweep signed in?"
    )
    assert unaudited == []
    assert several == []
