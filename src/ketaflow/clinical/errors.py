"""Errors raised by :mod:`ketaflow.clinical`.

Every error is a :class:`ValueError` subclass with a one-line, human-readable message that names
the offending item or field, so callers (the command line, the web forms, the API) can show it as
is. Nothing in this package fills in, clamps or rounds a clinical value silently: it raises.
"""

from __future__ import annotations


class ClinicalInputError(ValueError):
    """An input is missing, malformed or outside its allowed range (an entry error).

    ``field`` names the input at fault when one does (``weight_kg``, ``height_cm``, ``sex``), so a
    form can show the message next to it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ImpossibleValueError(ClinicalInputError):
    """A measurement that cannot be physiologically real: refused as an entry error."""


class HardLimitError(ValueError):
    """A dose, total or duration breaks a hard limit of the drug library: refused, no override."""


class OverrideRequiredError(ValueError):
    """A soft limit is breached and no acceptable override (reason + allowed role) was given."""
