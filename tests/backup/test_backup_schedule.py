"""The worker's scheduled backups (how often, how many kept, failures recorded) and the
director's view of the last good backup, with the overdue warning."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from ketaflow.audit.models import AuditEntry
from ketaflow.backup.archive import backup_read
from ketaflow.backup.crypto import key_generate, key_parse
from ketaflow.backup.models import BackupRun, Heartbeat
from ketaflow.backup.schedule import scheduled_backup
from ketaflow.cli import portal as worker
from tests.web.conftest import World

KEY = key_generate()


@pytest.fixture
def scheduled(tmp_path: Path) -> Any:
    folder = tmp_path / "backups"
    with override_settings(
        BACKUP_KEY=KEY, BACKUP_KEY_FILE="", BACKUP_DIR=str(folder), BACKUP_KEEP=2
    ):
        yield folder


def test_the_worker_backs_up_when_due_and_keeps_the_newest(world: World, scheduled: Path) -> None:
    summary = worker.worker_pass()
    assert "backup: made (" in summary
    assert Heartbeat.objects.get(name="worker").at > timezone.now() - dt.timedelta(minutes=1)
    (first,) = scheduled.glob("ketaflow-*.kfbackup")
    assert oct(first.stat().st_mode & 0o777) == "0o600"
    manifest = backup_read(first, key_parse(KEY, source="test"))
    assert manifest.checksums["patients_patient"]["rows"] == 3
    run = BackupRun.objects.get()
    assert run.ok
    assert run.file == str(first)
    assert "backup: not due" in worker.worker_pass()
    # A day later, and the day after: a new backup each time; only the newest two are kept.
    now = timezone.now()
    for days in (1, 2, 3):
        assert scheduled_backup(now=now + dt.timedelta(days=days, minutes=1)).startswith("made")
    kept = sorted(scheduled.glob("ketaflow-*.kfbackup"))
    assert len(kept) == 2
    assert first not in kept
    assert BackupRun.objects.filter(ok=True).count() == 4


def test_a_failed_backup_is_recorded_and_retried_later(world: World, scheduled: Path) -> None:
    scheduled.parent.mkdir(exist_ok=True)
    scheduled.write_text("a file where the folder should be")
    now = timezone.now()
    assert scheduled_backup(now=now) == "failed"
    failed = BackupRun.objects.get()
    assert not failed.ok
    assert failed.message
    assert scheduled_backup(now=now + dt.timedelta(minutes=5)) == "failed; retrying later"
    assert BackupRun.objects.count() == 1


def test_no_key_or_no_schedule_makes_no_backup(world: World, tmp_path: Path) -> None:
    with override_settings(BACKUP_KEY="", BACKUP_KEY_FILE="", BACKUP_DIR=str(tmp_path / "b")):
        assert scheduled_backup() == "due, but no backup key is set"
        with override_settings(BACKUP_INTERVAL_HOURS=0):
            assert scheduled_backup() == "off"
    assert not (tmp_path / "b").exists()
    assert not BackupRun.objects.exists()


def _good_backup(hours_ago: float) -> BackupRun:
    return BackupRun.objects.create(
        at=timezone.now() - dt.timedelta(hours=hours_ago),
        file="/srv/backups/ketaflow-x.kfbackup",
        ok=True,
        rows=1234,
        size_bytes=2048,
    )


def test_the_director_sees_the_last_good_backup_in_the_clinics_time_zone(
    world: World, client_for: Any
) -> None:
    world.clinic.time_zone = "America/Los_Angeles"
    world.clinic.save()
    run = _good_backup(hours_ago=3)
    page = client_for(world.director).get(reverse("backup_status"))
    assert page.status_code == 200
    html = page.content.decode()
    local = timezone.localtime(run.at, ZoneInfo("America/Los_Angeles"))
    assert local.strftime("%Y-%m-%d %H:%M") in html
    assert "1234 rows" in html
    assert 'id="backup-overdue"' not in html
    home = client_for(world.director).get(reverse("home")).content.decode()
    assert 'href="/backups/"' in home
    assert "backup-overdue-banner" not in home


def test_the_director_is_warned_when_the_backup_is_overdue(world: World, client_for: Any) -> None:
    _good_backup(hours_ago=30)
    BackupRun.objects.create(at=timezone.now(), ok=False, message="No space left on device")
    html = client_for(world.director).get(reverse("backup_status")).content.decode()
    assert 'id="backup-overdue"' in html
    assert "No space left on device" in html
    home = client_for(world.director).get(reverse("home")).content.decode()
    assert "backup-overdue-banner" in home
    assert "Backups (overdue)" in home
    # Staff who do not run the installation see no warning.
    nurse_home = client_for(world.nurse).get(reverse("home")).content.decode()
    assert "backup-overdue-banner" not in nurse_home
    assert 'href="/backups/"' not in nurse_home


def test_the_other_clinics_director_sees_the_status_and_nothing_of_this_clinic(
    world: World, client_for: Any
) -> None:
    from ketaflow.accounts.roles import Role
    from tests.web.conftest import make_user

    other_director = make_user(world.other_clinic, "other-director", Role.MEDICAL_DIRECTOR)
    _good_backup(hours_ago=30)
    html = client_for(other_director).get(reverse("backup_status")).content.decode()
    assert 'id="backup-overdue"' in html  # the installation's backups cover their clinic too
    for shown in (world.clinic.name, world.patient.family_name, world.patient.mrn, "/srv/"):
        assert shown not in html


def test_a_patient_and_the_clinical_staff_are_refused_and_audited(
    world: World, client_for: Any, client: Client
) -> None:
    _good_backup(hours_ago=30)
    for user in (world.patient_user, world.nurse, world.prescriber, world.frontdesk):
        before = AuditEntry.objects.count()
        response = client_for(user).get(reverse("backup_status"))
        assert response.status_code == 403, user.username
        denied = AuditEntry.objects.order_by("-pk").first()
        assert AuditEntry.objects.count() > before
        assert denied is not None
        assert denied.action == "denied"
        assert denied.object_type == "backups"
    portal = client_for(world.patient_user).get(reverse("portal_home")).content.decode()
    assert "backup-overdue-banner" not in portal
    anonymous = client.get(reverse("backup_status"))
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
