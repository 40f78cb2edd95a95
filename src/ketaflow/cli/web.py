"""Subcommands of `ketaflow` for the web app (being built; registers nothing yet)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    return None
