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
from ketaflow.prepared import Prepared


def _scope(user: User) -> dict[str, int] | None:
    """Which patients ``user`` may see, as the condition on a patient's row: a patient their
    own record only, staff who list patients their clinic's; None: no patient."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.may(Perm.VIEW_OWN_RECORD):  # a patient: their own record only
        return {"user_id": user.pk}
    if user.may(Perm.LIST_PATIENTS) and user.clinic_id is not None:
        return {"clinic_id": user.clinic_id}
    return None


def patients_for_user(user: User) -> QuerySet[Patient]:
    scope = _scope(user)
    return Patient.objects.none() if scope is None else Patient.objects.filter(**scope)


# One patient within each kind of scope, with their clinic, in a statement compiled once per
# process (ketaflow.prepared, issue 16): every chart, infusion and outcome page reads one.
_ONE_IN_SCOPE = {
    "user_id": Prepared(
        lambda user_id, pk: (
            Patient.objects.filter(user_id=user_id, pk=pk).select_related("clinic").order_by()[:1]
        )
    ),
    "clinic_id": Prepared(
        lambda clinic_id, pk: (
            Patient.objects.filter(clinic_id=clinic_id, pk=pk)
            .select_related("clinic")
            .order_by()[:1]
        )
    ),
}


def patient_for_user(
    user: User, patient_id: int, *, need: Perm, actor: Actor | None = None
) -> Patient:
    """The patient ``patient_id`` if ``user`` may ``need`` it; else 404 (not theirs) or 403."""
    scope = _scope(user)
    patient = None
    if scope is not None and isinstance(patient_id, int):
        ((field, value),) = scope.items()
        patient = _ONE_IN_SCOPE[field].first(**{field: value, "pk": patient_id})
    elif scope is not None:
        patient = Patient.objects.filter(**scope, pk=patient_id).select_related("clinic").first()
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
