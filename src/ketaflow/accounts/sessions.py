"""Session limits: an absolute lifetime besides the idle limit, and a person's own sessions,
which they see and whose others they end.

Each login gets a ``UserSession`` (its id kept in the session). ``SessionLimitsMiddleware`` logs
a session out when it has passed ``SESSION_ABSOLUTE_SECONDS`` since the login, when it was ended
from another session, or when it has no record (e.g. one made before these limits); it notes
the last activity at most once a minute, and saves the session (its idle expiry) as often.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import User, UserSession
from ketaflow.audit.context import Actor, client_ip
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import audit_record
from ketaflow.clinical.common import count_text
from ketaflow.prepared import Prepared

SID = "ketaflow_session_id"
_TOUCH = dt.timedelta(seconds=60)
# When the session was last saved (epoch seconds): its stored expiry runs from then.
SEEN = "ketaflow_saved_at"


def touch_seconds() -> int:
    """How often an active session is saved, moving its expiry on (``SESSION_SAVE_EVERY_REQUEST``
    is off: a save per request was a write per page view): ``SESSION_TOUCH_SECONDS``, which
    ``SESSION_COOKIE_AGE`` adds to the idle time (both in settings)."""
    return int(settings.SESSION_TOUCH_SECONDS)


def _start(request: HttpRequest, user: User) -> UserSession:
    now = timezone.now()
    record = UserSession.objects.create(
        user=user,
        sid=secrets.token_urlsafe(32),
        session_key=request.session.session_key or "",
        started_at=now,
        last_seen_at=now,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
    )
    request.session[SID] = record.sid
    return record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and isinstance(user, User) and hasattr(request, "session"):
        _start(request, user)


# The session's record, read on every request (ketaflow.prepared: compiled once per process).
_SESSION_RECORD = Prepared(
    lambda sid, user_id: UserSession.objects.filter(sid=sid, user_id=user_id).order_by("pk")[:1]
)


def current(request: HttpRequest) -> UserSession | None:
    sid = request.session.get(SID)
    user = request.user
    if not isinstance(sid, str) or not isinstance(user, User):
        return None
    return _SESSION_RECORD.first(sid=sid, user_id=user.pk)


def _expired(record: UserSession, now: dt.datetime) -> bool:
    return (now - record.started_at).total_seconds() > settings.SESSION_ABSOLUTE_SECONDS


class SessionLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if isinstance(user, User):
            now = timezone.now()
            record = current(request)
            if record is None or record.ended_at is not None or _expired(record, now):
                if record is not None and record.ended_at is None:
                    UserSession.objects.filter(pk=record.pk).update(ended_at=now)
                logout(request)
                messages.info(request, "Your session has ended: log in again.")
                return HttpResponseRedirect(reverse("login"))
            key = request.session.session_key or ""
            if now - record.last_seen_at > _TOUCH or key != record.session_key:
                UserSession.objects.filter(pk=record.pk).update(last_seen_at=now, session_key=key)
            seen = request.session.get(SEEN)
            stamp = now.timestamp()
            if not isinstance(seen, int | float) or stamp - seen >= touch_seconds():
                request.session[SEEN] = stamp  # saved with a new expiry at the response
        return self.get_response(request)


def sessions_of(user: User) -> list[UserSession]:
    """``user``'s sessions that have not ended (within the absolute lifetime)."""
    since = timezone.now() - dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS)
    return list(UserSession.objects.filter(user=user, ended_at=None, started_at__gte=since))


@transaction.atomic
def sessions_end_others(*, actor: Actor, user: User, keep: UserSession | None) -> int:
    """End every session of ``user`` but ``keep``; audited."""
    others = UserSession.objects.filter(user=user, ended_at=None)
    if keep is not None:
        others = others.exclude(pk=keep.pk)
    keys = [k for k in others.values_list("session_key", flat=True) if k]
    count = others.update(ended_at=timezone.now())
    Session.objects.filter(session_key__in=keys).delete()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.LOGOUT,
        object_type="session",
        object_id=user.pk,
        summary=f"ended {count_text(count, 'other session')} of {user.username}",
    )
    return count
