"""Access to another person's sign-in: a medical director's own clinic only (404 otherwise)."""

from __future__ import annotations

from django.http import Http404

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm


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
