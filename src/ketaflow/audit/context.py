"""Who is acting, and from where: passed explicitly to every service that reads or writes."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from ketaflow.accounts.models import User


@dataclass(frozen=True)
class Actor:
    user: User | None
    ip_address: str | None = None
    system_name: str = ""  # for work done by a command, not a person

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user
        return cls(user=user if isinstance(user, User) else None, ip_address=client_ip(request))

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(user=None, ip_address=None, system_name=name)

    @property
    def username(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return f"system:{self.system_name or 'unknown'}"

    @property
    def role(self) -> str:
        return self.user.role if self.user is not None else ""


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from. Behind a reverse proxy the WSGI server has already put
    the client's address here (``ketaflow serve`` with KETAFLOW_TRUSTED_PROXY set to the proxy's
    address); a client's own X-Forwarded-For is never read, so it cannot forge the address."""
    return request.META.get("REMOTE_ADDR") or None
