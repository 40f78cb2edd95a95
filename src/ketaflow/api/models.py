"""API tokens: per user and clinic, scoped, expiring, revocable, stored as a hash only."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from ketaflow.accounts.models import Clinic


class ApiToken(models.Model):
    """One bearer token. The token itself is shown once, at creation; only its SHA-256 digest is
    kept (the token is 256 random bits, so a fast hash is enough: nothing to guess). The prefix
    names it in lists and the audit trail."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, help_text="Who created it (user or command).")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"API token {self.prefix}"

    def is_expired(self, now: dt.datetime) -> bool:
        return self.expires_at <= now

    def is_active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and not self.is_expired(now)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
