"""The personas and their fixtures for every test folder: the world of one clinic (and another
clinic's prescriber and patient), logged-in clients, the live-server database and the shared
browser. They are defined in tests/web/conftest.py (where the web tests have always found them)
and exposed here, unchanged, so that tests/<app>/ folders such as tests/ledger/ see them too."""

from __future__ import annotations

import pytest

from tests.web.conftest import (
    audit_triggers,
    browser,
    client_for,
    demo_clinics,
    live_db,
    live_world,
    world,
)

__all__ = [
    "audit_triggers",
    "browser",
    "client_for",
    "demo_clinics",
    "live_db",
    "live_world",
    "world",
]


@pytest.fixture(autouse=True)
def _append_only_tables(request: pytest.FixtureRequest) -> None:
    """Every test on the ``db`` fixture sees the append-only triggers. A live-server test drops
    them before the flush that empties the database (``live_db``), and nothing put them back for
    the worker's later tests: with the xdist groups working again, the browser modules ran on one
    worker and the CLI and upgrade tests after them there found "trigger ... is missing". The
    install is idempotent and rolled back with the test's transaction.

    Only a table that lacks them gets them: on PostgreSQL ``DROP TRIGGER``/``CREATE TRIGGER`` take
    an ACCESS EXCLUSIVE lock on the table until the test's transaction ends, and a test whose app
    runs in another thread or process (a live server, a CLI subprocess) would wait on it for
    ever. The check is a catalogue read that locks nothing."""
    if "db" not in request.fixturenames or "transactional_db" in request.fixturenames:
        return
    request.getfixturevalue("db")
    from django.db import connection

    from ketaflow.audit.db import install_triggers, missing_triggers

    if missing_triggers(connection):
        install_triggers(connection)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under ``-n 2 --dist loadgroup`` (``make test``), each xdist worker marks a test of an
    ``xdist_group`` by ending its id with ``@group``; the scheduler sends a group to one worker
    only by that suffix. pytest 9.2 ignores xdist 3.8's way of setting it (pytest-xdist issue
    1386): the groups were silently split over both workers, and a module's expensive fixture
    (test_proxy's nginx and server, the outsider sweep's demo clinics) was built on each. Refuse
    to run rather than split the groups again."""
    if not getattr(session.config.option, "loadgroup", False):  # set in xdist's workers only
        return
    for item in session.items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid.rsplit("::", 1)[-1]:
            raise pytest.UsageError(
                f"{item.nodeid} has an xdist_group mark but xdist did not group it (pytest "
                "and pytest-xdist versions that do not work together: see pyproject.toml)"
            )
