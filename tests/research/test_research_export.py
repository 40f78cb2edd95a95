"""The de-identified research export (issue 17 item 4): every identifier planted in the demo
clinics is absent from every cell of every CSV and Parquet file; dates are shifted consistently
within a patient and differently between patients; ages of 90 and over are grouped; Parquet and
CSV hold the same data; the data dictionary lists exactly the columns present; the page is the
director's own clinic's only; the export is audited; the command refuses bad input in one line.

Both demo clinics are loaded once for the module (one transaction, rolled back at the end), the
identifiers planted on Riverside's patient with a signed infusion (Alex Morgan), and the export
run once through the service and once through the selectors with known pseudonyms."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from ketaflow.accounts.clinictime import clinic_day
from ketaflow.accounts.models import Clinic, Credential, User
from ketaflow.accounts.roles import Perm, Role, has_perm
from ketaflow.api.models import ApiToken
from ketaflow.api.services import token_create
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.cli import main
from ketaflow.clinical.deidentify import TABLES, TABLES_BY_NAME, Pseudonyms
from ketaflow.infusions.models import (
    AdverseEvent,
    InfusionEvent,
    InfusionSession,
    SideEffect,
    VitalsEntry,
)
from ketaflow.patients.models import ClinicalNote, Patient
from ketaflow.patients.services import note_add
from ketaflow.research.files import Format
from ketaflow.research.selectors import ResearchData, research_data, research_patients
from ketaflow.research.services import ResearchExport, research_export
from ketaflow.treatment.models import Course
from ketaflow.web.demo import demo_load
from tests.web import sweep
from tests.web.conftest import logged_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("research")]

PLANTED_IP = "203.0.113.77"
PLANTED = {
    "given_name": "Alexandrina",
    "family_name": "Quillfeather",
    "preferred_name": "Xandra",
    "phone": "+1 603 555 0199",
    "email": "xandra.quillfeather@example.org",
    "address_line": "417 Larkspur Hollow Road",
    "city": "Lebanon",
    "region": "New Hampshire",
    "postal_code": "03601",
    "emergency_contact_name": "Bartholomew Quillfeather",
    "emergency_contact_phone": "+1 603 555 0142",
    "escort_name": "Bartholomew Quillfeather",
    "escort_phone": "+1 603 555 0142",
    # 95 or 96 at any course start of 2025-2027: a 90+ patient.
    "date_of_birth": dt.date(1930, 6, 15),
}
EMERGENCY_TEXT = "Emergency: Xandra Quillfeather 212/128 in recovery"
NOTE_TEXT = "Sister Philippa Wrenhaven phoned about the night terrors; call back on 603 555 0177."


@dataclass
class World:
    riverside: Clinic
    harbor: Clinic
    planted: Patient
    export: ResearchExport
    data: ResearchData
    pseudonyms: Pseudonyms
    token: str


def _plant(riverside: Clinic) -> tuple[Patient, str]:
    """Alex Morgan becomes a 95-year-old with a restricted ZIP and every contact detail; a note
    names another person; the audit trail gets an IP address; an API token exists."""
    session = (
        InfusionSession.objects.filter(patient__clinic=riverside, ended_at__isnull=False)
        .order_by("pk")
        .first()
    )
    assert session is not None, "the demo has a finished infusion"
    Patient.objects.filter(pk=session.patient_id).update(**PLANTED)
    patient = Patient.objects.get(pk=session.patient_id)
    director = User.objects.get(username="director")
    note_add(actor=Actor(user=director), patient=patient, kind="consultation", text=NOTE_TEXT)
    client = logged_in(director, Client(REMOTE_ADDR=PLANTED_IP))
    assert client.get(f"/patients/{patient.pk}/").status_code == 200
    assert AuditEntry.objects.filter(ip_address=PLANTED_IP).exists()
    # An emergency reading in recovery (written directly: the monitoring path is tested in
    # test_infusions), its summary free text naming the patient.
    assert session.ended_at is not None
    nurse = User.objects.get(username="nurse")
    reading = VitalsEntry.objects.create(
        session=session,
        phase=VitalsEntry.Phase.RECOVERY,
        measured_at=session.ended_at + dt.timedelta(minutes=20),
        systolic_mmhg=212,
        diastolic_mmhg=128,
        heart_rate_bpm=140,
        spo2_percent=97,
        level="emergency",
        reasons=[EMERGENCY_TEXT],
        assessment={},
        by=nurse,
    )
    AdverseEvent.objects.create(
        session=session,
        reading=reading,
        level="emergency",
        summary=EMERGENCY_TEXT,
        at=reading.measured_at,
    )
    new = token_create(
        actor=Actor.system("tests"),
        user=User.objects.get(username="nurse"),
        scopes=["patients:read"],
    )
    return patient, new.token


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        demo_load()
        riverside = Clinic.objects.get(slug="riverside")
        planted, token = _plant(riverside)
        export = research_export(
            actor=Actor.system("tests"), clinic=riverside, formats=(Format.CSV, Format.PARQUET)
        )
        pseudonyms = Pseudonyms()
        data = research_data(riverside, pseudonyms)
        yield World(
            riverside=riverside,
            harbor=Clinic.objects.get(slug="harbor"),
            planted=planted,
            export=export,
            data=data,
            pseudonyms=pseudonyms,
            token=token,
        )
        transaction.set_rollback(True)


# ---- reading the files back -------------------------------------------------------------------


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def _parquet(data: bytes) -> tuple[list[str], list[list[Any]]]:
    table = pq.read_table(io.BytesIO(data))
    rows = table.to_pylist()
    return table.column_names, [[row[name] for name in table.column_names] for row in rows]


def _as_csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _cells(files: dict[str, bytes]) -> list[tuple[str, str, str]]:
    """(file, column, cell text) for every cell of every CSV and Parquet file."""
    found: list[tuple[str, str, str]] = []
    for name, data in files.items():
        if name.endswith(".csv") and name != "data_dictionary.csv":
            header, *rows = _csv(data)
            found += [(name, header[i], cell) for row in rows for i, cell in enumerate(row)]
        elif name.endswith(".parquet"):
            columns, values = _parquet(data)
            found += [
                (name, columns[i], _as_csv_text(cell))
                for row in values
                for i, cell in enumerate(row)
            ]
    return found


def _secrets(world: World) -> list[str]:
    """Every identifying text of Riverside: the planted values, every patient's names, record
    number, contacts and birth date, notes and free text, staff names and licence numbers,
    the audit trail's IP addresses, token prefixes and the new token, the events' uuids."""
    found: set[str] = set(sweep.secrets_of(world.riverside))
    found |= {str(v) for k, v in PLANTED.items() if k != "date_of_birth"}
    found |= {NOTE_TEXT, "Philippa Wrenhaven", "Wrenhaven", PLANTED_IP, world.token, EMERGENCY_TEXT}
    for p in Patient.objects.filter(clinic=world.riverside):
        found |= {p.given_name, p.family_name, p.mrn, p.phone, p.email, p.postal_code}
        found |= {p.address_line, p.city, p.emergency_contact_phone, p.escort_phone}
        found |= {p.date_of_birth.isoformat(), p.date_of_birth.strftime("%m/%d/%Y")}
    found |= set(
        ClinicalNote.objects.filter(patient__clinic=world.riverside).values_list("text", flat=True)
    )
    events = InfusionEvent.objects.filter(session__patient__clinic=world.riverside)
    found |= set(events.values_list("note", flat=True))
    found |= {str(u) for u in events.values_list("client_uuid", flat=True)}
    sessions = InfusionSession.objects.filter(patient__clinic=world.riverside)
    for field in (
        "override_reason",
        "risk_acknowledgement",
        "baseline_override_reason",
        "vial_lot",
    ):
        found |= set(sessions.values_list(field, flat=True))
    effects = SideEffect.objects.filter(session__patient__clinic=world.riverside)
    found |= set(effects.values_list("note", flat=True))
    found |= set(effects.values_list("other_description", flat=True))
    courses = Course.objects.filter(patient__clinic=world.riverside)
    found |= set(courses.values_list("notes", flat=True))
    found |= set(courses.values_list("plan_explanation", flat=True))
    ips = AuditEntry.objects.filter(ip_address__isnull=False).values_list("ip_address", flat=True)
    found |= {str(ip) for ip in ips}
    found |= set(ApiToken.objects.values_list("prefix", flat=True))
    found |= set(Credential.objects.values_list("number", flat=True))
    # Usernames, but not the demo's role words ("director" is also a word of the dictionary).
    roles = {"patient", "nurse", "prescriber", "director", "frontdesk", "network"}
    found |= set(User.objects.filter(clinic=world.riverside).values_list("username", flat=True))
    found -= roles
    return sorted(s for s in found if s and len(s.strip()) >= 4)


# ---- no identifier survives -----------------------------------------------------------------


def test_no_planted_identifier_survives_in_any_cell(world: World, db: None) -> None:
    secrets = _secrets(world)
    # The scan would find them: the planted values are among the secrets, and the files have
    # cells in every table and both formats.
    assert {"Quillfeather", PLANTED_IP, "417 Larkspur Hollow Road", world.token} <= set(secrets)
    assert world.planted.mrn in secrets
    assert "Philippa Wrenhaven" in secrets
    cells = _cells(world.export.files)
    assert {f for f, _, _ in cells} == {f"{t.name}.{x}" for t in TABLES for x in ("csv", "parquet")}
    leaks = [
        f"{f}:{col}={cell!r} holds {s!r}" for f, col, cell in cells for s in secrets if s in cell
    ]
    assert leaks == []
    # Nor anywhere in the raw bytes of a file (Parquet metadata, the manifest, the dictionary).
    raw = [
        f"{name} holds {s!r}"
        for name, data in world.export.files.items()
        for s in secrets
        if s.encode() in data
    ]
    assert raw == []


def test_no_internal_id_is_a_research_id(world: World, db: None) -> None:
    """Research ids are random: none is (or contains) an internal id or a record number."""
    internal = {str(pk) for pk in Patient.objects.values_list("pk", flat=True)}
    internal |= {str(pk) for pk in Course.objects.values_list("pk", flat=True)}
    internal |= {str(pk) for pk in InfusionSession.objects.values_list("pk", flat=True)}
    internal |= set(Patient.objects.values_list("mrn", flat=True))
    ids = [cell for _, col, cell in _cells(world.export.files) if col.endswith("_id") and cell]
    assert ids, "the files have research ids"
    assert all(cell[:2] in ("P-", "C-", "I-") and len(cell) == 12 for cell in ids)
    assert [cell for cell in ids if cell[2:] in internal or cell in internal] == []
    # And they are new at each export: the two exports of this module share no id.
    again = {cell for _, col, cell in _cells_of(world.data) if col.endswith("_id") and cell}
    assert again
    assert not again & set(ids)


def _cells_of(data: ResearchData) -> list[tuple[str, str, str]]:
    return [
        (name, column, _as_csv_text(value))
        for name, rows in data.tables.items()
        for row in rows
        for column, value in row.items()
    ]


def test_free_text_is_dropped_and_the_restricted_zip_is_000(world: World, db: None) -> None:
    pid = world.pseudonyms.research_id("P", ("patient", world.planted.pk))
    (row,) = [r for r in world.data.tables["patients"] if r["patient_id"] == pid]
    emergencies = [
        r for r in world.data.tables["safety_events"] if r["kind"] == "vital_sign_emergency"
    ]
    assert [r["patient_id"] for r in emergencies] == [pid]
    assert row["zip3"] == "000"  # 036 is one of the 17 restricted three-digit areas
    assert row["age_group"] == "90+"
    others = [r for r in world.data.tables["patients"] if r["patient_id"] != pid]
    assert others
    assert all(r["age_group"] != "90+" for r in others)
    for table in TABLES:  # no column of free text
        assert not {"note", "notes", "reason", "comment", "text", "name"} & set(table.names)


# ---- dates ----------------------------------------------------------------------------------


def _patient_of(world: World) -> dict[str, int]:
    """Research id -> the internal patient id (only the test knows the pseudonyms)."""
    return {
        rid: key[1]  # type: ignore[index]
        for (kind, key), rid in world.pseudonyms._ids.items()
        if kind == "P"
    }


def test_dates_shift_by_one_offset_per_patient(world: World, db: None) -> None:
    patient_of = _patient_of(world)
    offsets: dict[int, set[int]] = {}
    # Courses: the shifted start against the real start.
    course_of = {rid: key[1] for (kind, key), rid in world.pseudonyms._ids.items() if kind == "C"}  # type: ignore[index]
    for row in world.data.tables["courses"]:
        real = Course.objects.get(pk=course_of[str(row["course_id"])]).start_on
        shifted = row["start_date"]
        assert isinstance(shifted, dt.date)
        offsets.setdefault(patient_of[str(row["patient_id"])], set()).add((shifted - real).days)
    # Questionnaires: the shifted day against the real day (clinic time), in taken order.
    for rid, pk in patient_of.items():
        real_days = [
            clinic_day(world.riverside, r.taken_at)
            for r in InstrumentResponse.objects.filter(patient_id=pk).order_by("taken_at", "pk")
        ]
        shifted_days = [
            r["date"] for r in world.data.tables["questionnaires"] if r["patient_id"] == rid
        ]
        assert len(real_days) == len(shifted_days)
        for real, shifted in zip(real_days, shifted_days, strict=True):
            assert isinstance(shifted, dt.date)
            offsets.setdefault(pk, set()).add((shifted - real).days)
    assert len(offsets) >= 5
    # One offset per patient (so every interval within a patient is kept), never 0.
    assert all(len(found) == 1 for found in offsets.values()), offsets
    per_patient = [next(iter(found)) for found in offsets.values()]
    assert 0 not in per_patient
    assert all(abs(o) <= 365 for o in per_patient)
    # Different between patients (random: with 8 patients out of 730 offsets, not all alike).
    assert len(set(per_patient)) > 1


# ---- the files agree with each other and with the dictionary ------------------------------


def test_parquet_and_csv_hold_the_same_data(world: World, db: None) -> None:
    files = world.export.files
    for table in TABLES:
        header, *rows = _csv(files[f"{table.name}.csv"])
        columns, values = _parquet(files[f"{table.name}.parquet"])
        assert header == columns == list(table.names)
        assert rows == [[_as_csv_text(v) for v in row] for row in values]
    assert sum(len(_parquet(files[f"{t.name}.parquet"])[1]) for t in TABLES) > 50


def test_the_dictionary_lists_exactly_the_columns_present(world: World, db: None) -> None:
    files = world.export.files
    header, *entries = _csv(files["data_dictionary.csv"])
    assert header == ["table", "column", "type", "unit", "meaning", "de-identification"]
    listed = {(e[0], e[1]) for e in entries}
    present = {
        (table.name, column) for table in TABLES for column in _csv(files[f"{table.name}.csv"])[0]
    }
    assert listed == present
    assert len(entries) == len(listed)
    assert all(e[4] and e[5] for e in entries)  # every column has a meaning and its method
    types = {(e[0], e[1]): e[2] for e in entries}
    for table in TABLES:
        schema = pq.read_schema(io.BytesIO(files[f"{table.name}.parquet"]))
        for field in schema:
            expected = {
                "string": "string",
                "int64": "integer",
                "double": "float",
                "bool": "boolean",
                "date32[day]": "date",
            }
            assert expected[str(field.type)] == types[(table.name, field.name)]


def test_the_manifest_counts_the_rows_and_states_safe_harbor(world: World, db: None) -> None:
    manifest = json.loads(world.export.files["manifest.json"])
    assert manifest["row_counts"] == world.export.counts
    for table in TABLES:
        assert (
            manifest["row_counts"][table.name]
            == len(_csv(world.export.files[f"{table.name}.csv"])) - 1
        )
    assert "164.514(b)(2)" in manifest["safe_harbor_statement"]
    assert len(manifest["identifiers_removed"]) == 18
    assert manifest["ketaflow_version"]
    assert manifest["exported_at"]
    assert "shifted" in manifest["dates"]
    assert sorted(manifest["files"]) == sorted(world.export.files)


def test_the_contents_cover_every_kind_of_data(world: World, db: None) -> None:
    counts = world.export.counts
    for name in (
        "patients",
        "courses",
        "infusions",
        "questionnaires",
        "outcomes",
        "pk_predictions",
    ):
        assert counts[name] > 0, name
    assert counts["adverse_events"] > 0
    assert counts["safety_events"] > 0
    (pk,) = world.data.tables["pk_predictions"][:1]
    assert pk["model"] == "domino"
    cmax = pk["cmax_ng_per_ml"]
    assert isinstance(cmax, float)
    assert cmax > 0
    cssrs = [r for r in world.data.tables["questionnaires"] if r["instrument"] == "cssrs"]
    assert cssrs
    assert all(r["total"] is None and r["severity_band"] for r in cssrs)


# ---- the page: the director's own clinic only ------------------------------------------------


URL = "/research/export/"


def test_route_is_named() -> None:
    assert reverse("research_export") == URL
    assert [r for r in Role if has_perm(r, Perm.RESEARCH_EXPORT)] == [Role.MEDICAL_DIRECTOR]


def test_the_director_downloads_a_zip_and_the_export_is_audited(world: World, db: None) -> None:
    client = logged_in(User.objects.get(username="director"))
    page = client.get(URL)
    assert page.status_code == 200
    assert b"Research export" in page.content
    assert b"Safe Harbor" in page.content
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = client.post(URL, {"formats": ["csv"]})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = {Path(n).name for n in archive.namelist()}
    assert names == {f"{t.name}.csv" for t in TABLES} | {"data_dictionary.csv", "manifest.json"}
    entry = AuditEntry.objects.get(id__gt=since, object_type="research_export", action="export")
    assert "PK predictions" in entry.summary  # in words on the audit page
    assert entry.actor_username == "director"
    assert entry.clinic_id == world.riverside.pk
    assert entry.detail["row_counts"]["patients"] == len(research_patients(world.riverside))
    assert sorted(entry.patient_ids) == sorted(p.pk for p in research_patients(world.riverside))


def test_a_post_without_a_format_names_the_field(world: World, db: None) -> None:
    client = logged_in(User.objects.get(username="director"))
    response = client.post(URL, {})
    assert response.status_code == 400
    assert b"Formats: choose CSV, Parquet or both." in response.content


@pytest.mark.parametrize(
    "username",
    ["nurse", "prescriber", "frontdesk", "patient", "network", "harbor-nurse", "harbor-patient"],
)
def test_others_are_refused_get_and_post(world: World, db: None, username: str) -> None:
    client = logged_in(User.objects.get(username=username))
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for response in (client.get(URL), client.post(URL, {"formats": ["csv", "parquet"]})):
        assert response.status_code == 403
        assert response.get("Content-Type", "").startswith("text/html")
        if username.startswith(("harbor-", "network")):  # Riverside's own staff see its name
            text = sweep.response_text(response)
            assert sweep.leaks(text, sweep.secrets_of(world.riverside)) == []
    assert not AuditEntry.objects.filter(id__gt=since, action="export").exists()
    assert (
        AuditEntry.objects.filter(
            id__gt=since, action="denied", object_type="research_export"
        ).count()
        == 2
    )


def test_another_clinic_s_director_gets_only_their_own_clinic(world: World, db: None) -> None:
    client = logged_in(User.objects.get(username="harbor-director"))
    page = client.get(URL + "?clinic=riverside")
    assert page.status_code == 200
    assert sweep.leaks(sweep.response_text(page), sweep.secrets_of(world.riverside)) == []
    response = client.post(URL + "?clinic=riverside", {"formats": ["csv"], "clinic": "riverside"})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    files = {Path(n).name: archive.read(n) for n in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    assert manifest["row_counts"]["patients"] == len(research_patients(world.harbor))
    assert manifest["row_counts"]["patients"] != len(research_patients(world.riverside))
    secrets = _secrets(world)
    assert [s for name, data in files.items() for s in secrets if s.encode() in data] == []
    entry = AuditEntry.objects.filter(object_type="research_export", action="export").latest("id")
    assert entry.clinic_id == world.harbor.pk
    riverside = set(Patient.objects.filter(clinic=world.riverside).values_list("pk", flat=True))
    assert not riverside & set(entry.patient_ids)


# ---- the command ----------------------------------------------------------------------------


def test_cli_writes_the_files_with_progress(
    world: World, db: None, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "export"
    assert (
        main(
            [
                "research",
                "export",
                "--clinic",
                "riverside",
                "--out",
                str(out),
                "--format",
                "parquet",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert f"patients {len(research_patients(world.riverside))}/" in captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{t.name}.parquet" for t in TABLES] + ["data_dictionary.csv", "manifest.json"]
    )
    assert "files in" in captured.out
    entry = AuditEntry.objects.filter(object_type="research_export").latest("id")
    assert entry.actor_username.startswith("system:ketaflow research export (")
    assert entry.detail["formats"] == ["parquet"]
    assert TABLES_BY_NAME["patients"].names == tuple(pq.read_schema(out / "patients.parquet").names)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clinic", "nowhere"], "--clinic: no clinic with the slug 'nowhere'"),
        (["--clinic", "riverside", "--format", "xlsx"], "--format: 'xlsx' is not a format"),
        (["--clinic", "riverside", "--format", ","], "--format: give csv, parquet or both"),
        (["--clinic", "riverside", "--out-is-file"], "is a file, not a directory"),
        (["--clinic", "riverside", "--out-not-empty"], "the directory is not empty"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    world: World, db: None, tmp_path: Path, capsys: Any, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    if "--out-is-file" in args:
        out.write_text("x")
        args = [a for a in args if a != "--out-is-file"]
    if "--out-not-empty" in args:
        out.mkdir()
        (out / "old.csv").write_text("x")
        args = [a for a in args if a != "--out-not-empty"]
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    assert main(["research", "export", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not AuditEntry.objects.filter(id__gt=since, action="export").exists()
