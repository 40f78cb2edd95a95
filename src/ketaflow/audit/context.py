"""Who is acting, and from where: passed explicitly to every service that reads or writes."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from ketaflow.accounts.models import User


class NotAPerson(PermissionDenied, ValueError):
    """Work only a person may do (sign, witness, invite, chart) asked of a command: refused as
    a permission (403 on a page) and a bad value (a service's caller that checks values)."""


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

    def person(self) -> User:
        """The person acting; :class:`NotAPerson` when a command is."""
        if self.user is None:
            raise NotAPerson("A person must do this, not a command.")
        return self.user

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
