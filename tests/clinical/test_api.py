"""The package's public surface: every exported function and class is documented, results
serialise to JSON, and library entries refuse defaults outside their own limits."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import json
import math

import pytest

import ketaflow.clinical as clinical
from ketaflow.clinical import dosing
from ketaflow.clinical.errors import ClinicalInputError


@pytest.mark.parametrize("name", clinical.__all__)
def test_public_names_are_documented(name: str) -> None:
    obj = getattr(clinical, name)
    if inspect.isfunction(obj):
        assert inspect.getdoc(obj), f"{name} has no docstring"


def test_public_classes_are_immutable() -> None:
    for name in clinical.__all__:
        obj = getattr(clinical, name)
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
            # frozen dataclasses define their own __setattr__ that raises
            assert "__setattr__" in vars(obj), f"{name} is not frozen"


class _Colour(enum.Enum):
    RED = "red"


def test_to_jsonable_types() -> None:
    @dataclasses.dataclass(frozen=True)
    class Sample:
        when: datetime.date
        tags: frozenset[str]
        colour: _Colour
        weekday: clinical.Weekday
        pair: tuple[int, float]

    data = clinical.to_jsonable(
        Sample(
            datetime.date(2025, 1, 2),
            frozenset({"b", "a"}),
            _Colour.RED,
            clinical.Weekday.FRIDAY,
            (1, 2.5),
        )
    )
    assert data == {
        "when": "2025-01-02",
        "tags": ["a", "b"],
        "colour": "red",
        "weekday": 4,
        "pair": [1, 2.5],
    }
    assert json.loads(json.dumps(data)) == data
    with pytest.raises(ValueError, match="non-finite"):
        clinical.to_jsonable(math.nan)
    with pytest.raises(TypeError, match="cannot serialise object"):
        clinical.to_jsonable(object())


def test_plans_serialise() -> None:
    plan = clinical.plan_induction(datetime.date(2025, 3, 3), [0, 2, 4])
    data = clinical.to_jsonable(plan)
    assert isinstance(data, dict)
    assert data["dates"] == [
        "2025-03-03",
        "2025-03-05",
        "2025-03-07",
        "2025-03-10",
        "2025-03-12",
        "2025-03-14",
    ]


def test_library_entry_defaults_must_be_within_soft_limits() -> None:
    with pytest.raises(ClinicalInputError, match=r"default dose 0\.8 mg/kg is above the soft"):
        dataclasses.replace(dosing.KETAMINE_PTSD, default_dose_mg_per_kg=0.8)
    with pytest.raises(ClinicalInputError, match="default duration 20 min"):
        dataclasses.replace(dosing.KETAMINE_PTSD, default_duration_min=20.0)
