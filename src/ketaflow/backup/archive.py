"""A consistent, portable snapshot of the database, and its restore.

The content (before :mod:`ketaflow.backup.crypto` compresses and encrypts it) is JSON Lines:

1. ``{"kind": "manifest", ...}``: the format, when and from which engine, the schema version
   (every migration the database had applied, and their hash), each hash chain's head, and the
   tables in the order they follow.
2. For each table in dependency order: ``{"kind": "table", "table": ..., "columns": [...]}``,
   then one JSON array per row (by primary key), each value written losslessly for its column's
   type (date-times as ISO 8601 in UTC with their microseconds, decimals as text, ...).
3. ``{"kind": "checksums", "tables": {table: {"rows": n, "sha256": ...}}}``: each table's row
   count and the SHA-256 of its rows' lines, as written.

The rows are read in one read transaction (SQLite in WAL mode: writers go on; PostgreSQL:
REPEATABLE READ, READ ONLY), so the snapshot is consistent while the app runs. A restore writes
them with plain INSERTs, bypassing the models (no ``auto_now``, no signals), so every stored
value, and every hash over it, comes back exactly, on either engine.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from ketaflow.backup.crypto import BackupFileError, EncryptedWriter, decrypted_chunks

CONTENT_FORMAT = 1
# Not copied: login sessions (a restored installation starts signed out) and this package's own
# records of the installation (its backups and the worker's heartbeat).
SKIPPED_TABLES = frozenset({"django_session", "backup_backuprun", "backup_heartbeat"})
# Rows that ``migrate`` creates in every new database; a restore replaces them with the backup's
# (their ids are referenced by other rows), and they do not make a target "not empty".
MIGRATE_TABLES = ("django_content_type", "auth_permission")
BATCH = 500


class BackupError(ValueError):
    """A backup cannot be made or restored (one line; nothing was changed)."""


@dataclass
class Manifest:
    created_at: str
    engine: str
    schema_version: str
    migrations: list[str]
    chains: list[dict[str, Any]]
    tables: list[str]
    checksums: dict[str, dict[str, Any]] = field(default_factory=dict)

    def rows(self) -> int:
        return sum(int(c["rows"]) for c in self.checksums.values())


# --- what is copied, and in which order -------------------------------------------------------


def backed_up_models() -> list[type[models.Model]]:
    """Every concrete table the app has, each after the tables its foreign keys point to (a
    cycle, e.g. a row pointing to another of its table, is left to the database's deferred
    foreign-key checks)."""
    wanted = [
        model
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy
        and model._meta.managed
        and model._meta.db_table not in SKIPPED_TABLES
    ]
    members = set(wanted)
    ordered: list[type[models.Model]] = []
    placed: set[type[models.Model]] = set()
    visiting: set[type[models.Model]] = set()

    def place(model: type[models.Model]) -> None:
        if model in placed or model in visiting:
            return
        visiting.add(model)
        for f in model._meta.concrete_fields:
            target = f.related_model if f.is_relation else None
            if isinstance(target, type) and target in members:
                place(target)
        visiting.discard(model)
        placed.add(model)
        ordered.append(model)

    for model in sorted(wanted, key=lambda m: m._meta.db_table):
        place(model)
    return ordered


def _migration_names(pairs: Any) -> list[str]:
    return sorted(f"{app}.{name}" for app, name in pairs)


def code_migrations() -> list[str]:
    """Every migration this KetaFlow's code has (the schema a restore needs)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return _migration_names(loader.graph.nodes)


def applied_migrations(conn: BaseDatabaseWrapper) -> list[str]:
    recorder = MigrationRecorder(conn)
    if not recorder.has_table():
        return []
    return _migration_names(recorder.applied_migrations())


def schema_version(migrations: list[str]) -> str:
    return hashlib.sha256("\n".join(migrations).encode()).hexdigest()[:16]


# --- values, losslessly -----------------------------------------------------------------------


def _encode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "DateTimeField":
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if kind == "DateField":
        return value.isoformat()
    if kind == "TimeField":
        return value.isoformat(timespec="microseconds")
    if kind == "DecimalField":
        return str(value)
    if kind == "DurationField":
        return (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    if kind == "UUIDField":
        return str(value)
    if kind == "BinaryField":
        return base64.b64encode(bytes(value)).decode()
    return value


def _decode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "DateTimeField":
        return dt.datetime.fromisoformat(value)
    if kind == "DateField":
        return dt.date.fromisoformat(value)
    if kind == "TimeField":
        return dt.time.fromisoformat(value)
    if kind == "DecimalField":
        return decimal.Decimal(value)
    if kind == "DurationField":
        return dt.timedelta(microseconds=value)
    if kind == "UUIDField":
        return uuid.UUID(value)
    if kind == "BinaryField":
        return base64.b64decode(value)
    return value


def _kind(f: models.Field[Any, Any]) -> str:
    target = f.target_field if isinstance(f, models.ForeignKey) else f
    return str(target.get_internal_type())


def _line(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


# --- making a backup --------------------------------------------------------------------------


@contextlib.contextmanager
def read_snapshot(conn: BaseDatabaseWrapper) -> Iterator[None]:
    """One read transaction: every read inside sees the same moment of the database.

    SQLite: a deferred transaction (the app's own transactions take the write lock at BEGIN;
    this one never writes, and in WAL mode the app's writers go on meanwhile). PostgreSQL:
    REPEATABLE READ, READ ONLY. Inside a transaction already (the test suite), that one."""
    if conn.in_atomic_block:
        yield
        return
    conn.ensure_connection()
    if conn.vendor == "sqlite":
        with conn.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with conn.cursor() as cursor:
                cursor.execute("ROLLBACK")
        return
    with transaction.atomic(using=conn.alias):
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def chain_heads() -> list[dict[str, Any]]:
    from ketaflow.audit.checkpoints import chains

    return [{"chain": c.name, "seq": c.seq, "hash": c.hash} for c in chains()]


def _write_content(writer: EncryptedWriter, conn: BaseDatabaseWrapper) -> Manifest:
    migrations = applied_migrations(conn)
    missing = sorted(set(code_migrations()) - set(migrations))
    if missing:
        raise BackupError(
            f"the database is not migrated ({len(missing)} migrations not applied, e.g. "
            f"{missing[0]}): run `ketaflow manage migrate` first"
        )
    ordered = backed_up_models()
    manifest = Manifest(
        created_at=timezone.now().astimezone(dt.UTC).isoformat(timespec="microseconds"),
        engine=conn.vendor,
        schema_version=schema_version(migrations),
        migrations=migrations,
        chains=chain_heads(),
        tables=[m._meta.db_table for m in ordered],
    )
    head = {"kind": "manifest", "format": CONTENT_FORMAT, **manifest.__dict__}
    head.pop("checksums")
    writer.write(_line(head))
    for model in ordered:
        fields = list(model._meta.concrete_fields)
        kinds = [_kind(f) for f in fields]
        table = model._meta.db_table
        writer.write(
            _line({"kind": "table", "table": table, "columns": [f.column for f in fields]})
        )
        digest = hashlib.sha256()
        count = 0
        rows = (
            model._base_manager.using(conn.alias)
            .order_by("pk")
            .values_list(*[f.attname for f in fields])
        )
        for row in rows.iterator(chunk_size=2000):
            line = _line([_encode(k, v) for k, v in zip(kinds, row, strict=True)])
            digest.update(line)
            writer.write(line)
            count += 1
        manifest.checksums[table] = {"rows": count, "sha256": digest.hexdigest()}
    writer.write(_line({"kind": "checksums", "tables": manifest.checksums}))
    return manifest


def backup_create(path: Path, key: bytes, *, conn: BaseDatabaseWrapper | None = None) -> Manifest:
    """Write an encrypted snapshot of the database to ``path`` (refused when it exists). The
    file appears whole or not at all: it is written beside, then renamed."""
    conn = conn or connection
    if path.exists():
        raise BackupError(f"{path} exists already: choose a new file name")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder")
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            writer = EncryptedWriter(out, key)
            with read_snapshot(conn):
                manifest = _write_content(writer, conn)
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


# --- reading a backup -------------------------------------------------------------------------


def _lines(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    pending = b""
    for chunk in decrypted_chunks(source, key):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        raise BackupFileError("the file is damaged: its content ends in the middle of a line")


def _object(line: bytes, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except ValueError:
        raise BackupFileError("the file is damaged: a line is not JSON") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise BackupFileError(f"the file is damaged: expected its {kind} here")
    return data


def _records(
    source: BinaryIO, key: bytes
) -> Iterator[tuple[str, dict[str, Any] | list[Any], bytes]]:
    """("manifest", data, line), then ("table", data, line) and ("row", values, line) for each
    table, then ("checksums", data, line); checks each table's count and checksum."""
    lines = _lines(source, key)
    first = next(lines, None)
    if first is None:
        raise BackupFileError("the file is damaged: it holds no manifest")
    manifest = _object(first, "manifest")
    if manifest.get("format") != CONTENT_FORMAT:
        raise BackupFileError(f"backup content format {manifest.get('format')} is not supported")
    yield "manifest", manifest, first
    counted: dict[str, dict[str, Any]] = {}
    table: str | None = None
    digest = hashlib.sha256()
    count = 0
    for line in lines:
        if line.startswith(b"["):
            if table is None:
                raise BackupFileError("the file is damaged: a row comes before its table")
            digest.update(line + b"\n")
            count += 1
            try:
                yield "row", json.loads(line), line
            except ValueError:
                raise BackupFileError("the file is damaged: a row is not JSON") from None
            continue
        if table is not None:
            counted[table] = {"rows": count, "sha256": digest.hexdigest()}
        if line.startswith(b'{"kind":"checksums"'):
            checksums = _object(line, "checksums")
            if checksums.get("tables") != counted:
                bad = sorted(
                    t
                    for t in set(counted) | set(checksums.get("tables") or {})
                    if counted.get(t) != (checksums.get("tables") or {}).get(t)
                )
                raise BackupFileError(
                    f"the file is damaged: the checksum of table {bad[0] if bad else '?'} "
                    "does not match its rows"
                )
            if list(counted) != manifest.get("tables"):
                raise BackupFileError("the file is damaged: its tables differ from its manifest")
            yield "checksums", checksums, line
            if next(lines, None) is not None:
                raise BackupFileError("the file is damaged: content follows its checksums")
            return
        data = _object(line, "table")
        table, digest, count = str(data["table"]), hashlib.sha256(), 0
        yield "table", data, line
    raise BackupFileError("the file is damaged: it ends before its checksums (truncated)")


def backup_read(path: Path, key: bytes) -> Manifest:
    """Read the whole file, checking every chunk, row count and checksum, without touching the
    database; returns its manifest."""
    with _open(path) as source:
        manifest: dict[str, Any] = {}
        for kind, data, _ in _records(source, key):
            if kind == "manifest" and isinstance(data, dict):
                manifest = data
            elif kind == "checksums" and isinstance(data, dict):
                manifest["checksums"] = data["tables"]
    return Manifest(
        created_at=str(manifest["created_at"]),
        engine=str(manifest["engine"]),
        schema_version=str(manifest["schema_version"]),
        migrations=list(manifest["migrations"]),
        chains=list(manifest["chains"]),
        tables=list(manifest["tables"]),
        checksums=dict(manifest["checksums"]),
    )


@contextlib.contextmanager
def _open(path: Path) -> Iterator[BinaryIO]:
    try:
        source = path.open("rb")
    except FileNotFoundError:
        raise BackupError(f"no backup file at {path}") from None
    with source:
        yield source


# --- restoring --------------------------------------------------------------------------------


def data_tables(conn: BaseDatabaseWrapper) -> dict[str, type[models.Model]]:
    with conn.cursor() as cursor:
        existing = set(conn.introspection.table_names(cursor))
    return {m._meta.db_table: m for m in backed_up_models() if m._meta.db_table in existing}


def tables_with_rows(conn: BaseDatabaseWrapper) -> list[str]:
    """The tables of a restore's target that hold data (``migrate``'s own rows aside)."""
    found = []
    for table, model in data_tables(conn).items():
        if table not in MIGRATE_TABLES and model._base_manager.using(conn.alias).exists():
            found.append(table)
    return found


def check_schema(manifest: Manifest) -> None:
    ours = code_migrations()
    if manifest.migrations == ours:
        return
    theirs = set(manifest.migrations)
    newer = sorted(theirs - set(ours))
    older = sorted(set(ours) - theirs)
    if newer:
        why = f"it has {len(newer)} migrations this KetaFlow does not know (e.g. {newer[0]})"
    else:
        why = f"it lacks {len(older)} migrations of this KetaFlow (e.g. {older[0]})"
    raise BackupError(
        f"incompatible schema version: the backup's is {manifest.schema_version}, this "
        f"KetaFlow's is {schema_version(ours)}; {why}. Restore it with the KetaFlow version "
        "that made it, then run `ketaflow upgrade`"
    )


@dataclass
class RestoreResult:
    manifest: Manifest
    rows: int
    verification: list[str]


def backup_restore(
    path: Path, key: bytes, *, force: bool = False, conn: BaseDatabaseWrapper | None = None
) -> RestoreResult:
    """Restore the backup at ``path`` into the database.

    Refused, with nothing changed: a file that is damaged, encrypted with another key or made
    with another schema version; a target with data, unless ``force`` (which replaces it);
    data whose hash chains do not verify here (another audit key). The target is migrated
    first; the rows go in within one transaction, and the chains are verified before it
    commits."""
    from django.core.management import call_command

    conn = conn or connection
    manifest = backup_read(path, key)
    check_schema(manifest)
    if applied_migrations(conn):
        occupied = tables_with_rows(conn)
        if occupied and not force:
            raise BackupError(
                f"the target database is not empty ({len(occupied)} tables hold data, e.g. "
                f"{occupied[0]}): restore into an empty database, or give --force to replace "
                "everything in it"
            )
    call_command("migrate", interactive=False, verbosity=0, database=conn.alias)
    from ketaflow.audit.db import drop_triggers, install_triggers

    with transaction.atomic(using=conn.alias):
        tables = data_tables(conn)
        drop_triggers(conn)
        with conn.cursor() as cursor:
            for table in reversed(list(tables)):
                cursor.execute(f"DELETE FROM {conn.ops.quote_name(table)}")  # noqa: S608 (a model table name, quoted)
        with _open(path) as source:
            rows = _insert_all(_records(source, key), tables, conn)
        install_triggers(conn)
        _reset_sequences(conn, list(tables.values()))
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
        problems = chain_problems()
        if problems:
            raise BackupError(
                f"the restored data does not verify here ({problems[0]}); nothing was changed. "
                "Is KETAFLOW_AUDIT_KEY the one of the installation that made the backup?"
            )
    return RestoreResult(manifest, rows, verification_lines())


def _insert_all(
    records: Iterator[tuple[str, Any, bytes]],
    tables: dict[str, type[models.Model]],
    conn: BaseDatabaseWrapper,
) -> int:
    total = 0
    sql = ""
    fields: list[models.Field[Any, Any]] = []
    kinds: list[str] = []
    batch: list[list[Any]] = []

    def flush() -> None:
        if batch:
            with conn.cursor() as cursor:
                cursor.executemany(sql, batch)
            batch.clear()

    for kind, data, _ in records:
        if kind == "table":
            flush()
            table = str(data["table"])
            model = tables.get(table)
            if model is None:
                raise BackupError(f"the target database has no table {table}")
            by_column = {f.column: f for f in model._meta.concrete_fields}
            columns = list(data["columns"])
            if sorted(columns) != sorted(by_column):
                raise BackupError(f"table {table}: its columns differ from this KetaFlow's")
            fields = [by_column[c] for c in columns]
            kinds = [_kind(f) for f in fields]
            quote = conn.ops.quote_name
            sql = (
                f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608 (model names, quoted; values are parameters)
                f"VALUES ({', '.join(['%s'] * len(columns))})"
            )
        elif kind == "row":
            batch.append(
                [
                    f.get_db_prep_save(_decode(k, v), conn)
                    for f, k, v in zip(fields, kinds, data, strict=True)
                ]
            )
            total += 1
            if len(batch) >= BATCH:
                flush()
    flush()
    return total


def _reset_sequences(conn: BaseDatabaseWrapper, restored: list[type[models.Model]]) -> None:
    statements = conn.ops.sequence_reset_sql(no_style(), restored)
    if statements:
        with conn.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


# --- verification -----------------------------------------------------------------------------


def chain_problems() -> list[str]:
    """What ``audit verify`` and ``ledger verify`` would report (without checkpoint files)."""
    from ketaflow.audit.services import audit_verify_all
    from ketaflow.infusions.lock import locked_notes_verify
    from ketaflow.ledger.verify import ledger_check

    problems = [r.message for r in audit_verify_all() if not r.ok]
    problems += locked_notes_verify()
    report = ledger_check()
    if not report.chain.ok:
        problems.append(report.chain.message)
    problems += report.problems
    return problems


def verification_lines() -> list[str]:
    from ketaflow.audit.services import audit_verify_all
    from ketaflow.ledger.verify import ledger_check

    lines = [r.message for r in audit_verify_all()]
    lines.append(ledger_check().chain.message)
    return lines
