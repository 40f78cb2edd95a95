"""Answers typed in a form are read as ketaflow.clinical reads them (no copy of its parser)."""

from __future__ import annotations

import pytest

from ketaflow.assessments.services import parse_answers
from ketaflow.clinical import Instrument


def test_cssrs_answers_are_yes_or_no_as_the_core_reads_them() -> None:
    assert parse_answers(Instrument.CSSRS, "y, N ,yes,NO") == [True, False, True, False]
    with pytest.raises(ValueError, match="answers: item 2: 'maybe' is not y or n"):
        parse_answers(Instrument.CSSRS, "y,maybe,n")


def test_ratings_are_whole_numbers() -> None:
    assert parse_answers(Instrument.PHQ9, "0,1 2,3") == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="item 2 must be a whole number"):
        parse_answers(Instrument.PHQ9, "0,1.5")
