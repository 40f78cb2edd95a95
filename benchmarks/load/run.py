"""Load: a clinic day against the production stack on loopback, on PostgreSQL and on SQLite.

    .venv/bin/python benchmarks/load/run.py                    # both databases, about 25 min
    .venv/bin/python benchmarks/load/run.py --db sqlite --users 10,50 --seconds 30
    .venv/bin/python benchmarks/load/run.py --quick            # a smoke run, SQLite, < 1 min

For each database: a fresh one (PostgreSQL: a throwaway cluster with its default durability,
started as ``benchmarks/fault_kill.py`` does, the app connected to its Unix socket as the
deployment's is; SQLite: a file in a temp folder, WAL), migrated and
loaded with the demo clinics, ``--clinics`` more like Riverside and ``--patients`` more patients
in each (``seed.py``), one login per simulated user. Then the production pieces: gunicorn with
``deploy/gunicorn.conf.py`` (``--workers`` sync worker processes, the app preloaded) and
``ketaflow worker``, both from an environment of their own made from ``uv.lock`` without the
development tools under ``--app-python`` (by default Debian's ``/usr/bin/python3.11``, the
interpreter ``deploy/install.sh`` installs, when present; ``this``: the benchmark's own
interpreter and environment); no nginx (TLS would cost the client here, not the app). The
stages, each a fresh locust process (``scenario.py``) whose users log in before the measured
window:

1. the clinic day at each of ``--users`` (10, 50, 200) with a ``--think``-second think time;
2. the saturation of the read mix: ``--saturation-users`` users, no think time, pages only;
3. the same users asking ``/healthz`` with no think time: the stack's ceiling.

The load average (``/proc/loadavg``) is recorded before and after each stage: the machine may be
shared. Each window's CPU is read from /proc when it opens and closes: gunicorn's master and
workers (the server) and, on PostgreSQL, the postmaster and its backends (the database), each
divided by the window's requests, and the client's own (locust): what a request costs apart
from how long it queued, and which side a change helped. Prints a Markdown report and writes it
with all figures as JSON into ``--out``
(default ``var/load/``). Exit 0 when every stage ran without a failed request or login, 1
otherwise, 2 on bad arguments. Figures: docs/performance-web.md ("Load").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fault_kill import Service, free_port, postgres  # a sibling benchmark's helpers

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
# The interpreter deploy/install.sh installs and builds the app's environment with (Debian's
# python3.11 package): a clinic's app runs under it, not under the developer's interpreter.
DEPLOYED_PYTHON = "/usr/bin/python3.11"
UV = ROOT / ".uv-bootstrap" / "bin" / "uv"  # the Makefile's

# The targets on this 2-core machine (issue 16 item 4).
TARGET_PAGE_P95_MS = 150.0  # at 50 users, page reads
TARGET_VITALS_P95_MS = 250.0  # at 50 users, a vitals save
TARGET_READ_RPS = 100.0  # saturation of the read mix
VITALS = "nurse: save vitals"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _counts(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"user counts must be 1 or more: {text!r}")
    return values


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", default="postgres,sqlite", help="postgres, sqlite or both")
    parser.add_argument("--users", type=_counts, default=[10, 50, 200], help="e.g. 10,50,200")
    parser.add_argument("--think", type=float, default=5.0, help="seconds between actions")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per stage")
    parser.add_argument("--saturation-users", type=int, default=20)
    parser.add_argument("--saturation-seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (0: conf's)")
    parser.add_argument("--clinics", type=int, default=4, help="clinics like Riverside, added")
    parser.add_argument("--patients", type=int, default=60, help="more patients per clinic")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "load")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument(
        "--app-python",
        default=DEPLOYED_PYTHON if Path(DEPLOYED_PYTHON).exists() else "",
        help=(
            "the interpreter the app and its worker run under, in an environment of their own "
            "made from uv.lock without development tools as deploy/install.sh makes it "
            f"(default: {DEPLOYED_PYTHON}, Debian's, the one the deployment installs, when "
            "present); 'this': the interpreter running the benchmark, in its own environment"
        ),
    )
    args = parser.parse_args(argv)
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    if not databases or set(databases) - {"postgres", "sqlite"}:
        parser.error(f"--db: postgres, sqlite or both, not {args.db!r}")
    if args.quick:
        if args.db == parser.get_default("db"):
            databases = ["sqlite"]
        args.users, args.seconds = [5], 6.0  # one user of each role
        args.saturation_users, args.saturation_seconds = 5, 4.0
        args.clinics, args.patients, args.think = 0, 2, 1.0
        args.workers = args.workers or 2
    if args.seconds <= 0 or args.saturation_seconds <= 0 or args.think < 0:
        parser.error("--seconds and --saturation-seconds must be above 0, --think 0 or more")
    if args.saturation_users < 1 or args.workers < 0 or args.clinics < 0 or args.patients < 0:
        parser.error("--saturation-users 1 or more; --workers, --clinics, --patients 0 or more")
    if args.app_python in ("", "this"):
        args.app_python = ""
    elif not Path(args.app_python).exists():
        parser.error(f"--app-python: no interpreter at {args.app_python}")
    args.databases = databases
    return args


def app_environment(python: str, out: Path) -> tuple[Path, str]:
    """The bin folder the app and its worker run from, and their interpreter's version. Given
    ``python``: an environment of its own under ``out`` made from uv.lock without development
    tools (``uv sync --frozen --no-dev``, as deploy/install.sh makes the deployment's; kept
    and brought up to date by each run); else this process's own environment."""
    if not python:
        return BIN, platform.python_version() + f" ({sys.executable})"
    if not UV.exists():
        raise SystemExit(f"load: {UV} is missing (make .venv/.synced installs it)")
    venv = out / "app-env"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    command = [str(UV), "sync", "--frozen", "--no-dev", "--python", python, "--quiet"]
    run(command, env, "making the app's environment")
    version = run(
        [str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
        env,
        "reading the app's interpreter",
    ).strip()
    return venv / "bin", f"{version} ({python})"


def run(cmd: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SystemExit(f"load: {what} failed (exit {done.returncode})\n{tail}")
    return done.stdout


def wait_healthy(base: str, log: Path, seconds: float = 180) -> None:
    """Until ``/healthz`` answers 200 (the database, the worker's heartbeat)."""
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5):
                return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    tail = "\n".join(log.read_text().splitlines()[-15:]) if log.exists() else ""
    raise SystemExit(f"load: {base}/healthz not healthy in {seconds:.0f} s ({last})\n{tail}")


def warm_up(base: str, workers: int) -> None:
    """Every worker imports the URL configuration and templates at its first requests."""

    def get(_: int) -> None:
        with suppress(OSError), urllib.request.urlopen(base + "/login/", timeout=120):
            pass

    with ThreadPoolExecutor(max_workers=workers * 2) as pool:
        list(pool.map(get, range(workers * 4)))


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[dict[str, str]]:
    """The environment that points the app at a fresh database of ``kind``."""
    (tmp / "var").mkdir(exist_ok=True)
    if kind == "sqlite":  # not a DATABASE_URL from the caller's environment
        yield {"DATABASE_URL": f"sqlite:///{tmp / 'var' / 'ketaflow.sqlite3'}"}
        return
    (tmp / "pg").mkdir()
    with postgres(tmp / "pg") as pg:
        yield {"DATABASE_URL": pg.url()}


def stage(
    base: str,
    seed: Path,
    tmp: Path,
    *,
    users: int,
    think: float,
    seconds: float,
    mix: str,
    one_each: bool = False,
    cpu_of: dict[str, int] | None = None,
) -> dict[str, Any]:
    out = tmp / f"stage-{mix}-{users}.json"
    before = load_average()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [
        sys.executable,
        str(HERE / "scenario.py"),
        *("--host", base, "--seed", str(seed), "--users", str(users)),
        *("--think", str(think), "--seconds", str(seconds), "--mix", mix),
        *("--out", str(out), "--steps", str(tmp / "totp-steps.json")),
        *(["--one-each"] if one_each else []),
        *(["--cpu-of", ",".join(f"{k}={v}" for k, v in cpu_of.items())] if cpu_of else []),
    ]
    log = tmp / "locust.log"
    with log.open("ab") as sink:
        done = subprocess.run(cmd, env=env, cwd=ROOT, stdout=sink, stderr=sink)
    if done.returncode != 0 or not out.exists():
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise SystemExit(f"load: the {mix} stage with {users} users failed\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["load_before"], result["load_after"] = before, load_average()
    return result


def measure(kind: str, args: argparse.Namespace, tmp: Path, app_bin: Path) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with database(kind, tmp) as db_env:
        env = {
            **os.environ,
            **db_env,
            "KETAFLOW_VAR_DIR": str(tmp / "var"),
            "KETAFLOW_BACKUP_INTERVAL_HOURS": "0",  # healthz: no backup is due
            "KETAFLOW_BIND": f"127.0.0.1:{port}",
            "DJANGO_SETTINGS_MODULE": "ketaflow.settings",
            "PYTHONPATH": str(ROOT / "src"),
        }
        if args.workers:
            env["KETAFLOW_WEB_WORKERS"] = str(args.workers)
        started = time.monotonic()
        run([str(app_bin / "ketaflow"), "manage", "migrate", "--no-input"], env, "migrate")
        seed = tmp / "seed.json"
        most = max([*args.users, args.saturation_users])
        seeded = run(
            [
                sys.executable,
                str(HERE / "seed.py"),
                str(seed),
                *("--clinics", str(args.clinics), "--patients", str(args.patients)),
                *("--users", str(most)),
            ],
            env,
            "loading the data",
        ).strip()
        loaded_s = time.monotonic() - started
        app = Service(
            [str(app_bin / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
            env,
            tmp / "gunicorn.log",
        )
        worker = Service([str(app_bin / "ketaflow"), "worker"], env, tmp / "worker.log")
        try:
            app.start()
            worker.start()
            wait_healthy(base, tmp / "gunicorn.log")
            workers = args.workers or _conf_workers(env)
            warm_up(base, workers)
            cpu_of = _cpu_roots(app, tmp)
            stages = []
            for users in args.users:
                print(f"load: {kind}, {users} users ({load_average()})", file=sys.stderr)
                stages.append(
                    stage(
                        base,
                        seed,
                        tmp,
                        users=users,
                        think=args.think,
                        seconds=args.seconds,
                        mix="day",
                        one_each=args.quick,
                        cpu_of=cpu_of,
                    )
                )
            for mix in ("read", "healthz"):
                print(f"load: {kind}, {mix} saturation ({load_average()})", file=sys.stderr)
                stages.append(
                    stage(
                        base,
                        seed,
                        tmp,
                        users=args.saturation_users,
                        think=0.0,
                        seconds=args.saturation_seconds,
                        mix=mix,
                        one_each=args.quick and mix != "healthz",
                        cpu_of=cpu_of,
                    )
                )
        finally:
            app.kill()
            worker.kill()
    log = (tmp / "gunicorn.log").read_text(errors="replace")
    return {
        "database": kind,
        "workers": workers,
        "worker_timeouts": log.count("WORKER TIMEOUT"),
        "seeded": seeded,
        "load_seconds": round(loaded_s, 1),
        "stages": stages,
    }


def _cpu_roots(app: Service, tmp: Path) -> dict[str, int]:
    """The process trees whose CPU a stage's window is charged with: gunicorn's master (its
    workers below it) and, on PostgreSQL, the postmaster (its backends below it)."""
    roots = {"server": app.proc.pid} if app.proc is not None else {}
    postmaster = tmp / "pg" / "data" / "postmaster.pid"
    if postmaster.exists():
        roots["database"] = int(postmaster.read_text().split()[0])
    return roots


def _cpu_ms(stage: dict[str, Any]) -> str:
    """The server's (and the database's) CPU milliseconds a request in the window."""
    cpu = stage.get("cpu", {})
    server = cpu.get("server_ms_per_request")
    if server is None:
        return "-"
    database = cpu.get("database_ms_per_request")
    return f"{server:,.1f}" + (f" + {database:,.1f}" if database is not None else "")


def _conf_workers(env: dict[str, str]) -> int:
    out = run(
        [
            sys.executable,
            "-c",
            "import runpy; print(runpy.run_path('deploy/gunicorn.conf.py')['workers'])",
        ],
        env,
        "reading gunicorn.conf.py",
    )
    return int(out.strip())


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def verdicts(report: dict[str, Any]) -> list[str]:
    """The issue's targets against this run's figures, one line each."""
    lines = []
    for db in report["databases"]:
        day = {s["users"]: s for s in db["stages"] if s["mix"] == "day"}
        if 50 in day:
            s = day[50]
            page = s["total"].get("pages_p95_ms")
            vitals = s["actions"].get(VITALS, {}).get("p95_ms")
            failures = s["total"]["failures"]
            ok = (
                page is not None
                and page <= TARGET_PAGE_P95_MS
                and vitals is not None
                and vitals <= TARGET_VITALS_P95_MS
                and failures == 0
            )
            lines.append(
                f"{db['database']}, 50 users: page p95 {_ms(page)} ms (target <= "
                f"{TARGET_PAGE_P95_MS:.0f}), vitals save p95 {_ms(vitals)} ms (<= "
                f"{TARGET_VITALS_P95_MS:.0f}), {failures} failed: "
                f"{'met' if ok else 'missed'} (load {s['load_before']})"
            )
        for s in db["stages"]:
            if s["mix"] == "read":
                rps = s["total"]["rps"]
                lines.append(
                    f"{db['database']}, read mix saturation: {rps:,.1f} requests/s (target >= "
                    f"{TARGET_READ_RPS:.0f}): {'met' if rps >= TARGET_READ_RPS else 'missed'} "
                    f"(load {s['load_before']})"
                )
    return lines


def markdown(report: dict[str, Any]) -> str:
    out = [
        f"Load run {report['started']} UTC: think time {report['think_s']} s, "
        f"{report['seconds']:.0f}-s windows (saturation {report['saturation_seconds']:.0f} s); "
        f"the app under Python {report['app_python']}.",
        "",
    ]
    for db in report["databases"]:
        out += [
            f"### {db['database']} (gunicorn, {db['workers']} sync workers; {db['seeded']}; "
            f"loaded in {db['load_seconds']:.0f} s; {db['worker_timeouts']} worker timeouts)",
            "",
            "| stage | users | requests/s | pages p50 / p95 / p99 ms | all p95 ms | failed |"
            " logins (p50 ms) | server CPU ms a request | load before -> after |",
            "|---|---:|---:|---|---:|---:|---|---:|---|",
        ]
        for s in db["stages"]:
            t = s["total"]
            label = {"day": "clinic day", "read": "read mix, no think", "healthz": "/healthz"}
            pages = (
                f"{_ms(t.get('pages_p50_ms'))} / {_ms(t.get('pages_p95_ms'))} / "
                f"{_ms(t.get('pages_p99_ms'))}"
            )
            logins = s["logins"]
            login = f"{logins['count']} ({_ms(logins['p50_ms'])})" if logins["count"] else "-"
            if logins["failed_count"]:
                login += f", {logins['failed_count']} failed"
            out.append(
                f"| {label[s['mix']]} | {s['users']} | {t['rps']:,.1f} | {pages} | "
                f"{_ms(t.get('all_p95_ms'))} | {t['failures']} | {login} | {_cpu_ms(s)} | "
                f"{s['load_before']} -> {s['load_after']} |"
            )
        out += [
            "",
            "| stage | action | kind | requests | requests/s | p50 ms | p95 ms | p99 ms |"
            " failed | refused |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in db["stages"]:
            where = f"{s['mix']} {s['users']}"
            for name, a in s["actions"].items():
                out.append(
                    f"| {where} | {name} | {a['kind']} | {a['requests']} | {a['rps']:,.2f} | "
                    f"{_ms(a['p50_ms'])} | {_ms(a['p95_ms'])} | {_ms(a['p99_ms'])} | "
                    f"{a['failures']} | {a['refused']} |"
                )
        errors = {
            f"{s['mix']} {s['users']}: {e}": n for s in db["stages"] for e, n in s["errors"].items()
        }
        if errors:
            out += ["", "Errors:", *(f"- {e} ({n})" for e, n in errors.items())]
        out.append("")
    out += ["Targets (issue 16):", *(f"- {line}" for line in verdicts(report)), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "think_s": args.think,
        "seconds": args.seconds,
        "saturation_seconds": args.saturation_seconds,
        "cpus": os.cpu_count(),
        "databases": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    app_bin, report["app_python"] = app_environment(args.app_python, args.out)
    for kind in args.databases:
        tmp = Path(tempfile.mkdtemp(prefix=f"ketaflow-load-{kind}."))
        try:
            report["databases"].append(measure(kind, args, tmp, app_bin))
        finally:
            if os.environ.get("KETAFLOW_LOAD_KEEP") != "1":  # kept: to read the logs
                shutil.rmtree(tmp, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    (args.out / "load.json").write_text(json.dumps(report, indent=1))
    (args.out / "load.md").write_text(text)
    print(text)
    failed = any(
        s["total"]["failures"] or s["logins"]["failed_count"]
        for db in report["databases"]
        for s in db["stages"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
