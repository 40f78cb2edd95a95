"""Reads that leave a trace: every page that shows a patient names that patient in an entry.

The sweep loads the demo clinic and requests every URL of the app (with every record id that
exists for its integer parameters) as each staff role; wherever the response shows a patient's
name or record number, an audit entry written by that very request must name the patient (as
its patient or among the patients it lists), so that the patient's access history is complete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, reverse

from ketaflow.accounts.models import User
from ketaflow.audit.models import AuditEntry, AuditEntryPatient
from ketaflow.audit.services import entries_naming_patient
from ketaflow.patients.models import Patient
from ketaflow.portal.models import UrgentTask
from ketaflow.web.demo import demo_load
from tests.portal.builders import verified_client
from tests.web.conftest import World, logged_in
from tests.web.sweep import fill as _fill
from tests.web.sweep import patterns as _patterns
from tests.web.test_access import url_for


def _identifiers(patient: Patient) -> list[str]:
    names = {
        f"{patient.given_name} {patient.family_name}",
        f"{patient.display_name}",
        f"{patient.family_name}, {patient.given_name}",
        patient.mrn,
    }
    return sorted(names)


def _newest_entry_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


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


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The demo clinics, loaded once for the four roles' sweeps and rolled back after them."""
    with django_db_blocker.unblock(), transaction.atomic():
        demo_load()
        yield
        transaction.set_rollback(True)


@pytest.mark.slow
@pytest.mark.sweep
@pytest.mark.xdist_group("audit-reads")
@pytest.mark.parametrize("username", ["director", "prescriber", "nurse", "frontdesk"])
def test_every_page_that_shows_a_patient_names_them_in_the_trail(
    demo: None, db: None, username: str
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


def _entries_of(request_before: int, **filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(id__gt=request_before, **filters).order_by("id"))


def test_a_list_page_writes_one_entry_naming_every_patient_shown(
    world: World, client_for: Any
) -> None:
    frontdesk = client_for(world.frontdesk)
    before = _newest_entry_id()
    frontdesk.get(reverse("patient_list"), REMOTE_ADDR="10.2.2.2")
    [entry] = _entries_of(before)
    assert (entry.object_type, entry.actor, entry.ip_address) == (
        "patient_list",
        world.frontdesk,
        "10.2.2.2",
    )
    assert entry.patient_ids == sorted([world.patient.pk, world.other_patient.pk])
    links = set(entry.patient_links.values_list("patient_id", flat=True))
    assert links == {world.patient.pk, world.other_patient.pk}  # not the other clinic's
    # Each patient's access history shows the list view; another clinic's patient's does not.
    assert entry in entries_naming_patient(world.other_patient.pk)
    assert entry not in entries_naming_patient(world.foreign_patient.pk)
    history = client_for(world.director).get(url_for("patient_access_history", world))
    assert "listed patients: 2 shown" in history.content.decode()


def test_who_viewed_my_record_includes_list_pages(world: World, client_for: Any) -> None:
    client_for(world.frontdesk).get(reverse("patient_list"), {"q": "Berg"})  # not Alice
    client_for(world.nurse).get(reverse("patient_list"))  # Alice among others
    page = verified_client(world.patient_user).get(reverse("portal_viewers")).content.decode()
    # In the patient's words: the nurse's list named Alice, the front desk's search did not.
    assert "Looked at a list of patients that includes you" in page
    assert "Found you in a search" not in page
    assert "Front desk" not in page


def test_an_add_record_form_is_audited_for_its_patient(world: World, client_for: Any) -> None:
    nurse = client_for(world.nurse)
    before = _newest_entry_id()
    response = nurse.get(url_for("record_new", world))
    assert response.status_code == 200
    assert world.patient.display_name in response.content.decode()
    [entry] = _entries_of(before)
    assert (entry.patient_id, entry.object_type) == (world.patient.pk, "diagnosis")
    # A form sent back with errors shows the patient again, and is audited again.
    before = _newest_entry_id()
    nurse.post(url_for("record_new", world), {"code": ""})
    assert [e.patient_id for e in _entries_of(before)] == [world.patient.pk]


def test_the_urgent_banner_is_audited_for_each_patient_it_shows(
    world: World, client_for: Any
) -> None:
    UrgentTask.objects.create(clinic=world.clinic, patient=world.patient, reasons=["PHQ-9 item 9"])
    UrgentTask.objects.create(
        clinic=world.clinic, patient=world.other_patient, reasons=["PHQ-9 item 9"]
    )
    UrgentTask.objects.create(
        clinic=world.other_clinic, patient=world.foreign_patient, reasons=["PHQ-9 item 9"]
    )
    before = _newest_entry_id()
    page = client_for(world.nurse).get(reverse("home")).content.decode()
    assert 'id="urgent-banner"' in page
    assert world.patient.display_name in page
    assert world.foreign_patient.display_name not in page
    [banner] = _entries_of(before, object_type="urgent_banner")
    assert banner.actor == world.nurse
    assert banner.patient_ids == sorted([world.patient.pk, world.other_patient.pk])
    assert banner in entries_naming_patient(world.patient.pk)
    # Each display is audited: the next page shows it, and is audited, again.
    before = _newest_entry_id()
    client_for(world.nurse).get(reverse("patient_list"))
    assert len(_entries_of(before, object_type="urgent_banner")) == 1
    # No banner, no entry: the front desk's role does not see it; a picture never shows it.
    before = _newest_entry_id()
    front = client_for(world.frontdesk).get(reverse("home")).content.decode()
    assert 'id="urgent-banner"' not in front
    assert _entries_of(before, object_type="urgent_banner") == []
    # /healthz answers a monitoring system (503 here: no worker ran) and shows no banner.
    assert client_for(world.nurse).get("/healthz").status_code in (200, 503)
    assert _entries_of(before, object_type="urgent_banner") == []


def test_a_patient_of_another_clinic_is_in_no_list_of_this_clinic(
    world: World, client_for: Any
) -> None:
    for user in world.staff().values():
        client_for(user).get(reverse("home"))
        client_for(user).get(reverse("patient_list"))
    assert (
        not entries_naming_patient(world.foreign_patient.pk)
        .filter(actor__clinic=world.clinic)
        .exists()
    )
