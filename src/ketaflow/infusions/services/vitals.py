"""Vital signs: each entry assessed by the clinical core, its alert escalated, corrections kept
beside the original."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.clinical import (
    EndOrganSymptom,
    ImpossibleValueError,
    VitalSign,
    assess_vitals,
    to_jsonable,
)
from ketaflow.infusions import gates
from ketaflow.infusions.models import (
    InfusionSession,
    VitalsEntry,
)
from ketaflow.infusions.policy import infusion_policy
from ketaflow.infusions.services.base import (
    Phase,
    Status,
    _audit,
    _check_time,
    _find_duplicate,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
    _save_once,
    _settings,
)
from ketaflow.infusions.services.checklist import _to_checklist
from ketaflow.infusions.services.gate import _reading_escalate
from ketaflow.infusions.services.reads import baseline_vitals

_VITAL_FIELDS: dict[VitalSign, str] = {
    VitalSign.SYSTOLIC_BP: "systolic_mmhg",
    VitalSign.DIASTOLIC_BP: "diastolic_mmhg",
    VitalSign.HEART_RATE: "heart_rate_bpm",
    VitalSign.SPO2: "spo2_percent",
    VitalSign.RESPIRATORY_RATE: "respiratory_rate_per_min",
}


def _readings(entry: VitalsEntry) -> dict[VitalSign, float]:
    values = {sign: getattr(entry, name) for sign, name in _VITAL_FIELDS.items()}
    return {sign: float(v) for sign, v in values.items() if v is not None}


def _phase_at(session: InfusionSession, at: dt.datetime) -> str:
    """The phase of a reading by when it was measured (an entry sent late from a tablet's
    offline queue keeps the phase of its time, not of the time it arrived)."""
    if session.started_at is None or at < session.started_at:
        return Phase.BASELINE
    if session.ended_at is not None and at >= session.ended_at:
        return Phase.RECOVERY
    return Phase.DURING


@transaction.atomic
def vitals_record(
    *,
    actor: Actor,
    session: InfusionSession,
    client_uuid: uuid.UUID,
    systolic_mmhg: int,
    diastolic_mmhg: int,
    heart_rate_bpm: int,
    spo2_percent: int,
    respiratory_rate_per_min: int | None = None,
    symptoms: Sequence[str] = (),
    measured_at: dt.datetime | None = None,
    corrects: VitalsEntry | None = None,
    correction_reason: str = "",
) -> VitalsEntry:
    """One set of vitals, classified by the monitoring rules against this session's baseline.

    An impossible value is refused with the rule's reason. A correction is a new entry pointing
    at the one it corrects (which is kept). A repeated ``client_uuid`` returns the stored entry.
    """
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    existing = _find_duplicate(VitalsEntry, session, client_uuid)
    if existing is not None:
        return existing
    _require_unlocked(session)
    policy = infusion_policy()
    if measured_at is None:
        measured_at = corrects.measured_at if corrects is not None else timezone.now()
    _check_time(session, "measured_at", measured_at, policy)
    if corrects is not None:
        if corrects.session_id != session.pk:
            raise _refuse("corrects", "the corrected entry belongs to another session")
        if corrects.corrections.exists():
            raise _refuse("corrects", "this entry was already corrected; correct the newest one")
        if not correction_reason.strip():
            raise _refuse("correction_reason", "say why the entry is corrected")
    try:
        symptom_set = [EndOrganSymptom(s) for s in symptoms]
    except ValueError:
        raise _refuse("symptoms", f"unknown symptom in {list(symptoms)}") from None
    entry = VitalsEntry(
        session=session,
        phase=corrects.phase if corrects is not None else _phase_at(session, measured_at),
        measured_at=measured_at,
        systolic_mmhg=systolic_mmhg,
        diastolic_mmhg=diastolic_mmhg,
        heart_rate_bpm=heart_rate_bpm,
        spo2_percent=spo2_percent,
        respiratory_rate_per_min=respiratory_rate_per_min,
        symptoms=[s.value for s in symptom_set],
        corrects=corrects,
        correction_reason=correction_reason.strip(),
        by=user,
        client_uuid=client_uuid,
        level="",
        assessment={},
    )
    baseline = baseline_vitals(session)
    if (
        entry.phase == Phase.BASELINE
        or baseline is None
        or (corrects is not None and baseline.pk == corrects.pk)
    ):
        base = None
    else:
        base = _readings(baseline)
    readings = _readings(entry)
    try:
        assessment = assess_vitals(
            readings,
            baseline=base,
            symptoms=symptom_set,
            settings=_settings(session).monitoring,
        )
    except ImpossibleValueError as exc:
        message = str(exc)
        field = next(
            (name for sign, name in _VITAL_FIELDS.items() if message.startswith(sign.label)),
            NON_FIELD_ERRORS,
        )
        if message.startswith("diastolic BP") and "not below systolic" in message:
            field = "diastolic_mmhg"
        raise _refuse(field, message) from None
    entry.level = assessment.level.value
    entry.actions = [a.value for a in assessment.actions]
    entry.reasons = list(assessment.reasons)
    assessment_json = to_jsonable(assessment)
    entry.assessment = assessment_json if isinstance(assessment_json, dict) else {}
    entry.full_clean(validate_unique=False)
    entry, created = _save_once(entry, VitalsEntry, session)
    if not created:
        return entry
    if entry.phase == Phase.RECOVERY and session.status == Status.STOPPED:
        session.status = Status.RECOVERY
        session.save(update_fields=["status", "updated_at"])
    elif entry.phase == Phase.BASELINE:
        _to_checklist(session)
        session.save(update_fields=["status", "updated_at"])
    if entry.phase != Phase.BASELINE and gates.is_urgent(entry):
        _reading_escalate(actor, session, entry)
    _audit(
        actor,
        Action.CREATE,
        session,
        f"{'corrected' if corrects else 'recorded'} {entry.get_phase_display().lower()} vitals "
        f"{systolic_mmhg}/{diastolic_mmhg} HR {heart_rate_bpm} SpO2 {spo2_percent}: {entry.level}",
        object_type="vitals_entry",
        object_id=entry.pk,
        detail={
            "client_uuid": str(client_uuid),
            "level": entry.level,
            "actions": entry.actions,
            "corrects": corrects.pk if corrects else None,
        },
    )
    return entry
