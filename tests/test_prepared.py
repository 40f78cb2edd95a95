"""Reads compiled once per process (ketaflow.prepared, issue 16): the same models as the
queryset, each call its own values, one statement, the ordinary queryset where a value cannot be
placed, and the test settings' check that finds a prepared statement that differs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.session_store import live_session
from ketaflow.patients.models import Patient
from ketaflow.prepared import Prepared, PreparedMismatch
from tests.web.conftest import World

pytestmark = pytest.mark.django_db


def _fields(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_the_same_models_as_the_queryset_with_their_relation(world: World) -> None:
    read = Prepared(lambda pk: User.objects.select_related("clinic").filter(pk=pk)[:1])
    for user in (world.nurse, world.foreign_prescriber, world.nurse):  # compiled, then reused
        with CaptureQueriesContext(connection) as queries:
            found = read.first(pk=user.pk)
            assert found is not None
            assert found.clinic is not None
            assert found.clinic.name  # the clinic came with the same statement
        assert len(queries) == 1
        expected = User.objects.select_related("clinic").get(pk=user.pk)
        assert _fields(found) == _fields(expected)
        assert _fields(found.clinic) == _fields(expected.clinic)
        assert found._state.db == "default"
        assert not found._state.adding
    assert read.first(pk=10**9) is None


def test_each_call_reads_its_own_values(world: World) -> None:
    read = Prepared(
        lambda clinic_id, family: Patient.objects.filter(
            clinic_id=clinic_id, family_name=family
        ).order_by("pk")
    )
    own = read.all(clinic_id=world.clinic.pk, family=world.patient.family_name)
    assert [p.pk for p in own] == [world.patient.pk]
    # Another clinic's id with the same name finds nothing of this clinic.
    assert read.all(clinic_id=world.other_clinic.pk, family=world.patient.family_name) == []
    foreign = world.foreign_patient
    assert [p.pk for p in read.all(clinic_id=foreign.clinic_id, family=foreign.family_name)] == [
        foreign.pk
    ]


def test_a_time_is_passed_as_django_passes_it() -> None:
    now = timezone.now()
    Session.objects.create(session_key="k" * 32, session_data="x", expire_date=now)
    assert live_session("k" * 32, now - dt.timedelta(seconds=1)) is not None
    assert live_session("k" * 32, now) is None  # expired at that instant
    assert live_session("k" * 32, now + dt.timedelta(days=1)) is None


def test_a_value_that_cannot_be_placed_runs_the_ordinary_queryset(world: World) -> None:
    # icontains makes "%name%" of the value: the stand-in is not among the parameters as given.
    read = Prepared(lambda part: Patient.objects.filter(family_name__icontains=part).order_by("pk"))
    part = world.patient.family_name[1:4].lower()
    expected = list(Patient.objects.filter(family_name__icontains=part).order_by("pk"))
    assert read.all(part=part) == expected
    assert list(read._statements.values()) == [None]  # never compiled ahead
    # Nor a list (``__in``), nor a truth value.
    several = Prepared(lambda pks: Patient.objects.filter(pk__in=pks).order_by("pk"))
    assert several.all(pks=[world.patient.pk]) == [world.patient]
    flag = Prepared(lambda active: Patient.objects.filter(active=active).order_by("pk")[:1])
    assert flag.first(active=True) is not None
    assert list(flag._statements.values()) == [None]


def test_the_check_finds_a_prepared_statement_that_differs(world: World, settings: Any) -> None:
    settings.KETAFLOW_PREPARED_CHECK = True
    state = {"limit": 1}
    read = Prepared(
        lambda pk: Patient.objects.filter(clinic_id=pk).order_by("pk")[: state["limit"]]
    )
    assert len(read.all(pk=world.clinic.pk)) == 1
    state["limit"] = 2  # the build reads something besides its values: a bug the check finds
    with pytest.raises(PreparedMismatch, match="differs"):
        read.all(pk=world.clinic.pk)


def test_related_rows_are_kept_as_django_prefetches_them(world: World) -> None:
    from django.db.models import prefetch_related_objects

    from ketaflow.infusions.models import InfusionSession
    from ketaflow.prepared import prefetched, related_read, related_rows
    from tests.infusions.builders import charted

    session = InfusionSession.objects.get(pk=charted(world).pk)
    expected = InfusionSession.objects.get(pk=session.pk)
    prefetch_related_objects([expected], "vitals", "events")
    for relation in ("vitals", "events"):
        read = related_read(InfusionSession, relation)
        prefetched(session, relation, related_rows(session, relation, read))
    with CaptureQueriesContext(connection) as queries:
        for relation in ("vitals", "events"):
            rows, want = (
                list(getattr(session, relation).all()),
                list(getattr(expected, relation).all()),
            )
            assert [_fields(r) for r in rows] == [_fields(r) for r in want]
            assert rows
            assert all(r.session is session for r in rows)
    assert len(queries) == 0


def test_tuples_and_flat_values_as_values_list_gives_them(world: World) -> None:
    pairs = Prepared(
        lambda clinic_id: (
            Patient.objects.filter(clinic_id=clinic_id)
            .order_by("pk")
            .values_list("pk", "date_of_birth")
        )
    )
    flat = Prepared(
        lambda clinic_id: (
            Patient.objects.filter(clinic_id=clinic_id)
            .order_by("pk")
            .values_list("family_name", flat=True)
        )
    )
    for clinic in (world.clinic, world.other_clinic, world.clinic):
        mine = Patient.objects.filter(clinic=clinic).order_by("pk")
        assert pairs.all(clinic_id=clinic.pk) == list(mine.values_list("pk", "date_of_birth"))
        assert flat.all(clinic_id=clinic.pk) == list(mine.values_list("family_name", flat=True))
    assert all(isinstance(day, dt.date) for _, day in pairs.all(clinic_id=world.clinic.pk))
    assert None not in pairs._statements.values()
    assert None not in flat._statements.values()


def test_a_connection_s_converters_are_worked_out_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend's converters (a time from SQLite's text, here) come from the connection's
    first call and serve its later ones; every call's values are still converted."""
    from django.db.models.sql.compiler import SQLCompiler

    people = (world.nurse, world.prescriber, world.foreign_prescriber)
    expected = [User.objects.get(pk=user.pk).date_joined for user in people]
    worked_out: list[int] = []
    original = SQLCompiler.get_converters

    def counted(self: SQLCompiler, expressions: Any) -> Any:
        worked_out.append(len(expressions))
        return original(self, expressions)

    read = Prepared(lambda pk: User.objects.filter(pk=pk).values_list("date_joined", flat=True))
    monkeypatch.setattr(SQLCompiler, "get_converters", counted)
    read.all(pk=world.nurse.pk)  # compiled, and the connection's converters worked out
    before = len(worked_out)
    joined = [read.all(pk=user.pk) for user in people]
    assert len(worked_out) == before  # not again
    assert joined == [[e] for e in expected]
    assert all(j[0].tzinfo is not None for j in joined)  # converted: aware, not SQLite's text


def test_a_32_bit_key_and_a_typed_bigint_are_prepared_too(world: World) -> None:
    """django-otp's devices have 32-bit keys (a 64-bit stand-in made Django refuse the lookup,
    and the read ran unprepared on every request on PostgreSQL); a bigint column that is not
    a key takes its value typed on PostgreSQL (psycopg's Int8): each call's value is typed
    the same way."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from ketaflow.accounts.second_factor import enrol_totp, new_secret
    from ketaflow.assessments.models import InstrumentResponse

    device = enrol_totp(user=world.nurse, secret=new_secret(), last_t=0)
    by_key = Prepared(lambda pk: TOTPDevice.objects.filter(id=pk).order_by("pk")[:1])
    assert by_key.first(pk=device.pk) == device
    assert by_key.first(pk=device.pk + 1000) is None
    assert list(by_key._statements.values()) != [None]  # compiled ahead
    by_session = Prepared(
        lambda session_id: InstrumentResponse.objects.filter(infusion_session_id=session_id)
    )
    assert by_session.all(session_id=10**12) == []
    assert list(by_session._statements.values()) != [None]
