"""Safe text for the files the app builds: PDF (reportlab) and CSV.

Every PDF builder passes every value that comes from a user or a record through
:func:`pdf_text` before it becomes a reportlab ``Paragraph``; every CSV export writes its rows with
:func:`csv_text`. Security review issue 12: a supplier name such as ``<img src="/etc/x.png"/>``
embedded a server file in the DEA vial history, ``<a href=...>`` became a live link, broken markup
was a server error, and a CSV cell such as ``=HYPERLINK(...)`` stayed a live spreadsheet formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

# reportlab's Paragraph parser reads XML-like markup: tags (<b>, <img>, <a>, <font>, <link>, ...)
# and entities (&amp;, &#169;, &alpha;, ...). Escaping & first, then < and >, leaves it nothing
# to interpret (quotes matter only inside a tag's attributes, which can no longer open).
# Control characters other than tab and newline are dropped: they are never meant as text.
_PDF_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def pdf_text(value: object) -> str:
    """``value`` as literal text for reportlab Paragraph markup (None is empty)."""
    if value is None:
        return ""
    return _CONTROL.sub("", str(value)).translate(_PDF_ESCAPES)


# OWASP "CSV Injection": a cell beginning with one of these is read as a formula (or, for tab and
# carriage return, can be made into one) by spreadsheet programs; a leading ' makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A string that is exactly a decimal number (e.g. "-2.500", a ledger's change in a vial) is a
# number to a spreadsheet, never a formula, and stays as it is.
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")

Cell = str | int | float | Decimal | dt.date | None


def csv_cell(value: Cell) -> str | int | float | Decimal:
    """One cell, neutralised if it is text a spreadsheet would run as a formula. Numbers (and
    numeric strings) stay numbers; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """The rows as CSV text, every cell through :func:`csv_cell`."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()
