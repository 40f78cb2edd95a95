"""Pieces shared by the subcommand modules (no Django import)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


class CliError(Exception):
    """An expected failure: printed as one line, exit code 2."""


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


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
