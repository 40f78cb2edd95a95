"""Opening a session and its pre-infusion checklist (fasting, escort, pregnancy test, weight of
the day); a change that voids the computed dose clears it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.clinical.dosing import (
    HEIGHT_CM_RANGE,
    WEIGHT_KG_RANGE,
    weight_change_to_confirm,
)
from ketaflow.infusions.models import (
    InfusionSession,
)
from ketaflow.infusions.services.base import (
    BEFORE_START,
    Status,
    _audit,
    _check_version,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
    _save,
    _settings,
)
from ketaflow.treatment.models import Appointment

# ---- writes ---------------------------------------------------------------------------------


@transaction.atomic
def session_open(*, actor: Actor, appointment: Appointment) -> InfusionSession:
    """The appointment's session, opened now if it has none (opening twice is harmless)."""
    _require_perm(actor, Perm.CHART_INFUSION)
    existing = InfusionSession.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing
    if appointment.status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW):
        raise _refuse(
            NON_FIELD_ERRORS,
            f"appointment: it is {appointment.get_status_display().lower()}; no session opened",
        )
    session = InfusionSession(
        appointment=appointment, patient_id=appointment.patient_id, updated_by=actor.user
    )
    session.full_clean()
    session.save()
    _audit(
        actor, Action.CREATE, session, f"opened infusion session for appointment {appointment.pk}"
    )
    return session


def _to_checklist(session: InfusionSession) -> None:
    if session.status == Status.PLANNED:
        session.status = Status.CHECKLIST


def _clear_dose(session: InfusionSession) -> None:
    for name in (
        "plan",  # the dose, volumes and rate with it (they are read from the plan)
        "dose_computed_by",
        "dose_computed_at",
    ):
        setattr(session, name, None)
    session.override_reason = ""
    session.override_by = None
    session.override_role = ""


@transaction.atomic
def checklist_update(
    *,
    actor: Actor,
    session: InfusionSession,
    expected_version: int | None,
    fasting_confirmed: bool,
    escort_confirmed: bool,
    pregnancy_test: str,
    weight_kg: Decimal | None,
    weight_measured_on: dt.date | None,
    height_cm: Decimal | None,
    weight_change_confirmed: bool = False,
    weight_entered: str = "",
) -> InfusionSession:
    """The pre-infusion checklist. A weight more than the clinic's percentage from the patient's
    last recorded weight is refused until confirmed (``ketaflow.clinical.dosing``)."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    _check_version(session, expected_version)
    if session.status not in BEFORE_START:
        raise _refuse(
            NON_FIELD_ERRORS, "checklist: the infusion has started; it can no longer change"
        )
    today = clinic_today(session.patient.clinic)
    if weight_kg is not None and weight_measured_on is None:
        raise _refuse("weight_measured_on", "give the date the weight was measured")
    if weight_measured_on is not None and weight_measured_on > today:
        raise _refuse("weight_measured_on", "the date the weight was measured is in the future")
    # Entry guards of the dosing module (not clinical limits): ketaflow.clinical.dosing.
    if weight_kg is not None and not WEIGHT_KG_RANGE[0] <= float(weight_kg) <= WEIGHT_KG_RANGE[1]:
        raise _refuse(
            "weight_kg",
            f"{weight_kg} kg is outside the plausible range "
            f"{WEIGHT_KG_RANGE[0]:g}-{WEIGHT_KG_RANGE[1]:g} kg",
        )
    if weight_kg is not None and weight_kg != session.weight_kg:
        question = weight_change_to_confirm(
            float(weight_kg),
            _last_recorded_weight_kg(session),
            confirm_percent=_settings(session).weight_change_confirm_percent,
        )
        if question is not None and not weight_change_confirmed:
            raise _refuse("weight_kg", question)
    if height_cm is not None and not HEIGHT_CM_RANGE[0] <= float(height_cm) <= HEIGHT_CM_RANGE[1]:
        raise _refuse(
            "height_cm",
            f"{height_cm} cm is outside the plausible range "
            f"{HEIGHT_CM_RANGE[0]:g}-{HEIGHT_CM_RANGE[1]:g} cm",
        )
    before = {
        "fasting_confirmed": session.fasting_confirmed,
        "escort_confirmed": session.escort_confirmed,
        "pregnancy_test": session.pregnancy_test,
        "weight_kg": str(session.weight_kg) if session.weight_kg is not None else None,
        "weight_measured_on": str(session.weight_measured_on)
        if session.weight_measured_on
        else None,
        "height_cm": str(session.height_cm) if session.height_cm is not None else None,
    }
    body_changed = session.weight_kg != weight_kg or session.height_cm != height_cm
    session.fasting_confirmed = fasting_confirmed
    session.escort_confirmed = escort_confirmed
    session.pregnancy_test = pregnancy_test
    session.weight_kg = weight_kg
    session.weight_measured_on = weight_measured_on
    session.height_cm = height_cm
    dose_cleared = body_changed and session.plan is not None
    if dose_cleared:
        _clear_dose(session)
    _to_checklist(session)
    _save(session, user)
    after = {
        "fasting_confirmed": fasting_confirmed,
        "escort_confirmed": escort_confirmed,
        "pregnancy_test": pregnancy_test,
        "weight_kg": str(weight_kg) if weight_kg is not None else None,
        "weight_measured_on": str(weight_measured_on) if weight_measured_on else None,
        "height_cm": str(height_cm) if height_cm is not None else None,
    }
    changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    _audit(
        actor,
        Action.UPDATE,
        session,
        "checklist: changed "
        + (", ".join(sorted(changes)) or "nothing")
        + ("; dose cleared (weight or height changed)" if dose_cleared else ""),
        detail={
            "changes": changes,
            "dose_cleared": dose_cleared,
            "weight_entered": weight_entered,
            "weight_change_confirmed": weight_change_confirmed,
        },
    )
    return session


def _last_recorded_weight_kg(session: InfusionSession) -> float | None:
    """The patient's most recent weight recorded at another infusion."""
    last = (
        InfusionSession.objects.filter(patient_id=session.patient_id, weight_kg__isnull=False)
        .exclude(pk=session.pk)
        .order_by("-weight_measured_on", "-pk")
        .values_list("weight_kg", flat=True)
        .first()
    )
    return float(last) if last is not None else None
