"""Markup written in Python where a template's loop cost too much (issue 16): one value as
``{{ value }}`` renders it, for every module that builds markup by hand (the charts, the audit
trail's rows), so each writes a value the way the template did."""

from __future__ import annotations

import html
from typing import Any

from django.utils.formats import localize
from django.utils.html import conditional_escape


def as_text(value: Any) -> str:
    """A value as ``{{ value }}`` renders it: localized, then escaped."""
    if type(value) is str:  # Django's escape() is html.escape(), less its lazy-text check
        return html.escape(value)
    if not isinstance(value, str):
        value = localize(value)
    return str(conditional_escape(value))
