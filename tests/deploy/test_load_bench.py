"""The load benchmark's smoke run (``benchmarks/load/run.py --quick``), so that its clinic day
cannot rot: a URL, a form field or the login flow the scenario relies on changes, and this
fails. On SQLite, with two gunicorn workers and the worker, a few seconds per stage; the
figures themselves are not checked (a shared machine's timings are no test).

The subprocess inherits this run's ``KETAFLOW_ENV=test`` (tests/settings.py): its fast password
hasher keeps the logins cheap. The benchmark's real runs use the app's own settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.builders import PG_BINS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("load-bench")]

REPO = Path(__file__).resolve().parents[2]
ROLES = ("nurse", "prescriber", "front desk", "patient", "director")
DEPLOYED_PYTHON = "/usr/bin/python3.11"  # the app's interpreter in benchmarks/load/run.py


def test_quick_load_run_covers_every_role_without_a_failure(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "benchmarks/load/run.py", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "load.json").read_text())
    (db,) = report["databases"]
    assert db["database"] == "sqlite"
    day, read, health = db["stages"]
    assert [s["mix"] for s in (day, read, health)] == ["day", "read", "healthz"]
    for s in (day, read, health):
        assert s["total"]["requests"] > 0, s
        assert s["total"]["failures"] == 0, s
    assert day["logins"]["count"] == 5
    assert day["logins"]["failed_count"] == 0
    actions = set(day["actions"])
    for role in ROLES:
        assert any(a.startswith(f"{role}:") for a in actions), (role, sorted(actions))
    writes = {a for a, v in day["actions"].items() if v["kind"] == "write"}
    assert all(read["actions"][a]["kind"] == "page read" for a in read["actions"])
    assert writes, day["actions"]
    assert "| clinic day | 5 |" in (tmp_path / "load").with_suffix(".md").read_text()
    # The app ran as deployed: under Debian's interpreter when the machine has it, from an
    # environment without the development tools (not the benchmark's own).
    if Path(DEPLOYED_PYTHON).exists():
        assert report["app_python"].endswith(f"({DEPLOYED_PYTHON})"), report["app_python"]
        app_env = tmp_path / "app-env"
        assert (app_env / "bin" / "gunicorn").exists()
        assert not (app_env / "bin" / "pytest").exists()  # no development tools
    # Each window's CPU: the server's process tree (gunicorn's master and its workers) and the
    # client's, a positive figure a request (a tree read wrongly gives 0 or none).
    for s in (day, read, health):
        assert s["cpu"]["server_s"] > 0, s["cpu"]
        assert s["cpu"]["server_ms_per_request"] > 0, s["cpu"]
        assert s["cpu"]["client_s"] > 0, s["cpu"]
        assert "database_s" not in s["cpu"]  # SQLite: no database server


def run_with_a_burning_child(script: str) -> str:
    """Run ``script`` in a new interpreter in the repository and return what it printed;
    ``script`` finds in ``burn(seconds, then="")`` the code of a child that spends that much
    CPU, then runs ``then``."""
    prelude = (
        "import subprocess, sys\n"
        "def burn(seconds, then=''):\n"
        "    code = 'import time\\nt = time.process_time()\\n'\n"
        "    code += f'while time.process_time() - t < {seconds}: pass\\n'\n"
        "    return code + then\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_process_that_ends_within_the_window_keeps_its_cpu_in_the_tree() -> None:
    """The report's CPU a request: a PostgreSQL backend or a gunicorn worker that ends between
    the window's two readings is counted with its parent (its reaped seconds), so the figure
    is never short of it, nor negative (it was: "+ -0.4" ms for the database)."""
    printed = run_with_a_burning_child(
        "import os\n"
        "sys.path.insert(0, 'benchmarks/load')\n"
        "from scenario import tree_cpu\n"
        "before, _ = tree_cpu(os.getpid())\n"
        "subprocess.run([sys.executable, '-c', burn(0.5)], check=True)\n"
        "after, _ = tree_cpu(os.getpid())\n"
        "print(after - before)\n"
    )
    assert float(printed) >= 0.5  # the child's half second, though it had ended


def test_page_costs_reads_a_database_servers_cpu_from_its_process() -> None:
    """page_costs.py --database-url: the server's CPU a page is its backend's run time
    (/proc/PID/schedstat), here a child that burns a third of a second; SQLite has none."""
    printed = run_with_a_burning_child(
        "sys.path.insert(0, 'benchmarks')\n"
        "from page_costs import backend_cpu_ms\n"
        "assert backend_cpu_ms(None) == 0.0\n"
        "code = burn(0.33, then='import sys\\nprint(flush=True)\\nsys.stdin.read()')\n"
        "child = subprocess.Popen(\n"
        "    [sys.executable, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE\n"
        ")\n"
        "child.stdout.readline()  # burnt, still running\n"
        "print(backend_cpu_ms(child.pid))\n"
        "child.communicate(b'')\n"
    )
    assert float(printed) >= 330  # the child's third of a second, in milliseconds


def test_the_benchmarks_postgresql_is_reached_by_its_socket_as_the_deployment_reaches_it() -> None:
    """The load and fault benchmarks' app connects to their throwaway PostgreSQL through its
    Unix socket, as an installed clinic's does (``postgres:///ketaflow``, deploy/install.sh):
    over TCP on loopback each statement cost both sides more, and the figures were of a setup
    no clinic runs. ``Postgres.url`` parsed as the app's settings parse it names the socket's
    folder, and the server sees the connection come from no address (a Unix socket)."""
    if not PG_BINS:
        pytest.skip("PostgreSQL's server is not installed (make system-deps installs it)")
    script = (
        "import json, shutil, sys, tempfile\n"
        "from pathlib import Path\n"
        "import dj_database_url, psycopg\n"
        "sys.path.insert(0, 'benchmarks')\n"
        "from fault_kill import postgres\n"
        "tmp = Path(tempfile.mkdtemp(prefix='ketaflow-bench-pg.'))\n"
        "try:\n"
        "    (tmp / 'pg').mkdir()\n"
        "    with postgres(tmp / 'pg') as pg:\n"
        "        db = dj_database_url.parse(pg.url())\n"
        "        with psycopg.connect(\n"
        "            host=db['HOST'], port=db['PORT'], user=db['USER'], dbname=db['NAME']\n"
        "        ) as conn:\n"
        "            row = conn.execute('SELECT inet_server_addr()::text').fetchone()\n"
        "            print(json.dumps({'folder': str(tmp / 'pg'), 'host': db['HOST'],\n"
        "                              'connected': conn.info.host, 'address': row[0]}))\n"
        "finally:\n"
        "    shutil.rmtree(tmp, ignore_errors=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["host"] == seen["connected"] == seen["folder"]
    assert seen["address"] is None  # not 127.0.0.1: no TCP
