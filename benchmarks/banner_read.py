"""The urgent banner's read on every staff page (``ketaflow.web.context.urgent_tasks``), against
the read it replaced in the same run: the oldest open tasks with their patient's whole row
(``select_related("patient")``) against only what the banner shows (``BANNER_FIELDS``).
CPU milliseconds a read (compiling the statement and running it), on the demo clinic, as its
nurse (issue 16; figures in docs/performance-web.md, "Session 13").

    .venv/bin/python benchmarks/banner_read.py                         # 7 rounds of 300
    .venv/bin/python benchmarks/banner_read.py --rounds 9 --var-dir /tmp/pagecosts
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "benchmarks")]

from demo_clinic import demo_clinic  # noqa: E402  (this folder, the script's own)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reads", type=int, default=300, help="reads a round")
    parser.add_argument("--var-dir", help="keep the scratch database here and reuse it")
    args = parser.parse_args()
    if args.rounds < 1 or args.reads < 1:
        parser.error("--rounds and --reads must be 1 or more")
    demo_clinic(args.var_dir, prefix="ketaflow-banner-read-")

    from ketaflow.accounts.models import User
    from ketaflow.portal.access import tasks_for_user
    from ketaflow.web.context import BANNER_FIELDS, BANNER_TASKS

    nurse = User.objects.get(username="nurse")
    open_tasks = tasks_for_user(nurse).filter(acknowledged_at__isnull=True)
    reads: dict[str, Callable[[], list[object]]] = {
        "whole patient row (before)": lambda: list(
            open_tasks.select_related("patient").order_by("created_at")[:BANNER_TASKS]
        ),
        "the banner's fields (now)": lambda: list(
            open_tasks.select_related("patient")
            .only(*BANNER_FIELDS)
            .order_by("created_at")[:BANNER_TASKS]
        ),
    }
    cpu: dict[str, list[float]] = {name: [] for name in reads}
    for read in reads.values():  # warm up
        for _ in range(50):
            read()
    for _ in range(args.rounds):  # alternated, so the machine's drift falls on both
        for name, read in reads.items():
            start = time.process_time()
            for _ in range(args.reads):
                read()
            cpu[name].append((time.process_time() - start) / args.reads * 1000)
    print(f"{open_tasks.count()} open tasks; {args.rounds} rounds of {args.reads} reads\n")
    print("| read | CPU ms a read, median of the rounds | rounds (ms) |")
    print("| --- | ---: | --- |")
    for name, values in cpu.items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        print(f"| {name} | {statistics.median(values):.2f} | {rounds} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
