"""Clinics, people who log in, and staff credentials."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.contrib import auth
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from ketaflow.accounts.roles import ROLE_LABELS, Perm, Role, has_perm


class Clinic(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="America/New_York")
    address = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who logs in: a member of staff of one clinic, or a patient."""

    ROLE_CHOICES = [(r.value, ROLE_LABELS[r]) for r in Role]

    # Blank only for the network administrator: clean() requires a clinic for everyone else.
    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, related_name="users", null=True, blank=True
    )
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)

    # What the person's name (``str(user)``) reads: a list naming people reads only these
    # (``ketaflow.web.reads.unread_but``).
    NAME_FIELDS: ClassVar[tuple[str, ...]] = ("id", "first_name", "last_name", "username")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def may(self, perm: Perm) -> bool:
        """Whether this user's role grants ``perm`` (active users only)."""
        return bool(self.is_active and self.role and has_perm(self.role, perm))

    # Django's model permissions (the administration) come from the role alone: unlike
    # AbstractUser, ``is_superuser`` is no shortcut to every permission.
    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return bool(self.is_active) and any(
            backend.has_perm(self, perm, obj) for backend in auth.get_backends()
        )

    def has_module_perms(self, app_label: str) -> bool:
        backends: list[Any] = auth.get_backends()
        return bool(self.is_active) and any(
            backend.has_module_perms(self, app_label) for backend in backends
        )

    def clean(self) -> None:
        super().clean()
        if self.role == Role.NETWORK_ADMIN and self.clinic_id is not None:
            raise ValidationError({"clinic": "A network administrator belongs to no clinic."})
        if self.role and self.role != Role.NETWORK_ADMIN and self.clinic_id is None:
            raise ValidationError({"clinic": "Every member of a clinic's staff needs a clinic."})


class Credential(models.Model):
    """A professional credential of a member of staff, with its expiry."""

    class Kind(models.TextChoices):
        LICENCE = "licence", "Professional licence"
        DEA = "dea", "DEA registration"
        ACLS = "acls", "ACLS certification"
        BLS = "bls", "BLS certification"

    class LicenceType(models.TextChoices):
        MD = "MD", "Physician (MD)"
        DO = "DO", "Physician (DO)"
        NP = "NP", "Nurse practitioner"
        PA = "PA", "Physician assistant"
        CRNA = "CRNA", "Certified registered nurse anaesthetist"
        RN = "RN", "Registered nurse"
        LPN = "LPN", "Licensed practical nurse"
        NONE = "", "Not applicable"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="credentials")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    licence_type = models.CharField(
        max_length=8, choices=LicenceType.choices, blank=True, default=""
    )
    number = models.CharField(max_length=64)
    jurisdiction = models.CharField(
        max_length=64, blank=True, help_text="Issuing state or body, e.g. NY or AHA"
    )
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField()

    class Meta:
        ordering = ["user", "kind", "-expires_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "number", "jurisdiction"], name="credential_unique_number"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="licence") | ~models.Q(licence_type=""),
                name="credential_licence_has_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number} (expires {self.expires_on})"

    def is_current(self, on: dt.date) -> bool:
        return self.expires_on >= on and (self.issued_on is None or self.issued_on <= on)


class UserSession(models.Model):
    """One login's session, so that a person sees their own sessions and ends the others, and
    so that a session ends at its absolute lifetime whatever its activity
    (``ketaflow.accounts.sessions``). ``sid`` is kept in the session itself: it survives the
    new session keys of the login and the second factor."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_sessions")
    sid = models.CharField(max_length=64, unique=True)
    session_key = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"session of user {self.user_id} since {self.started_at:%Y-%m-%d %H:%M}"
