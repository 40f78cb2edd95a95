"""Test helpers for the deployment tests."""

from __future__ import annotations

from pathlib import Path

# Debian's PostgreSQL servers, newest last (none when the package is not installed).
PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
