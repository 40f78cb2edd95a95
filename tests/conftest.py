"""The personas and their fixtures for every test folder: the world of one clinic (and another
clinic's prescriber and patient), logged-in clients, the live-server database and the shared
browser. They are defined in tests/web/conftest.py (where the web tests have always found them)
and exposed here, unchanged, so that tests/<app>/ folders such as tests/ledger/ see them too."""

from __future__ import annotations

from tests.web.conftest import (
    audit_triggers,
    browser,
    client_for,
    live_db,
    live_world,
    world,
)

__all__ = ["audit_triggers", "browser", "client_for", "live_db", "live_world", "world"]
