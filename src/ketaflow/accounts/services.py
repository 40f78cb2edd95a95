"""Changes to a clinic's set-up records (staff and credentials, the clinic itself, consent texts,
chairs, opening hours, scheduling and portal settings), as the administration makes them.

Every change goes through these functions: they decide whose clinic the record belongs to, refuse
a change to another clinic's record unless the actor is the network administrator, refuse a role
above the actor's own, validate the record and write the hash-chained audit entry in the same
transaction. A medical director's new record always belongs to the director's clinic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import CLINIC_ROLES, Perm, Role
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record

# Never written into the audit trail's detail (the hash of a password is still a secret).
_SECRET_FIELDS = frozenset({"password"})


def is_network_admin(user: User | None) -> bool:
    return user is not None and user.may(Perm.MANAGE_NETWORK)


def clinic_id_of(record: models.Model) -> int | None:
    """The clinic a set-up record belongs to (the clinic itself for a Clinic)."""
    if isinstance(record, Clinic):
        return record.pk
    clinic_id = getattr(record, "clinic_id", None)
    if clinic_id is not None or hasattr(record, "clinic_id"):
        return clinic_id
    owner = getattr(record, "user", None)  # a credential belongs to its user's clinic
    if isinstance(owner, User):
        return owner.clinic_id
    raise TypeError(f"{type(record).__name__} is not a clinic set-up record")


def _administrator(actor: Actor) -> User:
    user = actor.user
    if user is None or not (user.may(Perm.MANAGE_STAFF) or user.may(Perm.MANAGE_NETWORK)):
        raise PermissionDenied("Only a medical director or the network administrator may do this.")
    return user


def roles_assignable_by(user: User) -> list[Role]:
    """The roles ``user`` may give: the clinic roles (a director's is the highest of them);
    the network administrator role only by a network administrator."""
    if is_network_admin(user):
        return [*CLINIC_ROLES, Role.NETWORK_ADMIN]
    if user.may(Perm.MANAGE_STAFF):
        return list(CLINIC_ROLES)
    return []


def _check_scope(user: User, record: models.Model) -> int | None:
    clinic_id = clinic_id_of(record)
    if is_network_admin(user):
        return clinic_id
    if user.clinic_id is None or clinic_id != user.clinic_id:
        raise PermissionDenied("This record belongs to another clinic.")
    if record.pk is not None:
        # The stored row, not the submitted one: a record is never moved in from another clinic.
        stored = type(record)._default_manager.filter(pk=record.pk).first()
        if stored is not None and clinic_id_of(stored) != user.clinic_id:
            raise PermissionDenied("This record belongs to another clinic.")
    return clinic_id


def _check_user_record(user: User, record: models.Model) -> None:
    if not isinstance(record, User):
        return
    if record.role and Role(record.role) not in roles_assignable_by(user):
        raise ValidationError({"role": "You may not give this role."})
    if record.is_superuser or record.is_staff:
        # Access follows the clinic role; Django's switches are never turned on here.
        record.is_superuser = False
        record.is_staff = False


def _label(record: models.Model) -> str:
    return str(record._meta.verbose_name)


def _values(record: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in fields:
        if name in _SECRET_FIELDS:
            values[name] = "(changed)"
            continue
        value = getattr(record, name, None)
        if isinstance(value, models.Model):
            value = str(value)
        values[name] = value if isinstance(value, (int, float, bool, type(None))) else str(value)
    return values


def setup_record_save(
    *, actor: Actor, record: models.Model, changed_fields: Iterable[str] = ()
) -> models.Model:
    """Create or change one set-up record (audited). A director's new record is put in the
    director's clinic; another clinic's record is refused."""
    user = _administrator(actor)
    created = record.pk is None
    if not is_network_admin(user) and hasattr(record, "clinic_id") and created:
        record.clinic_id = user.clinic_id
    _check_user_record(user, record)
    with transaction.atomic():
        clinic_id = _check_scope(user, record)
        exclude = ["password"] if isinstance(record, User) else None
        record.full_clean(exclude=exclude)
        record.save()
        if isinstance(record, Clinic):
            clinic_id = record.pk
        changed = list(changed_fields)
        verb = "added" if created else "changed"
        audit_record(
            actor=actor,
            action=Action.CREATE if created else Action.UPDATE,
            object_type=record._meta.label_lower,
            object_id=record.pk,
            summary=f"administration: {verb} {_label(record)} {record}",
            detail={"clinic_id": clinic_id, "changed": _values(record, changed)},
        )
    return record


def setup_record_delete(*, actor: Actor, record: models.Model) -> None:
    """Delete one set-up record (audited); another clinic's record is refused."""
    user = _administrator(actor)
    with transaction.atomic():
        clinic_id = _check_scope(user, record)
        if isinstance(record, Clinic | User) and not is_network_admin(user):
            raise PermissionDenied("Deactivate a login instead of deleting it.")
        pk, text = record.pk, str(record)
        record.delete()
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type=record._meta.label_lower,
            object_id=pk,
            summary=f"administration: removed {_label(record)} {text}",
            detail={"clinic_id": clinic_id},
        )


def user_password_set(*, actor: Actor, target: User) -> None:
    """Audit a password set for ``target`` by an administrator (inside the caller's transaction,
    after Django's password form has saved it); another clinic's login is refused."""
    user = _administrator(actor)
    clinic_id = _check_scope(user, target)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="accounts.user",
        object_id=target.pk,
        summary=f"administration: set the password of {target.get_username()}",
        detail={"clinic_id": clinic_id, "changed": {"password": "(changed)"}},
    )
