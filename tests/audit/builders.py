"""Test helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from django.db import connection

from ketaflow.audit.models import AuditEntry


def newest_entry_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def run_on_fresh_database(
    tmp_path: Path, script: str, *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a Python ``script`` in a new process on a new, empty database of this suite's kind
    (removed afterwards)."""
    url, drop = fresh_database_url(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    env.update(
        KETAFLOW_ENV="test",
        KETAFLOW_VAR_DIR=str(tmp_path),
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="ketaflow.settings",
    )
    try:
        return subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=timeout,
        )
    finally:
        drop()


def fresh_database_url(tmp_path: Path) -> tuple[str, Any]:
    """A new, empty database of the kind the suite runs on, and a function that removes it."""
    if connection.vendor == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}", lambda: None
    import psycopg

    params = connection.get_connection_params()
    name = f"ketaflow_fresh_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(
        **{k: v for k, v in params.items() if k not in ("cursor_factory", "context")},
        autocommit=True,
    )
    admin.execute(f"CREATE DATABASE {name}")
    user = params.get("user", "")
    host = params.get("host", "127.0.0.1")
    port = params.get("port", 5432)

    def drop() -> None:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()

    return f"postgres://{user}@{host}:{port}/{name}", drop
