"""The systemd units require the PostgreSQL unit only when the database is on this machine
(deploy/database-unit.sh, used by deploy/install.sh): a clinic whose database is elsewhere must not
have its app stopped, or refused a start, by a local postgresql.service it does not use."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "database-unit.sh"
LOCAL = "After=postgresql.service\nRequires=postgresql.service"


def lines(url: str) -> str:
    result = subprocess.run(
        ["bash", "-c", f'. "{SCRIPT}" && database_unit_lines "$1"', "lines", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    "url",
    [
        "postgres:///ketaflow",
        "postgres://ketaflow@/ketaflow",
        "postgres://ketaflow:secret@localhost:5432/ketaflow",
        "postgresql://ketaflow@127.0.0.1/ketaflow?sslmode=disable",
        "postgres://ketaflow@[::1]:5433/ketaflow",
        "postgres://%2Fvar%2Frun%2Fpostgresql/ketaflow",
    ],
)
def test_a_database_on_this_machine_is_required(url: str) -> None:
    assert lines(url) == LOCAL


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("postgres://ketaflow:p%40ss@db.clinic.example:5432/ketaflow", "db.clinic.example"),
        ("postgresql://ketaflow@10.0.0.7/ketaflow", "10.0.0.7"),
    ],
)
def test_a_database_elsewhere_is_not_a_unit_here(url: str, host: str) -> None:
    out = lines(url)
    assert "Requires=" not in out
    assert out.startswith("#")
    assert host in out


def test_sqlite_requires_no_database_unit() -> None:
    assert "Requires=" not in lines("sqlite:////var/lib/ketaflow/db.sqlite3")


def test_both_units_take_the_rendered_lines() -> None:
    for unit in ("ketaflow-web.service", "ketaflow-worker.service"):
        text = (ROOT / "deploy" / "systemd" / unit).read_text()
        assert "@DATABASE_UNIT@" in text
        assert "Requires=postgresql.service" not in text
