"""scripts/screenshots.py (the command that makes the note's tablet screenshots) waits for the
server by /healthz, which answers 503 on a fresh demo (no worker heartbeat, no backup): an
answer all the same. It waited for a 200 and gave up after 60 s."""

from __future__ import annotations

import importlib.util
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Unhealthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_answering_503_is_up() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Unhealthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _script()._wait(f"http://127.0.0.1:{server.server_port}", seconds=5)
    finally:
        server.shutdown()
        server.server_close()


def test_no_server_is_not_up() -> None:
    probe = HTTPServer(("127.0.0.1", 0), _Unhealthy)
    port = probe.server_port
    probe.server_close()  # nothing listens there now
    with pytest.raises(SystemExit, match="did not answer"):
        _script()._wait(f"http://127.0.0.1:{port}", seconds=1)
