"""Reading a clinic's audit trail: who may (the medical director, their clinic only) and which
entries a filter selects. The director's page and the API share them."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from ketaflow.accounts.access import deny
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import entries_for_clinic, entries_naming_patient
from ketaflow.patients.access import patients_for_user
from ketaflow.patients.models import Patient


def auditor_clinic(user: User, actor: Actor) -> Clinic:
    """The clinic whose trail ``user`` reads (their own), if their role reads it; else 403,
    audited."""
    clinic = user.clinic
    if not user.may(Perm.VIEW_AUDIT_TRAIL) or clinic is None:
        deny(user, Perm.VIEW_AUDIT_TRAIL, object_type="audit_trail", object_id="", actor=actor)
    return clinic


def no_entries() -> QuerySet[AuditEntry]:
    """Nothing: what a filter naming another clinic's patient shows."""
    return AuditEntry.objects.none()


def auditable_patient(user: User, value: str) -> Patient | None:
    """The patient of ``user``'s clinic with the record number (MRN, any case) or id ``value``."""
    match = Q(mrn__iexact=value)
    if value.isdigit():
        match |= Q(pk=int(value))
    return patients_for_user(user).filter(match).order_by("pk").first()


def entries_filtered(
    clinic: Clinic,
    *,
    patient: Patient | None = None,
    actor: str = "",
    action: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AuditEntry]:
    """The clinic's entries, narrowed by a patient (of that clinic: the caller found them with
    the access functions), a user name fragment, an action and a day range; newest first."""
    entries = entries_for_clinic(clinic.pk)
    if patient is not None:
        entries = entries & entries_naming_patient(patient.pk)
    if actor:
        entries = entries.filter(actor_username__icontains=actor)
    if action:
        entries = entries.filter(action=action)
    if since:
        entries = entries.filter(at__date__gte=since)
    if until:
        entries = entries.filter(at__date__lte=until)
    return entries.order_by("-id")


def record_numbers(user: User, entries: list[AuditEntry]) -> dict[int, str]:
    """The record numbers of the patients the entries name, of ``user``'s clinic only."""
    ids = {e.patient_id for e in entries if e.patient_id is not None}
    return dict(patients_for_user(user).filter(pk__in=ids).values_list("pk", "mrn"))
