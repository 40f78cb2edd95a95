"""Small shared vocabulary: indications, sex for body-weight formulas, clinical roles."""

from __future__ import annotations

from enum import StrEnum


class Indication(StrEnum):
    """What a ketamine course treats; each has its own drug-library entry and outcome defaults."""

    PTSD = "ptsd"
    DEPRESSION = "depression"


class Sex(StrEnum):
    """Sex as used by the Devine ideal-body-weight formula (it has only these two equations)."""

    FEMALE = "female"
    MALE = "male"


class Role(StrEnum):
    """Clinical roles that the rules know about (the accounts app maps its users onto these)."""

    MEDICAL_DIRECTOR = "medical_director"
    PRESCRIBER = "prescriber"
    NURSE = "nurse"
    FRONT_DESK = "front_desk"
    PATIENT = "patient"
