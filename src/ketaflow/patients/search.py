"""Reading what the front desk types into the patient search (no Django): a date of birth in
the formats people type, under the clinic's convention for slashes.

- ``1980-03-14``: always year-month-day (ISO 8601);
- ``14.03.1980``: always day.month.year (the dotted European form);
- ``03/14/1980`` or ``14/03/1980``: month first or day first, as the clinic's registry settings
  say (``RegistrySettings.slash_dates``; month first by default, the United States' form).
"""

from __future__ import annotations

import datetime as dt
import re

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DOTS = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_SLASHES = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class NotADate(ValueError):
    """Text shaped like a date that is no date under the convention (e.g. 02/30/1980)."""


def typed_date(text: str, *, slashes_day_first: bool = False) -> dt.date | None:
    """The date ``text`` stands for; None when it is not shaped like a date at all; raises
    :class:`NotADate` (naming the convention) when it is shaped like one but is not a date."""
    text = text.strip()
    if m := _ISO.match(text):
        year, month, day = (int(g) for g in m.groups())
        convention = "year-month-day"
    elif m := _DOTS.match(text):
        day, month, year = (int(g) for g in m.groups())
        convention = "day.month.year"
    elif m := _SLASHES.match(text):
        first, second, year = (int(g) for g in m.groups())
        month, day = (second, first) if slashes_day_first else (first, second)
        convention = "day/month/year" if slashes_day_first else "month/day/year"
    else:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise NotADate(f"{text} is not a date read as {convention}") from None


def phone_digits(text: str) -> str:
    """The digits of a phone number, for comparing two ways of writing it."""
    return "".join(c for c in text if c.isdigit())
