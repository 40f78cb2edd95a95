"""The pump record as rate segments (ketaflow.clinical.pump): one rule set for the ledger's
delivered dose, the concentration curve and the chart's running bands."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from ketaflow.clinical import ClinicalInputError
from ketaflow.clinical.pump import (
    PumpEvent,
    RateSegment,
    delivered,
    mg_per_min,
    rate_segments,
    running_periods,
)

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_start_and_stop_is_one_segment() -> None:
    segments = rate_segments([("start", at(0), Decimal("150")), ("stop", at(40), None)])
    assert segments == (RateSegment(at(0), at(40), Fraction(150)),)
    # 150 mL/h for 40 min = 100 mL; at 0.35 mg/mL = 35 mg.
    got = delivered(segments, 0.35)
    assert got.volume_ml == 100.0
    assert got.dose_mg == float(Fraction(100) * Fraction(0.35))
    assert got.running_min == 40.0


def test_a_pause_leaves_a_gap_and_resume_keeps_the_rate() -> None:
    segments = rate_segments(
        [
            ("start", at(0), Decimal("150")),
            ("pause", at(10), None),
            ("resume", at(15), None),
            ("stop", at(45), None),
        ]
    )
    assert segments == (
        RateSegment(at(0), at(10), Fraction(150)),
        RateSegment(at(15), at(45), Fraction(150)),
    )
    assert delivered(segments, 1.0).running_min == 40.0
    assert running_periods(segments) == ((at(0), at(10)), (at(15), at(45)))


def test_resume_with_a_new_rate_and_a_rate_change() -> None:
    segments = rate_segments(
        [
            ("start", at(0), Decimal("120")),
            ("rate_change", at(10), Decimal("60.5")),
            ("pause", at(20), None),
            ("resume", at(25), Decimal("90")),
            ("stop", at(35), None),
        ]
    )
    assert [s.rate_ml_per_h for s in segments] == [120, Fraction(121, 2), 90]
    # 120 x 10/60 + 60.5 x 10/60 + 90 x 10/60 = 20 + 10.0833... + 15 mL, exact.
    expected = Fraction(120 * 10, 60) + Fraction(121, 2) * 10 / 60 + Fraction(90 * 10, 60)
    assert delivered(segments, 1.0).volume_ml == float(expected)
    # A rate change does not interrupt running: the chart shows one band until the pause.
    assert running_periods(segments) == ((at(0), at(20)), (at(25), at(35)))


def test_a_running_pump_is_open_and_counted_only_up_to_until() -> None:
    segments = rate_segments([("start", at(0), Decimal("52.5"))])
    assert segments == (RateSegment(at(0), None, Fraction(105, 2)),)
    assert delivered(segments, 0.35).volume_ml == 0.0  # no "until": nothing counted
    assert delivered(segments, 0.35, until=at(20)).volume_ml == 17.5
    assert delivered(segments, 0.35, until=at(-5)).volume_ml == 0.0  # never negative
    assert running_periods(segments) == ((at(0), None),)


def test_a_stop_while_paused_adds_nothing() -> None:
    segments = rate_segments(
        [("start", at(0), 60), ("pause", at(30), None), ("stop", at(50), None)]
    )
    assert segments == (RateSegment(at(0), at(30), Fraction(60)),)


def test_an_exact_repeat_is_ignored_and_a_same_rate_change_splits_nothing() -> None:
    events: list[PumpEvent] = [
        ("start", at(0), Decimal("100")),
        ("start", at(0), Decimal("100")),  # the same entry retried
        ("rate_change", at(10), Decimal("100")),  # no change of rate
        ("pause", at(20), None),
        ("pause", at(20), None),  # retried
        ("resume", at(30), None),
        ("stop", at(40), None),
    ]
    assert rate_segments(events) == (
        RateSegment(at(0), at(20), Fraction(100)),
        RateSegment(at(30), at(40), Fraction(100)),
    )


def test_zero_length_stretches_are_left_out() -> None:
    segments = rate_segments(
        [
            ("start", at(0), 100),
            ("pause", at(0), None),
            ("resume", at(5), None),
            ("stop", at(5), None),
        ]
    )
    assert segments == ()
    assert delivered(segments, 1.0).volume_ml == 0.0


def test_events_out_of_order_are_refused_not_sorted() -> None:
    with pytest.raises(ClinicalInputError, match=r"pump event 3 \(pause\).*before the event"):
        rate_segments([("start", at(0), 100), ("rate_change", at(20), 80), ("pause", at(10), None)])


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([("pause", at(0), None)], "first pump event must be a start"),
        ([("start", at(0), None)], "a start needs the pump rate"),
        ([("start", at(0), 100), ("start", at(5), 100)], "already started"),
        ([("start", at(0), 100), ("resume", at(5), None)], "resumes only when paused"),
        (
            [("start", at(0), 100), ("pause", at(5), None), ("rate_change", at(6), 50)],
            "changes only while running",
        ),
        (
            [("start", at(0), 100), ("pause", at(5), None), ("pause", at(6), None)],
            "only while running",
        ),
        (
            [("start", at(0), 100), ("stop", at(5), None), ("resume", at(6), None)],
            "already stopped",
        ),
        ([("start", at(0), 100), ("rate_change", at(5), None)], "needs the new rate"),
        ([("start", at(0), 100), ("pause", at(5), 10)], "a pause has no rate"),
        ([("start", at(0), 100), ("stop", at(5), 10)], "a stop has no rate"),
        ([("start", at(0), 0)], "must be above 0"),
        ([("start", at(0), -5)], "must be above 0"),
        ([("start", at(0), "fast")], "is not a number"),
        ([("bolus", at(0), 100)], "'bolus' is not a pump event"),
    ],
)
def test_impossible_records_are_refused_naming_the_event(
    events: list[PumpEvent], message: str
) -> None:
    with pytest.raises(ClinicalInputError, match=message):
        rate_segments(events)


def test_mg_per_min_is_the_pump_rate_times_the_concentration() -> None:
    # 150 mL/h x 0.35 mg/mL / 60 = 0.875 mg/min.
    assert mg_per_min(Fraction(150), 0.35) == float(Fraction(150) * Fraction(0.35) / 60)
    assert mg_per_min(Fraction(150), 0.35) == pytest.approx(0.875)
