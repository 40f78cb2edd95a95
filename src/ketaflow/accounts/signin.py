"""Guessing limits for every password or code check, on django-axes (kept in the database).

The login form's password goes through ``django.contrib.auth.authenticate``, where axes's backend
refuses a locked account or address and its signal handler counts the failure. A check that is
not a login (the second-factor code, the ledger witness's password, re-authentication) calls
``check_allowed`` before and ``count_failure`` after a wrong answer, so that every check counts
against the same account and address and the same cool-off. Each lockout is audited in the
account's clinic's chain (the network chain for a name that is no account). A medical director
sees their clinic's lockouts and lifts them (``lockout_lift``, audited); the lockout page says the
same whether or not the account exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import audit_record

Action = AuditEntry.Action

LOCKED_MESSAGE = (
    "Too many failed attempts: sign-in is paused for this account or address. Try again "
    "later, or ask your clinic's medical director to lift the pause."
)


class LockedOut(Exception):
    """The account or the address is locked out for the cool-off."""

    def __init__(self) -> None:
        super().__init__(LOCKED_MESSAGE)


def _credentials(username: str) -> dict[str, Any]:
    return {"username": username}  # axes's default AXES_USERNAME_FORM_FIELD


def check_allowed(request: HttpRequest, username: str) -> None:
    """Raise ``LockedOut`` when ``username`` or the request's address is locked out."""
    if AxesProxyHandler.is_locked(request, _credentials(username)):
        raise LockedOut


def count_failure(request: HttpRequest, username: str) -> None:
    """Count one wrong password or code for ``username`` and the request's address (and lock
    them at the limit: the lockout is audited by the receiver below)."""
    AxesProxyHandler.user_login_failed(
        sender=count_failure, credentials=_credentials(username), request=request
    )


def is_locked_request(request: HttpRequest) -> bool:
    """Whether a password check during this request ran into (or caused) a lockout."""
    return bool(getattr(request, "axes_locked_out", False))


@receiver(user_locked_out)
def _locked_out(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kw: Any
) -> None:
    account = User.objects.filter(username=username).first() if username else None
    audit_record(
        actor=Actor(user=None, ip_address=ip_address, system_name="anonymous"),
        action=Action.DENIED,
        object_type="lockout",
        object_id=account.pk if account is not None else "",
        summary=f"sign-in locked out after repeated failures: username {str(username)[:100]!r}",
        clinic=account.clinic_id if account is not None else None,
    )


# ---- the director's view of lockouts --------------------------------------------------------


@dataclass(frozen=True)
class Lockout:
    user: User
    failures: int
    last_at: dt.datetime
    locked: bool


def _since() -> dt.datetime:
    return timezone.now() - settings.AXES_COOLOFF_TIME


def lockouts(members: list[User]) -> dict[int, Lockout]:
    """Failed sign-ins within the cool-off against ``members`` (the accounts a director manages,
    from ``ketaflow.accounts.access``), by user id."""
    by_name = {u.username: u for u in members}
    rows = (
        AccessAttempt.objects.filter(username__in=list(by_name), attempt_time__gte=_since())
        .values("username")
        .annotate(failures=Sum("failures_since_start"), last_at=Max("attempt_time"))
    )
    result = {}
    for row in rows:
        failures = int(row["failures"] or 0)
        user = by_name[row["username"]]
        result[user.pk] = Lockout(
            user=user,
            failures=failures,
            last_at=row["last_at"],
            locked=failures >= settings.AXES_FAILURE_LIMIT,
        )
    return result


@transaction.atomic
def lockout_lift(*, actor: Actor, target: User) -> int:
    """Forget the failed attempts against ``target`` (their account and the addresses they came
    from for it); audited in the clinic's chain."""
    attempts = AccessAttempt.objects.filter(username=target.username)
    count = int(attempts.count())
    attempts.delete()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="lockout",
        object_id=target.pk,
        summary=f"lifted the sign-in lockout of {target.username} ({count} attempt records)",
        clinic=target.clinic_id,
    )
    return count
