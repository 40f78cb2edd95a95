"""Security settings and project hygiene."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def test_argon2_hashes_passwords_in_the_real_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    env.update(KETAFLOW_ENV="development", KETAFLOW_VAR_DIR=str(tmp_path))
    code = "import ketaflow.settings as s; print(s.PASSWORD_HASHERS[0])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()
    assert out == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
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
    assert settings.SESSION_COOKIE_AGE <= 900
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.CSRF_COOKIE_HTTPONLY
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
