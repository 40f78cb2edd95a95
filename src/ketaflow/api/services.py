"""Creating, revoking and checking API tokens; every change is audited in the same
transaction (the owner's clinic's chain)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.api.models import ApiToken
from ketaflow.api.scopes import DEFAULT_DAYS, MAX_DAYS, parse_scopes, scopes_for_role
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record

TOKEN_START = "kf_"  # noqa: S105 - the tokens' visible prefix, not a secret


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    record: ApiToken
    token: str  # shown once; only its digest is stored


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


@transaction.atomic
def token_create(
    *,
    actor: Actor,
    user: User,
    scopes: Iterable[str],
    name: str = "",
    days: int = DEFAULT_DAYS,
) -> NewToken:
    """A new token for ``user`` in their clinic. A person creates tokens for themselves only
    (their settings page); the ``ketaflow api token create`` command (a system actor, the
    operator) for any member of a clinic's staff. Patients and the network administrator get
    none."""
    if actor.user is not None and actor.user.pk != user.pk:
        raise PermissionDenied("A person creates API tokens for themselves only.")
    if not user.is_active:
        raise _refuse("user", f"{user.username} is not active")
    if user.clinic_id is None:
        raise _refuse("user", f"{user.username} belongs to no clinic; tokens are per clinic")
    try:
        keys = parse_scopes(scopes, user.role)
    except ValueError as exc:
        raise _refuse("scope", str(exc).removeprefix("scope: ")) from None
    if not 1 <= days <= MAX_DAYS:
        raise _refuse("days", f"a token lasts 1 to {MAX_DAYS} days, not {days}")
    name = name.strip() or "API token"
    if len(name) > 100:
        raise _refuse("name", "at most 100 characters")
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    record = ApiToken(
        user=user,
        clinic_id=user.clinic_id,
        name=name,
        prefix=prefix,
        digest=token_digest(token),
        scopes=keys,
        created_at=now,
        created_by=actor.username,
        expires_at=now + dt.timedelta(days=days),
    )
    record.full_clean()
    record.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="api_token",
        object_id=record.pk,
        summary=f"created API token {prefix} for {user.username}: {', '.join(keys)}, {days} days",
        detail={"user_id": user.pk, "scopes": keys, "expires_at": record.expires_at.isoformat()},
        clinic=record.clinic_id,
    )
    return NewToken(record=record, token=token)


@transaction.atomic
def token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke ``token`` (its owner, their clinic's medical director, or the operator's command).
    Revoking a revoked token changes nothing."""
    user = actor.user
    director = (
        user is not None and user.may(Perm.MANAGE_STAFF) and user.clinic_id == token.clinic_id
    )
    if user is not None and user.pk != token.user_id and not director:
        raise PermissionDenied("Only the token's owner or their medical director revokes it.")
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.revoked_by = actor.username
    locked.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="api_token",
        object_id=locked.pk,
        summary=f"revoked API token {locked.prefix} of user {locked.user_id}",
        clinic=locked.clinic_id,
    )
    return locked


class TokenRefused(Exception):
    """A token that authenticates no one: unknown, revoked, expired, or its owner changed."""


def token_authenticate(raw: str, *, ip_address: str | None = None) -> ApiToken:
    """The active token ``raw``, with its user; else TokenRefused. Using a revoked or expired
    token, or one whose owner left the clinic or was deactivated, is audited as ``denied``."""
    if not raw.startswith(TOKEN_START):
        raise TokenRefused("not a KetaFlow API token")
    token = (
        ApiToken.objects.select_related("user", "clinic").filter(digest=token_digest(raw)).first()
    )
    if token is None:
        raise TokenRefused("unknown token")
    now = timezone.now()
    user = token.user
    problem = (
        "revoked"
        if token.revoked_at is not None
        else "expired"
        if token.is_expired(now)
        else "its owner is not active"
        if not user.is_active
        else "its owner's role gets no API tokens"
        if not scopes_for_role(user.role)
        else "its owner no longer belongs to the token's clinic"
        if user.clinic_id != token.clinic_id
        else ""
    )
    if problem:
        audit_record(
            actor=Actor(user=user, ip_address=ip_address),
            action=Action.DENIED,
            object_type="api_token",
            object_id=token.pk,
            summary=f"API token {token.prefix} refused: {problem}",
            clinic=token.clinic_id,
        )
        raise TokenRefused(f"token {problem}")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
