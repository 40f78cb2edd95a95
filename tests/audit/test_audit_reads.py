"""Reads that leave a trace: a list page, the access history, a form and the urgent banner
name every patient they show (the every-page sweep: tests/web/test_patient_isolation.py)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import entries_naming_patient
from ketaflow.portal.models import UrgentTask
from tests.audit.builders import newest_entry_id
from tests.portal.builders import verified_client
from tests.web.conftest import World
from tests.web.sweep import url_for


def _entries_of(request_before: int, **filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(id__gt=request_before, **filters).order_by("id"))


def test_a_list_page_writes_one_entry_naming_every_patient_shown(
    world: World, client_for: Any
) -> None:
    frontdesk = client_for(world.frontdesk)
    before = newest_entry_id()
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
    before = newest_entry_id()
    response = nurse.get(url_for("record_new", world))
    assert response.status_code == 200
    assert world.patient.display_name in response.content.decode()
    [entry] = _entries_of(before)
    assert (entry.patient_id, entry.object_type) == (world.patient.pk, "diagnosis")
    # A form sent back with errors shows the patient again, and is audited again.
    before = newest_entry_id()
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
    before = newest_entry_id()
    page = client_for(world.nurse).get(reverse("home")).content.decode()
    assert 'id="urgent-banner"' in page
    assert world.patient.display_name in page
    assert world.foreign_patient.display_name not in page
    [banner] = _entries_of(before, object_type="urgent_banner")
    assert banner.actor == world.nurse
    assert banner.patient_ids == sorted([world.patient.pk, world.other_patient.pk])
    assert banner in entries_naming_patient(world.patient.pk)
    # Each display is audited: the next page shows it, and is audited, again.
    before = newest_entry_id()
    client_for(world.nurse).get(reverse("patient_list"))
    assert len(_entries_of(before, object_type="urgent_banner")) == 1
    # No banner, no entry: the front desk's role does not see it; a picture never shows it.
    before = newest_entry_id()
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
