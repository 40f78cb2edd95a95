"""The DEA registration number's shape and check digit (ketaflow.clinical.dea)."""

from __future__ import annotations

import pytest

from ketaflow.clinical.dea import dea_check_digit, dea_number_normalised
from ketaflow.clinical.errors import ClinicalInputError


@pytest.mark.parametrize(
    "number",
    [
        "AB1234563",  # (1+3+5) + 2*(2+4+6) = 33
        "AP5836727",  # (5+3+7) + 2*(8+6+2) = 47
        "AJ5184279",  # (5+8+2) + 2*(1+4+7) = 39
        "RS0000000",
    ],
)
def test_valid_numbers_pass(number: str) -> None:
    assert dea_number_normalised(number) == number


def test_lower_case_and_spaces_are_normalised() -> None:
    assert dea_number_normalised(" ab 123 4563 ") == "AB1234563"


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("XY12", "two letters then seven digits"),
        ("AB123456", "two letters then seven digits"),
        ("AB12345678", "two letters then seven digits"),
        ("A91234563", "two letters then seven digits"),
        ("1B1234563", "two letters then seven digits"),
        ("AB12345X3", "two letters then seven digits"),
        ("", "two letters then seven digits"),
        ("AB1234567", "check digit is 7, the digits give 3"),
        ("AB4523763", "check digit is 3, the digits give 1"),
        ("RC1234567", "check digit is 7, the digits give 3"),
    ],
)
def test_invalid_numbers_are_refused_naming_the_rule(number: str, rule: str) -> None:
    with pytest.raises(ClinicalInputError) as exc:
        dea_number_normalised(number)
    assert rule in str(exc.value)
    assert exc.value.field == "dea_number"


def test_every_wrong_check_digit_is_refused() -> None:
    for last in range(10):
        number = f"AB123456{last}"
        if last == 3:
            assert dea_number_normalised(number) == number
        else:
            with pytest.raises(ClinicalInputError):
                dea_number_normalised(number)


def test_check_digit_formula() -> None:
    assert dea_check_digit("123456") == 3
    assert dea_check_digit("999999") == (27 + 54) % 10
    with pytest.raises(ClinicalInputError):
        dea_check_digit("12345")
