"""Backups on a real PostgreSQL (run by scripts/test-postgres.sh; skipped on SQLite): create and
restore, every refusal's "nothing changed", sequences past the restored ids, and a clinic's move
from SQLite to PostgreSQL by backup and restore."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import audit_record, audit_verify_all
from ketaflow.backup import archive
from ketaflow.backup.crypto import key_generate
from ketaflow.cli import main
from ketaflow.ledger.models import LedgerEntry
from ketaflow.patients import services
from ketaflow.patients.models import Patient
from tests.backup.builders import backup, refused, snapshot_of_every_table
from tests.web.conftest import World, patient_data

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only (scripts/test-postgres.sh)"
    ),
]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    path.write_text(key_generate())
    return path


def test_create_and_restore_on_postgresql(
    world: World, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pg.kfbackup"
    backup(path, key_file, capsys)
    assert archive.backup_read(path, _key(key_file)).engine == "postgresql"
    before = snapshot_of_every_table()
    Patient.objects.filter(pk=world.patient.pk).update(family_name="Changed")
    err = refused(["backup", "restore", str(path), "--key-file", str(key_file)], capsys)
    assert "not empty" in err
    assert Patient.objects.get(pk=world.patient.pk).family_name == "Changed"
    assert main(["backup", "restore", str(path), "--key-file", str(key_file), "--force"]) == 0
    capsys.readouterr()
    assert snapshot_of_every_table() == before
    assert all(r.ok for r in audit_verify_all())
    # The sequences continue past the restored ids: new rows and entries are accepted.
    newest = Patient.objects.order_by("-pk").values_list("pk", flat=True).first()
    added = services.patient_register(
        actor=Actor.system("tests"), clinic_id=world.clinic.pk, data=patient_data("New", "Row")
    )
    assert newest is not None
    assert added.pk > newest
    assert all(r.ok for r in audit_verify_all())


def _key(key_file: Path) -> bytes:
    from ketaflow.backup.crypto import key_parse

    return key_parse(key_file.read_text(), source="test")


@pytest.mark.slow
def test_a_clinic_moves_from_sqlite_to_postgresql_by_backup_and_restore(
    db: None, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The clinic on SQLite: the demo clinic, backed up by the command a clinic runs.
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
        "KETAFLOW_VAR_DIR": str(tmp_path),
        "KETAFLOW_AUDIT_KEY": settings.AUDIT_HMAC_KEY,  # the chains' key travels with the data
        "KETAFLOW_BACKUP_KEY_FILE": str(key_file),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    path = tmp_path / "move.kfbackup"
    ketaflow = str(Path(sys.executable).with_name("ketaflow"))
    for args in (["demo"], ["backup", "create", str(path)]):
        done = subprocess.run(
            [ketaflow, *args], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    manifest = archive.backup_read(path, _key(key_file))
    assert manifest.engine == "sqlite"
    # Restored into the empty PostgreSQL database: every row, both chains intact.
    assert main(["backup", "restore", str(path), "--key-file", str(key_file)]) == 0
    out = capsys.readouterr().out
    assert "Riverside Ketamine Clinic's audit chain intact" in out
    assert "ledger chain intact" in out
    assert AuditEntry.objects.count() == manifest.checksums["audit_auditentry"]["rows"]
    assert LedgerEntry.objects.count() == manifest.checksums["ledger_ledgerentry"]["rows"]
    assert any(e.at.microsecond % 1000 for e in AuditEntry.objects.all()[:100])
    assert main(["audit", "verify"]) == 0
    assert main(["ledger", "verify"]) == 0
    capsys.readouterr()
    # The chains continue on PostgreSQL.
    patient = Patient.objects.order_by("pk").first()
    assert patient is not None
    audit_record(
        actor=Actor.system("tests"), action="view", object_type="patient", patient_id=patient.pk
    )
    assert all(r.ok for r in audit_verify_all())
    # And a backup of the moved clinic verifies in a scratch database (PostgreSQL -> SQLite).
    again = tmp_path / "after-move.kfbackup"
    backup(again, key_file, capsys)
    assert main(["backup", "verify", str(again), "--key-file", str(key_file)]) == 0
    assert "Riverside Ketamine Clinic's audit chain intact" in capsys.readouterr().out
