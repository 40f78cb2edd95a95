"""``/healthz`` for a monitoring system and ``ketaflow check``: each reports a bad state."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from django.utils import timezone

from ketaflow.audit.models import AuditEntry
from ketaflow.backup import health as health_module
from ketaflow.backup.crypto import key_generate
from ketaflow.backup.models import BackupRun, Heartbeat
from ketaflow.cli import main
from tests.web.conftest import World


def _healthy(now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    Heartbeat.objects.update_or_create(name="worker", defaults={"at": now})
    BackupRun.objects.create(at=now, file="/backups/b.kfbackup", ok=True, rows=10)


def _get(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthz_is_200_when_all_is_well_without_login_or_audit(
    world: World, client: Client
) -> None:
    _healthy()
    entries = AuditEntry.objects.count()
    status, report = _get(client)
    assert status == 200
    assert report["status"] == "ok"
    assert report["database"] == {"ok": True}
    assert report["worker"]["ok"] is True
    assert report["worker"]["age_seconds"] < 60
    assert report["backup"]["ok"] is True
    assert report["backup"]["overdue"] is False
    assert AuditEntry.objects.count() == entries  # not audited as a page view
    body = client.get("/healthz").content.decode()
    for shown in (world.patient.family_name, world.patient.mrn, world.clinic.name, "backups/"):
        assert shown not in body


def test_healthz_is_503_without_a_worker_or_a_backup(world: World, client: Client) -> None:
    status, report = _get(client)
    assert status == 503
    assert report["status"] == "fail"
    assert report["worker"] == {"ok": False, "last_heartbeat": None, "age_seconds": None}
    assert report["backup"]["ok"] is False
    assert report["backup"]["last_good"] is None
    assert report["backup"]["overdue"] is True


def test_healthz_is_503_for_a_stale_worker_or_an_overdue_backup(
    world: World, client: Client
) -> None:
    long_ago = timezone.now() - dt.timedelta(hours=30)
    _healthy()
    Heartbeat.objects.filter(name="worker").update(at=long_ago)
    status, report = _get(client)
    assert status == 503
    assert report["worker"]["ok"] is False
    assert report["worker"]["age_seconds"] >= 30 * 3600
    assert report["backup"]["ok"] is True
    Heartbeat.objects.filter(name="worker").update(at=timezone.now())
    BackupRun.objects.update(at=long_ago)
    status, report = _get(client)
    assert status == 503
    assert report["worker"]["ok"] is True
    assert report["backup"]["overdue"] is True
    # A failed backup after the good one does not make the old one recent.
    BackupRun.objects.create(at=timezone.now(), ok=False, message="disk full")
    assert _get(client)[0] == 503
    # With scheduled backups off, the age is reported and nothing is overdue.
    with override_settings(BACKUP_INTERVAL_HOURS=0):
        assert _get(client)[0] == 200


def test_healthz_is_503_when_the_database_is_unreachable(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unreachable:
        def ensure_connection(self) -> None:
            raise OperationalError("connection refused")

    monkeypatch.setattr(health_module, "connection", Unreachable())
    ok, report = health_module.health()
    assert not ok
    assert report["database"] == {"ok": False}
    assert report["status"] == "fail"


GOOD = {
    "ENV": "production",
    "PRODUCTION": True,
    "DEBUG": False,
    "SECRET_KEY": secrets.token_urlsafe(60),
    "AUDIT_HMAC_KEY": secrets.token_urlsafe(40),
    "BACKUP_KEY": key_generate(),
    "BACKUP_KEY_FILE": "",
    "ALLOWED_HOSTS": ["clinic.example.org"],
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "STAFF_SECOND_FACTOR_REQUIRED": True,
}


@pytest.fixture
def well_configured(world: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KETAFLOW_SECRET_KEY", str(GOOD["SECRET_KEY"]))
    world.other_clinic.phone = "+1 555 0100 200"
    world.other_clinic.save()
    _healthy()
    with override_settings(**GOOD):
        yield


def _check(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["check"])
    return code, capsys.readouterr().out.strip().splitlines()


def test_check_passes_a_well_configured_installation(
    well_configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _check(capsys)
    assert (code, lines) == (0, ["no findings: ready for production"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"PRODUCTION": False, "ENV": "development"}, "ketaflow.E004: not in production mode"),
        ({"SECURE_SSL_REDIRECT": False}, "ketaflow.E005: HTTPS is not enforced"),
        ({"SECURE_SSL_REDIRECT": False}, "security.W008"),
        ({"STAFF_SECOND_FACTOR_REQUIRED": False}, "ketaflow.E006: the staff second factor"),
        ({"BACKUP_KEY": ""}, "ketaflow.E003: no backup key"),
        ({"BACKUP_KEY": str(GOOD["AUDIT_HMAC_KEY"])}, "ketaflow.E003: KETAFLOW_BACKUP_KEY: the"),
        ({"BACKUP_INTERVAL_HOURS": 0}, "ketaflow.E007: scheduled backups are off"),
        ({"DEBUG": True}, "security.W018"),
    ],
)
def test_check_reports_each_bad_setting_on_one_line(
    well_configured: None,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, Any],
    expected: str,
) -> None:
    with override_settings(**change):
        code, lines = _check(capsys)
    assert code == 1
    assert [line for line in lines if line.startswith(expected)], lines


def test_check_reports_keys_that_are_not_separate(
    well_configured: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ketaflow.settings import _derived_audit_key

    monkeypatch.delenv("KETAFLOW_SECRET_KEY")
    with override_settings(AUDIT_HMAC_KEY=_derived_audit_key(str(GOOD["SECRET_KEY"]))):
        code, lines = _check(capsys)
    assert code == 1
    assert any(line.startswith("ketaflow.E001: KETAFLOW_SECRET_KEY is not set") for line in lines)
    assert any(line.startswith("ketaflow.E002: the audit key is derived") for line in lines)


def test_check_reports_backups_missing_overdue_or_failed_and_clinics_without_a_phone(
    well_configured: None, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    BackupRun.objects.update(at=timezone.now() - dt.timedelta(hours=40))
    BackupRun.objects.create(at=timezone.now(), ok=False, message="disk full")
    world.other_clinic.phone = ""
    world.other_clinic.save()
    code, lines = _check(capsys)
    assert code == 1
    assert lines == [
        "ketaflow.E008: the last good backup is 40 hours old: overdue (every 24 hours)",
        "ketaflow.E009: the last backup failed: disk full",
        "ketaflow.E010: clinic other has no phone number (the discharge sheet needs it)",
    ]
    BackupRun.objects.all().delete()
    code, lines = _check(capsys)
    assert "ketaflow.E008: no backup has been made yet" in lines
