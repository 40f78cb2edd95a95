"""The ``ketaflow`` command.

Each group of subcommands lives in its own module that exposes ``register(subparsers)``.
A subcommand's handler receives the parsed ``argparse.Namespace`` and returns an exit code.
Expected failures raise :class:`ketaflow.cli.common.CliError` (or ``ValueError`` from the plain
clinical and pharmacokinetic packages); :func:`main` prints them as one line on stderr and exits 2.

Modules that need Django import it inside their handlers, so ``ketaflow score`` or
``ketaflow pk`` never start the web framework.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module

from ketaflow.cli.common import CliError

# Subcommand modules, in the order ``ketaflow --help`` lists them.
_MODULES = (
    "ketaflow.cli.web",  # serve, demo, audit, manage
    "ketaflow.cli.clinical",  # score, screen, dose
    "ketaflow.cli.vitals",  # vitals classify
    "ketaflow.cli.pk",  # pk simulate, pk population
    "ketaflow.cli.portal",  # worker
    "ketaflow.cli.ledger",  # ledger verify, ledger reconcile
    "ketaflow.cli.api",  # api token create, list, revoke
    "ketaflow.cli.backup",  # backup keygen, create, restore, verify
    "ketaflow.cli.research",  # research export
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketaflow",
        description="KetaFlow: run a ketamine infusion clinic.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _MODULES:
        import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except (CliError, ValueError) as exc:
        print(f"ketaflow {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"ketaflow {args.command}: error: the input is nested too deeply", file=sys.stderr)
        return 2
    except (OverflowError, MemoryError):
        print(
            f"ketaflow {args.command}: error: a value is too large to compute with; "
            "check the values given",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"ketaflow {args.command}: error: cannot use{where}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:
        # The reader went away (e.g. `ketaflow demo | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"ketaflow {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        message = _django_message(exc)
        if message is None:
            raise
        print(f"ketaflow {args.command}: error: {message}", file=sys.stderr)
        return 2
    return code


def _django_message(exc: Exception) -> str | None:
    """One line for the errors of a command that uses the database: a model's validation error
    naming each field, or a database that cannot be used (not migrated, not reachable); ``None``
    for anything else. Django is only consulted if it is already loaded."""
    if "django" not in sys.modules:
        return None
    from django.core.exceptions import ValidationError
    from django.db import DatabaseError

    if isinstance(exc, DatabaseError):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return (
            f"cannot use the database ({first}); is it migrated (ketaflow manage migrate) "
            "and reachable (DATABASE_URL)?"
        )
    if not isinstance(exc, ValidationError):
        return None
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors)
            for field, errors in exc.message_dict.items()
        )
    return " ".join(exc.messages)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
