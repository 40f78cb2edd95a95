"""Who sees the installation's backups: a clinic's medical director and the network
administrator (a backup holds every clinic; the page shows times and sizes, nothing of a
clinic or a patient)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record


def may_see_backups(user: User) -> bool:
    return (user.may(Perm.MANAGE_STAFF) and user.clinic_id is not None) or user.may(
        Perm.MANAGE_NETWORK
    )


def backups_for_user(request: HttpRequest, user: User) -> None:
    """Returns for a director or the network administrator; anyone else is refused (403),
    audited as denied."""
    if not may_see_backups(user):
        audit_record(
            actor=Actor.from_request(request),
            action=Action.DENIED,
            object_type="backups",
            summary="denied: backups",
        )
        raise PermissionDenied("Only a medical director or the network administrator sees backups.")
