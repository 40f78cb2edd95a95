"""The dose: the clinical core's ``plan_infusion`` on the session's checklist, with the clinic's
limits and a prescriber's override of a soft limit."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.clinical import (
    ClinicalInputError,
    HardLimitError,
    Indication,
    InfusionPlan,
    InfusionRequest,
    Override,
    OverrideRequiredError,
    Sex,
    WeightBasis,
    plan_infusion,
    to_jsonable,
)
from ketaflow.clinical import Role as ClinicalRole
from ketaflow.infusions.models import (
    InfusionSession,
)
from ketaflow.infusions.services.base import (
    BEFORE_START,
    _audit,
    _check_version,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
    _save,
    _settings,
)
from ketaflow.infusions.services.checklist import _to_checklist


@transaction.atomic
def dose_compute(
    *,
    actor: Actor,
    session: InfusionSession,
    expected_version: int | None,
    indication: str,
    weight_basis: str,
    dose_mg_per_kg: Decimal,
    vial_concentration_mg_per_ml: Decimal,
    final_volume_ml: Decimal,
    duration_min: Decimal,
    override_reason: str = "",
) -> InfusionPlan:
    """Compute dose, volumes and pump rate with the drug library's guardrails.

    A hard-limit breach is refused with the library's message. A soft-limit breach needs an
    override reason from a user whose role the drug library allows (``ketaflow.clinical``
    decides it; ``OVERRIDE_SOFT_LIMIT`` follows it); the plan is stored exactly as computed.
    """
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    _check_version(session, expected_version)
    if session.status not in BEFORE_START:
        raise _refuse(
            NON_FIELD_ERRORS, "dose: the infusion has started; the dose can no longer change"
        )
    if session.weight_kg is None:
        raise _refuse("weight_kg", "record today's weight in the checklist first")
    entry = _settings(session).drug_library[Indication(indication)]
    override: Override | None = None
    reason = override_reason.strip()
    if reason:
        override = Override(reason=reason, role=ClinicalRole(user.role), by=user.get_username())
    sex = {"female": Sex.FEMALE, "male": Sex.MALE}.get(session.patient.sex_at_birth)
    request = InfusionRequest(
        indication=Indication(indication),
        weight_kg=float(session.weight_kg),
        weight_basis=WeightBasis(weight_basis),
        dose_mg_per_kg=float(dose_mg_per_kg),
        vial_concentration_mg_per_ml=float(vial_concentration_mg_per_ml),
        final_volume_ml=float(final_volume_ml),
        duration_min=float(duration_min),
        height_cm=float(session.height_cm) if session.height_cm is not None else None,
        sex=sex,
        override=override,
    )
    try:
        plan = plan_infusion(request, entry)
    except HardLimitError as exc:
        raise _refuse("dose_mg_per_kg", str(exc)) from None
    except OverrideRequiredError as exc:
        raise _refuse("override_reason", str(exc)) from None
    except ClinicalInputError as exc:
        raise _refuse(NON_FIELD_ERRORS, str(exc)) from None
    session.indication = indication
    session.weight_basis = weight_basis
    session.dose_mg_per_kg = dose_mg_per_kg
    session.vial_concentration_mg_per_ml = vial_concentration_mg_per_ml
    session.final_volume_ml = final_volume_ml
    session.duration_min = duration_min
    # Stored once: the dose, volumes and rate are read from the plan (InfusionSession.dose_plan).
    session.plan = to_jsonable(plan)
    session.dose_computed_by = user
    session.dose_computed_at = timezone.now()
    if plan.override is not None:
        session.override_reason = plan.override.reason
        session.override_by = user
        session.override_role = user.role
    else:
        session.override_reason = ""
        session.override_by = None
        session.override_role = ""
    _to_checklist(session)
    _save(session, user)
    _audit(
        actor,
        Action.UPDATE,
        session,
        f"computed dose {plan.dose_mg!r} mg, rate {plan.rate_ml_per_h} mL/h"
        + (" (soft limit overridden)" if plan.override else ""),
        detail={"plan": session.plan},
    )
    return plan
