"""The one access check per kind of infusion record: a session, an appointment to open one,
and a clinic's day of infusions.

A session is reached through its patient: :func:`ketaflow.patients.access.patient_for_user`
decides 404 (another clinic) or 403 (the role may not see clinical notes; audited). A known
session whose patient the user may see, without the permission the action needs, is refused by
:func:`ketaflow.accounts.access.deny` (audited as ``denied`` on the patient, then 403).
Patients never see their infusion sessions here (404: their one permission is their own record),
and front desk lacks ``VIEW_CLINICAL`` (403).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from ketaflow.accounts.access import deny, require
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients.access import patient_for_user
from ketaflow.prepared import Prepared
from ketaflow.treatment.models import Appointment


def _staff(user: User, missing: str) -> None:
    """404 unless ``user`` is signed-in staff (a patient's account sees only its own record)."""
    if not user.is_authenticated or user.may(Perm.VIEW_OWN_RECORD):
        raise Http404(missing)


# What the session page joins to the one read of the session: its appointment, course and
# chair. The patient (with their clinic) is the one :func:`patient_for_user` reads for the
# check; the people the session names (:data:`SESSION_PEOPLE`) are read once for the session
# and its records together (``selectors.session_with_records``): joined here, their columns
# made a 221-column statement whose compilation alone cost 9 ms a page (issue 16).
PAGE_JOINS = ("appointment__course", "appointment__chair")

# The session's own fields that name a person: every foreign key of the session to a user, read
# from the model (a person field added to it is read with the others).
SESSION_PEOPLE = tuple(
    f.name for f in InfusionSession._meta.get_fields() if f.many_to_one and f.related_model is User
)


# The session by its key with its page's joins, or its appointment, in statements compiled once
# per process (ketaflow.prepared, issue 16). Not ``.first()``: a session by its key needs no
# ORDER BY.
_SESSION_FOR_PAGE = Prepared(
    lambda pk: InfusionSession.objects.select_related(*PAGE_JOINS).filter(pk=pk).order_by()[:1]
)
_SESSION = Prepared(
    lambda pk: InfusionSession.objects.select_related("appointment").filter(pk=pk).order_by()[:1]
)


def session_for_user(
    user: User,
    session_id: int,
    *,
    need: Perm,
    actor: Actor | None = None,
    for_page: bool = False,
) -> InfusionSession:
    """The session ``session_id`` if ``user`` may ``need`` it; else 404 or 403.

    Its patient is the one the patient check returned (with their clinic). ``for_page``: the
    session page's joins (:data:`PAGE_JOINS`) come with the same read, so its selector uses this
    object instead of reading the session again."""
    _staff(user, "No such infusion session.")
    read = _SESSION_FOR_PAGE if for_page else _SESSION
    if isinstance(session_id, int):
        session = read.first(pk=session_id)
    else:
        session = next(iter(read.build(pk=session_id)), None)
    if session is None:
        raise Http404("No such infusion session.")
    session.patient = patient_for_user(
        user, session.patient_id, need=Perm.VIEW_CLINICAL, actor=actor
    )
    if not user.may(need):
        deny(
            user,
            need,
            object_type="patient",
            object_id=session.patient_id,
            patient_id=session.patient_id,
            actor=actor,
        )
    return session


def appointment_for_user(
    user: User, appointment_id: int, *, need: Perm, actor: Actor | None = None
) -> Appointment:
    """An appointment, through its patient, for opening its infusion session."""
    _staff(user, "No such appointment.")
    appointment = (
        Appointment.objects.select_related("patient", "chair").filter(pk=appointment_id).first()
    )
    if appointment is None:
        raise Http404("No such appointment.")
    patient_for_user(user, appointment.patient_id, need=need, actor=actor)
    return appointment


def infusion_day_for_user(user: User, *, actor: Actor | None = None) -> Clinic:
    """The clinic whose day of infusions ``user`` may see: 403 for a role that may not see
    clinical notes (a patient's account, front desk; audited) and for an account of no clinic."""
    require(
        user, Perm.VIEW_CLINICAL, object_type="infusion_day", object_id=user.clinic_id, actor=actor
    )
    if user.clinic is None:
        raise PermissionDenied("Only a clinic's staff see its infusions.")
    return user.clinic
