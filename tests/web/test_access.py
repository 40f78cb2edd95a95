"""Who may open what: login required everywhere, patients see only themselves, front desk sees
no clinical data, and no one sees another clinic's patients."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from ketaflow.audit.models import AuditEntry
from tests.web.conftest import World
from tests.web.sweep import url_for


def _patterns() -> list[str]:
    """Every named URL that shows or changes patient data (patients and audit apps)."""
    names: list[str] = []
    for entry in get_resolver().url_patterns:
        module = getattr(entry, "urlconf_module", None)
        if isinstance(entry, URLResolver) and getattr(module, "__name__", "") in (
            "ketaflow.patients.urls",
            "ketaflow.audit.urls",
        ):
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern)
                assert pattern.name
                names.append(pattern.name)
    return names


PATIENT_URLS = _patterns()


def test_the_url_list_covers_the_registry() -> None:
    assert {"patient_list", "patient_chart", "patient_export", "audit_list"} <= set(PATIENT_URLS)
    assert len(PATIENT_URLS) >= 10


@pytest.mark.parametrize("name", PATIENT_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_requests_go_to_login(world: World, name: str, method: str) -> None:
    url = url_for(name, world)
    response = getattr(Client(), method)(url)
    assert response.status_code == 302, url
    assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize(
    "name", [n for n in PATIENT_URLS if n not in ("patient_list", "patient_new", "audit_list")]
)
def test_staff_of_another_clinic_get_not_found(world: World, client_for: Any, name: str) -> None:
    url = url_for(name, world, world.patient.pk)
    method = "post" if name in ("note_new", "record_remove") else "get"
    response = getattr(client_for(world.foreign_prescriber), method)(url)
    assert response.status_code in (403, 404), url
    assert b"Alice" not in response.content


def test_foreign_prescriber_list_shows_only_own_clinic(world: World, client_for: Any) -> None:
    response = client_for(world.foreign_prescriber).get(reverse("patient_list"))
    assert response.status_code == 200
    assert b"Cruz" in response.content
    assert b"Anders" not in response.content
    assert b"Berg" not in response.content


def test_patient_sees_own_chart(world: World, client_for: Any) -> None:
    response = client_for(world.patient_user).get(reverse("patient_chart", args=[world.patient.pk]))
    assert response.status_code == 200
    assert b"Alice" in response.content
    assert b"F43.12" in response.content


@pytest.mark.parametrize("which", ["other_patient", "foreign_patient"])
def test_patient_cannot_open_another_patients_chart(
    world: World, client_for: Any, which: str
) -> None:
    other = getattr(world, which)
    c = client_for(world.patient_user)
    for name in ("patient_chart", "patient_edit", "patient_export", "record_new"):
        url = url_for(name, world, other.pk)
        response = c.get(url)
        assert response.status_code == 404, url
        assert other.family_name.encode() not in response.content


def test_patient_cannot_change_own_record_or_list_patients(world: World, client_for: Any) -> None:
    c = client_for(world.patient_user)
    assert c.get(url_for("patient_edit", world)).status_code == 403
    assert c.get(url_for("record_new", world)).status_code == 403
    assert c.get(url_for("patient_export", world)).status_code == 403
    assert c.post(url_for("note_new", world), {"kind": "other", "text": "x"}).status_code == 403
    listing = c.get(reverse("patient_list"))
    assert listing.status_code == 302
    assert listing["Location"] == reverse("patient_chart", args=[world.patient.pk])
    assert c.get(reverse("audit_list")).status_code == 403


def test_front_desk_sees_demographics_but_no_clinical_notes(world: World, client_for: Any) -> None:
    response = client_for(world.frontdesk).get(url_for("patient_chart", world))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alice" in body
    assert "Bo Anders" in body
    assert "CONFIDENTIAL-NOTE-TEXT" not in body
    assert "F43.12" not in body
    assert "Sertraline" not in body
    assert 'id="clinical"' not in body


@pytest.mark.parametrize("name", ["record_new", "patient_export", "patient_access_history"])
def test_front_desk_may_not_touch_clinical_records(
    world: World, client_for: Any, name: str
) -> None:
    response = client_for(world.frontdesk).get(url_for(name, world))
    assert response.status_code == 403
    assert AuditEntry.objects.filter(action="denied", actor_username="frontdesk").exists()


def test_front_desk_may_not_post_notes(world: World, client_for: Any) -> None:
    response = client_for(world.frontdesk).post(
        url_for("note_new", world), {"kind": "other", "text": "sneaky"}
    )
    assert response.status_code == 403
    assert not world.patient.clinicalnote_set.filter(text="sneaky").exists()


@pytest.mark.parametrize("role", ["director", "prescriber", "nurse"])
def test_clinical_staff_see_clinical_sections(world: World, client_for: Any, role: str) -> None:
    response = client_for(world.staff()[role]).get(url_for("patient_chart", world))
    body = response.content.decode()
    assert "CONFIDENTIAL-NOTE-TEXT" in body
    assert "F43.12" in body
    assert "Sertraline" in body


@pytest.mark.parametrize("role", ["prescriber", "nurse", "frontdesk"])
def test_only_director_reads_the_audit_trail(world: World, client_for: Any, role: str) -> None:
    c = client_for(world.staff()[role])
    assert c.get(reverse("audit_list")).status_code == 403
    assert c.get(url_for("patient_access_history", world)).status_code == 403


def test_director_reads_audit_trail_and_access_history(world: World, client_for: Any) -> None:
    c = client_for(world.director)
    client_for(world.nurse).get(url_for("patient_chart", world))
    listing = c.get(reverse("audit_list"), {"actor": "nurse"})
    assert listing.status_code == 200
    assert b"viewed chart" in listing.content
    history = c.get(url_for("patient_access_history", world))
    assert history.status_code == 200
    assert b"nurse" in history.content
    verify = c.get(reverse("audit_list"), {"verify": "1"})
    assert b"audit chain intact" in verify.content


def test_inactive_user_is_logged_out(world: World, client_for: Any) -> None:
    c = client_for(world.nurse)
    world.nurse.is_active = False
    world.nurse.save()
    response = c.get(url_for("patient_chart", world))
    assert response.status_code == 302


def test_director_administers_staff_and_others_cannot(world: World, client_for: Any) -> None:
    director = client_for(world.director)
    assert director.get(reverse("admin:index")).status_code == 200
    assert director.get(reverse("admin:accounts_user_changelist")).status_code == 200
    # The audit trail is read on the audit pages, per clinic; the administration has none.
    with pytest.raises(NoReverseMatch):
        reverse("admin:audit_auditentry_changelist")
    for persona in (world.prescriber, world.nurse, world.frontdesk, world.patient_user):
        response = client_for(persona).get(reverse("admin:index"))
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
