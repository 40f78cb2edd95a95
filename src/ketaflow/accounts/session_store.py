"""Django's database sessions, read with a statement compiled once per process
(``ketaflow.prepared``): the session is the first read of every request (issue 16)."""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from ketaflow.prepared import Prepared

_LIVE_SESSION = Prepared(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now)[:1]
)


def live_session(key: str, now: dt.datetime) -> Session | None:
    """The session ``key`` unless it has expired by ``now``."""
    return _LIVE_SESSION.first(key=key, now=now)


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        found = live_session(str(self.session_key), timezone.now())
        if found is None:
            self._session_key = None  # as Django's store does: a new key when saved
        return found
