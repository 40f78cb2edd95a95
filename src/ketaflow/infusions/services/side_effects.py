"""Side effects during and after the infusion, with any rescue medication given."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.infusions.models import (
    InfusionSession,
    SideEffect,
)
from ketaflow.infusions.policy import infusion_policy
from ketaflow.infusions.services.base import (
    _audit,
    _check_time,
    _find_duplicate,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
    _save_once,
)


@transaction.atomic
def side_effect_record(
    *,
    actor: Actor,
    session: InfusionSession,
    client_uuid: uuid.UUID,
    kind: str,
    severity: str,
    onset_at: dt.datetime | None = None,
    other_description: str = "",
    medication: str = "",
    dose_amount: Decimal | None = None,
    dose_unit: str = "",
    route: str = "",
    given_at: dt.datetime | None = None,
    note: str = "",
) -> SideEffect:
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    existing = _find_duplicate(SideEffect, session, client_uuid)
    if existing is not None:
        return existing
    _require_unlocked(session)
    policy = infusion_policy()
    onset_at = onset_at or timezone.now()
    _check_time(session, "onset_at", onset_at, policy)
    if kind == SideEffect.Kind.OTHER and not other_description.strip():
        raise _refuse("other_description", "describe the side effect")
    treated = bool(medication.strip())
    if treated:
        if dose_amount is None:
            raise _refuse("dose_amount", "give the dose of the medication")
        if not dose_unit.strip():
            raise _refuse("dose_unit", "give the unit of the dose (e.g. mg)")
        if not route:
            raise _refuse("route", "give the route of the medication")
        given_at = given_at or timezone.now()
        _check_time(session, "given_at", given_at, policy)
        if given_at < onset_at:
            raise _refuse("given_at", "the medication was given before the side effect began")
    elif dose_amount is not None or dose_unit.strip() or route or given_at:
        raise _refuse("medication", "name the medication the dose, unit and route belong to")
    effect = SideEffect(
        session=session,
        kind=kind,
        other_description=other_description.strip(),
        severity=severity,
        onset_at=onset_at,
        medication=medication.strip(),
        dose_amount=dose_amount,
        dose_unit=dose_unit.strip(),
        route=route,
        given_at=given_at if treated else None,
        note=note.strip(),
        by=user,
        client_uuid=client_uuid,
    )
    effect.full_clean(validate_unique=False)
    effect, created = _save_once(effect, SideEffect, session)
    if created:
        _audit(
            actor,
            Action.CREATE,
            session,
            f"side effect {effect.get_kind_display().lower()} ({severity})"
            + (
                f", treated with {effect.medication} {dose_amount} {dose_unit} {route}"
                if treated
                else ""
            ),
            object_type="side_effect",
            object_id=effect.pk,
        )
    return effect
