"""The audit trail per clinic: one chain per clinic (and one for actions of no clinic), every
displayed field hashed, entries written before per-clinic chains verified as the legacy chain,
and a director who reads and verifies their own clinic's trail only."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Role
from ketaflow.audit.chain import GENESIS, entry_hash
from ketaflow.audit.context import Actor
from ketaflow.audit.db import AUDIT_TABLES, drop_triggers, install_triggers
from ketaflow.audit.models import AuditEntry, AuditEntryPatient, AuditHead
from ketaflow.audit.services import (
    _key,
    audit_record,
    audit_verify,
    audit_verify_all,
    entries_naming_patient,
)
from tests.web.conftest import World, build_world, make_user


def _raw(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _chain(clinic: Clinic | None) -> list[AuditEntry]:
    entries = AuditEntry.objects.filter(hash_version=2)
    entries = entries.filter(clinic=clinic) if clinic else entries.filter(clinic__isnull=True)
    return list(entries.order_by("seq"))


def foreign_director(world: World) -> User:
    found = User.objects.filter(username="foreign_director").first()
    return found or make_user(world.other_clinic, "foreign_director", Role.MEDICAL_DIRECTOR)


def test_each_clinic_has_its_own_chain(world: World) -> None:
    here, there = Actor(user=world.nurse), Actor(user=world.foreign_prescriber)
    for i in range(4):  # interleaved writers of two clinics, and of no clinic
        audit_record(actor=here, action="view", summary=f"here {i}")
        audit_record(actor=there, action="view", summary=f"there {i}")
        audit_record(actor=Actor.system("t"), action="view", summary=f"nowhere {i}")
    for clinic in (world.clinic, world.other_clinic, None):
        chain = _chain(clinic)
        assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
        assert chain[0].prev_hash == GENESIS
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))
    assert {e.summary for e in _chain(world.other_clinic)} >= {f"there {i}" for i in range(4)}
    assert not {e.summary for e in _chain(world.clinic)} & {f"there {i}" for i in range(4)}
    heads = dict(AuditHead.objects.values_list("chain", "seq"))
    assert heads[f"clinic:{world.clinic.pk}"] == len(_chain(world.clinic))
    assert heads[f"clinic:{world.other_clinic.pk}"] == len(_chain(world.other_clinic))
    for clinic in (world.clinic, world.other_clinic):
        result = audit_verify(clinic=clinic)
        assert (result.ok, result.checked) == (True, len(_chain(clinic))), result.message
    assert audit_verify().ok


def test_the_clinic_of_an_entry(world: World) -> None:
    nurse = audit_record(actor=Actor(user=world.nurse), action="view")
    assert nurse.clinic_id == world.clinic.pk
    system_for_patient = audit_record(
        actor=Actor.system("t"), action="view", patient_id=world.foreign_patient.pk
    )
    assert system_for_patient.clinic_id == world.other_clinic.pk
    assert audit_record(actor=Actor.system("t"), action="view").clinic_id is None
    assert audit_record(
        actor=Actor.system("t"), action="view", clinic=world.other_clinic
    ).clinic_id == (world.other_clinic.pk)
    assert (
        audit_record(actor=Actor.system("t"), action="view", clinic=world.clinic.pk).clinic_id
        == world.clinic.pk
    )
    assert audit_record(actor=Actor(user=world.nurse), action="view", clinic=None).clinic is None


def test_a_broken_chain_is_named_and_the_others_stay_intact(world: World) -> None:
    victim = audit_record(actor=Actor(user=world.foreign_prescriber), action="view")
    drop_triggers(connection)
    _raw("UPDATE audit_auditentry SET summary = 'x' WHERE id = %s", [victim.pk])
    broken = audit_verify(clinic=world.other_clinic)
    assert (broken.ok, broken.problem, broken.seq) == (False, "altered", victim.seq)
    assert broken.message.startswith("Other Clinic's audit chain: entry #")
    assert broken.chain == f"clinic:{world.other_clinic.pk}"
    assert audit_verify(clinic=world.clinic).ok
    everything = audit_verify_all()
    assert [r.chain for r in everything if not r.ok] == [f"clinic:{world.other_clinic.pk}"]
    assert not audit_verify().ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor_id", "director"),  # "who viewed my record" would show someone else
        ("clinic_id", "other_clinic"),  # an entry moved to another clinic's trail
        ("actor_role", "'nurse'"),
        ("ip_address", "'203.0.113.9'"),
        ("patient_ids", "'[1]'"),
        ("hash_version", "1"),
    ],
)
def test_every_displayed_field_is_in_the_hash(world: World, column: str, value: str) -> None:
    entry = audit_record(
        actor=Actor(user=world.prescriber, ip_address="10.0.0.1"),
        action="view",
        patient_id=world.patient.pk,
    )
    drop_triggers(connection)
    replacement = {"director": world.director.pk, "other_clinic": world.other_clinic.pk}
    sql_value = str(replacement.get(value, value))
    _raw(f"UPDATE audit_auditentry SET {column} = {sql_value} WHERE id = %s", [entry.pk])  # noqa: S608
    chains = {r.chain: r for r in audit_verify_all()}
    assert not all(r.ok for r in chains.values()), column
    assert audit_verify().seq == entry.seq


def test_a_forged_or_removed_patient_link_is_found(world: World) -> None:
    entry = audit_record(
        actor=Actor(user=world.nurse),
        action="view",
        object_type="patient_list",
        patient_ids=[world.patient.pk],
    )
    assert set(entry.patient_links.values_list("patient_id", flat=True)) == {world.patient.pk}
    drop_triggers(connection)
    _raw(
        "INSERT INTO audit_auditentrypatient (entry_id, patient_id) VALUES (%s, %s)",
        [entry.pk, world.other_patient.pk],
    )
    assert (audit_verify(clinic=world.clinic).seq, audit_verify().problem) == (
        entry.seq,
        "altered",
    )
    _raw("DELETE FROM audit_auditentrypatient WHERE entry_id = %s", [entry.pk])
    assert audit_verify(clinic=world.clinic).seq == entry.seq


def _legacy_entry(seq: int, prev: str, **fields: Any) -> AuditEntry:
    """An entry as written before per-clinic chains: version 1, the one global chain."""
    entry = AuditEntry(
        seq=seq,
        hash_version=1,
        at=timezone.now() - dt.timedelta(days=30, minutes=-seq),
        actor_username=fields.pop("actor_username", "system:old"),
        action="view",
        prev_hash=prev,
        **fields,
    )
    entry.hash = entry_hash(entry, _key())
    entry.save()
    return entry


def _legacy_chain(world: World) -> list[AuditEntry]:
    chain: list[AuditEntry] = []
    prev = GENESIS
    rows: list[dict[str, Any]] = [
        {"actor": world.nurse, "actor_username": "nurse", "patient_id": world.patient.pk},
        {"patient_id": world.foreign_patient.pk},
        {"actor": world.foreign_prescriber, "actor_username": "foreign"},
        {"detail": {"patient_ids": [world.patient.pk, world.other_patient.pk]}},
        {"actor_username": "system:anonymous"},
    ]
    for seq, fields in enumerate(rows, start=1):
        chain.append(_legacy_entry(seq, prev, **fields))
        prev = chain[-1].hash
    AuditHead.objects.create(chain="legacy", seq=len(chain), hash=prev)
    return chain


def test_legacy_entries_verify_as_the_legacy_chain(world: World) -> None:
    legacy = _legacy_chain(world)
    results = {r.chain: r for r in audit_verify_all()}
    assert results["legacy"].ok
    assert results["legacy"].checked == len(legacy)
    assert results["legacy"].message == "The legacy audit chain intact: 5 entries verified"
    drop_triggers(connection)
    _raw("UPDATE audit_auditentry SET summary = 'x' WHERE id = %s", [legacy[1].pk])
    broken = audit_verify()
    assert (broken.chain, broken.seq, broken.problem) == ("legacy", 2, "altered")
    assert broken.message.startswith("the legacy audit chain: entry #2 was altered")
    assert audit_verify(clinic=world.clinic).ok


def test_the_migration_gives_legacy_entries_a_clinic_and_patient_links(world: World) -> None:
    from importlib import import_module

    migration = import_module("ketaflow.audit.migrations.0003_per_clinic_chains")
    legacy = _legacy_chain(world)
    drop_triggers(connection, tables=AUDIT_TABLES)
    migration.assign_clinics_and_links(apps, None)
    install_triggers(connection, tables=AUDIT_TABLES)
    clinics = [AuditEntry.objects.get(pk=e.pk).clinic_id for e in legacy]
    assert clinics == [
        world.clinic.pk,  # the actor's clinic
        world.other_clinic.pk,  # no actor: the patient's clinic
        world.other_clinic.pk,
        None,  # a list of patients, no actor: no clinic
        None,
    ]
    links = set(
        AuditEntryPatient.objects.filter(entry__hash_version=1).values_list(
            "entry_id", "patient_id"
        )
    )
    assert links == {
        (legacy[0].pk, world.patient.pk),
        (legacy[1].pk, world.foreign_patient.pk),
        (legacy[3].pk, world.patient.pk),
        (legacy[3].pk, world.other_patient.pk),
    }
    assert audit_verify().ok  # the clinic is not in the legacy hash
    assert legacy[3] in entries_naming_patient(world.other_patient.pk)


def _one_read_in_each_clinic(world: World, home: str) -> None:
    """A read of the other clinic's patient (summary FOREIGN-READ) and one of ours (``home``)."""
    audit_record(
        actor=Actor(user=world.foreign_prescriber),
        action="view",
        patient_id=world.foreign_patient.pk,
        summary="FOREIGN-READ",
    )
    audit_record(
        actor=Actor(user=world.nurse), action="view", patient_id=world.patient.pk, summary=home
    )


def test_a_director_reads_and_verifies_only_their_clinics_trail(
    world: World, client_for: Any
) -> None:
    _one_read_in_each_clinic(world, "HOME")
    page = client_for(world.director).get(reverse("audit_list")).content.decode()
    assert "HOME" in page
    assert world.patient.mrn in page
    assert "FOREIGN-READ" not in page
    assert "foreign" not in page
    assert world.foreign_patient.mrn not in page
    theirs = client_for(foreign_director(world)).get(reverse("audit_list")).content.decode()
    assert "FOREIGN-READ" in theirs
    assert "HOME" not in theirs

    verify = client_for(world.director).get(reverse("audit_list"), {"verify": "1"})
    assert "Test Clinic&#x27;s audit chain intact" in verify.content.decode()
    # Another clinic's broken chain is not this director's to see.
    drop_triggers(connection)
    _raw("UPDATE audit_auditentry SET summary = 'x' WHERE summary = 'FOREIGN-READ'", [])
    verify = client_for(world.director).get(reverse("audit_list"), {"verify": "1"})
    assert "Test Clinic&#x27;s audit chain intact" in verify.content.decode()
    broken = client_for(foreign_director(world)).get(reverse("audit_list"), {"verify": "1"})
    assert "Other Clinic&#x27;s audit chain: entry #" in broken.content.decode()


@pytest.mark.parametrize("by", ["pk", "mrn"])
def test_the_patient_filter_takes_only_this_clinics_patients(
    world: World, client_for: Any, by: str
) -> None:
    _one_read_in_each_clinic(world, "MINE")
    c = client_for(world.director)
    own = c.get(reverse("audit_list"), {"patient": getattr(world.patient, by)}).content.decode()
    assert "MINE" in own
    assert "No such patient" not in own
    other = c.get(reverse("audit_list"), {"patient": getattr(world.other_patient, by)})
    assert "MINE" not in other.content.decode()
    foreign = c.get(reverse("audit_list"), {"patient": getattr(world.foreign_patient, by)})
    text = foreign.content.decode()
    assert foreign.status_code == 200
    assert "No such patient in this clinic." in text
    assert "FOREIGN-READ" not in text
    assert "MINE" not in text
    assert "No entries." in text


def test_reading_the_audit_trail_is_audited(world: World, client_for: Any) -> None:
    audit_record(actor=Actor(user=world.nurse), action="view", patient_id=world.patient.pk)
    client_for(world.director).get(
        reverse("audit_list"), {"patient": world.patient.mrn}, REMOTE_ADDR="10.4.4.4"
    )
    entry = AuditEntry.objects.filter(object_type="audit_trail", actor=world.director).get()
    assert (entry.action, entry.ip_address, entry.patient_id) == (
        "view",
        "10.4.4.4",
        world.patient.pk,
    )
    assert entry.detail["filters"] == {"patient": world.patient.mrn}
    assert entry in entries_naming_patient(world.patient.pk)
    assert entry.clinic_id == world.clinic.pk


def test_the_audit_trail_has_no_admin_page(world: World, client_for: Any) -> None:
    director = client_for(world.director)
    assert director.get("/admin/").status_code == 200
    assert director.get("/admin/audit/auditentry/").status_code == 404


def test_clinics_do_not_wait_for_each_others_chain_lock(live_db: None) -> None:
    """PostgreSQL: while one clinic's writer holds its chain's lock, another clinic's writer
    appends at once (and the same clinic's next writer waits). SQLite serialises all writers
    by design, so there is nothing to show there."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks per chain are a PostgreSQL matter")
    world = build_world()
    holding, release = threading.Event(), threading.Event()
    finished: dict[str, float] = {}

    def hold_riverside() -> None:
        try:
            with transaction.atomic():
                audit_record(actor=Actor(user=world.nurse), action="view", summary="holder")
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def write(name: str, user: User) -> None:
        try:
            audit_record(actor=Actor(user=user), action="view", summary=name)
            finished[name] = time.monotonic()
        finally:
            connection.close()

    holder = threading.Thread(target=hold_riverside)
    holder.start()
    assert holding.wait(10)
    other = threading.Thread(target=write, args=("other clinic", world.foreign_prescriber))
    same = threading.Thread(target=write, args=("same clinic", world.prescriber))
    other.start()
    same.start()
    other.join(5)
    assert "other clinic" in finished  # not blocked by the other clinic's lock
    time.sleep(0.3)
    assert "same clinic" not in finished  # waits for its own chain's lock
    release.set()
    for t in (holder, same):
        t.join(10)
    assert "same clinic" in finished
    assert audit_verify().ok
    assert [e.summary for e in _chain(world.clinic)][-2:] == ["holder", "same clinic"]


def test_the_network_administrators_change_is_in_that_clinics_chain(world: World) -> None:
    """A network administrator belongs to no clinic; what they change of a clinic's set-up is
    written to that clinic's chain (its director reads it), not the network's."""
    from ketaflow.accounts.services import setup_record_save
    from ketaflow.treatment.models import Chair

    network = User.objects.create_user(username="network", role=Role.NETWORK_ADMIN, clinic=None)
    chair = setup_record_save(
        actor=Actor(user=network), record=Chair(clinic=world.other_clinic, name="Chair 9")
    )
    entry = AuditEntry.objects.get(object_type="treatment.chair", object_id=str(chair.pk))
    assert entry.clinic_id == world.other_clinic.pk
    assert entry.actor_username == "network"
    assert audit_verify(clinic=world.other_clinic).ok
