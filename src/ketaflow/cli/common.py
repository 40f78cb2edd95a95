"""Pieces shared by the subcommand modules (no Django import)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


class CliError(Exception):
    """An expected failure: printed as one line, exit code 2."""


def print_json(data: Any) -> None:
    """Strict JSON (no NaN or Infinity, which JSON does not have): a result that is not finite
    is refused as an input problem, before anything is printed."""
    try:
        text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False)
    except ValueError:
        raise CliError(
            "the result is not a finite number (an input is outside what can be computed); "
            "check the values given"
        ) from None
    sys.stdout.write(text + "\n")


def float_list(text: str) -> list[float]:
    """Parse ``"10,20,40"`` into floats, naming the bad item on failure (for argparse ``type=``)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of numbers")
    values = []
    for item in items:
        try:
            values.append(float(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not a number") from None
    return values
