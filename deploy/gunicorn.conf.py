"""gunicorn's configuration for KetaFlow (deploy/systemd/ketaflow-web.service runs it).

Everything comes from the environment (/etc/ketaflow/ketaflow.env, see ketaflow.env.example):

- ``KETAFLOW_BIND``: where gunicorn listens, on loopback only (default ``127.0.0.1:8001``);
  nginx terminates TLS in front of it.
- ``KETAFLOW_WEB_WORKERS``: how many worker processes (default 2 per core plus one, at most 9).
- ``KETAFLOW_TRUSTED_PROXY``: the reverse proxy's address (``127.0.0.1``). Only a request from it
  may set the scheme (``X-Forwarded-Proto``) and the client's address (the last hop of
  ``X-Forwarded-For``, the one nginx appended); from anyone else both headers are dropped.
  ``ketaflow serve`` (waitress) does the same with its own options (``cli/web.py``
  ``proxy_options``); gunicorn trusts the scheme itself (``forwarded_allow_ips``) but never
  rewrites ``REMOTE_ADDR``, so :func:`post_worker_init` wraps the app to do it: the audit trail
  and the guessing limits (django-axes) then see the client, not nginx.

The logs go where the unit's command line says (``--access-logfile``, ``--error-logfile``);
``capture_output`` sends the app's own log lines (Django's, stderr) to the error log too.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

wsgi_app = "ketaflow.wsgi:application"
bind = [os.environ.get("KETAFLOW_BIND", "127.0.0.1:8001")]
workers = int(
    os.environ.get("KETAFLOW_WEB_WORKERS", str(min(2 * multiprocessing.cpu_count() + 1, 9)))
)
worker_class = "sync"
# Django is imported once, before the workers are forked (a faster start, shared memory); no
# database connection is opened by loading the app, so none is shared between workers.
preload_app = True
# A report (the progress PDF, the complete record) may take a few seconds; nothing takes a minute.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle a worker now and then (a slow leak in a library cannot grow for months).
max_requests = 5000
max_requests_jitter = 500
capture_output = True
# No run-time control socket (gunicorn 23+ opens one in the service user's home by default): the
# service is managed by systemd's signals alone, and one interface fewer is one fewer to secure.
control_socket_disable = True
# Files gunicorn creates (its logs) are not world-readable: the access log names pages of patients.
umask = 0o027


def _proxy_addresses(value: str) -> list[str]:
    value = value.strip()
    if value in ("", "0"):
        return []
    if value == "localhost":
        return ["127.0.0.1", "::1"]
    return [value]


_PROXY = _proxy_addresses(os.environ.get("KETAFLOW_TRUSTED_PROXY", ""))
# Only the proxy may say the request came over HTTPS, and only with this one header.
forwarded_allow_ips = ",".join(_PROXY)  # empty: nobody
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}


def behind_proxy(app: WsgiApp, proxies: Iterable[str]) -> WsgiApp:
    """``app`` with ``REMOTE_ADDR`` set to the client nginx saw, when the request came from the
    proxy; the forwarding headers never reach the app, from the proxy or from anyone else."""
    trusted = frozenset(proxies)

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        forwarded = environ.pop("HTTP_X_FORWARDED_FOR", "")
        environ.pop("HTTP_X_FORWARDED_PROTO", None)
        if forwarded and environ.get("REMOTE_ADDR") in trusted:
            last_hop = forwarded.split(",")[-1].strip()
            if last_hop:
                environ["REMOTE_ADDR"] = last_hop
        return app(environ, start_response)

    return wrapped


def when_ready(server: Any) -> None:
    """With the app preloaded, import the URL configuration (every view module and what it
    imports: pyarrow, reportlab, the charts) in the master, once, before the workers fork.
    Django imports it at a process's first request: each worker did, and each worker started
    again after ``max_requests`` or a timeout did too. On a loaded 2-core machine that import
    took over ``timeout`` (60 s): the master killed the worker, its replacement started the
    import again (the load benchmark saw 12 worker timeouts and HTTP 500s in ten minutes,
    benchmarks/load/). No database connection is left open to be shared by the forks."""
    if not server.cfg.preload_app:
        return
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the attribute imports the URL modules
    connections.close_all()


def post_worker_init(worker: Any) -> None:
    """Wrap each worker's app once it is loaded (gunicorn calls this before serving)."""
    worker.wsgi = behind_proxy(worker.wsgi, _PROXY)
