"""Writes of a clinic's clinical settings: a change of value and the medical director's sign-off,
each audited in the same transaction. Only the clinic's own medical director may write."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.clinical.clinic_settings import SPECS, ClinicSettingError, build_settings, spec
from ketaflow.clinicsettings.models import ClinicSetting


def _director(actor: Actor, clinic: Clinic) -> User:
    user = actor.user
    if user is None or not user.may(Perm.MANAGE_STAFF) or user.clinic_id != clinic.pk:
        raise PermissionDenied("Only the clinic's medical director may change or sign settings.")
    return user


def _locked_row(clinic: Clinic, key: str) -> ClinicSetting | None:
    return ClinicSetting.objects.select_for_update().filter(clinic=clinic, key=key).first()


def _check(clinic: Clinic, key: str, value: float | None) -> float | None:
    """The value if the registry allows it and it fits the clinic's other settings."""
    try:
        checked = spec(key).check(value)
        stored = ClinicSetting.objects.filter(clinic=clinic, key__in=list(SPECS))
        overrides = dict(stored.values_list("key", "value"))
        build_settings({**overrides, key: checked})
    except ClinicSettingError as exc:
        raise ValidationError({"value": str(exc)}) from None
    return checked


def _set_value(
    actor: Actor, user: User, clinic: Clinic, key: str, value: float | None
) -> ClinicSetting:
    """Write the value (row created when missing); a new value clears the sign-off. The change
    is audited when the value differs from what the clinic had (its row, else the default)."""
    row = _locked_row(clinic, key)
    old = row.value if row is not None else spec(key).default
    if row is not None and row.value == value:
        return row
    if row is None:
        row = ClinicSetting(clinic=clinic, key=key)
    row.value = value
    row.changed_by = user
    row.changed_at = timezone.now()
    row.signed_by, row.signed_at, row.signed_value = None, None, None
    row.full_clean()
    row.save()
    if value != old:
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="clinic_setting",
            object_id=row.pk,
            summary=(
                f"clinical setting {spec(key).label}: {spec(key).show(old)} -> "
                f"{spec(key).show(value)} (sign-off needed)"
            ),
            detail={"key": key, "old": old, "new": value},
            clinic=clinic.pk,
        )
    return row


def clinic_setting_change(
    *, actor: Actor, clinic: Clinic, key: str, value: float | None
) -> ClinicSetting | None:
    """Set one setting's value for the clinic; a new value clears the sign-off (audited).
    Returns the clinic's row, None when the clinic keeps the default it never stored."""
    user = _director(actor, clinic)
    with transaction.atomic():
        checked = _check(clinic, key, value)
        row = _locked_row(clinic, key)
        if row is None and checked == spec(key).default:
            return None
        return _set_value(actor, user, clinic, key, checked)


def clinic_setting_sign(
    *, actor: Actor, clinic: Clinic, key: str, value: float | None
) -> ClinicSetting:
    """The medical director signs ``value`` for the setting; a value other than the current one
    is set first (audited as a change), so what is signed is what the director saw (audited)."""
    user = _director(actor, clinic)
    with transaction.atomic():
        checked = _check(clinic, key, value)
        row = _set_value(actor, user, clinic, key, checked)
        if row.is_signed:
            return row
        row.signed_by = user
        row.signed_at = timezone.now()
        row.signed_value = row.value
        row.full_clean()
        row.save()
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="clinic_setting",
            object_id=row.pk,
            summary=f"signed clinical setting {spec(key).label}: {spec(key).show(row.value)}",
            detail={"key": key, "signed_value": row.value},
            clinic=clinic.pk,
        )
    return row
