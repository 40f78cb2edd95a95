"""The deployment in deploy/, run for real on loopback: a throwaway PostgreSQL cluster, the app
under gunicorn and the worker started from the systemd units that ``deploy/install.sh`` renders
(their ExecStart, EnvironmentFile and WorkingDirectory, not a copy), and Debian's nginx with the
rendered site file and the self-signed certificate the script made. Then, over HTTPS: a nurse
logs in with password and TOTP and records a set of vitals on the running infusion; the
operator's commands (the rendered ``ketaflow`` wrapper) run ``upgrade``, back up while the app
runs, restore into a second database, verify the backup and both chains.

Runs in the SQLite pytest run (it brings its own PostgreSQL; scripts/test-postgres.sh runs
tests/web only, so it runs once). Skipped only where nginx or PostgreSQL's server is missing.
"""

from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pyotp
import pytest

from ketaflow.web.demo import demo_staff_secret
from tests.deploy.builders import PG_BINS

pytestmark = pytest.mark.xdist_group("deploy-stack")

REPO = Path(__file__).resolve().parents[2]
CLIENT_ADDRESS = "127.0.0.2"  # not nginx's 127.0.0.1: the audit must record the client
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited ({process.returncode}): {log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on port {port}: {log.read_text()[-3000:]}")


def env_file_values(path: Path) -> dict[str, str]:
    """NAME=value lines as systemd's EnvironmentFile= reads them (comments and blanks skipped,
    quotes around a whole value removed)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[name.strip()] = value
    return values


@dataclass(frozen=True)
class Unit:
    """What systemd would run for one rendered unit."""

    command: list[str]
    env_file: Path
    cwd: Path
    stdout: Path | None

    @classmethod
    def read(cls, path: Path) -> Unit:
        service: dict[str, str] = {}
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                name, _, value = line.partition("=")
                service[name] = value
        stdout = service.get("StandardOutput", "")
        return cls(
            command=shlex.split(service["ExecStart"]),
            env_file=Path(service["EnvironmentFile"]),
            cwd=Path(service["WorkingDirectory"]),
            stdout=Path(stdout.removeprefix("append:")) if stdout.startswith("append:") else None,
        )


def clean_environment() -> dict[str, str]:
    """This process's environment without the test suite's settings (pytest-django's
    DJANGO_SETTINGS_MODULE, a DATABASE_URL of scripts/test-postgres.sh, KETAFLOW_*), with
    the server's set of packages (server_python/brotli.py says why)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KETAFLOW_", "DJANGO_")) and k != "DATABASE_URL"
    }
    env["PYTHONPATH"] = str(Path(__file__).with_name("server_python"))
    return env


@dataclass
class Stack:
    root: Path
    pg_port: int
    https_port: int
    http_port: int
    app_port: int
    settings: dict[str, str]
    logs: dict[str, Path]
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def cert(self) -> Path:
        return Path(self.settings["KETAFLOW_TLS_CERT"])

    def database_url(self, name: str) -> str:
        return f"postgres://ketaflow@127.0.0.1:{self.pg_port}/{name}"

    def sql(
        self, query: LiteralString, *params: object, database: str = "ketaflow"
    ) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url(database)) as conn:
            return list(conn.execute(query, params).fetchall())

    def ketaflow(
        self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The operator's ``ketaflow`` (the rendered /usr/local/sbin/ketaflow wrapper)."""
        return subprocess.run(
            [str(self.root / "usr/local/sbin/ketaflow"), *args],
            env={**clean_environment(), **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def ketaflow_each(
        self, *calls: tuple[tuple[str, ...], dict[str, str]]
    ) -> list[subprocess.CompletedProcess[str]]:
        """Several ``ketaflow`` commands (arguments, environment) at once."""
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(lambda call: self.ketaflow(*call[0], env=call[1]), calls))

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, str]:
        context = ssl.create_default_context(cafile=str(self.cert))
        conn = http.client.HTTPSConnection(
            "localhost", self.https_port, context=context, source_address=(CLIENT_ADDRESS, 0)
        )
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["Origin"] = f"https://localhost:{self.https_port}"
            sent["Referer"] = f"https://localhost:{self.https_port}{path}"
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response, text

    def form_token(self, path: str) -> str:
        response, page = self.request("GET", path)
        assert response.status == 200, (path, response.status)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None, path
        return token.group(1)


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=clean_environment()
    )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result


@pytest.fixture(scope="module")
def postgres() -> Iterator[int]:
    """A throwaway PostgreSQL cluster on loopback (as the postgres user when root, as
    scripts/test-postgres.sh does); its superuser is ``ketaflow``."""
    if not Path(NGINX).exists():
        pytest.skip("Debian's nginx is not installed (make system-deps installs it)")
    if not PG_BINS:
        pytest.skip("PostgreSQL's server is not installed (make system-deps installs it)")
    pgbin = PG_BINS[-1].parent
    data = Path(tempfile.mkdtemp(prefix="ketaflow-stack-pg."))
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    initdb = [str(pgbin / "initdb"), "-D", str(data / "data"), "-U", "ketaflow", "-A", "trust"]
    _run([*as_pg, *initdb, "--no-sync", "-E", "UTF8"])
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off"
    pg_ctl = [str(pgbin / "pg_ctl"), "-D", str(data / "data"), "-l", str(data / "log")]
    _run([*as_pg, *pg_ctl, "-w", "-o", options, "start"])
    try:
        with psycopg.connect(
            f"postgres://ketaflow@127.0.0.1:{port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE ketaflow")
            conn.execute("CREATE DATABASE ketaflow_restore")
        yield port
    finally:
        subprocess.run(
            [*as_pg, str(pgbin / "pg_ctl"), "-D", str(data / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(data, ignore_errors=True)


NGINX_MAIN = """
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  # as Debian's /etc/nginx/nginx.conf
  sendfile on;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  client_body_temp_path {root}/nginx-tmp/body;
  proxy_temp_path {root}/nginx-tmp/proxy;
  fastcgi_temp_path {root}/nginx-tmp/fastcgi;
  uwsgi_temp_path {root}/nginx-tmp/uwsgi;
  scgi_temp_path {root}/nginx-tmp/scgi;
  include {root}/etc/nginx/sites-enabled/*;
}}
"""


@pytest.fixture(scope="module")
def stack(postgres: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    https_port, http_port, app_port = _free_port(), _free_port(), _free_port()
    _run(
        [
            *("bash", str(REPO / "deploy/install.sh"), "--prefix", str(root)),
            *("--app-dir", str(REPO), "--server-name", "localhost", "--workers", "2"),
            *("--https-port", str(https_port), "--http-port", str(http_port)),
            *("--app-bind", f"127.0.0.1:{app_port}"),
            *("--database-url", f"postgres://ketaflow@127.0.0.1:{postgres}/ketaflow"),
        ]
    )
    settings = env_file_values(root / "etc/ketaflow/ketaflow.env")
    stack = Stack(root, postgres, https_port, http_port, app_port, settings, {})
    # install.sh created the tables of the new database and collected the static files. The
    # demo clinic gives the nurse and the running infusion.
    demo = stack.ketaflow("demo", env={"KETAFLOW_ENV": "development"})
    assert demo.returncode == 0, demo.stderr

    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("web", "worker"):
            unit = Unit.read(root / f"etc/systemd/system/ketaflow-{name}.service")
            log = unit.stdout or root / f"{name}.out"
            stack.logs[name] = log
            with log.open("ab") as out:
                processes.append(
                    subprocess.Popen(
                        unit.command,
                        env={**clean_environment(), **env_file_values(unit.env_file)},
                        cwd=unit.cwd,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / "nginx-tmp" / folder).mkdir(parents=True)
        conf = root / "nginx.conf"
        # nginx's workers run as nobody under root: the test's folder is private to root.
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(NGINX_MAIN.format(root=root, user=user))
        _run([NGINX, "-t", "-q", "-c", str(conf), "-p", str(root)])
        stack.logs["nginx"] = root / "nginx-error.log"
        with (root / "nginx.out").open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [NGINX, "-c", str(conf), "-p", str(root), "-g", "daemon off;"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        _wait_for_port(app_port, processes[0], root / "var/log/ketaflow/web.log", "gunicorn")
        _wait_for_port(https_port, processes[2], root / "nginx.out", "nginx")
        yield stack
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_every_shell_script_parses() -> None:
    scripts = sorted([*REPO.glob("deploy/**/*.sh"), *REPO.glob("scripts/*.sh")])
    assert REPO / "deploy/install.sh" in scripts
    for script in scripts:
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"


def test_the_settings_example_documents_every_setting_the_app_reads() -> None:
    read = set()
    for path in (REPO / "src/ketaflow").rglob("*.py"):
        read |= set(
            re.findall(r"environ(?:\.get)?[\[(]\s*\"((?:KETAFLOW_|DATABASE_)\w+)", path.read_text())
        )
    assert {"KETAFLOW_SECRET_KEY", "DATABASE_URL", "KETAFLOW_BACKUP_DIR"} <= read
    example = (REPO / "deploy/ketaflow.env.example").read_text()
    readme = (REPO / "README.md").read_text()
    for name in sorted(read):
        assert re.search(rf"\b{name}\b", example), f"{name} is not in deploy/ketaflow.env.example"
    for name in set(re.findall(r"^#?(KETAFLOW_\w+)=", example, re.MULTILINE)):
        assert name in readme, f"{name} is not in README.md's configuration table"


def test_install_rehearsal_is_idempotent_and_keeps_secrets_private(stack: Stack) -> None:
    etc = stack.root / "etc/ketaflow"
    private = [etc / "ketaflow.env", etc / "audit.key", etc / "backup.key"]
    before = {path: path.read_bytes() for path in private}
    for path in private:
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert stack.settings["KETAFLOW_SECRET_KEY"] not in (etc / "audit.key").read_text()
    install = ["bash", str(REPO / "deploy/install.sh"), "--prefix", str(stack.root)]
    ports = ["--https-port", str(stack.https_port), "--http-port", str(stack.http_port)]
    _run([*install, "--app-dir", str(REPO), *ports])
    assert {path: path.read_bytes() for path in private} == before, "secrets kept on a re-run"
    # The rendered systemd units and logrotate file parse (where the tools are installed; the
    # ketaflow user exists on a server only, not here).
    units = sorted((stack.root / "etc/systemd/system").glob("ketaflow-*.service"))
    assert len(units) == 2
    if shutil.which("systemd-analyze"):
        check = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", *map(str, units)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr
        assert check.stderr.strip() == "", check.stderr
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if Path(logrotate).exists():
        state = str(stack.root / "logrotate.state")
        check = subprocess.run(
            [logrotate, "--debug", "--state", state, str(stack.root / "etc/logrotate.d/ketaflow")],
            capture_output=True,
            text=True,
        )
        errors = [
            line
            for line in check.stderr.splitlines()
            if line.startswith("error:")
            and "unknown user 'ketaflow'" not in line
            and not line.startswith("error: found error in")
        ]
        assert "reading config file" in check.stderr
        assert errors == []
    refused = subprocess.run(
        ["bash", str(REPO / "deploy/install.sh"), "--prefix", str(stack.root), "--workers", "x"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == "install.sh: --workers: x is not a number of processes"


def test_a_nurse_records_vitals_over_https_through_gunicorn_behind_nginx(stack: Stack) -> None:
    # The worker's first pass takes the first scheduled backup and beats: /healthz turns 200.
    deadline = time.monotonic() + 180
    while True:
        response, body = stack.request("GET", "/healthz")
        if response.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status == 200, (body, stack.logs["worker"].read_text()[-2000:])
    assert '"backup": {"ok": true' in body.replace('"backup":{"ok":true', '"backup": {"ok": true')
    assert sorted(Path(stack.settings["KETAFLOW_BACKUP_DIR"]).glob("ketaflow-*.kfbackup"))

    [(last_entry,)] = stack.sql("SELECT max(id) FROM audit_auditentry")
    response, _ = stack.request("GET", "/login/")
    assert "max-age=31536000" in (response.headers["Strict-Transport-Security"] or "")
    assert len(response.headers.get_all("Strict-Transport-Security") or []) == 1
    token = stack.form_token("/login/")
    response, _ = stack.request(
        "POST",
        "/login/",
        {"csrfmiddlewaretoken": token, "username": "nurse", "password": "ketaflow-demo"},
        headers={"X-Forwarded-For": "203.0.113.9"},  # forged: nginx appends the real one
    )
    assert response.status == 302, "the HTTPS login passes CSRF behind nginx and gunicorn"
    token = stack.form_token("/account/verify/")
    code = pyotp.TOTP(demo_staff_secret("nurse")).now()
    response, _ = stack.request(
        "POST", "/account/verify/", {"csrfmiddlewaretoken": token, "code": code}
    )
    assert response.status == 302
    assert response.headers["Location"] != "/account/verify/"

    [(session_id,)] = stack.sql("SELECT id FROM infusions_infusionsession WHERE status = 'running'")
    count = "SELECT count(*) FROM infusions_vitalsentry WHERE session_id = %s"
    [(before,)] = stack.sql(count, session_id)
    token = stack.form_token(f"/infusions/{session_id}/")
    response, _ = stack.request(
        "POST",
        f"/infusions/{session_id}/do/vitals/",
        {
            "csrfmiddlewaretoken": token,
            "client_uuid": str(uuid.uuid4()),
            "systolic_mmhg": "128",
            "diastolic_mmhg": "78",
            "heart_rate_bpm": "84",
            "spo2_percent": "98",
            "respiratory_rate_per_min": "14",
        },
    )
    assert response.status == 302, "the vitals are saved"
    assert response.headers["Location"].startswith(f"/infusions/{session_id}/")
    [(after,)] = stack.sql(count, session_id)
    assert after == before + 1
    [(systolic,)] = stack.sql(
        "SELECT systolic_mmhg FROM infusions_vitalsentry WHERE session_id = %s "
        "ORDER BY id DESC LIMIT 1",
        session_id,
    )
    assert systolic == 128
    written = "SELECT ip_address FROM audit_auditentry WHERE id > %s"
    addresses = {str(row[0]) for row in stack.sql(written, last_entry)}
    assert addresses == {CLIENT_ADDRESS}, "the audit records the client, not nginx nor a forgery"
    access_log = (stack.root / "var/log/ketaflow/access.log").read_text()
    assert f"/infusions/{session_id}/do/vitals/" in access_log, "gunicorn's access log is written"


def test_plain_http_is_redirected_to_https(stack: Stack) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port)
    try:
        conn.request("GET", "/login/", headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 301
    assert response.headers["Location"] == f"https://localhost:{stack.https_port}/login/"


def test_nginx_refuses_a_body_over_the_limit(stack: Stack) -> None:
    response, _ = stack.request("POST", "/login/", {"username": "x" * (4 * 1024 * 1024)})
    assert response.status == 413


def test_static_files_come_from_nginx_with_hsts(stack: Stack) -> None:
    manifest = Path(stack.settings["KETAFLOW_VAR_DIR"]) / "static/staticfiles.json"
    assert manifest.is_file(), "collectstatic wrote the production files"
    css = next(p for p in (manifest.parent).rglob("*.css") if ".gz" not in p.name)
    response, _ = stack.request("GET", "/static/" + str(css.relative_to(manifest.parent)))
    assert response.status == 200
    assert "immutable" in (response.headers["Cache-Control"] or "")
    assert "max-age=31536000" in (response.headers["Strict-Transport-Security"] or "")


def test_backup_restores_into_a_second_database_and_everything_verifies(stack: Stack) -> None:
    backup = stack.root / "manual.kfbackup"
    created = stack.ketaflow("backup", "create", str(backup))
    assert created.returncode == 0, created.stderr
    # The second database: no checkpoint file (the live one's heads may be newer than the backup).
    second = {
        "DATABASE_URL": stack.database_url("ketaflow_restore"),
        "KETAFLOW_CHECKPOINT_FILE": "",
    }
    # Two at a time (the machine has two cores): each is a process of its own.
    restored, verified = stack.ketaflow_each(
        (("backup", "restore", str(backup)), second), (("backup", "verify", str(backup)), {})
    )
    assert restored.returncode == 0, restored.stderr
    assert verified.returncode == 0, verified.stderr
    vitals = "SELECT count(*), max(id) FROM infusions_vitalsentry"
    assert stack.sql(vitals, database="ketaflow_restore") == stack.sql(vitals)
    # Both chains verify in the restored database; on the live one, an upgrade verifies them
    # against the worker's signed checkpoints, finds nothing to migrate and verifies again.
    audit, ledger, upgraded = stack.ketaflow_each(
        (("audit", "verify"), second), (("ledger", "verify"), second), (("upgrade",), {})
    )
    assert audit.returncode == 0, audit.stderr
    assert ledger.returncode == 0, ledger.stderr
    assert upgraded.returncode == 0, upgraded.stderr
    checkpoints = stack.settings["KETAFLOW_CHECKPOINT_FILE"]
    assert Path(checkpoints).is_file()
    assert upgraded.stdout.splitlines() == [
        f"chains verified before migrating; checkpoints in {checkpoints} match",
        "no migrations to apply",
        f"chains verified after migrating; checkpoints in {checkpoints} match",
    ]
