"""Discharge: the Aldrete minimum, the observation time, the escort and the instructions, and
the clinic's phone number the discharge sheet needs."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.infusions import gates
from ketaflow.infusions.models import (
    InfusionSession,
)
from ketaflow.infusions.policy import infusion_policy
from ketaflow.infusions.services.base import (
    AFTER_STOP,
    Status,
    _audit,
    _check_version,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
    _save,
)
from ketaflow.infusions.services.gate import _observation_problem
from ketaflow.infusions.services.reads import latest_aldrete
from ketaflow.patients.models import Patient
from ketaflow.web.templatetags.display import score


@transaction.atomic
def session_discharge(
    *,
    actor: Actor,
    session: InfusionSession,
    expected_version: int | None,
    escort_present: bool,
    instructions_given: bool,
    now: dt.datetime | None = None,
) -> InfusionSession:
    """Discharge needs the clinic's minimum observation time since the stop (``gates``), the
    newest modified Aldrete at or above the clinic's minimum (9), the escort present and the
    written instructions given (clinical.md s. 4.5)."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    _require_unlocked(session)
    _check_version(session, expected_version)
    if session.status not in AFTER_STOP:
        raise _refuse(
            NON_FIELD_ERRORS,
            f"discharge: the infusion must be stopped first (it is "
            f"{session.get_status_display().lower()})",
        )
    policy = infusion_policy()
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    observation = _observation_problem(session, now)
    if observation:
        errors[NON_FIELD_ERRORS] = [observation]
    aldrete = latest_aldrete(session)
    if aldrete is None:
        errors["aldrete"] = ["record a modified Aldrete score after the infusion"]
    elif aldrete.total < policy.aldrete_discharge_minimum:
        errors["aldrete"] = [
            f"modified Aldrete {score(aldrete.total)} is below "
            f"{policy.aldrete_discharge_minimum} (Aldrete 1995); keep observing and re-score"
        ]
    if not escort_present:
        errors["escort_present"] = [
            "a responsible adult escort must be present to take the patient home"
        ]
    if not instructions_given:
        errors["instructions_given"] = [
            "give the written discharge instructions (no driving until the next day)"
        ]
    errors.update(clinic_phone_problem(session))
    if errors:
        raise ValidationError(errors)
    session.escort_present = True
    session.instructions_given = True
    session.discharged_at = now
    session.discharged_by = user
    session.status = Status.DISCHARGED
    _save(session, user)
    _audit(
        actor,
        Action.UPDATE,
        session,
        f"discharged (modified Aldrete {score(aldrete.total) if aldrete else '?'})"
        + f"; observed {gates.observed_min(session, now) or 0:.0f} min after the stop",
    )
    return session


CLINIC_PHONE_REQUIRED = (
    "the clinic's phone number is not set: the medical director sets it in Administration > "
    "Clinic (Phone) before the first discharge, because the discharge sheet tells the patient "
    "to call it"
)


def clinic_phone_problem(session: InfusionSession) -> dict[str, list[str]]:
    """The refusal when the session's clinic has no phone number for the discharge sheet."""
    clinic = Patient.objects.select_related("clinic").get(pk=session.patient_id).clinic
    return {} if clinic.phone.strip() else {"clinic_phone": [CLINIC_PHONE_REQUIRED]}
