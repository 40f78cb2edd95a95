"""Subcommands of ``ketaflow`` for researchers: the clinic's de-identified export."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from ketaflow.cli.common import CliError


def _setup_django() -> None:
    from ketaflow.cli.web import _setup_django as setup

    setup()


def _out_dir(text: str) -> Path:
    """A new or empty directory (an export never mixes with or overwrites other files)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise CliError(f"--out {text}: is a file, not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise CliError(f"--out {text}: the directory is not empty (give a new or empty one)")
    return path


def _operator() -> str:
    """Who ran the command (the operating-system account), for the audit entry."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown account"


def cmd_research_export(args: argparse.Namespace) -> int:
    from ketaflow.research.files import parse_formats

    formats = parse_formats(args.format)
    out = _out_dir(args.out)
    _setup_django()
    from ketaflow.accounts.models import Clinic
    from ketaflow.audit.context import Actor
    from ketaflow.research.services import research_export

    clinic = Clinic.objects.filter(slug=args.clinic).first()
    if clinic is None:
        raise CliError(f"--clinic: no clinic with the slug {args.clinic!r}")

    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            print(f"patients {done}/{total}", file=sys.stderr, flush=True)

    export = research_export(
        actor=Actor.system(f"ketaflow research export ({_operator()})"),
        clinic=clinic,
        formats=formats,
        progress=progress,
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, data in export.files.items():
        (out / name).write_bytes(data)
    counts = ", ".join(f"{name} {n}" for name, n in export.counts.items())
    print(f"{clinic.name}: {len(export.files)} files in {out} ({counts})")
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    research = subparsers.add_parser(
        "research",
        help="the de-identified research export",
        description="Research data, de-identified by the HIPAA Safe Harbor method.",
    )
    sub = research.add_subparsers(dest="research_command", metavar="SUBCOMMAND", required=True)
    export = sub.add_parser(
        "export",
        help="a clinic's de-identified tables, data dictionary and manifest",
        description="Write one file per table (patients, courses, infusions, adverse events, "
        "questionnaires, outcomes, PK predictions, safety events), the data dictionary and the "
        "manifest into a new or empty directory. Dates are shifted per patient, ages over 89 "
        "grouped, research ids random for each export; free text is left out. Audited.",
    )
    export.add_argument("--clinic", required=True, help="the clinic's slug")
    export.add_argument("--out", required=True, help="a new or empty directory")
    export.add_argument(
        "--format", default="csv,parquet", help="csv, parquet or csv,parquet (default both)"
    )
    export.set_defaults(handler=cmd_research_export)
