"""Pump events: start, rate change, pause, resume, stop and complete, through the pump's state
machine and the chair's gates."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from fractions import Fraction

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action
from ketaflow.clinical import (
    Indication,
)
from ketaflow.clinical.dosing import (
    max_pump_rate_ml_per_h,
)
from ketaflow.infusions.models import (
    InfusionEvent,
    InfusionSession,
)
from ketaflow.infusions.policy import infusion_policy
from ketaflow.infusions.services.base import (
    TRANSITIONS,
    Kind,
    _audit,
    _check_time,
    _clinic_time,
    _find_duplicate,
    _locked_row,
    _refuse,
    _require_perm,
    _require_unlocked,
    _save_once,
    _settings,
)
from ketaflow.infusions.services.delivered import (
    _completion_at,
    _refuse_after_bag,
    session_delivered,
)
from ketaflow.infusions.services.gate import _check_event_gates
from ketaflow.infusions.services.reads import start_problems
from ketaflow.web.templatetags.display import mg


def _max_rate_ml_per_h(session: InfusionSession) -> Fraction | None:
    """Running the whole bag faster than the drug library's hard minimum duration is refused
    (ketaflow.clinical.dosing: 30 min, Ketalar label warning on rapid IV administration)."""
    entry = _settings(session).drug_library[Indication(session.indication)]
    return max_pump_rate_ml_per_h(entry, session.total_volume_ml or 0.0)


@transaction.atomic
def event_record(
    *,
    actor: Actor,
    session: InfusionSession,
    kind: str,
    client_uuid: uuid.UUID,
    at: dt.datetime | None = None,
    rate_ml_per_h: Decimal | None = None,
    note: str = "",
    reason: str = "",
    confirm_early_stop: bool = False,
) -> InfusionEvent:
    """Start, rate change, pause, resume or stop, at ``at`` (default now). A repeated
    ``client_uuid`` returns the stored event and changes nothing. A pause, and a stop before the
    planned dose, need a ``reason`` (and the ``note`` for "other"); an early stop needs
    ``confirm_early_stop``; resuming after a critical reading needs the prescriber's decision."""
    user = _require_perm(actor, Perm.CHART_INFUSION)
    session = _locked_row(session)
    existing = _find_duplicate(InfusionEvent, session, client_uuid)
    if existing is not None:
        return existing
    _require_unlocked(session)
    policy = infusion_policy()
    if kind not in TRANSITIONS:
        raise _refuse("kind", f"{kind!r} is not a pump event")
    allowed_from, leads_to = TRANSITIONS[kind]
    label = Kind(kind).label.lower()
    if session.status not in allowed_from:
        raise _refuse(
            "kind",
            f"cannot {label} while the session is {session.get_status_display().lower()}",
        )
    at = at or timezone.now()
    if kind == Kind.COMPLETE:
        at = _completion_at(session, at)
        note = note or (
            f"volume to be infused ({session.total_volume_ml:g} mL) delivered; confirmed at "
            f"{_clinic_time(session, timezone.now())}"
        )
    elif kind != Kind.START:
        _refuse_after_bag(session, kind, at)
    _check_time(session, "at", at, policy)
    last = session.events.order_by("-at", "-pk").first()
    if last is not None and at < last.at:
        local_at = clinic_local(session.patient.clinic, last.at)
        raise _refuse(
            "at",
            f"{clinic_local(session.patient.clinic, at):%H:%M:%S} is before the last event "
            f"({last.get_kind_display().lower()} at {local_at:%H:%M:%S})",
        )
    if kind == Kind.START:
        problems = start_problems(session, user)
        if problems:
            raise ValidationError(
                {NON_FIELD_ERRORS: ["Cannot start the infusion: " + "; ".join(problems) + "."]}
            )
        if rate_ml_per_h is None and session.rate_ml_per_h is not None:
            rate_ml_per_h = Decimal(repr(session.rate_ml_per_h))
    _check_event_gates(session, kind, at, reason, note, confirm_early_stop)
    if kind in (Kind.START, Kind.RATE_CHANGE) and rate_ml_per_h is None:
        raise _refuse("rate_ml_per_h", f"give the pump rate in mL/h for the {label}")
    if kind in (Kind.PAUSE, Kind.STOP, Kind.COMPLETE) and rate_ml_per_h is not None:
        raise _refuse("rate_ml_per_h", f"a {label} has no rate; leave it empty")
    if rate_ml_per_h is not None:
        if rate_ml_per_h <= 0:
            raise _refuse("rate_ml_per_h", "the pump rate must be above 0 mL/h (use pause or stop)")
        limit = _max_rate_ml_per_h(session)
        if limit is not None and Fraction(rate_ml_per_h) > limit:
            raise _refuse(
                "rate_ml_per_h",
                f"{rate_ml_per_h} mL/h would run the {session.total_volume_ml:g} mL bag in under "
                f"the drug library's minimum duration (maximum {float(limit):g} mL/h)",
            )
    event = InfusionEvent(
        session=session,
        kind=kind,
        at=at,
        rate_ml_per_h=rate_ml_per_h,
        by=user,
        note=note.strip(),
        client_uuid=client_uuid,
        reason=reason if kind in (Kind.PAUSE, Kind.STOP) else "",
    )
    event.full_clean(validate_unique=False)
    event, created = _save_once(event, InfusionEvent, session)
    if not created:
        return event
    session.status = leads_to
    if kind == Kind.START:
        session.started_at = at
        session.started_by = user
    if kind in (Kind.STOP, Kind.COMPLETE):
        session.ended_at = at
    delivered = session_delivered(session)
    session.delivered_volume_ml = delivered.volume_ml
    session.delivered_dose_mg = delivered.dose_mg
    session.full_clean()
    session.save()
    _audit(
        actor,
        Action.CREATE,
        session,
        f"infusion {label} at {clinic_local(session.patient.clinic, at):%H:%M:%S}"
        + (f", {rate_ml_per_h} mL/h" if rate_ml_per_h is not None else "")
        + (f"; reason: {event.get_reason_display()}" if event.reason else "")
        + f"; delivered {mg(delivered.dose_mg)} so far",
        object_type="infusion_event",
        object_id=event.pk,
        detail={
            "client_uuid": str(client_uuid),
            "delivered_dose_mg": delivered.dose_mg,
            "reason": event.reason,
            "note": event.note,
        },
    )
    return event
