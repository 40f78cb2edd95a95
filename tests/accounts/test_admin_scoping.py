"""The administration follows the clinic: a director manages only their own clinic's set-up, the
network administrator works across clinics, and every change reaches the hash-chained audit.

The findings this guards against (issue 12): another clinic's director listed every clinic's
users, added a medical director to the first clinic, reset the first director's password and
opened its consent texts, chairs, hours and settings; admin changes reached only Django's
editable ``django_admin_log``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from ketaflow.accounts.models import Clinic, Credential, User
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import audit_verify
from ketaflow.candidacy.models import ConsentForm
from ketaflow.portal.models import PortalSettings
from ketaflow.treatment.models import Chair, OpeningHours, ScheduleSettings
from tests.web.conftest import PASSWORD, World, make_user

SECRET = "RIVERSIDE-ONLY"
NO_CREDENTIALS = {"credentials-TOTAL_FORMS": "0", "credentials-INITIAL_FORMS": "0"}


@pytest.fixture
def setup(world: World) -> dict[str, Any]:
    """The first clinic's set-up records, each carrying a marker that must never reach the
    other clinic's director; and that director."""
    clinic = world.clinic
    clinic.address = f"1 {SECRET} Street"
    clinic.save()
    records: dict[str, Any] = {
        "chair": Chair.objects.create(clinic=clinic, name=f"Chair {SECRET}"),
        "hours": OpeningHours.objects.create(
            clinic=clinic, weekday=0, opens_at=dt.time(7, 13), closes_at=dt.time(17, 47)
        ),
        "schedule": ScheduleSettings.objects.create(clinic=clinic, recovery_min=97),
        "portal": PortalSettings.objects.create(clinic=clinic, invitation_hours=71),
        "consent": ConsentForm.objects.create(
            clinic=clinic,
            version="7",
            title=f"Consent {SECRET}",
            body="text",
            effective_on=dt.date(2026, 1, 1),
        ),
        "credential": Credential.objects.get(user=world.director, kind="licence"),
    }
    world.director.first_name = SECRET
    world.director.save()
    records["outsider"] = make_user(
        world.other_clinic, "other-director", Role.MEDICAL_DIRECTOR, is_staff=True
    )
    return records


def _object_urls(world: World, setup: dict[str, Any]) -> list[str]:
    """Every admin URL of every first-clinic record: change, delete, history, password."""
    objects: list[Any] = [
        world.clinic,
        world.director,
        world.nurse,
        world.patient_user,
        setup["chair"],
        setup["hours"],
        setup["schedule"],
        setup["portal"],
        setup["consent"],
    ]
    urls = []
    for obj in objects:
        meta = obj._meta
        for view in ("change", "delete", "history"):
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk]))
    for user in (world.director, world.nurse, world.patient_user):
        urls.append(reverse("admin:auth_user_password_change", args=[user.pk]))
    return urls


def _changelists() -> list[str]:
    from django.contrib import admin

    return [
        reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist")
        for m in admin.site._registry
    ]


def test_other_director_sees_nothing_of_the_first_clinic(
    world: World, setup: dict[str, Any], client_for: Any
) -> None:
    outsider = client_for(setup["outsider"])
    assert outsider.get(reverse("admin:index")).status_code == 200
    for url in _changelists():
        response = outsider.get(url)
        assert response.status_code in (200, 403), url
        body = response.content.decode()
        assert SECRET not in body, url
        assert "Test Clinic" not in body, url
        for username in ("director", "nurse", "frontdesk", "prescriber"):
            assert f">{username}<" not in body, (url, username)
    for url in _object_urls(world, setup):
        response = outsider.get(url)
        # Django's admin answers a row outside the queryset by redirecting to the index.
        assert response.status_code in (302, 403, 404), url
        assert SECRET not in response.content.decode(), url


def test_other_director_cannot_change_the_first_clinic(
    world: World, setup: dict[str, Any], client_for: Any
) -> None:
    outsider: Client = client_for(setup["outsider"])
    heads = (
        Chair.objects.filter(clinic=world.clinic).count(),
        User.objects.filter(clinic=world.clinic).count(),
    )
    # A new medical director for the first clinic: the login joins the outsider's clinic.
    response = outsider.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "intruder",
            "password1": "a long enough password 123",
            "password2": "a long enough password 123",
            "usable_password": "true",
            "clinic": str(world.clinic.pk),
            "role": Role.MEDICAL_DIRECTOR.value,
            **NO_CREDENTIALS,
        },
    )
    assert response.status_code in (200, 302)
    intruder = User.objects.filter(username="intruder").first()
    assert intruder is None or intruder.clinic_id == world.other_clinic.pk
    # Every POST on a first-clinic record is refused and changes nothing.
    for url in _object_urls(world, setup):
        outsider.post(
            url,
            {
                "password1": "hijacked password 123",
                "password2": "hijacked password 123",
                "usable_password": "true",
                "post": "yes",
                "name": "hijacked",
                "title": "hijacked",
                "username": "hijacked",
                "role": Role.MEDICAL_DIRECTOR.value,
                "recovery_min": "300",
                "invitation_hours": "300",
            },
        )
    world.director.refresh_from_db()
    assert world.director.check_password(PASSWORD)
    assert world.director.username == "director"
    for record in ("chair", "hours", "schedule", "portal", "consent"):
        obj = setup[record]
        assert type(obj).objects.filter(pk=obj.pk).exists(), record
    assert Chair.objects.get(pk=setup["chair"].pk).name == f"Chair {SECRET}"
    assert ScheduleSettings.objects.get(pk=setup["schedule"].pk).recovery_min == 97
    assert PortalSettings.objects.get(pk=setup["portal"].pk).invitation_hours == 71
    world.clinic.refresh_from_db()
    assert world.clinic.name == "Test Clinic"
    assert heads == (
        Chair.objects.filter(clinic=world.clinic).count(),
        User.objects.filter(clinic=world.clinic).count(),
    )
    # Bulk delete with the first clinic's ids selected.
    outsider.post(
        reverse("admin:treatment_chair_changelist"),
        {"action": "delete_selected", "_selected_action": [setup["chair"].pk], "post": "yes"},
    )
    assert Chair.objects.filter(pk=setup["chair"].pk).exists()


def test_director_administers_own_clinic_through_the_audit(
    world: World, setup: dict[str, Any], client_for: Any
) -> None:
    director: Client = client_for(world.director)
    before = AuditEntry.objects.count()
    response = director.post(
        reverse("admin:treatment_chair_add"), {"name": "Chair 9", "active": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    chair = Chair.objects.get(name="Chair 9")
    assert chair.clinic_id == world.clinic.pk
    entry = AuditEntry.objects.filter(object_type="treatment.chair", object_id=str(chair.pk)).get()
    assert entry.action == "create"
    assert entry.actor_id == world.director.pk
    assert entry.detail["changed"]["name"] == "Chair 9"
    assert AuditEntry.objects.count() > before
    # A clash with the clinic's own chair is a form error, not a server error.
    clash = director.post(
        reverse("admin:treatment_chair_add"), {"name": f"Chair {SECRET}", "active": "on"}
    )
    assert clash.status_code == 200
    assert b"already exists" in clash.content
    # The settings row of a clinic is added once.
    assert director.get(reverse("admin:treatment_schedulesettings_add")).status_code == 403
    # A new login joins the clinic; the network administrator's role is not on offer.
    form = director.get(reverse("admin:accounts_user_add")).content.decode()
    assert Role.NETWORK_ADMIN.value not in form
    assert 'name="clinic"' not in form
    response = director.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newnurse",
            "password1": "a long enough password 123",
            "password2": "a long enough password 123",
            "usable_password": "true",
            "role": Role.NURSE.value,
            **NO_CREDENTIALS,
        },
    )
    assert response.status_code == 302
    new = User.objects.get(username="newnurse")
    assert new.clinic_id == world.clinic.pk
    assert not new.is_superuser
    refused = director.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newadmin",
            "password1": "a long enough password 123",
            "password2": "a long enough password 123",
            "usable_password": "true",
            "role": Role.NETWORK_ADMIN.value,
            **NO_CREDENTIALS,
        },
    )
    assert refused.status_code == 200
    assert not User.objects.filter(username="newadmin").exists()
    # A password set by the director is in the chained audit, its value is not.
    url = reverse("admin:auth_user_password_change", args=[world.nurse.pk])
    response = director.post(
        url,
        {
            "password1": "another long password 456",
            "password2": "another long password 456",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    world.nurse.refresh_from_db()
    assert world.nurse.check_password("another long password 456")
    entries = AuditEntry.objects.filter(object_type="accounts.user", object_id=str(world.nurse.pk))
    assert entries.filter(summary__contains="password").exists()
    assert "another long" not in str(list(entries.values_list("detail", flat=True)))
    # A login is deactivated, not deleted.
    delete = reverse("admin:accounts_user_delete", args=[world.nurse.pk])
    assert director.post(delete, {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=world.nurse.pk).exists()
    assert audit_verify().ok
    # Django's own log is not where the record lives: every admin change above has its twin in
    # the chained audit trail.
    for log in LogEntry.objects.filter(content_type__model__in=["chair", "user"]):
        kind: Any = log.content_type
        assert AuditEntry.objects.filter(
            object_type=f"{kind.app_label}.{kind.model}",
            object_id=log.object_id,
        ).exists()


def test_network_administrator_works_across_clinics_audited(
    world: World, setup: dict[str, Any], client_for: Any
) -> None:
    admin_user = User.objects.create_user(
        username="network", password=PASSWORD, role=Role.NETWORK_ADMIN, clinic=None
    )
    network: Client = client_for(admin_user)
    users = network.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert ">director<" in users
    assert ">other-director<" in users
    response = network.post(
        reverse("admin:accounts_clinic_add"),
        {"name": "Harbor East", "slug": "harbor-east", "time_zone": "America/New_York"},
    )
    assert response.status_code == 302
    assert Clinic.objects.filter(slug="harbor-east").exists()
    response = network.post(
        reverse("admin:treatment_chair_change", args=[setup["chair"].pk]),
        {"clinic": str(world.clinic.pk), "name": "Chair renamed", "active": "on"},
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(
        object_type="treatment.chair", object_id=str(setup["chair"].pk)
    ).get()
    assert entry.actor_username == "network"
    assert entry.detail["clinic_id"] == world.clinic.pk
    # Home leads to the administration; no patient is in reach.
    home = network.get(reverse("home")).content.decode()
    assert reverse("admin:index") in home
    assert network.get(reverse("patient_list")).status_code in (302, 403)


@pytest.mark.parametrize("role", [Role.NURSE, Role.PRESCRIBER, Role.FRONT_DESK, Role.PATIENT])
def test_django_switches_give_no_administration(world: World, client_for: Any, role: Role) -> None:
    """``is_superuser`` and ``is_staff`` are no back door: access follows the role alone."""
    user = make_user(world.clinic, f"super-{role.value}", role, is_superuser=True, is_staff=True)
    assert not user.has_perm("accounts.change_user")
    assert not user.has_module_perms("accounts")
    response = client_for(user).get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
