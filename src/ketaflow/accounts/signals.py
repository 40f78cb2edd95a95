"""Log-ins, log-outs and failed log-ins go into the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from ketaflow.audit.context import Actor, client_ip
from ketaflow.audit.services import Action, audit_record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None:
        audit_record(actor=Actor(user=user, ip_address=client_ip(request)), action=Action.LOGIN)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and user is not None:
        audit_record(actor=Actor(user=user, ip_address=client_ip(request)), action=Action.LOGOUT)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:100]
    audit_record(
        actor=Actor(
            user=None,
            ip_address=client_ip(request) if request is not None else None,
            system_name="anonymous",
        ),
        action=Action.LOGIN_FAILED,
        summary=f"failed login for username {username!r}",
    )
