"""What each page of the load benchmark's read mix costs the server, one request at a time:
CPU milliseconds and SQL queries, on the demo clinic, against two baselines in the same run
(issue 16; figures in docs/performance-web.md, "Where a page's time goes").

    .venv/bin/python benchmarks/page_costs.py                  # 20 renders of each page
    .venv/bin/python benchmarks/page_costs.py --repeats 40 --var-dir /tmp/pagecosts
    .venv/bin/python benchmarks/page_costs.py --database-url postgres://ketaflow@127.0.0.1:5432/db

It loads the demo clinic into a scratch SQLite database (``--var-dir`` keeps and reuses it),
or with ``--database-url`` into that database (an empty PostgreSQL database: then each page's
CPU of the database server's process for the connection is reported as well),
logs each role in with its second factor passed (django-otp's session key, as the code page
sets it; staff second factor required, as in production) and asks, through Django's test client
(the whole request: every middleware, the access check, the audit entry, the page's reads and
template; no network), each page the read mix of ``benchmarks/load/scenario.py`` asks. The
baselines: ``/healthz`` (no login, a few queries, no template) and the nurse's request of a
page that does nothing (``/__empty__``, added for this run only): the fixed cost of a
logged-in request (session, user, second factor, session limits). For each page: the median and 95th
percentile of the process's CPU time after 2 warm-up requests, and the SQL statements one request
executes (counted by a ``connection.execute_wrapper``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "benchmarks")]

from demo_clinic import demo_clinic  # noqa: E402  (this folder, the script's own)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def backend_cpu_ms(pid: int | None) -> float:
    """The CPU milliseconds the database server's process for this connection has run (Linux's
    /proc/PID/schedstat, nanoseconds), or 0 without one (SQLite runs in the process). Not the
    load benchmark's ``tree_cpu``: its clock ticks (10 ms) are coarser than a page's few
    milliseconds of the server's."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0]) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--var-dir", help="keep the scratch database here and reuse it")
    parser.add_argument(
        "--database-url",
        help="load the demo into this database (an empty PostgreSQL database) instead of SQLite",
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    os.environ["KETAFLOW_STAFF_SECOND_FACTOR"] = "required"
    demo_clinic(args.var_dir, prefix="ketaflow-page-costs-", database_url=args.database_url)
    return run(args.repeats)


def run(repeats: int) -> int:
    from django.db import connection
    from django.http import HttpRequest, HttpResponse
    from django.test import Client
    from django.urls import clear_url_caches, path
    from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user

    import ketaflow.urls
    from ketaflow.accounts.models import User
    from ketaflow.infusions.models import InfusionSession
    from ketaflow.patients.models import Patient
    from ketaflow.treatment.models import Appointment

    def empty(request: HttpRequest) -> HttpResponse:
        return HttpResponse("")

    ketaflow.urls.urlpatterns.append(path("__empty__", empty))
    clear_url_caches()

    nurse = User.objects.get(username="nurse")
    mine = InfusionSession.objects.filter(patient__clinic=nurse.clinic)
    running = mine.filter(status=InfusionSession.Status.RUNNING).first() or mine.exclude(
        started_at=None
    ).latest("started_at")
    patient = Patient.objects.filter(clinic=nurse.clinic).order_by("pk").first()
    appointment = Appointment.objects.filter(patient__clinic=nurse.clinic).order_by("-pk").first()
    if patient is None or appointment is None:
        raise SystemExit("page_costs: the demo clinic has no patient or no appointment")
    pages = [
        ("-", "healthz (baseline: no login, no page)", "/healthz"),
        ("nurse", "empty page (baseline: a logged-in request)", "/__empty__"),
        ("nurse", "infusion page", f"/infusions/{running.pk}/"),
        ("nurse", "today's infusions", "/infusions/today/"),
        ("prescriber", "patient chart", f"/patients/{patient.pk}/"),
        ("prescriber", "outcome trajectory", f"/outcomes/patients/{patient.pk}/"),
        ("frontdesk", "patient search", "/patients/?q=a"),
        ("frontdesk", "chair board", "/treatment/board/"),
        ("frontdesk", "booking form", f"/treatment/appointments/{appointment.pk}/reschedule/"),
        ("patient", "portal home", "/portal/"),
        ("patient", "my scores", "/portal/scores/"),
        ("patient", "questionnaire", "/portal/answer/phq9/"),
        ("director", "outcomes dashboard", "/outcomes/dashboard/"),
        ("director", "ledger", "/ledger/"),
        ("director", "audit trail", "/audit/"),
        ("director", "home", "/"),
    ]
    clients: dict[str, Client] = {"-": Client()}
    for role in {r for r, _, _ in pages if r != "-"}:
        user = User.objects.get(username=role)
        client = Client()
        client.force_login(user)
        device = next(iter(devices_for_user(user)), None)
        if device is not None:  # the code page's work: the second factor passed
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        clients[role] = client

    print(f"# Page costs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    load = os.getloadavg()
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} / {load[1]:.1f}; demo clinic on {connection.display_name}; "
        f"{repeats} requests "
        "each after 2 warm-up requests; CPU milliseconds of the process.\n"
    )
    backend: int | None = None
    if connection.vendor == "postgresql":  # the server's CPU too: its process for this connection
        # one connection, so one server process, for the whole run (the app's is renewed
        # after 60 s; the benchmark's reading would then be another process's)
        connection.settings_dict["CONN_MAX_AGE"] = None
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    print(
        "| role | page | SQL statements | CPU median ms | CPU p95 ms |"
        + (" database server CPU mean ms |" if backend else "")
    )
    print("| --- | --- | ---: | ---: | ---: |" + (" ---: |" if backend else ""))
    total = total_server = 0.0
    for role, name, url in pages:
        client = clients[role]
        for _ in range(2):
            status = client.get(url).status_code
            if status not in (200, 503):  # /healthz: 503 without a worker's heartbeat
                raise SystemExit(f"page_costs: {url} as {role} answered HTTP {status}")
        statements = 0

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal statements
            statements += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        cpu = []
        server_before = backend_cpu_ms(backend)
        for _ in range(repeats):
            start = time.process_time()
            client.get(url)
            cpu.append((time.process_time() - start) * 1000)
        server = (backend_cpu_ms(backend) - server_before) / repeats
        median = statistics.median(cpu)
        if not name.startswith(("healthz", "empty")):
            total += median
            total_server += server
        print(
            f"| {role} | {name} | {statements} | {median:.1f} | {p95(cpu):.1f} |"
            + (f" {server:.1f} |" if backend else "")
        )
    print(
        f"\nThe read mix's pages, one each: {total:.0f} ms of CPU in all"
        + (f", and {total_server:.0f} ms of the database server's." if backend else ".")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
