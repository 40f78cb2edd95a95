"""The audit trail: append-only entries chained by a keyed hash.

Each entry stores the HMAC-SHA256 of its own content and of the previous entry's hash, keyed
with ``settings.AUDIT_HMAC_KEY``. Editing an entry breaks its hash; deleting one breaks the
link of the next (and the sequence); inserting one needs the key. ``AuditHead`` records the last
sequence number so that deleting the newest entries is detected too.

Chains. Each clinic has its own chain (entries with ``clinic`` set and ``hash_version`` 2), and
actions of no clinic (failed logins, system work) form the network chain (``clinic`` null). Each
chain has its own ``AuditHead`` row, its own sequence numbers and its own lock, so clinics never
wait for each other. Entries written before per-clinic chains (``hash_version`` 1) keep the one
global chain they were written in, the legacy chain, and are verified as such; they were given a
clinic afterwards (migration 0003) only so that each clinic's page lists its own.

An entry may name several patients (``patient_ids``, e.g. every patient on a list page); the
append-only ``AuditEntryPatient`` table repeats them (and ``patient_id``) one row per patient so
that a patient's access history is one indexed query.

The database refuses UPDATE and DELETE on these tables (triggers, see migrations 0002 and 0003),
and the models refuse them in Python as well.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from ketaflow.accounts.clinictime import active_local


class AppendOnlyError(PermissionError, RuntimeError):
    """A change or removal of a row that is written once (a PermissionError for the audit
    trail's callers, a RuntimeError for the ledger's and the infusion record's)."""


class AppendOnly(models.Model):
    """The one base of rows that are written once: the audit trail, the controlled-substance
    ledger's receipts and counts, the infusion record's events. An update or delete through the
    ORM is refused here; the database refuses it too (triggers: :mod:`ketaflow.audit.db`)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class AuditEntry(AppendOnly):
    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        SEARCH = "search", "Searched"
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Removed"
        EXPORT = "export", "Exported"
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOGOUT = "logout", "Logged out"
        DENIED = "denied", "Access denied"

    LEGACY = 1  # one global chain; the hash leaves out actor, clinic and patient_ids
    CURRENT = 2  # per-clinic chains; every displayed field is hashed

    seq = models.BigIntegerField()  # unique within its chain (see Meta.constraints)
    hash_version = models.PositiveSmallIntegerField(default=CURRENT)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    actor_username = models.CharField(max_length=150)
    actor_role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.BigIntegerField(null=True, db_index=True)
    patient_ids = models.JSONField(default=list, blank=True)  # every patient shown or named
    summary = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["actor", "at"], name="audit_actor_at"),
            models.Index(fields=["clinic", "hash_version", "seq"], name="audit_chain_seq"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["seq"], condition=Q(hash_version=1), name="audit_legacy_seq_unique"
            ),
            models.UniqueConstraint(
                fields=["clinic", "seq"],
                condition=Q(hash_version__gte=2, clinic__isnull=False),
                name="audit_clinic_seq_unique",
            ),
            models.UniqueConstraint(
                fields=["seq"],
                condition=Q(hash_version__gte=2, clinic__isnull=True),
                name="audit_network_seq_unique",
            ),
        ]

    def __str__(self) -> str:
        local_at = active_local(self.at)
        return f"#{self.seq} {local_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action}"


class AuditEntryPatient(AppendOnly):
    """One patient named by an entry (append-only, written with the entry)."""

    entry = models.ForeignKey(AuditEntry, on_delete=models.DO_NOTHING, related_name="patient_links")
    patient_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "patient_id"], name="audit_link_unique")
        ]
        indexes = [models.Index(fields=["patient_id", "entry"], name="audit_link_patient")]

    def __str__(self) -> str:
        return f"entry {self.entry_id} names patient {self.patient_id}"


LEGACY_CHAIN = "legacy"
NETWORK_CHAIN = "network"


def chain_key(clinic_id: int | None) -> str:
    """The name of the chain a new entry of ``clinic_id`` (None: no clinic) is written to."""
    return NETWORK_CHAIN if clinic_id is None else f"clinic:{clinic_id}"


class AuditHead(models.Model):
    """One row per chain: the sequence number and hash of its newest entry.

    ``chain`` is ``"legacy"`` (entries written before per-clinic chains), ``"network"`` (no
    clinic) or ``"clinic:<id>"``. Writers lock their chain's row, and only it."""

    chain = models.CharField(max_length=40, unique=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit head of the {self.chain} chain at #{self.seq}"
