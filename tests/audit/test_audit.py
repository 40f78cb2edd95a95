"""The audit trail: complete for patient-data views, append-only, and tamper-evident."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from ketaflow.audit.context import Actor
from ketaflow.audit.db import drop_triggers
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import audit_record, audit_verify
from tests.web.conftest import PASSWORD, World
from tests.web.sweep import url_for


def _raw(sql: str, params: list[Any]) -> None:
    """What someone with direct database access could do (after dropping the triggers)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _grow(n: int = 5) -> list[AuditEntry]:
    return [
        audit_record(actor=Actor.system("t"), action="view", summary=f"entry {i}") for i in range(n)
    ]


def test_chain_is_intact_after_normal_use(world: World) -> None:
    result = audit_verify()
    assert result.ok, result.message
    assert result.checked == AuditEntry.objects.count() > 5


def test_altered_entry_is_found(world: World) -> None:
    entries = _grow()
    drop_triggers(connection)
    _raw("UPDATE audit_auditentry SET summary = %s WHERE id = %s", ["nothing", entries[2].pk])
    result = audit_verify()
    assert (result.ok, result.problem, result.seq) == (False, "altered", entries[2].seq)
    assert f"#{entries[2].seq} was altered" in result.message


def test_altered_actor_is_found(world: World) -> None:
    entries = _grow()
    drop_triggers(connection)
    _raw("UPDATE audit_auditentry SET actor_username = 'someone' WHERE id = %s", [entries[0].pk])
    assert audit_verify().problem == "altered"


def test_deleted_entry_is_found(world: World) -> None:
    entries = _grow()
    drop_triggers(connection)
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [entries[1].pk])
    result = audit_verify()
    assert (result.ok, result.problem, result.seq) == (False, "deleted", entries[1].seq)


def test_deleted_newest_entries_are_found(world: World) -> None:
    entries = _grow()
    drop_triggers(connection)
    _raw("DELETE FROM audit_auditentry WHERE seq >= %s AND clinic_id IS NULL", [entries[3].seq])
    result = audit_verify()
    assert (result.problem, result.seq) == ("deleted", entries[3].seq)


def test_inserted_entry_is_found(world: World) -> None:
    entries = _grow()
    drop_triggers(connection)
    # Make room after entry 2 and insert a forged entry that claims to follow it.
    victim = entries[2]
    _raw(
        "UPDATE audit_auditentry SET seq = seq + 1000 WHERE seq > %s AND clinic_id IS NULL",
        [victim.seq],
    )
    _raw(
        "INSERT INTO audit_auditentry (seq, hash_version, at, actor_username, actor_role, action,"
        " object_type, object_id, summary, detail, patient_ids, prev_hash, hash) VALUES"
        " (%s, 2, %s, 'intruder', '', 'view', '', '', 'forged', '{}', '[]', %s, %s)",
        [victim.seq + 1, victim.at, victim.hash, "f" * 64],
    )
    result = audit_verify()
    assert (result.ok, result.problem, result.seq) == (False, "inserted", victim.seq + 1)


def test_database_refuses_update_and_delete(world: World, audit_triggers: None) -> None:
    entry = audit_record(actor=Actor.system("t"), action="view", patient_id=world.patient.pk)
    for sql in (
        "UPDATE audit_auditentry SET summary = 'x' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
        "UPDATE audit_auditentrypatient SET patient_id = 1 WHERE entry_id = %s",
        "DELETE FROM audit_auditentrypatient WHERE entry_id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _raw(sql, [entry.pk])
    assert audit_verify().ok


def test_model_refuses_update_and_delete(world: World) -> None:
    entry = _grow(1)[0]
    entry.summary = "changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_unknown_action_is_refused(db: None) -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record(actor=Actor.system("t"), action="peek")


READ_VIEWS = [
    "patient_chart",
    "patient_export",
    "patient_access_history",
    "patient_edit",
    "record_edit",
]


@pytest.mark.parametrize("name", READ_VIEWS)
def test_every_patient_read_leaves_an_entry(world: World, client_for: Any, name: str) -> None:
    before = AuditEntry.objects.count()
    response = client_for(world.director).get(url_for(name, world), REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    new = AuditEntry.objects.filter(seq__gt=before)
    assert new.filter(
        actor=world.director,
        patient_id=world.patient.pk,
        ip_address="10.1.2.3",
        action__in=["view", "export"],
    ).exists(), name


def test_patient_list_and_search_are_audited(world: World, client_for: Any) -> None:
    c = client_for(world.frontdesk)
    c.get(reverse("patient_list"))
    c.get(reverse("patient_list"), {"q": "Anders"})
    entries = AuditEntry.objects.filter(actor=world.frontdesk, object_type="patient_list")
    assert list(entries.values_list("action", flat=True)) == ["search", "view"]
    search = entries.get(action="search")
    assert search.detail["patient_ids"] == [world.patient.pk]


def test_every_write_leaves_an_entry_with_the_change(world: World, client_for: Any) -> None:
    c = client_for(world.nurse)
    response = c.post(
        url_for("record_new", world).replace("diagnosis", "allergy"),
        {"substance": "Latex", "reaction": "rash", "severity": "mild"},
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(action="create", object_type="allergy").get()
    assert entry.actor == world.nurse
    assert entry.patient_id == world.patient.pk
    assert entry.detail["values"]["substance"] == "Latex"


def test_logins_and_failed_logins_are_audited(world: World) -> None:
    c = Client(REMOTE_ADDR="192.0.2.7")
    c.post(reverse("login"), {"username": "nurse", "password": "wrong"})
    c.post(reverse("login"), {"username": "nurse", "password": PASSWORD})
    c.post(reverse("logout"))
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "ip_address"))[-3:]
    assert actions == [
        ("login_failed", "192.0.2.7"),
        ("login", "192.0.2.7"),
        ("logout", "192.0.2.7"),
    ]
