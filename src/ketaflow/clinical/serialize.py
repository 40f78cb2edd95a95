"""Turn the package's frozen result objects into plain JSON values (for the CLI and the API)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
from collections.abc import Mapping
from typing import Any, TypeAlias

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None


def to_jsonable(obj: object) -> JsonValue:
    """Recursively convert dataclasses, enums, dates, mappings and sequences to JSON values.

    Enums become their ``value``; dates become ISO strings; tuples, lists and frozensets become
    lists (frozensets sorted by their string form, so output is stable). Non-finite floats are
    refused rather than written as invalid JSON.
    """
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"cannot serialise non-finite number {obj!r}")
        return obj
    if isinstance(obj, datetime.date):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        mapping: Mapping[Any, Any] = obj
        return {
            str(k.value if isinstance(k, enum.Enum) else k): to_jsonable(v)
            for k, v in mapping.items()
        }
    if isinstance(obj, frozenset | set):
        return [to_jsonable(v) for v in sorted(obj, key=str)]
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    raise TypeError(f"cannot serialise {type(obj).__name__}")
