"""``ketaflow upgrade``: check the chains, migrate, check them again."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command
from django.db import DatabaseError, connection

from ketaflow.backup.archive import BackupError, applied_migrations, chain_problems


def chains_and_checkpoints_problems(checkpoints: Path | None) -> list[str]:
    """What ``audit verify`` and ``ledger verify`` would report: every chain, the sealed notes,
    the ledger's cross-checks, each chain against its checkpoints, and append-only tables that
    lost their triggers."""
    from ketaflow.audit.checkpoints import checkpoints_verify
    from ketaflow.audit.db import missing_triggers

    problems = chain_problems()
    if checkpoints is not None:
        problems += [p.message for p in checkpoints_verify(checkpoints)]
    problems += missing_triggers(connection)
    return problems


def migrate() -> None:
    call_command("migrate", interactive=False, verbosity=0)


def _summary(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


def is_new_database() -> bool:
    """No migration recorded: a database made for a first installation, with no chain yet."""
    return not applied_migrations(connection)


def upgrade(checkpoints: Path | None) -> list[str]:
    """Check, migrate, check; returns the migrations applied. Raises :class:`BackupError` (one
    line) when a check fails: before, nothing is migrated. A new, empty database has nothing to
    check before: it is migrated and checked after (a first installation)."""
    if is_new_database():
        migrate()
        applied = applied_migrations(connection)
        problems = chains_and_checkpoints_problems(None)  # no checkpoint can exist for it yet
        if problems:
            raise BackupError(f"the new database does not verify: {_summary(problems)}")
        return applied
    try:
        problems = chains_and_checkpoints_problems(checkpoints)
    except DatabaseError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BackupError(
            f"refused: the chains cannot be checked before migrating ({first}); nothing was "
            "migrated. Verify them with the KetaFlow version that wrote them"
        ) from None
    if problems:
        raise BackupError(
            f"refused: the chains do not verify before the upgrade: {_summary(problems)}; "
            "nothing was migrated (details: ketaflow audit verify, ketaflow ledger verify)"
        )
    before = set(applied_migrations(connection))
    migrate()
    applied = sorted(set(applied_migrations(connection)) - before)
    problems = chains_and_checkpoints_problems(checkpoints)
    if problems:
        raise BackupError(
            f"the chains do not verify after migrating: {_summary(problems)}; restore the backup "
            "taken before the upgrade (ketaflow backup restore --force)"
        )
    return applied
