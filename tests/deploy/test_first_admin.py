"""deploy/first-admin.py, the first account of a new installation (docs/deploy.md), run as
``ketaflow manage shell < first-admin.py`` runs it: the network administrator with an audit
entry that verifies; refused with one line for a weak password; never a second one."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import audit_verify_all

SCRIPT = Path(__file__).resolve().parents[2] / "deploy/first-admin.py"


def run_script() -> int:
    """The script run whole, as Django's shell runs its standard input; its exit status."""
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.django_db
def test_the_first_account_is_the_network_administrator_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KETAFLOW_ADMIN_USERNAME", "itadmin")
    monkeypatch.setenv("KETAFLOW_ADMIN_PASSWORD", "short")
    assert run_script() == 2
    err = capsys.readouterr().err
    assert err.startswith("first-admin: refused: This password is too short.")
    assert not User.objects.exists()

    monkeypatch.setenv("KETAFLOW_ADMIN_PASSWORD", "a long and unusual passphrase 7")
    assert run_script() == 0
    assert "itadmin may now log in" in capsys.readouterr().out
    admin = User.objects.get(username="itadmin")
    assert admin.role == Role.NETWORK_ADMIN
    assert admin.clinic_id is None
    assert admin.check_password("a long and unusual passphrase 7")
    entry = AuditEntry.objects.get(object_type="accounts.user", object_id=str(admin.pk))
    assert entry.clinic_id is None
    assert entry.summary == "installation: added the network administrator itadmin"
    assert all(result.ok for result in audit_verify_all())

    monkeypatch.setenv("KETAFLOW_ADMIN_USERNAME", "another")
    assert run_script() == 0
    assert "exists already" in capsys.readouterr().out
    assert User.objects.filter(role=Role.NETWORK_ADMIN).count() == 1
