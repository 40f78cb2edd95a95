"""Response headers, refusal logging, the proxy setting and SQLite's journal (issue 13, items
4-6). The real reverse proxy is in test_proxy.py."""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import subprocess
import sys
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from ketaflow.web.logs import OneLineClientErrors
from tests.web.conftest import World

PATIENT_PAGE = "patient_chart"


def test_every_page_with_patient_data_is_not_stored(world: World, client_for: Any) -> None:
    for user, url in [
        (world.nurse, reverse(PATIENT_PAGE, args=[world.patient.pk])),
        (world.nurse, reverse("patient_list")),
        (world.patient_user, reverse("portal_home")),
    ]:
        response = client_for(user).get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
        assert "private" in response["Cache-Control"], url
    # Refusals and the login page too: the rule is the whole app.
    refused = client_for(world.foreign_prescriber).get(
        reverse(PATIENT_PAGE, args=[world.patient.pk])
    )
    assert refused.status_code == 404
    assert "no-store" in refused["Cache-Control"]
    assert "no-store" in Client().get(reverse("login"))["Cache-Control"]


@pytest.fixture
def root_log() -> Any:
    """The output of the app's console handler (the one carrying the one-line filter)."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler)
        and any(isinstance(f, OneLineClientErrors) for f in h.filters)
    ]
    assert handlers, "the app's console handler has the one-line filter"
    stream = io.StringIO()
    old = [h.stream for h in handlers]
    for h in handlers:
        h.stream = stream  # not setStream: it flushes the old stream, which may be closed
    yield stream
    for h, s in zip(handlers, old, strict=True):
        h.stream = s


def test_a_refusal_is_logged_as_one_line(world: World, client_for: Any, root_log: Any) -> None:
    # A front-desk user may not read clinical notes: a 403 (PermissionDenied); another clinic's
    # patient: a 404. Neither writes a traceback.
    url = reverse(PATIENT_PAGE, args=[world.patient.pk])
    client_for(world.foreign_prescriber).get(url)
    client_for(world.patient_user).get(reverse("patient_list"))
    text = root_log.getvalue()
    assert text.strip(), "the refusals are logged"
    assert "Traceback" not in text
    for line in text.strip().splitlines():
        assert line.startswith(("Not Found", "Forbidden")), line


def test_a_server_error_keeps_its_traceback(root_log: Any) -> None:
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", None, None)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.status_code = 500
    assert OneLineClientErrors().filter(record)
    assert record.exc_info is not None
    record.status_code = 403
    OneLineClientErrors().filter(record)
    assert record.exc_info is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", "the reverse proxy's address"),
        ("nginx.local", "must be one IP address"),
        ("10.0.0.1,10.0.0.2", "must be one IP address"),
    ],
)
def test_trusted_proxy_must_be_an_address(value: str, message: str) -> None:
    env = dict(os.environ, KETAFLOW_TRUSTED_PROXY=value, KETAFLOW_ENV="development")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", "import ketaflow.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_proxy_options_trust_only_the_proxy() -> None:
    from ketaflow.cli.web import proxy_options

    assert proxy_options("") == {"clear_untrusted_proxy_headers": True}
    options = proxy_options("127.0.0.1")
    assert options["trusted_proxy"] == "127.0.0.1"
    assert options["trusted_proxy_count"] == 1
    assert options["trusted_proxy_headers"] == {"x-forwarded-for", "x-forwarded-proto"}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the journal mode is an SQLite matter")
def test_a_long_read_does_not_fail_page_views(live_world: World, client_for: Any) -> None:
    """A verification holds a read open on its own connection while a page view writes its audit
    entry and commits. In SQLite's default rollback journal the commit waits for the reader and
    fails after the busy timeout ("database is locked"); in WAL mode it goes through at once."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    reader = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=1)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM audit_auditentry").fetchone()  # holds the read
    statuses: list[int] = []
    nurse = client_for(live_world.nurse)
    url = reverse(PATIENT_PAGE, args=[live_world.patient.pk])

    def view() -> None:
        statuses.append(nurse.get(url).status_code)

    try:
        thread = threading.Thread(target=view)
        thread.start()
        thread.join(timeout=60)
    finally:
        reader.rollback()
        reader.close()
    assert statuses == [200]


def test_the_favicon_is_found_when_asked_not_when_the_urls_load(client: Any) -> None:
    """``/favicon.ico`` redirects to the icon's static URL, looked up per request: the URL
    configuration calls no ``static()`` when it is imported (in production that needs
    collectstatic's manifest, so every management command failed on a fresh server)."""
    import ast
    from pathlib import Path

    import ketaflow.urls

    answer = client.get("/favicon.ico")
    assert answer.status_code == 302
    assert answer["Location"].endswith("favicon.svg")
    tree = ast.parse(Path(ketaflow.urls.__file__).read_text())
    top_level_calls = [
        node.func.id
        for stmt in tree.body
        if not isinstance(stmt, ast.FunctionDef)
        for node in ast.walk(stmt)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    assert "static" not in top_level_calls
