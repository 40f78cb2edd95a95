"""``ketaflow backup keygen|create|restore|verify``: encrypted backups (ketaflow.backup)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ketaflow.cli.common import CliError
from ketaflow.cli.web import _setup_django

_CHILD = "import sys; from ketaflow.cli import main; sys.exit(main(sys.argv[1:]))"


def cmd_keygen(args: argparse.Namespace) -> int:
    from ketaflow.backup.crypto import key_generate

    key = key_generate()
    if args.file is None:
        print(key)
        return 0
    path = Path(args.file)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"--file: {path} exists already; a key is never overwritten") from None
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    print(f"wrote a new backup key to {path}; keep a copy away from the backups")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.backup.keys import backup_key
    from ketaflow.backup.schedule import backup_recorded

    key = backup_key(args.key_file)
    run = backup_recorded(Path(args.file), key)
    print(
        f"backed up {run.rows} rows to {run.file} ({run.size_bytes} bytes, schema "
        f"{run.schema_version}, encrypted)"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.backup.archive import backup_restore
    from ketaflow.backup.keys import backup_key

    key = backup_key(args.key_file)
    result = backup_restore(Path(args.file), key, force=args.force)
    manifest = result.manifest
    print(
        f"restored {result.rows} rows from {args.file} (made {manifest.created_at} on "
        f"{manifest.engine}, schema {manifest.schema_version})"
    )
    for line in result.verification:
        print(line)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Restore into a scratch database (SQLite in memory, in a child process that inherits
    the settings and the audit key), which verifies both chains."""
    _setup_django()
    from django.conf import settings

    from ketaflow.backup.archive import backup_read
    from ketaflow.backup.keys import backup_key

    key = backup_key(args.key_file)
    manifest = backup_read(Path(args.file), key)
    with tempfile.TemporaryDirectory(prefix="ketaflow-verify-") as scratch:
        key_path = Path(scratch) / "backup.key"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(_key_text(key))
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"KETAFLOW_AUDIT_KEY_FILE", "KETAFLOW_BACKUP_KEY", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            {
                "DATABASE_URL": "sqlite://:memory:",
                "KETAFLOW_AUDIT_KEY": settings.AUDIT_HMAC_KEY,
                "KETAFLOW_SECRET_KEY": settings.SECRET_KEY,
                "KETAFLOW_CHECKPOINT_FILE": "",
                "KETAFLOW_BACKUP_KEY_FILE": str(key_path),
            }
        )
        child = subprocess.run(  # noqa: S603 (our own command, arguments not from a shell)
            [sys.executable, "-c", _CHILD, "backup", "restore", str(args.file)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if child.returncode != 0:
        why = (child.stderr.strip().splitlines() or ["the scratch restore failed"])[-1]
        raise CliError(f"the backup does not restore and verify: {why.split(': error: ')[-1]}")
    print(
        f"{args.file}: made {manifest.created_at} on {manifest.engine}, schema "
        f"{manifest.schema_version}, {manifest.rows()} rows in {len(manifest.tables)} tables, "
        "checksums match"
    )
    for chain in manifest.chains:
        print(f"  chain {chain['chain']}: head #{chain['seq']}")
    print("restored into a scratch database:")
    for line in child.stdout.strip().splitlines()[1:]:
        print(f"  {line}")
    return 0


def _key_text(key: bytes) -> str:
    import base64

    from ketaflow.backup.crypto import KEY_PREFIX

    return KEY_PREFIX + base64.urlsafe_b64encode(key).decode().rstrip("=")


def _add_key_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key-file",
        metavar="KEYFILE",
        default=None,
        help="the backup key's file (default: KETAFLOW_BACKUP_KEY, else KETAFLOW_BACKUP_KEY_FILE)",
    )


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    backup = subparsers.add_parser(
        "backup",
        help="encrypted backups: keygen, create, restore, verify",
        description="Encrypted, consistent backups of the whole database (see docs/backup.md).",
    )
    sub = backup.add_subparsers(dest="backup_command", metavar="SUBCOMMAND", required=True)
    keygen = sub.add_parser(
        "keygen",
        help="make a new backup key",
        description="Print a new backup key, or write it to --file (never overwritten). Keep "
        "it away from the backups and from the database: without it no backup can be read.",
    )
    keygen.add_argument("--file", default=None, help="write the key to this new file (mode 600)")
    keygen.set_defaults(handler=cmd_keygen)
    create = sub.add_parser(
        "create",
        help="write an encrypted snapshot of the database",
        description="Write a consistent snapshot of the database, taken while the app runs, "
        "encrypted (AES-256-GCM) under the backup key, with its manifest (schema version, "
        "chain heads, checksums). FILE must not exist.",
    )
    create.add_argument("file", metavar="FILE")
    _add_key_file(create)
    create.set_defaults(handler=cmd_create)
    restore = sub.add_parser(
        "restore",
        help="restore a backup into an empty database",
        description="Restore FILE into the database (DATABASE_URL), migrating it first, then "
        "verify the audit and ledger chains. Refused, with nothing changed: a database with "
        "data (unless --force), a damaged file, a wrong key, another schema version.",
    )
    restore.add_argument("file", metavar="FILE")
    restore.add_argument(
        "--force", action="store_true", help="replace everything in a database that has data"
    )
    _add_key_file(restore)
    restore.set_defaults(handler=cmd_restore)
    verify = sub.add_parser(
        "verify",
        help="restore a backup into a scratch database and verify its chains",
        description="Check FILE (key, every chunk, checksums), restore it into a scratch "
        "database in memory and verify the audit and ledger chains there. Exit 0 when it "
        "restores and verifies, 2 with one line when not.",
    )
    verify.add_argument("file", metavar="FILE")
    _add_key_file(verify)
    verify.set_defaults(handler=cmd_verify)
    register_upgrade(subparsers)
    register_check(subparsers)


def cmd_upgrade(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.backup.upgrade import is_new_database, upgrade
    from ketaflow.cli.web import checkpoint_file

    path = checkpoint_file(args.checkpoints)
    if args.backup is not None:
        from ketaflow.backup.keys import backup_key
        from ketaflow.backup.schedule import backup_recorded

        run = backup_recorded(Path(args.backup), backup_key(args.key_file))
        print(f"backed up {run.rows} rows to {run.file} before the upgrade")
    new = is_new_database()
    applied = upgrade(path)
    against = f"; checkpoints in {path} match" if path else ""
    if new:
        print("a new database: no chain to verify before migrating")
        against = ""
    else:
        print(f"chains verified before migrating{against}")
    if applied:
        print(f"applied {len(applied)} migrations: {', '.join(applied)}")
    else:
        print("no migrations to apply")
    print(f"chains verified after migrating{against}")
    return 0


def register_upgrade(subparsers: argparse._SubParsersAction[Any]) -> None:
    from ketaflow.cli.web import add_checkpoints_argument

    upgrade = subparsers.add_parser(
        "upgrade",
        help="check the chains, migrate the database, check them again",
        description="Verify every audit chain, the sealed notes and the ledger (against the "
        "checkpoints), apply the migrations, and verify again. Refused, with exit 2 and one "
        "line and nothing migrated, when the check before fails. --backup FILE takes an "
        "encrypted backup first.",
    )
    add_checkpoints_argument(upgrade)
    upgrade.add_argument("--backup", metavar="FILE", default=None, help="back up to FILE first")
    _add_key_file(upgrade)
    upgrade.set_defaults(handler=cmd_upgrade)


def cmd_check(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.backup.health import deployment_findings

    findings = deployment_findings()
    for finding in findings:
        print(finding.line())
    if findings:
        print(f"{len(findings)} findings", file=sys.stderr)
        return 1
    print("no findings: ready for production")
    return 0


def register_check(subparsers: argparse._SubParsersAction[Any]) -> None:
    check = subparsers.add_parser(
        "check",
        help="Django's deployment checks and KetaFlow's own, one line per finding",
        description="Run Django's deployment checks and KetaFlow's own: production mode, keys "
        "set and separate (secret, audit, backup), HTTPS enforced, the staff second factor "
        "required, backups configured and recent, every clinic's phone number set. One line "
        "per finding; exit 1 when there is any, 0 when there is none.",
    )
    check.set_defaults(handler=cmd_check)
