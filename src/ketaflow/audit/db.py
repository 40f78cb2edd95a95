"""Database triggers that make tables append-only (SQLite and PostgreSQL).

The audit trail's table is always registered; other apps register theirs (the controlled-
substance ledger does, in its ``AppConfig.ready``) with :func:`register_append_only`. The
audit trail's triggers are installed by migration ``audit/0002_append_only_triggers``; an app
that registers a table installs them in its own migration with ``install_triggers(connection,
tables=[...])``. The test suite drops them only around the flush that ends a transactional test,
and reinstalls them for the next test: :func:`drop_triggers` and :func:`install_triggers`
without ``tables`` act on every registered table that exists in the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditentry"


@dataclass(frozen=True)
class AppendOnlyTable:
    table: str
    prefix: str  # names the triggers (``<prefix>_no_update`` ...) and the PostgreSQL function
    message: str  # the error the database raises on an UPDATE, DELETE or TRUNCATE

    def sqlite_install(self) -> list[str]:
        return [
            f"CREATE TRIGGER IF NOT EXISTS {self.prefix}_no_update BEFORE UPDATE ON {self.table} "
            f"BEGIN SELECT RAISE(ABORT, '{self.message}'); END",
            f"CREATE TRIGGER IF NOT EXISTS {self.prefix}_no_delete BEFORE DELETE ON {self.table} "
            f"BEGIN SELECT RAISE(ABORT, '{self.message}'); END",
        ]

    def sqlite_drop(self) -> list[str]:
        return [
            f"DROP TRIGGER IF EXISTS {self.prefix}_no_update",
            f"DROP TRIGGER IF EXISTS {self.prefix}_no_delete",
        ]

    def pg_install(self) -> list[str]:
        function = f"ketaflow_{self.prefix}_append_only"
        return [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{self.message}'; END; $$",
            f"DROP TRIGGER IF EXISTS {self.prefix}_no_change ON {self.table}",
            f"CREATE TRIGGER {self.prefix}_no_change BEFORE UPDATE OR DELETE ON {self.table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
            f"DROP TRIGGER IF EXISTS {self.prefix}_no_truncate ON {self.table}",
            f"CREATE TRIGGER {self.prefix}_no_truncate BEFORE TRUNCATE ON {self.table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]

    def pg_drop(self) -> list[str]:
        return [
            f"DROP TRIGGER IF EXISTS {self.prefix}_no_change ON {self.table}",
            f"DROP TRIGGER IF EXISTS {self.prefix}_no_truncate ON {self.table}",
        ]


LINK_TABLE = "audit_auditentrypatient"  # the patients each entry names (migration 0003)
AUDIT_TABLES = (TABLE, LINK_TABLE)
AUDIT_TABLE = AppendOnlyTable(TABLE, "audit", "audit entries are append-only")
AUDIT_LINK_TABLE = AppendOnlyTable(LINK_TABLE, "audit_link", "audit entries are append-only")
_REGISTRY: dict[str, AppendOnlyTable] = {TABLE: AUDIT_TABLE, LINK_TABLE: AUDIT_LINK_TABLE}


def register_append_only(table: str, *, prefix: str, message: str) -> AppendOnlyTable:
    """Make ``table`` one of the append-only tables (idempotent)."""
    if "'" in message or not prefix.isidentifier() or not table.isidentifier():
        raise ValueError(f"append-only table {table!r}: plain identifiers and message only")
    spec = AppendOnlyTable(table, prefix, message)
    _REGISTRY[table] = spec
    return spec


def registered_tables() -> list[str]:
    return list(_REGISTRY)


def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _present(
    connection: BaseDatabaseWrapper, tables: Iterable[str] | None
) -> list[AppendOnlyTable]:
    wanted = list(_REGISTRY) if tables is None else list(tables)
    unknown = [t for t in wanted if t not in _REGISTRY]
    if unknown:
        raise ValueError(f"not registered as append-only: {', '.join(unknown)}")
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    return [_REGISTRY[t] for t in wanted if t in existing]


def install_triggers(connection: BaseDatabaseWrapper, tables: Iterable[str] | None = None) -> None:
    """Install the triggers on ``tables`` (default: every registered table that exists)."""
    specs = _present(connection, tables)
    if connection.vendor == "postgresql":
        _run(connection, [sql for spec in specs for sql in spec.pg_install()])
    elif connection.vendor == "sqlite":
        _run(connection, [sql for spec in specs for sql in spec.sqlite_install()])
    else:
        raise RuntimeError(f"no append-only triggers for database vendor {connection.vendor}")


def drop_triggers(connection: BaseDatabaseWrapper, tables: Iterable[str] | None = None) -> None:
    specs = _present(connection, tables)
    if connection.vendor == "postgresql":
        _run(connection, [sql for spec in specs for sql in spec.pg_drop()])
    elif connection.vendor == "sqlite":
        _run(connection, [sql for spec in specs for sql in spec.sqlite_drop()])


def missing_triggers(connection: BaseDatabaseWrapper) -> list[str]:
    """Registered tables that exist but lack one of their append-only triggers (a table rebuilt
    by a migration on SQLite loses them; someone with database access can drop them)."""
    specs = _present(connection, None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'"
            )
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        present = {(str(table), str(name)) for table, name in cursor.fetchall()}
    suffixes = (
        ("no_change", "no_truncate")
        if connection.vendor == "postgresql"
        else ("no_update", "no_delete")
    )
    return [
        f"{spec.table}: trigger {spec.prefix}_{suffix} is missing"
        for spec in specs
        for suffix in suffixes
        if (spec.table, f"{spec.prefix}_{suffix}") not in present
    ]
