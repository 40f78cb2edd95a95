"""The one access check for infusion sessions.

A session is reached through its patient: :func:`ketaflow.patients.access.patient_for_user`
decides 404 (another clinic) or 403 (the role lacks the permission; audited). Patients never see
their infusion sessions here (404), and front desk lacks ``VIEW_CLINICAL`` (403).
"""

from __future__ import annotations

from django.http import Http404

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, Role
from ketaflow.audit.context import Actor
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients.access import patient_for_user
from ketaflow.treatment.models import Appointment


def session_for_user(
    user: User, session_id: int, *, need: Perm, actor: Actor | None = None
) -> InfusionSession:
    """The session ``session_id`` if ``user`` may ``need`` it; else 404 or 403."""
    if not user.is_authenticated or user.role == Role.PATIENT:
        raise Http404("No such infusion session.")
    session = (
        InfusionSession.objects.select_related("patient", "appointment")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise Http404("No such infusion session.")
    patient_for_user(user, session.patient_id, need=Perm.VIEW_CLINICAL, actor=actor)
    if need is not Perm.VIEW_CLINICAL:
        patient_for_user(user, session.patient_id, need=need, actor=actor)
    return session


def appointment_for_user(
    user: User, appointment_id: int, *, need: Perm, actor: Actor | None = None
) -> Appointment:
    """An appointment, through its patient, for opening its infusion session."""
    if not user.is_authenticated or user.role == Role.PATIENT:
        raise Http404("No such appointment.")
    appointment = (
        Appointment.objects.select_related("patient", "chair").filter(pk=appointment_id).first()
    )
    if appointment is None:
        raise Http404("No such appointment.")
    patient_for_user(user, appointment.patient_id, need=need, actor=actor)
    return appointment
