"""Small shared vocabulary: indications, sex for body-weight formulas, roles.

These enumerations are defined here once; the Django apps build their field choices from them
(``value``, ``label``) and never define their own (``tests/test_architecture.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol


class Indication(StrEnum):
    """What a ketamine course treats; each has its own drug-library entry and outcome defaults."""

    PTSD = "ptsd"
    DEPRESSION = "depression"

    @property
    def label(self) -> str:
        return INDICATION_LABELS[self]


INDICATION_LABELS: Final[Mapping[Indication, str]] = MappingProxyType(
    {Indication.PTSD: "PTSD", Indication.DEPRESSION: "Treatment-resistant depression"}
)


class Sex(StrEnum):
    """Sex as used by the Devine ideal-body-weight formula (it has only these two equations)."""

    FEMALE = "female"
    MALE = "male"

    @classmethod
    def of(cls, value: str) -> Sex | None:
        """The sex the formula knows for a recorded sex at birth; ``None`` for any other
        (intersex, not disclosed): the formula has no equation for it."""
        return next((sex for sex in cls if sex.value == value), None)

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Role(StrEnum):
    """Every role a person has: the clinical rules and the accounts app both use this one."""

    MEDICAL_DIRECTOR = "medical_director"
    PRESCRIBER = "prescriber"
    NURSE = "nurse"
    FRONT_DESK = "front_desk"
    PATIENT = "patient"
    # Works across the clinics of a network, in the administration only: no clinic of its own
    # and no access to any patient's record.
    NETWORK_ADMIN = "network_admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def is_staff_role(self) -> bool:
        return self is not Role.PATIENT


ROLE_LABELS: Final[Mapping[Role, str]] = MappingProxyType(
    {
        Role.MEDICAL_DIRECTOR: "Medical director",
        Role.PRESCRIBER: "Prescriber",
        Role.NURSE: "Infusion nurse",
        Role.FRONT_DESK: "Front desk",
        Role.PATIENT: "Patient",
        Role.NETWORK_ADMIN: "Network administrator",
    }
)


class Labelled(Protocol):
    """An enumeration member with a label for people (every enumeration here has one)."""

    @property
    def value(self) -> str: ...

    @property
    def label(self) -> str: ...


def choices(enumeration: Iterable[Labelled]) -> list[tuple[str, str]]:
    """``(value, label)`` pairs of an enumeration, for a form or a model field."""
    return [(member.value, member.label) for member in enumeration]


def count_text(n: int | float, noun: str, plural: str | None = None) -> str:
    """A count in plain words, never a plural hedged with "(s)": "1 caution", "2 cautions",
    "0 hard stops", "1 discrepancy case"; ``plural`` where adding an s is wrong."""
    many = plural if plural is not None else f"{noun}s"
    shown = f"{n:g}" if isinstance(n, float) else str(n)
    return f"{shown} {noun if n == 1 else many}"
