"""Security settings and project hygiene."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

import ketaflow
from tests.web.conftest import World

SRC = Path(ketaflow.__file__).parent


def test_no_missing_migrations(db: None) -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_every_migration_has_a_name() -> None:
    for path in SRC.glob("*/migrations/0*.py"):
        assert not re.match(r"^\d{4}_auto_", path.name), path


@pytest.mark.sqlite_only  # its own SQLite file in a subprocess, never the test database
def test_argon2_hashes_passwords_in_the_real_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    env.update(KETAFLOW_ENV="development", KETAFLOW_VAR_DIR=str(tmp_path))
    code = "import ketaflow.settings as s; print(s.PASSWORD_HASHERS[0])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()
    assert out == "django.contrib.auth.hashers.Argon2PasswordHasher"
    # The suite's own settings (tests/settings.py) hash with MD5 for speed, Argon2 still known.
    assert settings.PASSWORD_HASHERS[0].endswith("MD5PasswordHasher")
    assert settings.PASSWORD_HASHERS[1].endswith("Argon2PasswordHasher")
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_strict_csp_and_security_headers(world: World, client_for: Any) -> None:
    response = client_for(world.nurse).get(reverse("patient_chart", args=[world.patient.pk]))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    login = client_for(world.nurse).get(reverse("login"))
    assert "Content-Security-Policy" in login


def test_templates_load_nothing_from_other_origins() -> None:
    offenders = []
    for path in SRC.rglob("templates/**/*.html"):
        text = path.read_text()
        for match in re.finditer(r'(?:src|href)="(https?:)?//', text):
            offenders.append(f"{path}:{match.group(0)}")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or " style=" in text:
            offenders.append(f"{path}: inline script or style")
    assert offenders == []


def test_session_times_out_and_cookies_are_http_only() -> None:
    assert settings.SESSION_IDLE_SECONDS <= 900
    # The stored session outlives the idle time by the save interval, at most a minute.
    assert settings.SESSION_IDLE_SECONDS < settings.SESSION_COOKIE_AGE
    assert settings.SESSION_COOKIE_AGE <= settings.SESSION_IDLE_SECONDS + 60
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.CSRF_COOKIE_HTTPONLY
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


_SECRET = "s" * 60


@pytest.mark.sqlite_only  # its own SQLite file in a subprocess, never the test database
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "production mode requires KETAFLOW_AUDIT_KEY (32+ characters, not the secret key)"),
        ({"KETAFLOW_AUDIT_KEY": "short"}, "KETAFLOW_AUDIT_KEY must be at least 32 characters"),
        ({"KETAFLOW_AUDIT_KEY": _SECRET}, "must be its own key, not the secret key"),
        (
            {
                "KETAFLOW_AUDIT_KEY": hashlib.sha256(
                    b"ketaflow-audit:" + _SECRET.encode()
                ).hexdigest()
            },
            "must be its own key, not the secret key or derived from it",
        ),
        (
            {"KETAFLOW_AUDIT_KEY_FILE": "{db_dir}/audit_key"},
            "must not sit in the database's folder",
        ),
    ],
)
def test_production_wants_an_audit_key_of_its_own(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """The audit key may not be the secret key kept beside the database, nor derived from it,
    nor kept in a file beside the SQLite database: with it, the chains can be rewritten."""
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    (db_dir / "audit_key").write_text("k" * 40)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    environ.update(
        {k: v.format(db_dir=db_dir) for k, v in env.items()},
        KETAFLOW_ENV="production",
        KETAFLOW_SECRET_KEY=_SECRET,
        KETAFLOW_ALLOWED_HOSTS="clinic.example.org",
        KETAFLOW_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{db_dir / 'ketaflow.sqlite3'}",
        DJANGO_SETTINGS_MODULE="ketaflow.settings",
    )
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ketaflow")), "audit", "verify"],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


@pytest.mark.sqlite_only  # its own SQLite file in a subprocess, never the test database
def test_production_accepts_its_own_audit_key_from_the_environment_or_a_file_elsewhere(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "keys"
    elsewhere.mkdir()
    (elsewhere / "audit_key").write_text("f" * 40 + "\n")
    code = "import ketaflow.settings as s; print(s.AUDIT_HMAC_KEY)"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    environ.update(
        KETAFLOW_ENV="production",
        KETAFLOW_SECRET_KEY=_SECRET,
        KETAFLOW_ALLOWED_HOSTS="clinic.example.org",
        KETAFLOW_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db' / 'ketaflow.sqlite3'}",
    )
    for extra, key in (
        ({"KETAFLOW_AUDIT_KEY": "e" * 40}, "e" * 40),
        ({"KETAFLOW_AUDIT_KEY_FILE": str(elsewhere / "audit_key")}, "f" * 40),
    ):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**environ, **extra},
            check=True,
        ).stdout.strip()
        assert out == key
