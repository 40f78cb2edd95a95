"""``ketaflow upgrade``: the chains are checked before and after migrating; a failed check
refuses with one line (exit 2), and before migrating nothing is migrated."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from ketaflow.audit.db import drop_triggers
from ketaflow.backup import upgrade as upgrade_module
from ketaflow.backup.crypto import key_generate
from ketaflow.cli import main
from tests.backup.builders import refused
from tests.web.conftest import World


@pytest.fixture
def migrations_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = upgrade_module.migrate

    def counted() -> None:
        calls.append("migrate")
        real()

    monkeypatch.setattr(upgrade_module, "migrate", counted)
    return calls


def _tamper() -> None:
    drop_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET summary = 'edited' WHERE seq = 2")


def test_upgrade_checks_migrates_and_checks_again(
    world: World, migrations_run: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["upgrade"]) == 0
    out = capsys.readouterr().out
    assert "chains verified before migrating" in out
    assert "no migrations to apply" in out
    assert "chains verified after migrating" in out
    assert migrations_run == ["migrate"]


def test_upgrade_refuses_broken_chains_and_migrates_nothing(
    world: World, migrations_run: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper()
    err = refused(["upgrade"], capsys)
    assert "refused: the chains do not verify before the upgrade" in err
    assert "Test Clinic's audit chain: entry #2 was altered" in err
    assert "nothing was migrated" in err
    assert migrations_run == []


def test_upgrade_reports_chains_broken_by_the_migration(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(upgrade_module, "migrate", _tamper)
    err = refused(["upgrade"], capsys)
    assert "the chains do not verify after migrating" in err
    assert "restore the backup taken before the upgrade" in err


def test_upgrade_refuses_chains_behind_their_checkpoints(
    world: World, tmp_path: Path, migrations_run: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoints = tmp_path / "checkpoints.log"
    assert main(["audit", "checkpoint", "--file", str(checkpoints)]) == 0
    assert main(["upgrade", "--checkpoints", str(checkpoints)]) == 0
    assert "checkpoints in" in capsys.readouterr().out
    # The newest entries deleted (and the head moved back): only the checkpoints show it.
    drop_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM audit_auditentrypatient WHERE entry_id IN (SELECT id FROM "
            "audit_auditentry WHERE seq > 2 AND clinic_id = %s)",
            [world.clinic.pk],
        )
        cursor.execute(
            "DELETE FROM audit_auditentry WHERE seq > 2 AND clinic_id = %s", [world.clinic.pk]
        )
        cursor.execute(
            "UPDATE audit_audithead SET seq = 2, hash = (SELECT hash FROM audit_auditentry "
            "WHERE seq = 2 AND clinic_id = %s) WHERE chain = %s",
            [world.clinic.pk, f"clinic:{world.clinic.pk}"],
        )
    migrations_run.clear()
    err = refused(["upgrade", "--checkpoints", str(checkpoints)], capsys)
    assert "refused: the chains do not verify before the upgrade" in err
    assert migrations_run == []


def test_upgrade_with_a_backup_first(
    world: World, tmp_path: Path, migrations_run: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k"
    key.write_text(key_generate())
    target = tmp_path / "before-upgrade.kfbackup"
    assert main(["upgrade", "--backup", str(target), "--key-file", str(key)]) == 0
    assert "before the upgrade" in capsys.readouterr().out
    assert target.is_file()


@pytest.mark.sqlite_only  # its own SQLite file in a subprocess, never the test database
def test_upgrade_migrates_a_new_empty_database(tmp_path: Path) -> None:
    """A first installation runs ``ketaflow upgrade`` on an empty database: nothing to verify
    before, everything migrated, the (empty) chains verified after. It was refused ("relation
    audit_audithead does not exist"), so an installer had to call migrate instead."""
    import os
    import subprocess
    import sys

    ketaflow = Path(sys.executable).with_name("ketaflow")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}",
        "KETAFLOW_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "ketaflow.settings",
    }
    done = subprocess.run(
        [str(ketaflow), "upgrade"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "a new database: no chain to verify before migrating" in done.stdout
    assert "applied " in done.stdout
    assert "chains verified after migrating" in done.stdout
    again = subprocess.run(
        [str(ketaflow), "upgrade"], env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert "chains verified before migrating" in again.stdout
    assert "no migrations to apply" in again.stdout
