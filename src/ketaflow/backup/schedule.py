"""Backups made and recorded: by ``ketaflow backup create`` and on the worker's schedule; the
state the director's page, ``/healthz`` and ``ketaflow check`` read."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from ketaflow.backup.archive import BackupError, backup_create
from ketaflow.backup.models import BackupRun, Heartbeat

WORKER = "worker"
SUFFIX = ".kfbackup"
# An hour's grace after the interval before a backup counts as overdue.
GRACE = dt.timedelta(hours=1)
# A failed scheduled backup is tried again after this long.
RETRY = dt.timedelta(minutes=15)
log = logging.getLogger("ketaflow.backup")


def backup_recorded(path: Path, key: bytes, *, now: dt.datetime | None = None) -> BackupRun:
    """Make a backup at ``path`` and record it (a failure is recorded too, then raised)."""
    now = now or timezone.now()
    try:
        manifest = backup_create(path, key)
    except (BackupError, OSError) as exc:
        BackupRun.objects.create(at=now, file=str(path), ok=False, message=str(exc)[:500])
        raise
    return BackupRun.objects.create(
        at=now,
        file=str(path),
        ok=True,
        size_bytes=path.stat().st_size,
        rows=manifest.rows(),
        schema_version=manifest.schema_version,
    )


def interval() -> dt.timedelta | None:
    hours = float(settings.BACKUP_INTERVAL_HOURS)
    return dt.timedelta(hours=hours) if hours > 0 else None


def scheduled_backup(*, now: dt.datetime | None = None) -> str:
    """The worker's pass: a backup into ``KETAFLOW_BACKUP_DIR`` when the last good one is older
    than the interval (a failure is retried after ``RETRY``), then only the newest
    ``KETAFLOW_BACKUP_KEEP`` files are kept. Returns what happened, in a few words; a failure is
    recorded (the director's page, ``/healthz`` and ``ketaflow check`` show it), not raised."""
    from ketaflow.backup.keys import backup_key, configured

    every = interval()
    if every is None:
        return "off"
    now = now or timezone.now()
    last = last_good_backup()
    if last is not None and now - last.at < every:
        return "not due"
    if BackupRun.objects.filter(ok=False, at__gt=now - RETRY).exists():
        return "failed; retrying later"
    if not configured():
        return "due, but no backup key is set"
    folder = Path(settings.BACKUP_DIR)
    path = folder / f"ketaflow-{now.astimezone(dt.UTC):%Y%m%dT%H%M%S%fZ}{SUFFIX}"
    try:
        key = backup_key()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        run = backup_recorded(path, key, now=now)
    except (BackupError, OSError) as exc:
        # backup_recorded has recorded a failure of the backup itself; record the others.
        if not BackupRun.objects.filter(ok=False, at=now).exists():
            BackupRun.objects.create(at=now, file=str(path), ok=False, message=str(exc)[:500])
        log.error("scheduled backup failed: %s", exc)
        return "failed"
    prune(folder, keep=int(settings.BACKUP_KEEP))
    return f"made ({run.rows} rows)"


def prune(folder: Path, *, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` scheduled backups (by name, which is their time)."""
    files = sorted(folder.glob(f"ketaflow-*{SUFFIX}"))
    removed = files[: max(0, len(files) - max(keep, 1))]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def last_good_backup() -> BackupRun | None:
    return BackupRun.objects.filter(ok=True).order_by("-at").first()


def recent_runs(limit: int = 10) -> list[BackupRun]:
    return list(BackupRun.objects.order_by("-at")[:limit])


def heartbeat(name: str = WORKER) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})


def last_heartbeat(name: str = WORKER) -> dt.datetime | None:
    at: dt.datetime | None = (
        Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()
    )
    return at


@dataclass(frozen=True)
class BackupState:
    last_good: BackupRun | None
    last_failed: BackupRun | None  # a failure newer than the last good backup
    overdue: bool
    interval: dt.timedelta | None
    configured: bool

    @property
    def age(self) -> dt.timedelta | None:
        return timezone.now() - self.last_good.at if self.last_good else None


def backup_state(*, now: dt.datetime | None = None) -> BackupState:
    from ketaflow.backup.keys import configured

    now = now or timezone.now()
    last = last_good_backup()
    failed = BackupRun.objects.filter(ok=False).order_by("-at").first()
    if failed is not None and last is not None and failed.at < last.at:
        failed = None
    every = interval()
    return BackupState(last, failed, _overdue(last, every, now), every, configured())


def _overdue(last: BackupRun | None, every: dt.timedelta | None, now: dt.datetime) -> bool:
    return every is not None and (last is None or now - last.at > every + GRACE)


def backup_overdue(*, now: dt.datetime | None = None) -> bool:
    """Whether the last good backup is overdue (``backup_state().overdue``), for the warning
    on every page: one query, none when scheduled backups are off."""
    every = interval()
    if every is None:
        return False
    return _overdue(last_good_backup(), every, now or timezone.now())
