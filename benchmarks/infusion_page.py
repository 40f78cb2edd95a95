"""The infusion page's server time and query count (issue 15 item 1, issue 14 item 9), on the
demo clinic. Figures quoted in docs/performance-web.md ("The infusion page").

    .venv/bin/python benchmarks/infusion_page.py                     # 30 renders of each page
    .venv/bin/python benchmarks/infusion_page.py --repeats 60 --var-dir /tmp/infbench

It loads the demo clinic into a scratch SQLite database (a temporary ``KETAFLOW_VAR_DIR``; with
``--var-dir`` it is kept and reused) and renders, through Django's test client (the whole
request: middleware, access check, audit write, the page's reads, its charts and template; no
network), the infusion page of the demo's running infusion as the nurse and of its completed,
signed infusion as the prescriber. For each: median and 95th percentile of the server time in
milliseconds after 2 warm-up renders, of the process's CPU time of the same renders (the
server's own work; on a loaded machine the wall clock also counts the time the process waits
for a core), and the number of SQL queries one render makes (``CaptureQueriesContext``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from demo_clinic import demo_clinic  # noqa: E402  (this folder, the script's own)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--var-dir", help="keep the scratch database here and reuse it on the next run"
    )
    args = parser.parse_args()
    demo_clinic(args.var_dir, prefix="ketaflow-infusion-bench-")
    return run(args.repeats)


def run(repeats: int) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from ketaflow.accounts.models import User
    from ketaflow.infusions.models import InfusionSession

    nurse = User.objects.get(username="nurse")
    prescriber = User.objects.get(username="prescriber")
    mine = InfusionSession.objects.filter(patient__clinic=nurse.clinic)
    running = mine.filter(status=InfusionSession.Status.RUNNING).first() or mine.exclude(
        started_at=None
    ).latest("started_at")
    signed = mine.filter(status=InfusionSession.Status.SIGNED).order_by("-pk").first()
    cases = [("running infusion, nurse", nurse, running)]
    if signed is not None:
        cases.append(("signed infusion, prescriber", prescriber, signed))

    print(f"# Infusion page, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    load = os.getloadavg()
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} / {load[1]:.1f}; demo clinic on SQLite; {repeats} renders "
        "after 2 warm-up renders; milliseconds.\n"
    )
    print(
        "| page | session | vitals / pump events | queries | median ms | p95 ms "
        "| CPU median ms | CPU p95 ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, user, session in cases:
        client = Client()
        client.force_login(user)
        url = reverse("infusion_session", args=[session.pk])
        for _ in range(2):
            assert client.get(url).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        count = len(queries.captured_queries)
        times, cpu = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            assert response.status_code == 200
        print(
            f"| {name} | {session.pk} | {session.vitals.count()} / {session.events.count()} "
            f"| {count} | {statistics.median(times):.1f} | {p95(times):.1f} "
            f"| {statistics.median(cpu):.1f} | {p95(cpu):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
