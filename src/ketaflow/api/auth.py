"""Bearer-token authentication, the scope check and the per-token throttle of every API call."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer
from ninja.throttling import SimpleRateThrottle

from ketaflow.accounts.models import User
from ketaflow.api.models import ApiToken
from ketaflow.api.services import TokenRefused, token_authenticate
from ketaflow.audit.context import Actor, client_ip
from ketaflow.audit.services import Action, audit_record


class TokenAuth(HttpBearer):
    """``Authorization: Bearer kf_...``: the call acts as the token's owner (``request.user``),
    so the access functions and services see the same person as on the pages."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        try:
            found = token_authenticate(token, ip_address=client_ip(request))
        except TokenRefused as exc:
            request.api_refusal = str(exc)  # type: ignore[attr-defined]
            return None
        request.user = found.user
        return found


def api_token(request: HttpRequest) -> ApiToken:
    token = getattr(request, "auth", None)
    if not isinstance(token, ApiToken):  # pragma: no cover - every operation needs TokenAuth
        raise HttpError(401, "Give a token: Authorization: Bearer <token>")
    return token


def api_user(request: HttpRequest) -> User:
    return api_token(request).user


def require_scope(request: HttpRequest, scope: str) -> Actor:
    """The acting person, if the call's token carries ``scope``; else 403, audited."""
    token = api_token(request)
    actor = Actor.from_request(request)
    if not token.allows(scope):
        audit_record(
            actor=actor,
            action=Action.DENIED,
            object_type="api_token",
            object_id=token.pk,
            summary=f"API token {token.prefix} lacks the scope {scope}",
        )
        raise HttpError(403, f"This token lacks the scope {scope}.")
    return actor


class TokenThrottle(SimpleRateThrottle):
    """At most ``KETAFLOW_API_RATE`` calls per token (default 120 a minute), counted in Django's
    cache (per process: ``ketaflow serve`` is one process)."""

    scope = "api_token"

    def __init__(self) -> None:
        super().__init__(rate=settings.API_RATE)

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = settings.API_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)

    def get_cache_key(self, request: HttpRequest) -> str | None:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return None
        return f"throttle_api_token_{token.pk}"
