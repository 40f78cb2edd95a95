"""On PostgreSQL the app's statements are bound by the server and prepared once they repeat
(settings.py; docs/performance-web.md, "Session 19"): the server then stops parsing and planning
the same reads on every request. Run by scripts/test-postgres.sh; skipped on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only (scripts/test-postgres.sh)"
    ),
]


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_read_that_repeats_on_a_connection_is_prepared_by_the_server() -> None:
    for pk in range(1, 7):  # psycopg prepares at the fifth run; each run with its own value
        list(User.objects.filter(pk=pk, is_active=True))
    reads = [s for s in prepared_statements() if 'FROM "accounts_user"' in s]
    assert reads, "a read run six times on one connection is not prepared"
    # bound by the server: the values are parameters, not literals in the text
    assert all("$1" in s for s in reads)


def test_a_prepared_read_still_answers_each_call_with_its_own_values() -> None:
    users = [User.objects.create(username=f"prep{n}", role=Role.NURSE) for n in range(8)]
    for user in users:  # prepared from the fifth on: each answers its own row
        assert User.objects.get(pk=user.pk).username == user.username
