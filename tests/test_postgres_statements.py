"""On PostgreSQL the app's statements are bound by the server and prepared once they repeat
(settings.py; docs/performance-web.md, "Session 19"): the server then stops parsing and planning
the same reads on every request; and an audit entry is written in one statement (Session 20).
Run by scripts/test-postgres.sh; skipped on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry, AuditEntryPatient, AuditHead, chain_key
from ketaflow.audit.services import audit_record, audit_verify

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


@pytest.mark.parametrize("patients", [[], [41], [7, 3, 7, 12]])
def test_an_audit_entry_is_one_write_on_postgresql(patients: list[int]) -> None:
    """Every page a person opens writes an audit entry: on PostgreSQL the entry, its patients'
    index rows and the chain's new head go in one statement after the head's locked read (they
    were three, each a round trip). What is stored is what the ORM would have stored: every
    column as the entry returned, a link per patient, the head moved, the chain intact."""
    clinic = Clinic.objects.create(name="Statements Clinic", slug="statements")
    nurse = User.objects.create(username="stmt-nurse", role=Role.NURSE, clinic=clinic)
    actor = Actor(user=nurse, ip_address="192.0.2.7")
    audit_record(actor=actor, action=AuditEntry.Action.VIEW, summary="the chain's first")
    with CaptureQueriesContext(connection) as queries:
        entry = audit_record(
            actor=actor,
            action=AuditEntry.Action.VIEW,
            object_type="patient",
            object_id=patients[0] if patients else "",
            patient_ids=patients,
            summary="a page shown",
            detail={"page": "chart", "rows": [1, 2]},
        )
    # (the test's own transaction makes the entry's a savepoint: not counted)
    writes = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(writes) == 2, writes
    assert "FOR UPDATE" in writes[0]
    assert writes[1].startswith("WITH entry AS (INSERT")
    stored = AuditEntry.objects.get(pk=entry.pk)
    for field in AuditEntry._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(entry, field.attname), field.name
    links = AuditEntryPatient.objects.filter(entry=entry).order_by("patient_id")
    assert [link.patient_id for link in links] == sorted(set(patients))
    head = AuditHead.objects.get(chain=chain_key(clinic.pk))
    assert (head.seq, head.hash) == (entry.seq, entry.hash) == (2, stored.hash)
    assert audit_verify(clinic=clinic).ok
