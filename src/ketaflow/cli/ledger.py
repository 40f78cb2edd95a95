"""Subcommands of ``ketaflow`` for the controlled-substance ledger: verify, reconcile."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from ketaflow.cli.common import CliError
from ketaflow.cli.web import add_checkpoints_argument


def _setup_django() -> None:
    from ketaflow.cli.web import _setup_django as setup

    setup()


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.cli.web import checkpoint_file, warn_missing_triggers
    from ketaflow.ledger.verify import ledger_check

    path = checkpoint_file(args.checkpoints)
    warn_missing_triggers()
    report = ledger_check(checkpoints=path)
    if report.ok:
        against = f"; checkpoints in {path} match" if path else "; no checkpoint file"
        print(
            f"{report.chain.message}; vial balances, receipts, counts and audit entries "
            f"match{against}"
        )
        return 0
    if not report.chain.ok:
        print(
            f"LEDGER CHAIN BROKEN: {report.chain.message} ({report.chain.checked} entries read)",
            file=sys.stderr,
        )
    for problem in report.problems:
        print(f"TAMPERING: {problem}", file=sys.stderr)
    return 1


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_ledger_reconcile(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.accounts.models import Clinic
    from ketaflow.ledger.services import reconcile_clinic

    clinic = Clinic.objects.filter(slug=args.clinic).first()
    if clinic is None:
        raise CliError(f"no clinic with the slug {args.clinic!r}")
    from ketaflow.treatment.services import clinic_today

    today = clinic_today(clinic)
    day: dt.date = args.day or today
    if day > today:
        raise CliError(f"--day {day.isoformat()} is in the future (today is {today.isoformat()})")
    result = reconcile_clinic(clinic, day)
    print(
        f"{clinic.name}, end of {day.isoformat()}: received {result.total('received_mg')} mg "
        f"(adjusted {result.total('adjusted_mg')} mg) = given {result.total('given_mg')} + "
        f"wasted {result.total('wasted_mg')} + destroyed {result.total('destroyed_mg')} + "
        f"lost {result.total('lost_mg')} + on hand {result.total('on_hand_mg')} mg"
    )
    if result.balanced:
        print(
            f"balanced: {len(result.vials)} vials, {len(result.sessions)} sessions in which "
            f"ketamine was given, {len(result.unlinked_draws)} draws without a session checked"
        )
        return 0
    for problem in result.problems:
        print(f"NOT BALANCED: {problem}", file=sys.stderr)
    return 1


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    ledger = subparsers.add_parser(
        "ledger",
        help="the controlled-substance ledger",
        description="The controlled-substance (ketamine, Schedule III) ledger.",
    )
    sub = ledger.add_subparsers(dest="ledger_command", metavar="SUBCOMMAND", required=True)
    verify = sub.add_parser(
        "verify",
        help="check the ledger's hash chain",
        description="Check every ledger entry against the ledger's hash chain, the chain "
        "against its signed checkpoints, each entry against its audit entry, each vial's "
        "balance against its entries, and receipts and counts against their audit entries. "
        "Exit 0 and say so when all is intact; exit 1 listing each problem.",
    )
    add_checkpoints_argument(verify)
    verify.set_defaults(handler=cmd_ledger_verify)
    reconcile = sub.add_parser(
        "reconcile",
        help="where every milligram was at the end of a day",
        description="Per vial, received = given + wasted + destroyed + lost + on hand, and "
        "every session's ledger amount against its infusion record. Exit 0 when balanced, "
        "1 listing each problem.",
    )
    reconcile.add_argument("--clinic", required=True, help="the clinic's slug")
    reconcile.add_argument("--day", type=_day, default=None, help="YYYY-MM-DD (default today)")
    reconcile.set_defaults(handler=cmd_ledger_reconcile)
