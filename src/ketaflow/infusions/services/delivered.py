"""What the pump delivered: volume and dose from the pump events (``ketaflow.clinical.pump``),
capped at the bag, the bag's state, when the bag was infused, and when vitals are next due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from django.utils import timezone

from ketaflow.clinical import (
    pump,
)
from ketaflow.infusions import loaded
from ketaflow.infusions.models import (
    InfusionSession,
)
from ketaflow.infusions.services.base import (
    AFTER_STOP,
    INFUSING,
    Kind,
    Phase,
    _clinic_time,
    _refuse,
)
from ketaflow.infusions.services.reads import effective_vitals
from ketaflow.infusions.timers import BagState, VitalsDue, bag_state, next_vitals_due

Delivered = pump.Delivered


def delivered_from_events(
    events: Iterable[tuple[str, dt.datetime, Decimal | None]],
    final_concentration_mg_per_ml: float,
    until: dt.datetime | None = None,
) -> Delivered:
    """Volume and dose given: the integral of the pump rate over the running time
    (``ketaflow.clinical.pump``: ``rate_segments`` and ``delivered``). A pump still running is
    counted up to ``until``."""
    return pump.delivered(pump.rate_segments(events), final_concentration_mg_per_ml, until)


def session_delivered(session: InfusionSession, until: dt.datetime | None = None) -> Delivered:
    events = [(e.kind, e.at, e.rate_ml_per_h) for e in session.events.all()]
    delivered = delivered_from_events(events, session.final_concentration_mg_per_ml or 0.0, until)
    return _capped_at_bag(session, events, delivered, until)


PumpEvent = tuple[str, dt.datetime, Decimal | None]


_RATE_SETTING = (Kind.START, Kind.RATE_CHANGE, Kind.RESUME)


def _pump_rate_now(events: Sequence[PumpEvent]) -> float | None:
    """The rate the pump runs at after the last event (``None`` when paused or stopped)."""
    if not events or events[-1][0] not in _RATE_SETTING:
        return None
    rates = [rate for kind, _, rate in events if kind in _RATE_SETTING and rate is not None]
    return float(rates[-1]) if rates else None


def _bag_of(
    session: InfusionSession, events: Sequence[PumpEvent], now: dt.datetime | None
) -> BagState | None:
    if not session.total_volume_ml:
        return None
    knots = [
        (at, delivered_from_events(events[: index + 1], 1.0).volume_ml)
        for index, (_, at, _) in enumerate(events)
    ]
    rate = _pump_rate_now(events)
    if rate is not None and now is not None and now > events[-1][1]:
        knots.append((now, delivered_from_events(events, 1.0, until=now).volume_ml))
    return bag_state(
        vtbi_ml=float(session.total_volume_ml),
        knots=knots,
        running_rate_ml_per_h=rate,
        now=now or timezone.now(),
    )


def session_bag(session: InfusionSession, now: dt.datetime) -> BagState | None:
    """The volume to be infused (the plan's total volume) against what the pump events delivered
    by ``now``: remaining volume and time, expected end, or when the bag was fully infused.
    ``None`` before the dose is computed."""
    events = [(e.kind, e.at, e.rate_ml_per_h) for e in session.events.all()]
    return _bag_of(session, events, now)


def _capped_at_bag(
    session: InfusionSession,
    events: Sequence[PumpEvent],
    delivered: Delivered,
    until: dt.datetime | None,
) -> Delivered:
    """Never more than the bag: a pump left running past the volume to be infused delivered
    the bag and no more (the ledger's "given" is this)."""
    vtbi = session.total_volume_ml
    # Completion is recorded only once the bag is infused, at the time it was: from then on the
    # delivered amount is the bag, exactly (the float sum of the pump's segments up to a
    # microsecond timestamp can fall a hair short of it: 36.24999999999999 of 36.25 mg).
    completed = bool(events) and events[-1][0] == Kind.COMPLETE
    if vtbi and completed and (until is None or until >= events[-1][1]):
        dose = Fraction(vtbi) * Fraction(session.final_concentration_mg_per_ml or 0.0)
        return Delivered(volume_ml=vtbi, dose_mg=float(dose), running_min=delivered.running_min)
    if not vtbi or delivered.volume_ml <= vtbi:
        return delivered
    bag = _bag_of(session, events, until)
    if bag is None or bag.complete_at is None:
        return delivered
    end = bag.complete_at
    before = [e for e in events if e[1] <= end]
    at_end = delivered_from_events(before, 1.0, until=end)
    dose = Fraction(vtbi) * Fraction(session.final_concentration_mg_per_ml or 0.0)
    return Delivered(volume_ml=vtbi, dose_mg=float(dose), running_min=at_end.running_min)


def _completion_at(session: InfusionSession, now: dt.datetime) -> dt.datetime:
    """When the bag was fully infused; refused while it has not been."""
    bag = session_bag(session, now)
    if bag is None:
        raise _refuse("kind", "compute the dose first: it fixes the volume to be infused")
    if bag.complete_at is None:
        end = (
            f"; expected at {_clinic_time(session, bag.expected_end)}"
            if bag.expected_end is not None
            else ""
        )
        raise _refuse(
            "kind",
            f"the bag is not yet infused: {bag.delivered_ml:.1f} of {bag.vtbi_ml:g} mL delivered"
            + end,
        )
    return bag.complete_at


def _refuse_after_bag(session: InfusionSession, kind: str, at: dt.datetime) -> None:
    """Once the volume to be infused is delivered the pump has nothing left to run: a pause,
    rate change or stop after that instant is refused; the nurse confirms completion."""
    bag = session_bag(session, at)
    # A second's grace: the pump's own end and a stop pressed on it are the same moment.
    if (
        bag is not None
        and bag.complete_at is not None
        and bag.complete_at + dt.timedelta(seconds=1) < at
    ):
        raise _refuse(
            "kind",
            f"cannot {Kind(kind).label.lower()}: the bag's {bag.vtbi_ml:g} mL were infused at "
            f"{_clinic_time(session, bag.complete_at)}; confirm completion instead",
        )


def session_vitals_due(session: InfusionSession, now: dt.datetime) -> VitalsDue | None:
    """When the next vitals reading is due under the clinic's monitoring schedule
    (``ScheduleSettings``): during the infusion (running or paused) from its start, after it
    until discharge from its end; ``None`` before the start and after discharge."""
    settings = loaded.schedule(session)
    phase: Literal["during", "recovery"] | None = None
    began: dt.datetime | None = None
    interval = settings.vitals_every_min_during
    if session.status in INFUSING:
        phase, began = "during", session.started_at
    elif session.status in AFTER_STOP:
        phase, began = "recovery", session.ended_at
        interval = settings.vitals_every_min_recovery
    readings = [v.measured_at for v in effective_vitals(session) if v.phase != Phase.BASELINE]
    return next_vitals_due(
        phase=phase, phase_began_at=began, readings_at=readings, interval_min=interval, now=now
    )
