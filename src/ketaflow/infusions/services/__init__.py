"""Writes and audited reads of an infusion session.

Every write takes the acting person (``actor``), runs in one transaction with the session row
locked, validates (``full_clean`` and the clinical rules) and writes its audit entry in the same
transaction. A refusal is a ``ValidationError`` whose message dict names the field and the rule;
nothing is stored. The gates (what must be complete before the infusion starts, what discharge
needs, the lock after signing) live here, not in the page.

One module a concern: ``base`` (what every write shares), ``reads`` (audited reads and the
start gate's problems), ``delivered`` (the pump's delivered dose, the bag, vitals due),
``checklist``, ``screening``, ``dose``, ``events`` (the pump), ``vitals``, ``side_effects``,
``gate`` (the chair's gates), ``discharge`` and ``signing``. Callers import from here
(``from ketaflow.infusions import services``).
"""

from __future__ import annotations

from ketaflow.infusions.services.base import (
    AFTER_STOP,
    BEFORE_START,
    INFUSING,
    PRE_INFUSION,
    PRE_INFUSION_INSTRUMENTS,
    TRANSITIONS,
    Kind,
    Phase,
    Row,
    Status,
)
from ketaflow.infusions.services.checklist import checklist_update, session_open
from ketaflow.infusions.services.delivered import (
    Delivered,
    PumpEvent,
    delivered_from_events,
    session_bag,
    session_delivered,
    session_vitals_due,
)
from ketaflow.infusions.services.discharge import (
    CLINIC_PHONE_REQUIRED,
    clinic_phone_problem,
    session_discharge,
)
from ketaflow.infusions.services.dose import dose_compute
from ketaflow.infusions.services.events import event_record
from ketaflow.infusions.services.gate import baseline_override, decision_record
from ketaflow.infusions.services.reads import (
    active_alert,
    baseline_vitals,
    effective_vitals,
    latest_aldrete,
    pre_infusion_responses,
    pregnancy_test_applies,
    risk_flags,
    session_responses,
    session_viewed,
    sessions_listed,
    start_problems,
)
from ketaflow.infusions.services.screening import risk_acknowledge, screening_record
from ketaflow.infusions.services.side_effects import side_effect_record
from ketaflow.infusions.services.signing import addendum_add, session_cosign, session_sign
from ketaflow.infusions.services.vitals import vitals_record

__all__ = [
    "AFTER_STOP",
    "BEFORE_START",
    "CLINIC_PHONE_REQUIRED",
    "INFUSING",
    "PRE_INFUSION",
    "PRE_INFUSION_INSTRUMENTS",
    "TRANSITIONS",
    "Delivered",
    "Kind",
    "Phase",
    "PumpEvent",
    "Row",
    "Status",
    "active_alert",
    "addendum_add",
    "baseline_override",
    "baseline_vitals",
    "checklist_update",
    "clinic_phone_problem",
    "decision_record",
    "delivered_from_events",
    "dose_compute",
    "effective_vitals",
    "event_record",
    "latest_aldrete",
    "pre_infusion_responses",
    "pregnancy_test_applies",
    "risk_acknowledge",
    "risk_flags",
    "screening_record",
    "session_bag",
    "session_cosign",
    "session_delivered",
    "session_discharge",
    "session_open",
    "session_responses",
    "session_sign",
    "session_viewed",
    "session_vitals_due",
    "sessions_listed",
    "side_effect_record",
    "start_problems",
    "vitals_record",
]
