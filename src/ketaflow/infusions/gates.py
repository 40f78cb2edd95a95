"""The infusion chair's safety gates (issue 11 items 3, 4, 6, 7), as reads the services decide on.

- A baseline reading at or above the critical limits (``ketaflow.clinical.monitoring``: level
  critical or emergency) blocks the start until a prescriber overrides it with a reason.
- A critical or emergency reading during the infusion needs the prescriber's decision before the
  pump is resumed, and makes the note need the prescriber's co-signature (as does any override).
- Stopping before the planned dose needs a reason and a confirmation; pausing needs a reason.
- Discharge waits for the clinic's minimum observation time after the stop.

The minimum observation time is the clinic's ``ScheduleSettings.recovery_min`` (default 80 min):
the chair is booked for the infusion plus exactly this time, so the gate never asks for more chair
time than the schedule gave, and one setting changes both. Its default is sourced: the Spravato
label asks for at least 2 hours of observation after the dose (clinical.md s. 2.3 and 4.5 [READ]),
which is 80 minutes after the end of the standard 40-minute infusion and more than the ED
low-dose protocol's 60 minutes after the last dose (s. 4.5 [READ]).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.clinical import AlertLevel
from ketaflow.infusions import loaded
from ketaflow.infusions.models import InfusionEvent, InfusionSession, VitalsEntry

URGENT_LEVELS = frozenset({AlertLevel.CRITICAL.value, AlertLevel.EMERGENCY.value})
Reason = InfusionEvent.Reason


def is_urgent(entry: VitalsEntry) -> bool:
    return entry.level in URGENT_LEVELS


def reading_text(entry: VitalsEntry) -> str:
    """The reading in one line: '185/115, HR 80, SpO2 98% at 07:40 (CRITICAL)'."""
    local_at = clinic_local(entry.session.patient.clinic, entry.measured_at)
    return (
        f"{entry.systolic_mmhg}/{entry.diastolic_mmhg}, HR {entry.heart_rate_bpm}, "
        f"SpO2 {entry.spo2_percent}% at {local_at:%H:%M} "
        f"({entry.level.upper()})"
    )


def baseline_problem(session: InfusionSession, baseline: VitalsEntry | None) -> str:
    """Why the baseline blocks the start ('' when it does not)."""
    if baseline is None or not is_urgent(baseline):
        return ""
    if session.baseline_override_vitals_id == baseline.pk:
        return ""
    reasons = "; ".join(str(r) for r in baseline.reasons)
    return (
        f"baseline vitals: {reading_text(baseline)}"
        + (f": {reasons}" if reasons else "")
        + "; re-measure, or a prescriber must review and override with a reason"
    )


def urgent_readings(standing: Sequence[VitalsEntry]) -> list[VitalsEntry]:
    """The standing critical or emergency readings taken after the start (not baseline)."""
    return [v for v in standing if v.phase != VitalsEntry.Phase.BASELINE and is_urgent(v)]


def awaiting_decision(
    session: InfusionSession, standing: Sequence[VitalsEntry]
) -> VitalsEntry | None:
    """The newest critical or emergency reading during the infusion with no prescriber's
    decision to resume recorded after it (None when the pump may be resumed)."""
    during = [v for v in urgent_readings(standing) if v.phase == VitalsEntry.Phase.DURING]
    if not during:
        return None
    newest = max(during, key=lambda v: (v.measured_at, v.pk))
    after = [d for d in loaded.session_rows(session, "decisions") if d.at >= newest.measured_at]
    decided = max(after, key=lambda d: (d.at, d.pk)) if after else None
    if decided is None or decided.decision != decided.Decision.RESUME:
        return newest
    return None


def cosign_reasons(session: InfusionSession, standing: Sequence[VitalsEntry]) -> list[str]:
    """Why the note needs the prescriber's co-signature (empty when the nurse's is enough)."""
    reasons: list[str] = []
    urgent = [v for v in standing if is_urgent(v)]
    if urgent:
        reasons.append(
            "a critical or emergency reading: " + "; ".join(reading_text(v) for v in urgent)
        )
    if session.override_reason:
        reasons.append("a soft dose limit was overridden")
    if session.baseline_override_vitals_id is not None:
        reasons.append("the start was allowed over a critical baseline")
    return reasons


def observation_min(session: InfusionSession) -> int:
    """The clinic's minimum observation after the stop, in minutes (see the module docstring)."""
    return int(loaded.schedule(session).recovery_min)


def observation_until(session: InfusionSession) -> dt.datetime | None:
    """The earliest discharge time (None before the infusion is stopped)."""
    if session.ended_at is None:
        return None
    return session.ended_at + dt.timedelta(minutes=observation_min(session))


def observed_min(session: InfusionSession, until: dt.datetime) -> float | None:
    """Minutes from the stop to ``until`` (the discharge, or now)."""
    if session.ended_at is None:
        return None
    return (until - session.ended_at).total_seconds() / 60


def stop_is_early(session: InfusionSession, delivered_volume_ml: float) -> bool:
    """True when the bag is short by more than one minute of pumping at the planned rate (the
    time a nurse takes to press stop), i.e. the planned dose has not been given."""
    if not session.total_volume_ml or not session.rate_ml_per_h:
        return False
    shortfall = Fraction(session.total_volume_ml) - Fraction(delivered_volume_ml)
    return shortfall > Fraction(session.rate_ml_per_h) / 60
