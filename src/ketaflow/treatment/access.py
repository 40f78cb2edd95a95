"""The access checks for courses, appointments and the chair board.

A course or an appointment belongs to a patient, so each goes through
:func:`ketaflow.patients.access.patient_for_user` with the permission the caller needs: another
clinic's record, or another patient's, is "not found" (404); a known record without the
permission is 403 and audited. Lists go through :func:`patients_for_user`; a role without the
list's permission is refused through :func:`ketaflow.accounts.access.require` (403, audited).

:func:`appointment_for_user` is the one definition for every app: the infusion session pages
should call it too (``ketaflow.infusions.access`` has its own copy, to be folded into this).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from ketaflow.accounts.access import require
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, refusal
from ketaflow.audit.context import Actor
from ketaflow.patients.access import patient_for_user, patients_for_user
from ketaflow.treatment.models import Appointment, Chair, Course


def course_for_user(
    user: User, course_id: int, *, need: Perm, actor: Actor | None = None
) -> Course:
    """The course ``course_id`` if ``user`` may ``need`` it; else 404 (not theirs) or 403."""
    course = Course.objects.filter(pk=course_id).only("pk", "patient_id").first()
    if course is None:
        raise Http404("No such course.")
    patient = patient_for_user(user, course.patient_id, need=need, actor=actor)
    found = Course.objects.select_related("patient", "patient__clinic", "candidacy").get(
        pk=course.pk
    )
    found.patient = patient
    return found


def appointment_for_user(
    user: User, appointment_id: int, *, need: Perm, actor: Actor | None = None
) -> Appointment:
    """The appointment ``appointment_id`` if ``user`` may ``need`` it; else 404 or 403."""
    appointment = Appointment.objects.filter(pk=appointment_id).only("pk", "patient_id").first()
    if appointment is None:
        raise Http404("No such appointment.")
    patient = patient_for_user(user, appointment.patient_id, need=need, actor=actor)
    found = Appointment.objects.select_related("course", "chair", "nurse").get(pk=appointment.pk)
    found.patient = patient
    found.course.patient = patient
    return found


def _require_clinic_list(user: User, need: Perm, *, object_type: str) -> None:
    """Nothing when ``user`` is staff of a clinic whose role grants ``need``; else 403 (a role
    without it is audited as denied)."""
    require(user, need, object_type=object_type, object_id=user.clinic_id or "")
    if user.clinic_id is None:
        raise PermissionDenied(refusal(user.role, need))


def schedule_for_user(user: User, *, need: Perm = Perm.VIEW_SCHEDULE) -> QuerySet[Appointment]:
    """The appointments ``user`` may see on the chair board (their clinic's patients), or 403."""
    _require_clinic_list(user, need, object_type="chair_board")
    return Appointment.objects.filter(patient__in=patients_for_user(user))


def courses_for_user(user: User, *, need: Perm) -> QuerySet[Course]:
    """The courses of the patients ``user`` may list, if the role grants ``need``; else 403."""
    _require_clinic_list(user, need, object_type="course_list")
    return Course.objects.filter(patient__in=patients_for_user(user))


def chairs_for_user(user: User) -> QuerySet[Chair]:
    """The chairs of the user's clinic (not patient data; staff with a clinic only)."""
    if user.clinic_id is None or not user.may(Perm.VIEW_SCHEDULE):
        return Chair.objects.none()
    return Chair.objects.filter(clinic_id=user.clinic_id)
