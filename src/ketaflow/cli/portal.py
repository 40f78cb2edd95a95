"""``ketaflow worker``: the portal's timed work, in a loop or once (for cron and tests).

Each pass: bring the measurement plan's due questionnaires up to date, queue reminders, send
the email outbox (failures are kept, retried with backoff and logged), sign each hash
chain's head into the checkpoint file when it moved (ketaflow.audit.checkpoints), take the
scheduled backup when it is due (ketaflow.backup.schedule) and record its heartbeat.
"""

from __future__ import annotations

import argparse
import logging
import time

from ketaflow.cli.common import CliError
from ketaflow.cli.web import _setup_django

log = logging.getLogger("ketaflow.worker")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError("the interval must be between 1 and 3600 seconds")
    return value


# The chains' heads this process last checkpointed (chain name -> (seq, hash)).
_CHECKPOINTED: dict[str, tuple[int, str]] = {}


def worker_pass() -> str:
    """One pass of the timed work; returns a one-line summary."""
    from ketaflow.audit.checkpoints import checkpoint_moved, configured_file
    from ketaflow.backup.schedule import heartbeat, scheduled_backup
    from ketaflow.portal.outbox import outbox_send
    from ketaflow.portal.plan import plan_generate, reminders_queue

    plan = plan_generate()
    reminders = reminders_queue()
    sent = outbox_send()
    path = configured_file()
    checkpoints = len(checkpoint_moved(path, _CHECKPOINTED)) if path is not None else 0
    backup = scheduled_backup()
    heartbeat()
    return (
        f"due questionnaires: {plan.created} new, {plan.updated} moved, {plan.expired} expired; "
        f"reminders queued: {reminders}; emails sent: {sent.sent}, failed: {sent.failed}; "
        f"chain heads checkpointed: {checkpoints}; backup: {backup}"
    )


def cmd_worker(args: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings
    from django.db import DatabaseError

    interval: float = args.interval or settings.WORKER_INTERVAL_SECONDS
    if args.once:
        try:
            print(worker_pass(), flush=True)
        except DatabaseError as exc:
            raise CliError(f"database: {exc}") from None
        except OSError as exc:
            raise CliError(f"checkpoint file: {exc}") from None
        return 0
    print(f"KetaFlow worker: a pass every {interval:g} s (Ctrl-C stops)", flush=True)
    while True:
        try:
            summary = worker_pass()
            if args.verbose:
                print(summary, flush=True)
        except Exception:  # one failed pass must not stop the reminders and urgent notices
            log.exception("worker pass failed; retrying after the interval")
        time.sleep(interval)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = subparsers.add_parser(
        "worker",
        help="run the portal's timed work: due questionnaires, reminders, the email outbox",
        description="Generate due questionnaires, queue reminders and send the email outbox, "
        "every --interval seconds (default KETAFLOW_WORKER_INTERVAL_SECONDS, 30), or once.",
    )
    worker.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    worker.add_argument("--interval", type=_seconds, default=None, help="seconds between passes")
    worker.add_argument("--verbose", action="store_true", help="print a summary of each pass")
    worker.set_defaults(handler=cmd_worker)
