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
    live_db,
    live_world,
    world,
)

__all__ = ["audit_triggers", "browser", "client_for", "live_db", "live_world", "world"]


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
