"""The installation's health (``/healthz``) and its deployment findings (``ketaflow check``).
Neither holds patient data."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from ketaflow.backup.schedule import backup_state, last_heartbeat


def worker_stale_after() -> dt.timedelta:
    """A worker that has not finished a pass in three intervals and a minute is down."""
    return dt.timedelta(seconds=3 * float(settings.WORKER_INTERVAL_SECONDS) + 60)


def _age(at: dt.datetime | None, now: dt.datetime) -> int | None:
    return int((now - at).total_seconds()) if at is not None else None


def _iso(at: dt.datetime | None) -> str | None:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds") if at is not None else None


def health(*, now: dt.datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """(all well, the report): the database reachable, the worker's last heartbeat, the last
    good backup's age."""
    now = now or timezone.now()
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        beat = last_heartbeat()
        state = backup_state(now=now)
    except DatabaseError:
        report = {
            "status": "fail",
            "database": {"ok": False},
            "worker": {"ok": False, "last_heartbeat": None, "age_seconds": None},
            "backup": {"ok": False, "last_good": None, "age_seconds": None, "overdue": None},
        }
        return False, report
    worker_ok = beat is not None and now - beat <= worker_stale_after()
    last = state.last_good.at if state.last_good else None
    backup_ok = not state.overdue
    report = {
        "database": {"ok": True},
        "worker": {"ok": worker_ok, "last_heartbeat": _iso(beat), "age_seconds": _age(beat, now)},
        "backup": {
            "ok": backup_ok,
            "last_good": _iso(last),
            "age_seconds": _age(last, now),
            "overdue": state.overdue,
            "interval_hours": float(settings.BACKUP_INTERVAL_HOURS),
        },
    }
    ok = worker_ok and backup_ok
    return ok, {"status": "ok" if ok else "fail", **report}


@dataclass(frozen=True)
class Finding:
    id: str
    message: str

    def line(self) -> str:
        return f"{self.id}: {' '.join(self.message.split())}"


def _derived_audit_key(secret_key: str) -> str:
    from ketaflow.settings import _derived_audit_key as derived

    return derived(secret_key)


def key_findings() -> list[Finding]:
    from ketaflow.backup.archive import BackupError
    from ketaflow.backup.keys import backup_key

    found = []
    if not os.environ.get("KETAFLOW_SECRET_KEY"):
        found.append(
            Finding(
                "ketaflow.E001",
                "KETAFLOW_SECRET_KEY is not set: the generated key in var/ sits beside the "
                "database",
            )
        )
    audit_key = str(settings.AUDIT_HMAC_KEY)
    if audit_key == _derived_audit_key(settings.SECRET_KEY) or settings.SECRET_KEY in audit_key:
        found.append(
            Finding(
                "ketaflow.E002",
                "the audit key is derived from the secret key: set KETAFLOW_AUDIT_KEY (or "
                "KETAFLOW_AUDIT_KEY_FILE) to a key of its own",
            )
        )
    elif len(audit_key) < 32:
        found.append(Finding("ketaflow.E002", "KETAFLOW_AUDIT_KEY is shorter than 32 characters"))
    try:
        backup_key()
    except BackupError as exc:
        found.append(Finding("ketaflow.E003", str(exc)))
    return found


def setting_findings() -> list[Finding]:
    found = []
    if not settings.PRODUCTION:
        found.append(
            Finding("ketaflow.E004", f"not in production mode (KETAFLOW_ENV is {settings.ENV})")
        )
    if not (
        settings.SECURE_SSL_REDIRECT
        and settings.SESSION_COOKIE_SECURE
        and settings.CSRF_COOKIE_SECURE
        and settings.SECURE_HSTS_SECONDS
    ):
        found.append(
            Finding(
                "ketaflow.E005",
                "HTTPS is not enforced (redirect, secure cookies and HSTS: production mode "
                "with KETAFLOW_SSL_REDIRECT=1)",
            )
        )
    if not settings.STAFF_SECOND_FACTOR_REQUIRED:
        found.append(
            Finding(
                "ketaflow.E006",
                "the staff second factor is optional (KETAFLOW_STAFF_SECOND_FACTOR): it must be "
                "required",
            )
        )
    return found


def data_findings(*, now: dt.datetime | None = None) -> list[Finding]:
    from ketaflow.accounts.models import Clinic

    found = []
    state = backup_state(now=now)
    if state.interval is None:
        found.append(
            Finding(
                "ketaflow.E007",
                "scheduled backups are off (KETAFLOW_BACKUP_INTERVAL_HOURS is 0)",
            )
        )
    if state.last_good is None:
        found.append(Finding("ketaflow.E008", "no backup has been made yet"))
    elif state.overdue:
        hours = (state.age or dt.timedelta()).total_seconds() / 3600
        found.append(
            Finding(
                "ketaflow.E008",
                f"the last good backup is {hours:.0f} hours old: overdue (every "
                f"{float(settings.BACKUP_INTERVAL_HOURS):g} hours)",
            )
        )
    if state.last_failed is not None:
        found.append(
            Finding(
                "ketaflow.E009",
                f"the last backup failed: {state.last_failed.message or 'no reason recorded'}",
            )
        )
    for slug in Clinic.objects.filter(phone="").order_by("slug").values_list("slug", flat=True):
        found.append(
            Finding(
                "ketaflow.E010",
                f"clinic {slug} has no phone number (the discharge sheet needs it)",
            )
        )
    return found


def django_findings() -> list[Finding]:
    """Django's own checks, the deployment checks included (warnings and worse)."""
    from django.core.checks import WARNING, run_checks

    return [
        Finding(m.id or "django", f"{m.msg} {('HINT: ' + m.hint) if m.hint else ''}")
        for m in run_checks(include_deployment_checks=True)
        if m.level >= WARNING and not m.is_silenced()
    ]


def deployment_findings() -> list[Finding]:
    return django_findings() + key_findings() + setting_findings() + data_findings()
