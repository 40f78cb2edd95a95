"""The access checks of the portal: one function per kind of record.

A patient reaches only their own records: any other identifier is "not found" (404), so that
identifiers reveal nothing. Staff reach urgent tasks and invitations through
:func:`ketaflow.patients.access.patient_for_user` (their clinic, their role's permission; a
known record without the permission is 403 and audited).
"""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from ketaflow.accounts.access import require
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients.access import patient_for_user
from ketaflow.patients.models import Patient
from ketaflow.portal.models import DueQuestionnaire, Invitation, UrgentTask
from ketaflow.prepared import Prepared

# A login's patient record (one at most) with the clinic, on every portal page: a statement
# compiled once per process (ketaflow.prepared, issue 16).
_OWN_PATIENT = Prepared(
    lambda user_id: Patient.objects.filter(user_id=user_id).select_related("clinic").order_by()[:1]
)


def own_patient(user: User) -> Patient:
    """The patient record of a logged-in patient; anyone else: 404."""
    if not user.is_authenticated or not user.is_active or not user.may(Perm.VIEW_OWN_RECORD):
        raise Http404("The portal is for patients.")
    patient = _OWN_PATIENT.first(user_id=user.pk)
    if patient is None:
        raise Http404("No patient record is linked to this login.")
    return patient


def due_for_user(user: User, due_id: int) -> DueQuestionnaire:
    """One of the patient's own due questionnaires; another patient's is 404."""
    patient = own_patient(user)
    due = DueQuestionnaire.objects.filter(pk=due_id, patient=patient).first()
    if due is None:
        raise Http404("No such questionnaire.")
    due.patient = patient
    return due


def response_for_user(user: User, response_id: int) -> InstrumentResponse:
    """One of the patient's own portal responses; anything else is 404."""
    patient = own_patient(user)
    response = InstrumentResponse.objects.filter(
        pk=response_id, patient=patient, source=InstrumentResponse.Source.PORTAL
    ).first()
    if response is None:
        raise Http404("No such questionnaire.")
    response.patient = patient
    return response


def discharged_session_for_user(user: User, session_id: int) -> InfusionSession:
    """One of the patient's own infusion sessions with discharge instructions; else 404."""
    patient = own_patient(user)
    session = (
        InfusionSession.objects.select_related("appointment")
        .filter(pk=session_id, patient=patient, instructions_given=True)
        .first()
    )
    if session is None:
        raise Http404("No such infusion.")
    session.patient = patient
    return session


def may_see_tasks(user: User) -> bool:
    """Whether ``user`` sees their clinic's urgent tasks: staff of a clinic whose role views
    clinical data."""
    return bool(
        user.is_authenticated
        and not user.may(Perm.VIEW_OWN_RECORD)
        and user.clinic_id is not None
        and user.may(Perm.VIEW_CLINICAL)
    )


def tasks_for_user(user: User) -> QuerySet[UrgentTask]:
    """The urgent tasks of the user's clinic, for staff whose role views clinical data."""
    if not may_see_tasks(user) or user.clinic_id is None:
        return UrgentTask.objects.none()
    return UrgentTask.objects.filter(clinic_id=user.clinic_id)


def task_for_user(
    user: User, task_id: int, *, need: Perm, actor: Actor | None = None
) -> UrgentTask:
    """An urgent task if ``user`` may ``need`` it (and view the patient's clinical record);
    another clinic's task or a patient is 404; a known task without the permission is 403."""
    if not user.is_authenticated or user.may(Perm.VIEW_OWN_RECORD):
        raise Http404("No such task.")
    task = UrgentTask.objects.filter(pk=task_id).only("pk", "patient_id").first()
    if task is None:
        raise Http404("No such task.")
    patient = patient_for_user(user, task.patient_id, need=Perm.VIEW_CLINICAL, actor=actor)
    if need is not Perm.VIEW_CLINICAL:
        patient_for_user(user, task.patient_id, need=need, actor=actor)
    found = UrgentTask.objects.select_related("response", "acknowledged_by").get(pk=task.pk)
    found.patient = patient
    return found


def invitation_target(user: User, patient_id: int, *, actor: Actor | None = None) -> Patient:
    """The patient ``user`` may invite to the portal (their clinic, Perm.INVITE_PATIENT)."""
    if user.may(Perm.VIEW_OWN_RECORD):
        raise Http404("No such patient.")
    patient = patient_for_user(user, patient_id, need=Perm.INVITE_PATIENT, actor=actor)
    require(user, Perm.INVITE_PATIENT, object_type="patient", object_id=patient.pk, actor=actor)
    return patient


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_for_token(token: str) -> Invitation:
    """The open invitation of a link's token: unknown, used, revoked or expired is 404."""
    invitation = (
        Invitation.objects.select_related("patient", "user")
        .filter(
            token_hash=token_hash(token),
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if invitation is None:
        raise Http404("This invitation link has expired or has already been used.")
    return invitation
