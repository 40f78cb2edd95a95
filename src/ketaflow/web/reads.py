"""How a page reads rows it only names."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Model


def unread_but(relation: str, model: type[Model], shown: Iterable[str]) -> list[str]:
    """What a list joining ``relation`` (a ``model`` row) defers (``QuerySet.defer``) when it
    shows only ``shown`` of it, such as a person's name (``Patient.NAME_FIELDS``,
    ``User.NAME_FIELDS``): every other column, computed from the model, so a column added later
    is left unread too. A joined column costs its statement 20-40 µs to compile on every request
    (docs/performance-web.md, sessions 12 and 13), and a list of names has no use for a password
    hash or an address. A deferred field read after all costs a query a row: the page query
    tests (twice the rows, as many queries) find it."""
    keep = set(shown)
    return [f"{relation}__{f.name}" for f in model._meta.concrete_fields if f.name not in keep]
