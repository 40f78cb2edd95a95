"""Production behind a real reverse proxy: Debian's nginx terminates TLS (a self-signed
certificate on loopback) in front of ``ketaflow serve`` in production mode.

The client connects from 127.0.0.2 so that its address differs from the proxy's (127.0.0.1):
the audit must record the client, not the proxy, and not an address the client forged.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import pyotp
import pytest

from ketaflow.web.demo import demo_staff_secret

# The stack runs on its own SQLite file whatever the test database is: once, in the SQLite run.
pytestmark = [pytest.mark.sqlite_only, pytest.mark.xdist_group("proxy")]

KETAFLOW = Path(sys.executable).with_name("ketaflow")
CLIENT_ADDRESS = "127.0.0.2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = log.read_text(errors="replace")
            raise AssertionError(f"{what} exited ({process.returncode}): {out[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on port {port}")


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{http_port};
    return 301 https://localhost:{https_port}$request_uri;
  }}
  server {{
    listen 127.0.0.1:{https_port} ssl;
    server_name localhost;
    ssl_certificate {tmp}/cert.pem;
    ssl_certificate_key {tmp}/key.pem;
    location / {{
      proxy_pass http://127.0.0.1:{app_port};
      proxy_buffering off;  # workers may not write to the test's folder
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


@dataclass
class Stack:
    tmp: Path
    database: Path
    app_port: int
    https_port: int
    http_port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def https(self) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.tmp / "cert.pem"))
        return http.client.HTTPSConnection(
            "localhost", self.https_port, context=context, source_address=(CLIENT_ADDRESS, 0)
        )

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, str]:
        conn = self.https()
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["Origin"] = f"https://localhost:{self.https_port}"
            sent["Referer"] = f"https://localhost:{self.https_port}{path}"
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        conn.close()
        return response, text

    def last_audit_addresses(self, n: int) -> list[str | None]:
        with sqlite3.connect(self.database) as db:
            rows = db.execute(
                "SELECT ip_address FROM audit_auditentry ORDER BY id DESC LIMIT ?", (n,)
            ).fetchall()
        return [r[0] for r in rows]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("Debian's nginx is required: run `make system-deps`")
    tmp = tmp_path_factory.mktemp("proxy")
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "var"):
        (tmp / folder).mkdir()
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
            *("-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    database = tmp / "db.sqlite3"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KETAFLOW_", "DJANGO_")) and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        KETAFLOW_VAR_DIR=str(tmp / "var"),
        KETAFLOW_SECRET_KEY=secrets.token_urlsafe(50),
        KETAFLOW_AUDIT_KEY=secrets.token_hex(32),
    )
    subprocess.run([str(KETAFLOW), "demo"], env=env, check=True, capture_output=True)
    app_port, https_port, http_port = _free_port(), _free_port(), _free_port()
    env.update(
        KETAFLOW_ENV="production",
        KETAFLOW_ALLOWED_HOSTS="localhost",
        KETAFLOW_TRUSTED_PROXY="127.0.0.1",
    )
    app_log, proxy_log = tmp / "app.log", tmp / "proxy.log"
    with app_log.open("wb") as out:
        app = subprocess.Popen(
            [str(KETAFLOW), "serve", "--host", "127.0.0.1", "--port", str(app_port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(tmp=tmp, app_port=app_port, https_port=https_port, http_port=http_port)
    )
    with proxy_log.open("wb") as out:
        proxy = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(app_port, app, app_log, "ketaflow serve")
        _wait_for_port(https_port, proxy, proxy_log, "nginx")
        yield Stack(tmp, database, app_port, https_port, http_port)
    finally:
        for process in (proxy, app):
            process.terminate()
            process.wait(timeout=20)


def test_login_over_https_through_the_proxy_audits_the_client(stack: Stack) -> None:
    response, page = stack.request("GET", "/login/")
    assert response.status == 200, "the login page is served, not redirected again (no loop)"
    assert "max-age=31536000" in (response.headers["Strict-Transport-Security"] or "")
    assert "no-store" in (response.headers["Cache-Control"] or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response, _ = stack.request(
        "POST",
        "/login/",
        {"csrfmiddlewaretoken": token.group(1), "username": "nurse", "password": "ketaflow-demo"},
        # a forged address: nginx appends the real one and the app takes only that last hop
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert response.status == 302, "the HTTPS login passes CSRF behind the proxy"
    assert response.headers["Location"] == "/"
    assert stack.cookies.get("sessionid")
    # Production requires the second factor: the password alone reaches no patient page.
    response, _ = stack.request("GET", "/patients/")
    assert response.status == 302
    assert response.headers["Location"].startswith("/account/verify/")
    response, page = stack.request("GET", "/account/verify/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    code = pyotp.TOTP(demo_staff_secret("nurse")).now()
    response, _ = stack.request(
        "POST", "/account/verify/", {"csrfmiddlewaretoken": token.group(1), "code": code}
    )
    assert response.status == 302, "the code passes CSRF over HTTPS too"
    response, page = stack.request("GET", "/patients/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status == 200
    assert "no-store" in (response.headers["Cache-Control"] or "")
    addresses = stack.last_audit_addresses(3)
    assert addresses[0] == CLIENT_ADDRESS, addresses
    assert "203.0.113.9" not in addresses
    assert "127.0.0.1" not in addresses


def test_plain_http_is_sent_to_https_once(stack: Stack) -> None:
    conn = http.client.HTTPConnection(
        "127.0.0.1", stack.http_port, source_address=(CLIENT_ADDRESS, 0)
    )
    conn.request("GET", "/login/", headers={"Host": "localhost"})
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 301
    assert response.headers["Location"] == f"https://localhost:{stack.https_port}/login/"


def test_a_client_reaching_the_app_directly_cannot_claim_https_or_an_address(
    stack: Stack,
) -> None:
    conn = http.client.HTTPConnection(
        "127.0.0.1", stack.app_port, source_address=(CLIENT_ADDRESS, 0)
    )
    conn.request(
        "GET",
        "/login/",
        headers={
            "Host": "localhost",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.9",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    # Not from the trusted proxy: the forwarded scheme is dropped, so production mode sends the
    # plain-HTTP request to HTTPS instead of serving it as if it were secure.
    assert response.status == 301
    assert (response.headers["Location"] or "").startswith("https://")
