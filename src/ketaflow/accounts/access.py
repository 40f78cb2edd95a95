"""Access to another person's sign-in: a medical director's own clinic only (404 otherwise);
the shared refusal of a known record: :func:`deny` (audited as ``denied``, then 403). The person
behind an action is ``actor.person()`` (audit/context.py)."""

from __future__ import annotations

from typing import NoReturn

from django.core.exceptions import PermissionDenied
from django.http import Http404

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm, refusal
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record


def deny(
    user: User,
    need: Perm,
    *,
    object_type: str,
    object_id: object,
    actor: Actor | None = None,
    patient_id: int | None = None,
) -> NoReturn:
    """Refuse ``user`` the known record (or area) ``object_type``/``object_id`` that their role
    may not ``need``: an audit entry ``denied: <permission>``, then 403 with the refusal in
    words."""
    audit_record(
        actor=actor or Actor(user=user),
        action=Action.DENIED,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        summary=f"denied: {need.value}",
    )
    raise PermissionDenied(refusal(user.role, need))


def require(
    user: User, need: Perm, *, object_type: str, object_id: object, actor: Actor | None = None
) -> None:
    """Nothing when ``user``'s role may ``need``; else :func:`deny`."""
    if not user.may(need):
        deny(user, need, object_type=object_type, object_id=object_id, actor=actor)


def members_for_user(user: User) -> list[User]:
    """The accounts whose sign-in ``user`` manages: their clinic's, for a medical director."""
    if not user.may(Perm.MANAGE_STAFF) or user.clinic_id is None:
        return []
    return list(User.objects.filter(clinic_id=user.clinic_id).order_by("role", "username"))


def member_for_user(user: User, user_id: int) -> User:
    """One account of ``user``'s clinic whose sign-in they manage, else 404 (another clinic's, or
    ``user`` is no medical director)."""
    if not user.may(Perm.MANAGE_STAFF) or user.clinic_id is None:
        raise Http404("No such account.")
    target = User.objects.filter(pk=user_id, clinic_id=user.clinic_id).first()
    if target is None:
        raise Http404("No such account.")
    return target
