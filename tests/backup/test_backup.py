"""``ketaflow backup``: encrypted snapshots that restore exactly, verify, and refuse what they
must (a target with data, a damaged file, a wrong key, another schema version)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

from ketaflow.accounts.models import Clinic
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import audit_record, audit_verify_all
from ketaflow.backup import archive
from ketaflow.backup.crypto import key_generate
from ketaflow.cli import main
from ketaflow.ledger.verify import ledger_check
from ketaflow.patients.models import Patient
from tests.backup.builders import backup, refused, snapshot_of_every_table
from tests.web.conftest import World


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    path.write_text(key_generate())
    return path


@pytest.mark.slow
def test_the_demo_clinic_restores_exactly_and_its_chains_verify_and_continue(
    db: None, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo"])
    capsys.readouterr()
    before = snapshot_of_every_table()
    assert any(e.at.microsecond for e in AuditEntry.objects.all()[:50])
    path = tmp_path / "clinic.kfbackup"
    backup(path, key_file, capsys)
    content = path.read_bytes()
    assert b"Riverside" not in content
    assert b"ketaflow-demo" not in content
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    manifest = archive.backup_read(path, archive_key(key_file))
    assert manifest.schema_version == archive.schema_version(archive.code_migrations())
    riverside = Clinic.objects.get(name="Riverside Ketamine Clinic")
    assert {c["chain"] for c in manifest.chains} >= {"ledger", f"audit:clinic:{riverside.pk}"}
    assert manifest.checksums["audit_auditentry"]["rows"] == len(before["audit_auditentry"])

    # Replace everything (--force) with the backup: every value comes back, to the microsecond.
    Patient.objects.filter(pk=Patient.objects.earliest("pk").pk).update(family_name="Changed")
    assert main(["backup", "restore", str(path), "--key-file", str(key_file), "--force"]) == 0
    out = capsys.readouterr().out
    assert f"restored {manifest.rows()} rows" in out
    assert "Riverside Ketamine Clinic's audit chain intact" in out
    assert "ledger chain intact" in out
    assert snapshot_of_every_table() == before
    assert all(r.ok for r in audit_verify_all())
    assert ledger_check().ok
    assert main(["audit", "verify"]) == 0
    assert main(["ledger", "verify"]) == 0
    capsys.readouterr()
    # The chains continue: a new entry follows the restored head, and new rows get new ids.
    patient = Patient.objects.order_by("pk").first()
    assert patient is not None
    entry = audit_record(
        actor=Actor.system("tests"), action="view", object_type="patient", patient_id=patient.pk
    )
    assert entry.pk > before["audit_auditentry"][-1][0]
    assert all(r.ok for r in audit_verify_all())


def archive_key(key_file: Path) -> bytes:
    from ketaflow.backup.crypto import key_parse

    return key_parse(key_file.read_text(), source="test")


def test_restore_refuses_a_database_with_data_without_force(
    world: World, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.kfbackup"
    backup(path, key_file, capsys)
    world.patient.family_name = "Later"
    Patient.objects.filter(pk=world.patient.pk).update(family_name="Later")
    before = snapshot_of_every_table()
    err = refused(["backup", "restore", str(path), "--key-file", str(key_file)], capsys)
    assert "the target database is not empty" in err
    assert "--force" in err
    assert snapshot_of_every_table() == before


def _damaged(path: Path, at: int) -> Path:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    out = path.with_name(f"damaged-{at}.kfbackup")
    out.write_bytes(bytes(data))
    return out


def test_restore_refuses_a_damaged_or_truncated_file_and_changes_nothing(
    world: World, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.kfbackup"
    backup(path, key_file, capsys)
    before = snapshot_of_every_table()
    size = path.stat().st_size
    for damaged in (_damaged(path, size // 2), _damaged(path, size - 1)):
        err = refused(
            ["backup", "restore", str(damaged), "--key-file", str(key_file), "--force"], capsys
        )
        assert "the file is damaged" in err
        assert "fails its authentication check" in err
    truncated = tmp_path / "truncated.kfbackup"
    truncated.write_bytes(path.read_bytes()[: size - 20])
    err = refused(
        ["backup", "restore", str(truncated), "--key-file", str(key_file), "--force"], capsys
    )
    assert "the file is damaged" in err
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    err = refused(["backup", "verify", str(not_a_backup), "--key-file", str(key_file)], capsys)
    assert "not a KetaFlow backup file" in err
    err = refused(
        ["backup", "restore", str(tmp_path / "none"), "--key-file", str(key_file)], capsys
    )
    assert "no backup file at" in err
    assert snapshot_of_every_table() == before


def test_restore_refuses_a_wrong_key_and_changes_nothing(
    world: World, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.kfbackup"
    backup(path, key_file, capsys)
    before = snapshot_of_every_table()
    other = tmp_path / "other.key"
    other.write_text(key_generate())
    err = refused(["backup", "restore", str(path), "--key-file", str(other), "--force"], capsys)
    assert "wrong key" in err
    err = refused(["backup", "verify", str(path), "--key-file", str(other)], capsys)
    assert "wrong key" in err
    assert snapshot_of_every_table() == before


def test_restore_refuses_another_schema_version_and_changes_nothing(
    world: World,
    tmp_path: Path,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "b.kfbackup"
    backup(path, key_file, capsys)
    before = snapshot_of_every_table()
    ours = archive.code_migrations()
    # This KetaFlow is newer than the backup: it has a migration the backup lacks.
    monkeypatch.setattr(archive, "code_migrations", lambda: [*ours, "treatment.9999_future"])
    err = refused(["backup", "restore", str(path), "--key-file", str(key_file), "--force"], capsys)
    assert "incompatible schema version" in err
    assert "lacks 1 migrations of this KetaFlow (e.g. treatment.9999_future)" in err
    # ... or older: the backup has a migration this KetaFlow does not know.
    monkeypatch.setattr(archive, "code_migrations", lambda: ours[1:])
    err = refused(["backup", "restore", str(path), "--key-file", str(key_file), "--force"], capsys)
    assert "this KetaFlow does not know" in err
    assert snapshot_of_every_table() == before


def test_restore_under_another_audit_key_is_refused_and_changes_nothing(
    world: World, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.kfbackup"
    backup(path, key_file, capsys)
    before = snapshot_of_every_table()
    with override_settings(AUDIT_HMAC_KEY="another-installation-" + "k" * 40):
        err = refused(
            ["backup", "restore", str(path), "--key-file", str(key_file), "--force"], capsys
        )
    assert "does not verify here" in err
    assert "KETAFLOW_AUDIT_KEY" in err
    assert snapshot_of_every_table() == before


def test_keys_refused_missing_malformed_or_the_apps_own(
    db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.conf import settings

    target = str(tmp_path / "b.kfbackup")
    with override_settings(BACKUP_KEY="", BACKUP_KEY_FILE=""):
        assert "no backup key" in refused(["backup", "create", target], capsys)
    with override_settings(BACKUP_KEY="not-a-key"):
        assert "KETAFLOW_BACKUP_KEY: not a backup key" in refused(
            ["backup", "create", target], capsys
        )
    with override_settings(BACKUP_KEY=settings.SECRET_KEY):
        assert "must be its own key, not the secret key" in refused(
            ["backup", "create", target], capsys
        )
    with override_settings(BACKUP_KEY=f"kfb1:{settings.AUDIT_HMAC_KEY}"):
        assert "not the audit key" in refused(["backup", "create", target], capsys)
    assert not Path(target).exists()
    # A key made by keygen works from the environment's setting as from a file.
    key = key_generate()
    with override_settings(BACKUP_KEY=key):
        assert main(["backup", "create", target]) == 0
        capsys.readouterr()
        assert "exists already" in refused(["backup", "create", target], capsys)


def test_keygen_writes_a_private_file_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "k"
    assert main(["backup", "keygen", "--file", str(path)]) == 0
    capsys.readouterr()
    assert path.read_text().startswith("kfb1:")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    first = path.read_text()
    assert "never overwritten" in refused(["backup", "keygen", "--file", str(path)], capsys)
    assert path.read_text() == first
    assert main(["backup", "keygen"]) == 0
    assert capsys.readouterr().out.startswith("kfb1:")


@pytest.mark.slow
def test_verify_restores_into_a_scratch_database_and_verifies_both_chains(
    world: World, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.kfbackup"
    backup(path, key_file, capsys)
    before = snapshot_of_every_table()
    assert main(["backup", "verify", str(path), "--key-file", str(key_file)]) == 0
    out = capsys.readouterr().out
    assert "checksums match" in out
    assert "restored into a scratch database" in out
    assert "Test Clinic's audit chain intact" in out
    assert "ledger chain intact" in out
    assert snapshot_of_every_table() == before  # the configured database is untouched
    assert connection.vendor in {"sqlite", "postgresql"}


def test_the_snapshot_is_consistent_while_the_app_keeps_writing(live_world: World) -> None:
    """A write committed during the backup's read transaction is not in it, and is not held
    up by it (SQLite in WAL mode; PostgreSQL REPEATABLE READ)."""
    import threading

    from django.db import connections

    from ketaflow.patients import services as patient_services
    from tests.web.conftest import patient_data

    errors: list[BaseException] = []

    def the_app_writes() -> None:
        try:
            patient_services.patient_register(
                actor=Actor.system("tests"),
                clinic_id=live_world.clinic.pk,
                data=patient_data("During", "Backup"),
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    with archive.read_snapshot(connection):
        before = Patient.objects.count()
        writer = threading.Thread(target=the_app_writes)
        writer.start()
        writer.join(timeout=60)
        assert not writer.is_alive()
        assert errors == []
        assert Patient.objects.count() == before  # the snapshot does not see it
    assert Patient.objects.count() == before + 1
    assert all(r.ok for r in audit_verify_all())
