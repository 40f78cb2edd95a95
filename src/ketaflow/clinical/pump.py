"""The pump record as arithmetic: which rate ran from when to when.

One pure function, :func:`rate_segments`, turns the recorded pump events (start, rate change,
pause, resume, stop) into the stretches of time the pump ran at one rate. Everything that needs the
running time, the volume or the dose given (the controlled-substance ledger's delivered dose, the
predicted concentration curve, the running bands of the vitals chart) is computed from these
segments, so the rules below exist once.

The rules (the pump's state machine):

- the first event is a ``start``, with a rate; nothing may follow a ``stop``;
- ``rate_change`` only while running, with a rate; ``pause`` only while running, without a rate;
- ``resume`` only while paused, with or without a rate (without: the rate before the pause);
- ``stop`` while running or paused, without a rate;
- every rate is above 0 mL/h (a pause or stop says "no flow");
- events are in time order (equal times allowed); one out of order is refused, never sorted;
- an exact repeat of the previous event (same kind, time and rate: a retried entry) is ignored;
  any other event that the state machine does not allow is refused.

Arithmetic is exact: rates become :class:`fractions.Fraction` (a ``Decimal`` rate converts without
loss) and volumes are integrals of the rate over seconds, converted to ``float`` once by the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from ketaflow.clinical.errors import ClinicalInputError


class PumpEventKind(StrEnum):
    START = "start"
    RATE_CHANGE = "rate_change"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    # The bag's volume to be infused reached: a stop recorded at the computed instant and
    # confirmed by the nurse (the pump's own end of infusion).
    COMPLETE = "complete"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS: dict[PumpEventKind, str] = {
    PumpEventKind.START: "Start",
    PumpEventKind.RATE_CHANGE: "Rate change",
    PumpEventKind.PAUSE: "Pause",
    PumpEventKind.RESUME: "Resume",
    PumpEventKind.STOP: "Stop",
    PumpEventKind.COMPLETE: "Complete (bag infused)",
}

Rate = Decimal | Fraction | float | int

# (kind, when, rate in mL/h or None), as stored: ``InfusionEvent(kind, at, rate_ml_per_h)``.
PumpEvent = tuple[str, dt.datetime, Rate | None]

SECONDS_PER_HOUR = 3600  # exact by definition
SECONDS_PER_MINUTE = 60  # exact by definition


@dataclass(frozen=True)
class RateSegment:
    """The pump ran at ``rate_ml_per_h`` from ``start`` to ``end``; ``end`` is ``None`` when it
    was still running at the last event (the caller decides up to when to count it)."""

    start: dt.datetime
    end: dt.datetime | None
    rate_ml_per_h: Fraction

    def seconds(self, until: dt.datetime | None = None) -> Fraction:
        """Running seconds; an open segment counts up to ``until`` (none without it)."""
        end = self.end if self.end is not None else until
        if end is None or end <= self.start:
            return Fraction(0)
        return Fraction((end - self.start).total_seconds())

    def volume_ml(self, until: dt.datetime | None = None) -> Fraction:
        return self.rate_ml_per_h * self.seconds(until) / SECONDS_PER_HOUR


def _rate(kind: PumpEventKind, number: int, rate: Rate | None) -> Fraction | None:
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, Decimal | Fraction | float | int):
        raise ClinicalInputError(
            f"pump event {number} ({kind.value}): rate {rate!r} is not a number"
        )
    value = Fraction(rate)
    if value <= 0:
        raise ClinicalInputError(
            f"pump event {number} ({kind.value}): rate {float(value):g} mL/h must be above 0 "
            "(record a pause or a stop instead)"
        )
    return value


def rate_segments(events: Iterable[PumpEvent]) -> tuple[RateSegment, ...]:
    """The stretches the pump ran at one rate, in time order (zero-length ones left out).

    Raises :class:`ClinicalInputError` naming the event (1-based) for an event out of time order,
    an unknown kind, a missing or superfluous rate, a rate not above 0, or a transition the pump
    does not allow (a rate change while paused, a resume while running, anything after a stop).
    """
    segments: list[RateSegment] = []
    state = "before"  # before -> running <-> paused -> stopped
    rate: Fraction | None = None
    since: dt.datetime | None = None  # start of the current running stretch
    previous: tuple[PumpEventKind, dt.datetime, Fraction | None] | None = None

    def close(at: dt.datetime) -> None:
        if since is not None and rate is not None and at > since:
            segments.append(RateSegment(since, at, rate))

    for number, (raw_kind, at, raw_rate) in enumerate(events, start=1):
        try:
            kind = PumpEventKind(raw_kind)
        except ValueError:
            raise ClinicalInputError(
                f"pump event {number}: {raw_kind!r} is not a pump event"
            ) from None
        value = _rate(kind, number, raw_rate)
        if previous is not None:
            if at < previous[1]:
                raise ClinicalInputError(
                    f"pump event {number} ({kind.value}) at {at.isoformat()} is before the event "
                    f"before it ({previous[0].value} at {previous[1].isoformat()}): events must "
                    "be in time order"
                )
            if (kind, at, value) == previous:
                continue  # an exact repeat (a retried entry) changes nothing
        where = f"pump event {number} ({kind.value})"
        if state == "stopped":
            raise ClinicalInputError(f"{where}: the infusion was already stopped")
        if kind is PumpEventKind.START:
            if state != "before":
                raise ClinicalInputError(f"{where}: the infusion has already started")
            if value is None:
                raise ClinicalInputError(f"{where}: a start needs the pump rate in mL/h")
            state, rate, since = "running", value, at
        elif state == "before":
            raise ClinicalInputError(f"{where}: the first pump event must be a start")
        elif kind is PumpEventKind.RATE_CHANGE:
            if state != "running":
                raise ClinicalInputError(f"{where}: the rate changes only while running")
            if value is None:
                raise ClinicalInputError(f"{where}: a rate change needs the new rate in mL/h")
            if value != rate:
                close(at)
                rate, since = value, at
        elif kind is PumpEventKind.PAUSE:
            if state != "running":
                raise ClinicalInputError(f"{where}: the pump pauses only while running")
            if value is not None:
                raise ClinicalInputError(f"{where}: a pause has no rate")
            close(at)
            state, since = "paused", None
        elif kind is PumpEventKind.RESUME:
            if state != "paused":
                raise ClinicalInputError(f"{where}: the pump resumes only when paused")
            state, since = "running", at
            rate = value if value is not None else rate
        else:  # STOP or COMPLETE (the bag infused): the pump ends
            if value is not None:
                raise ClinicalInputError(f"{where}: a {kind.value} has no rate")
            if state == "running":
                close(at)
            state, since = "stopped", None
        previous = (kind, at, value)
    if state == "running" and since is not None and rate is not None:
        segments.append(RateSegment(since, None, rate))
    return tuple(segments)


@dataclass(frozen=True)
class Delivered:
    """What the pump gave: ``mL = sum(rate x running hours)``, ``mg = mL x final concentration``
    (exact rational arithmetic, converted to float once)."""

    volume_ml: float
    dose_mg: float
    running_min: float


def delivered(
    segments: Iterable[RateSegment],
    final_concentration_mg_per_ml: float,
    until: dt.datetime | None = None,
) -> Delivered:
    """Volume and dose given over ``segments``; a pump still running counts up to ``until``."""
    volume = Fraction(0)
    seconds = Fraction(0)
    for segment in segments:
        volume += segment.volume_ml(until)
        seconds += segment.seconds(until)
    return Delivered(
        volume_ml=float(volume),
        dose_mg=float(volume * Fraction(final_concentration_mg_per_ml)),
        running_min=float(seconds / SECONDS_PER_MINUTE),
    )


def mg_per_min(rate_ml_per_h: Fraction, final_concentration_mg_per_ml: float) -> float:
    """The drug rate of a pump rate: ``mg/min = mL/h x mg/mL / 60``."""
    return float(rate_ml_per_h * Fraction(final_concentration_mg_per_ml) / SECONDS_PER_MINUTE)


def running_periods(
    segments: Iterable[RateSegment],
) -> tuple[tuple[dt.datetime, dt.datetime | None], ...]:
    """The stretches the pump ran at any rate: segments that touch are joined (a rate change
    does not interrupt running). An open period ends ``None``."""
    periods: list[tuple[dt.datetime, dt.datetime | None]] = []
    for segment in segments:
        if periods and periods[-1][1] == segment.start:
            periods[-1] = (periods[-1][0], segment.end)
        else:
            periods.append((segment.start, segment.end))
    return tuple(periods)
