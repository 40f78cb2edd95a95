"""The one access check for patient records.

Every view, export and service that touches a patient goes through :func:`patient_for_user`
(one record) or :func:`patients_for_user` (lists). One condition per line:

- the user is logged in and active;
- staff see the patients of their own clinic; a patient sees only their own record;
- the role must grant the permission asked for (patients: only read their own record);
- a patient of another clinic, or another patient's record, is "not found" (404), so that
  record identifiers reveal nothing; a known record without the permission is 403 and audited.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from ketaflow.accounts.access import deny
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import OWN_RECORD_PERMS, Perm
from ketaflow.audit.context import Actor
from ketaflow.patients.models import Patient


def patients_for_user(user: User) -> QuerySet[Patient]:
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    if user.may(Perm.VIEW_OWN_RECORD):  # a patient: their own record only
        return Patient.objects.filter(user=user)
    if user.may(Perm.LIST_PATIENTS) and user.clinic_id is not None:
        return Patient.objects.filter(clinic_id=user.clinic_id)
    return Patient.objects.none()


def patient_for_user(
    user: User, patient_id: int, *, need: Perm, actor: Actor | None = None
) -> Patient:
    """The patient ``patient_id`` if ``user`` may ``need`` it; else 404 (not theirs) or 403."""
    patient = patients_for_user(user).select_related("clinic").filter(pk=patient_id).first()
    if patient is None:
        raise Http404("No such patient.")
    if user.may(Perm.VIEW_OWN_RECORD):
        allowed = patient.user_id == user.pk and need in OWN_RECORD_PERMS
    else:
        allowed = user.may(need)
    if not allowed:
        deny(
            user,
            need,
            object_type="patient",
            object_id=patient.pk,
            actor=actor,
            patient_id=patient.pk,
        )
    return patient
