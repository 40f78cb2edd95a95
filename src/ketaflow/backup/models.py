"""The installation's own records: its backups and the worker's heartbeat (no patient data;
not copied into a backup)."""

from __future__ import annotations

from django.db import models


class BackupRun(models.Model):
    """One backup the worker (or ``ketaflow backup create``) made, or tried to."""

    at = models.DateTimeField(db_index=True)
    file = models.CharField(max_length=500, blank=True)
    ok = models.BooleanField()
    size_bytes = models.BigIntegerField(default=0)
    rows = models.BigIntegerField(default=0)
    schema_version = models.CharField(max_length=16, blank=True)
    message = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"backup at {self.at:%Y-%m-%d %H:%M} ({'ok' if self.ok else 'failed'})"


class Heartbeat(models.Model):
    """The last time a process (``worker``) finished a pass."""

    name = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} alive at {self.at:%Y-%m-%d %H:%M:%S}"
