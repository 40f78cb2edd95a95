"""The chair's clocks: when the bag will be (or was) fully infused, and when vitals are next due.

Plain typed Python with no Django: every function takes ``now`` (an aware datetime) and the
facts it needs, so the server decides what is due and tests control the clock. The session
adapters are in :mod:`ketaflow.infusions.selectors`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Phase = Literal["during", "recovery"]


@dataclass(frozen=True)
class VitalsDue:
    """The next vitals reading: which phase's interval applies, from what it counts, and when.

    ``anchor`` is the newest reading of the phase, or the start of the phase (start of the
    infusion, end of the infusion) when it has none yet.
    """

    phase: Phase
    interval_min: int
    anchor: dt.datetime
    last_reading_at: dt.datetime | None
    due_at: dt.datetime
    now: dt.datetime

    @property
    def overdue(self) -> bool:
        return self.now > self.due_at

    @property
    def minutes_late(self) -> int:
        """Whole minutes past the due time (0 when not overdue)."""
        if not self.overdue:
            return 0
        return int((self.now - self.due_at).total_seconds() // 60)

    @property
    def minutes_left(self) -> int:
        """Whole minutes until due, rounded up (0 when due or overdue)."""
        if self.overdue:
            return 0
        return math.ceil((self.due_at - self.now).total_seconds() / 60)


def next_vitals_due(
    *,
    phase: Phase | None,
    phase_began_at: dt.datetime | None,
    readings_at: Sequence[dt.datetime],
    interval_min: int,
    now: dt.datetime,
) -> VitalsDue | None:
    """When the next reading is due: ``interval_min`` after the newest reading taken since the
    phase began, or after the phase began if none was. ``None`` outside monitoring (before the
    start, after discharge) or without a phase start."""
    if phase is None or phase_began_at is None:
        return None
    if interval_min <= 0:
        raise ValueError(f"interval_min: {interval_min} must be above 0 minutes")
    in_phase = [at for at in readings_at if at >= phase_began_at]
    last = max(in_phase) if in_phase else None
    anchor = last if last is not None else phase_began_at
    return VitalsDue(
        phase=phase,
        interval_min=interval_min,
        anchor=anchor,
        last_reading_at=last,
        due_at=anchor + dt.timedelta(minutes=interval_min),
        now=now,
    )


@dataclass(frozen=True)
class BagState:
    """The volume to be infused (VTBI) against what the pump delivered by ``now``.

    ``delivered_ml`` never exceeds ``vtbi_ml``. ``complete_at`` is the instant the delivered
    volume reached the VTBI (``None`` while it has not); ``expected_end`` is when it will, at the
    current rate (``None`` when the pump is not running or the bag is done).
    """

    vtbi_ml: float
    delivered_ml: float
    rate_ml_per_h: float | None
    complete_at: dt.datetime | None
    expected_end: dt.datetime | None

    @property
    def remaining_ml(self) -> float:
        return max(0.0, self.vtbi_ml - self.delivered_ml)

    @property
    def complete(self) -> bool:
        return self.complete_at is not None

    @property
    def remaining_min(self) -> float | None:
        if self.complete or not self.rate_ml_per_h:
            return None
        return self.remaining_ml / self.rate_ml_per_h * 60


def reached_at(knots: Sequence[tuple[dt.datetime, float]], target_ml: float) -> dt.datetime | None:
    """The first instant the cumulative volume reaches ``target_ml``.

    ``knots`` are (time, cumulative volume) at every pump event and at ``now``, in time order;
    between two knots the volume grows linearly (one rate), so the crossing is interpolated.
    """
    previous: tuple[dt.datetime, float] | None = None
    for at, volume in knots:
        if volume >= target_ml:
            if previous is None or volume <= previous[1]:
                return at
            before_at, before_volume = previous
            fraction = (target_ml - before_volume) / (volume - before_volume)
            return before_at + (at - before_at) * fraction
        previous = (at, volume)
    return None


def bag_state(
    *,
    vtbi_ml: float,
    knots: Sequence[tuple[dt.datetime, float]],
    running_rate_ml_per_h: float | None,
    now: dt.datetime,
) -> BagState:
    """The bag at ``now`` from the cumulative volume at each pump event and at ``now``
    (``knots``) and the rate the pump runs at now (``None`` when paused or stopped)."""
    if vtbi_ml <= 0:
        raise ValueError(f"vtbi_ml: {vtbi_ml} must be above 0 mL")
    complete_at = reached_at(knots, vtbi_ml)
    delivered = min(vtbi_ml, knots[-1][1]) if knots else 0.0
    expected_end = None
    if complete_at is None and running_rate_ml_per_h:
        hours = (vtbi_ml - delivered) / running_rate_ml_per_h
        expected_end = now + dt.timedelta(hours=hours)
    return BagState(
        vtbi_ml=vtbi_ml,
        delivered_ml=delivered,
        rate_ml_per_h=running_rate_ml_per_h,
        complete_at=complete_at,
        expected_end=expected_end,
    )
