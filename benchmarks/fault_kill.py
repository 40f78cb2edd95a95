"""Faults: SIGKILL the app, the worker and PostgreSQL in the middle of a write stream.

    .venv/bin/python benchmarks/fault_kill.py [--seconds 40] [--writers 4]

On loopback, with the production pieces (PostgreSQL with its default durability, the app under
gunicorn with three worker processes, ``ketaflow worker``): the demo clinic is loaded, then
two kinds of writes run without pause and each write the server acknowledged is remembered:

- vitals of the demo's running infusion, POSTed to the REST API by ``--writers`` threads (each
  with its own ``client_uuid``; acknowledged = HTTP 201, which comes after the commit);
- controlled-substance receipts (one vial each, a new invoice number each), recorded by a
  separate process through ``ketaflow.ledger.services.stock_receive`` (acknowledged = the
  service returned, after its transaction committed), as the ledger's pages do.

While they run, the app (gunicorn's master and workers), the worker and then the whole
PostgreSQL server are killed with SIGKILL, each restarted a moment later; the writers keep
going and retry. At the end every acknowledged write must be in the database, ``ketaflow audit
verify`` and ``ketaflow ledger verify`` must pass, and ``ketaflow ledger reconcile`` must find
the demo clinic's ledger balanced. Exit 0 and a Markdown summary when all hold, 1 otherwise.
Needs Debian's PostgreSQL server (``make system-deps``). Figures: docs/performance-web.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        raise SystemExit("fault_kill: no PostgreSQL server installed (make system-deps)")
    return found[-1].parent


@dataclass
class Postgres:
    """A throwaway cluster with PostgreSQL's default durability (fsync and synchronous commit
    on: a crash may lose nothing that was acknowledged)."""

    data: Path
    port: int
    as_pg: list[str]
    log: Path

    def url(self, name: str = "postgres") -> str:
        """The app's ``DATABASE_URL``: the server's Unix socket (its folder, percent-encoded, as
        the host), as the deployment connects (``postgres:///ketaflow``, deploy/install.sh), not
        TCP on loopback, which costs both sides more for each statement."""
        return f"postgres://ketaflow@{quote(str(self.data.parent), safe='')}:{self.port}/{name}"

    def start(self) -> None:
        for attempt in range(5):
            done = subprocess.run(
                [
                    *self.as_pg,
                    str(pg_bin() / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-w",
                    "-o",
                    f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data.parent}",
                    "start",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if done.returncode == 0:
                return
            time.sleep(1 + attempt)
        tail = "\n".join(self.log.read_text().splitlines()[-10:])
        raise SystemExit(f"fault_kill: PostgreSQL did not start again\n{tail}")

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend (as a crash would)."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
        pids = [pid, *map(int, children)]
        for p in pids:
            with suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
            time.sleep(0.1)  # gone (reaped by init) before the next start

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_pg,
                str(pg_bin() / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@contextmanager
def postgres(tmp: Path) -> Iterator[Postgres]:
    as_pg: list[str] = []
    if os.getuid() == 0:  # PostgreSQL refuses root: run it as Debian's postgres user
        tmp.parent.chmod(0o755)
        shutil.chown(tmp, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_pg,
            str(pg_bin() / "initdb"),
            "-D",
            str(tmp / "data"),
            "-U",
            "ketaflow",
            "-A",
            "trust",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pg = Postgres(tmp / "data", free_port(), as_pg, tmp / "server.log")
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


@dataclass
class Service:
    """A process group we can kill and start again."""

    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=out, stderr=out, start_new_session=True, cwd=ROOT
        )

    def kill(self) -> None:
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class Tally:
    acknowledged: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def wait_for(url: str, seconds: float = 120, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    tail = "\n".join(log.read_text().splitlines()[-15:]) if log and log.exists() else ""
    raise SystemExit(f"fault_kill: {url} did not answer in {seconds:.0f} s\n{tail}")


def vitals_writer(
    base: str, token: str, session_id: int, stop: threading.Event, tally: Tally
) -> None:
    url = f"{base}/api/sessions/{session_id}/vitals/"
    while not stop.is_set():
        key = str(uuid.uuid4())
        body = json.dumps(
            {
                "client_uuid": key,
                "systolic_mmhg": 122,
                "diastolic_mmhg": 78,
                "heart_rate_bpm": 72,
                "spo2_percent": 98,
                "respiratory_rate_per_min": 14,
            }
        ).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                if answer.status == 201:
                    with tally.lock:
                        tally.acknowledged.append(key)
                    continue
                reason = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code}"
        except OSError as exc:
            reason = type(getattr(exc, "reason", exc)).__name__
        with tally.lock:
            tally.refused[reason] += 1
        time.sleep(0.05)


LEDGER_WRITER = r"""
import datetime as dt, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaflow.settings")
django.setup()
from django.db import close_old_connections
from ketaflow.audit.context import Actor
from ketaflow.accounts.models import User
from ketaflow.ledger import services
from ketaflow.ledger.models import Product, Receipt
out = open(sys.argv[1], "a", buffering=1)
stop_file = sys.argv[2]
nurse = User.objects.get(username="nurse")
template = Receipt.objects.filter(clinic=nurse.clinic).order_by("pk").first()
n = 0
while not os.path.exists(stop_file):
    n += 1
    invoice = f"FAULT-{os.getpid()}-{n}"
    try:
        product = Product.objects.filter(clinic=nurse.clinic).order_by("pk").first()
        services.stock_receive(
            actor=Actor(user=nurse), product=product, lot="FAULT-LOT",
            expires_on=dt.date.today() + dt.timedelta(days=300), vial_count=1,
            supplier_name=template.supplier_name, supplier_address=template.supplier_address,
            supplier_dea_number=template.supplier_dea_number, invoice_number=invoice,
        )
    except Exception as exc:  # the database is down: not acknowledged, try again
        print("refused", type(exc).__name__, file=sys.stderr, flush=True)
        close_old_connections()
        from django.db import connection
        connection.close()
        time.sleep(0.2)
        continue
    out.write(invoice + "\n")
"""


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the write stream")
    parser.add_argument("--writers", type=int, default=4, help="threads POSTing vitals")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ketaflow-fault."))
    (tmp / "pg").mkdir()
    try:
        with postgres(tmp / "pg") as pg:
            return _scenario(pg, tmp, args.seconds, args.writers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _scenario(pg: Postgres, tmp: Path, seconds: float, writers: int) -> int:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg.url(),
        "KETAFLOW_VAR_DIR": str(tmp / "var"),
        "KETAFLOW_API_RATE": "1000000/min",
        "KETAFLOW_WORKER_INTERVAL_SECONDS": "1",
        "KETAFLOW_BACKUP_INTERVAL_HOURS": "0",
        "DJANGO_SETTINGS_MODULE": "ketaflow.settings",
        "PYTHONPATH": str(ROOT / "src"),
    }
    ketaflow = str(BIN / "ketaflow")
    demo = run([ketaflow, "demo"], env)
    if demo.returncode != 0:
        print(demo.stdout, demo.stderr)
        return 1
    token = run(
        [ketaflow, "api", "token", "create", "--user", "nurse", "--scope", "vitals:write"], env
    )
    secret = next(w for w in token.stdout.split() if w.startswith("kf_")) if token.stdout else ""
    if not secret:
        print(token.stdout, token.stderr)
        return 1
    session_id = int(
        run(
            [
                str(BIN / "python"),
                "-c",
                "import django; django.setup();"
                "from ketaflow.infusions.models import InfusionSession as S;"
                "print(S.objects.filter(started_at__isnull=False, ended_at__isnull=True,"
                " patient__clinic__slug='riverside').first().pk)",
            ],
            env,
        ).stdout.strip()
    )
    app = Service(
        [
            str(BIN / "gunicorn"),
            "ketaflow.wsgi",
            "--workers",
            "3",
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "1",
            "--no-control-socket",
            "--preload",  # the app is imported once, before the workers fork
            "--timeout",
            "120",
        ],
        env,
        tmp / "app.log",
    )
    worker = Service([ketaflow, "worker"], env, tmp / "worker.log")
    ledger_out, stop_file = tmp / "ledger-ack.txt", tmp / "stop"
    ledger = Service(
        [str(BIN / "python"), "-c", LEDGER_WRITER, str(ledger_out), str(stop_file)],
        env,
        tmp / "ledger-writer.log",
    )
    try:
        return _stream(
            pg, tmp, env, port, app, worker, ledger, secret, session_id, seconds, writers
        )
    finally:
        for service in (app, worker, ledger):
            service.kill()


def _stream(
    pg: Postgres,
    tmp: Path,
    env: dict[str, str],
    port: int,
    app: Service,
    worker: Service,
    ledger: Service,
    secret: str,
    session_id: int,
    seconds: float,
    writers: int,
) -> int:
    ketaflow = str(BIN / "ketaflow")
    ledger_out, stop_file = tmp / "ledger-ack.txt", tmp / "stop"
    base = f"http://127.0.0.1:{port}"
    app.start()
    worker.start()
    wait_for(base + "/healthz", log=app.log)
    ledger.start()
    stop = threading.Event()
    tally = Tally()
    threads = [
        threading.Thread(target=vitals_writer, args=(base, secret, session_id, stop, tally))
        for _ in range(writers)
    ]
    for t in threads:
        t.start()
    faults: list[str] = []
    step = seconds / 5
    time.sleep(step)
    app.kill()
    faults.append(f"app (gunicorn, 3 workers) SIGKILL at {step:.0f} s")
    time.sleep(1)
    app.start()
    wait_for(base + "/healthz", log=app.log)
    time.sleep(step)
    worker.kill()
    faults.append(f"worker SIGKILL at {2 * step:.0f} s")
    time.sleep(1)
    worker.start()
    time.sleep(step)
    pg.kill()
    faults.append(f"PostgreSQL (postmaster and backends) SIGKILL at {3 * step:.0f} s")
    time.sleep(1)
    pg.start()
    time.sleep(step)
    app.kill()
    pg.kill()
    faults.append(f"app and PostgreSQL together SIGKILL at {4 * step:.0f} s")
    time.sleep(1)
    pg.start()
    app.start()
    wait_for(base + "/healthz", log=app.log)
    time.sleep(step)
    stop.set()
    stop_file.write_text("stop")
    for t in threads:
        t.join()
    if ledger.proc is not None:
        ledger.proc.wait(timeout=30)
    app.kill()
    worker.kill()

    acked_vitals = set(tally.acknowledged)
    acked_receipts = set(ledger_out.read_text().split()) if ledger_out.exists() else set()
    check = run(
        [
            str(BIN / "python"),
            "-c",
            "import django, json, sys; django.setup();"
            "from ketaflow.infusions.models import VitalsEntry;"
            "from ketaflow.ledger.models import Receipt;"
            "print(json.dumps({'vitals': [str(u) for u in VitalsEntry.objects.values_list("
            "'client_uuid', flat=True)], 'receipts': list(Receipt.objects.filter("
            "invoice_number__startswith='FAULT-').values_list('invoice_number', flat=True))}))",
        ],
        env,
    )
    stored = json.loads(check.stdout)
    lost_vitals = acked_vitals - set(stored["vitals"])
    lost_receipts = acked_receipts - set(stored["receipts"])
    verify_audit = run([ketaflow, "audit", "verify"], env)
    verify_ledger = run([ketaflow, "ledger", "verify"], env)
    reconcile = run([ketaflow, "ledger", "reconcile", "--clinic", "riverside"], env)
    ok = (
        not lost_vitals
        and not lost_receipts
        and verify_audit.returncode == 0
        and verify_ledger.returncode == 0
        and reconcile.returncode == 0
        and len(acked_vitals) > 0
        and len(acked_receipts) > 0
    )
    print(f"faults, in a {seconds:.0f}-s write stream ({writers} vitals writers, 1 ledger writer):")
    for f in faults:
        print(f"- {f}")
    print()
    print("| check | result |")
    print("|---|---|")
    print(f"| vitals acknowledged (201) / lost | {len(acked_vitals)} / {len(lost_vitals)} |")
    failed = ", ".join(f"{n} {why}" for why, n in tally.refused.most_common())
    print(f"| vitals not acknowledged (the client retries) | {failed or 'none'} |")
    print(f"| ledger receipts acknowledged / lost | {len(acked_receipts)} / {len(lost_receipts)} |")
    for name, result in (
        ("ketaflow audit verify", verify_audit),
        ("ketaflow ledger verify", verify_ledger),
        ("ketaflow ledger reconcile --clinic riverside", reconcile),
    ):
        line = (result.stdout.strip() or result.stderr.strip()).splitlines()
        print(f"| `{name}` (exit {result.returncode}) | {line[-1] if line else ''} |")
    print()
    print("all hold" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
