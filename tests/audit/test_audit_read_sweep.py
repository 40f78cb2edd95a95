"""The audit-read sweep: every page that shows a patient names that patient in an entry.

The sweep loads the demo clinics and requests every URL of the app (with every record id that
exists for its integer parameters) as each staff role, signed in past the second factor;
wherever the response shows a patient's name or record number, an audit entry written by that
very request must name the patient (as its patient or among the patients it lists), so that the
patient's access history is complete.

A module of its own: the demo clinics stay loaded (module scope) for its four tests only, never
beside the one-clinic ``world`` of the other audit-read tests (tests/audit/test_audit_reads.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver

from ketaflow.accounts.models import User
from ketaflow.audit.models import AuditEntryPatient
from ketaflow.patients.models import Patient
from tests.audit.builders import newest_entry_id as _newest_entry_id
from tests.web.conftest import logged_in
from tests.web.sweep import fill as _fill
from tests.web.sweep import patterns as _patterns


def _identifiers(patient: Patient) -> list[str]:
    names = {
        f"{patient.given_name} {patient.family_name}",
        f"{patient.display_name}",
        f"{patient.family_name}, {patient.given_name}",
        patient.mrn,
    }
    return sorted(names)


def unaudited_patients_shown(
    client: Client, url: str, patients: list[Patient]
) -> tuple[bool, list[str]]:
    """Whether ``url`` showed a patient, and the patients it shows that no entry written by the
    request names."""
    before = _newest_entry_id()
    response: Any = client.get(url)
    if response.status_code != 200 or response.get("Content-Type", "").startswith("image/"):
        return False, []
    text = response.content.decode(errors="replace")
    shown = {p.pk: p for p in patients if any(i in text for i in _identifiers(p))}
    if not shown:
        return False, []
    named = set(
        AuditEntryPatient.objects.filter(entry_id__gt=before).values_list("patient_id", flat=True)
    )
    return True, [f"{url}: {shown[pk].display_name}" for pk in sorted(set(shown) - named)]


@pytest.mark.slow
@pytest.mark.sweep
@pytest.mark.xdist_group("audit-reads")
@pytest.mark.parametrize("username", ["director", "prescriber", "nurse", "frontdesk"])
def test_every_page_that_shows_a_patient_names_them_in_the_trail(
    demo_clinics: None, db: None, username: str
) -> None:
    """Signed in past the second factor (``logged_in``): signed in with ``force_login`` alone,
    nearly every page answered a redirect to the second factor's enrolment and this sweep could
    hardly fail. It must see pages that show a patient, not only refusals."""
    patients = list(Patient.objects.all())
    client = logged_in(User.objects.get(username=username))
    missing: list[str] = []
    showing = 0
    for route in _patterns(get_resolver()):
        if "logout" in route:
            continue
        for url in _fill(route, list(range(1, 13)), ["allergy", "diagnosis", "pcl5", "csv"]):
            showed, unnamed = unaudited_patients_shown(client, url, patients)
            showing += showed
            missing += unnamed
    assert showing >= 10, f"only {showing} pages showed a patient: is the sweep signed in?"
    assert missing == []
