"""The web app's commands, called as a user calls them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from ketaflow.accounts.models import User
from ketaflow.accounts.second_factor import secret_of, totp_device
from ketaflow.audit.db import drop_triggers
from ketaflow.cli import main
from ketaflow.patients.models import Patient
from tests.web.conftest import World

KETAFLOW = str(Path(sys.executable).with_name("ketaflow"))


def test_demo_loads_once_and_prints_one_login_per_role(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/login/" in out
    for role in ("Medical director", "Prescriber", "Infusion nurse", "Front desk", "Patient"):
        assert role in out
    for username in ("director", "patient", "harbor-director", "harbor-nurse", "harbor-patient"):
        assert f" username {username} " in out
    assert "Harbor Infusion Center:" in out
    # Every login's line carries its TOTP secret: the patients' and each enrolled member of staff.
    for line in out.splitlines():
        if " username " in line:
            secret = line.split("TOTP secret ")[1].strip()
            user = User.objects.get(username=line.split(" username ")[1].split()[0])
            device = totp_device(user)
            assert device is not None, line
            assert secret_of(device) == secret, line
    assert "also enters a code from an authenticator app" in out
    listed = sum(1 for line in out.splitlines() if " username " in line)
    assert f"as one of these {listed} logins:" in out  # the count said is the count listed
    _the_demo_story_is_coherent()
    counts = (User.objects.count(), Patient.objects.count())
    assert main(["demo"]) == 0
    assert "nothing added" in capsys.readouterr().out
    assert (User.objects.count(), Patient.objects.count()) == counts
    patient_user = User.objects.get(username="patient")
    assert Patient.objects.get(user=patient_user).family_name == "Morgan"


def _the_demo_story_is_coherent() -> None:
    """Issue 14 item 11: every booked infusion and every ledger draw inside the clinic's opening
    hours on its own clock, and ketamine drawn or given only for patients with a signed
    candidacy and a consent. (The infusions charted as complete or running "now" follow the
    time the demo is loaded, which may be after hours: they and the draws for their sessions are
    left out here.)"""
    from ketaflow.accounts.clinictime import clinic_local
    from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
    from ketaflow.infusions.models import InfusionSession
    from ketaflow.ledger.models import LedgerEntry
    from ketaflow.treatment.models import Appointment, OpeningHours

    outside: list[str] = []
    charted_now = InfusionSession.objects.values_list("appointment_id", flat=True)
    booked = Appointment.objects.exclude(status=Appointment.Status.CANCELLED)
    spans = [
        (str(a.patient), a.patient.clinic, a.starts_at, a.ends_at)
        for a in booked.exclude(pk__in=charted_now).select_related("patient__clinic")
    ]
    spans += [
        (f"ledger #{e.seq}", e.clinic, e.at, e.at)
        for e in LedgerEntry.objects.filter(
            kind=LedgerEntry.Kind.DRAWN, session__isnull=True
        ).select_related("clinic")
    ]
    for what, clinic, begins, ends in spans:
        start, end = clinic_local(clinic, begins), clinic_local(clinic, ends)
        hours = OpeningHours.objects.filter(clinic=clinic, weekday=start.weekday())
        if not any(h.opens_at <= start.time() and end.time() <= h.closes_at for h in hours):
            outside.append(f"{what} {start:%a %Y-%m-%d %H:%M}-{end:%H:%M} {clinic}")
    assert not outside, outside
    given = {e.patient for e in LedgerEntry.objects.filter(patient__isnull=False) if e.patient}
    given |= {s.patient for s in InfusionSession.objects.filter(started_at__isnull=False)}
    unready = [
        str(p) for p in given if signed_candidacy_for(p) is None or current_consent_for(p) is None
    ]
    assert not unready, unready


def test_audit_verify_reports_intact_and_broken(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo"])
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "Riverside Ketamine Clinic's audit chain intact" in out
    assert "The network audit chain (actions of no clinic) intact" in out
    assert main(["audit", "verify", "--clinic", "riverside"]) == 0
    assert capsys.readouterr().out.count("intact") == 1
    drop_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET summary = 'x' WHERE seq = 3 AND clinic_id IS NOT NULL"
        )
    assert main(["audit", "verify"]) == 1
    captured = capsys.readouterr()
    assert "AUDIT CHAIN BROKEN: Riverside Ketamine Clinic's audit chain: entry #3 was altered" in (
        captured.err
    )
    assert "The network audit chain (actions of no clinic) intact" in captured.out
    assert main(["audit", "verify", "--clinic", "riverside"]) == 1


def test_audit_verify_of_an_unknown_clinic_is_one_line_and_exit_2(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--clinic", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert err == "ketaflow audit: error: --clinic: no clinic with the slug 'nowhere'\n"


@pytest.mark.parametrize(
    "args",
    [["--help"], ["serve", "--help"], ["demo", "--help"], ["audit", "verify", "--help"]],
)
def test_help_for_each_command(args: list[str]) -> None:
    result = subprocess.run([KETAFLOW, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "usage: ketaflow" in result.stdout


def test_bad_port_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [KETAFLOW, "serve", "--port", "99999"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "port must be between 1 and 65535" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "production mode requires KETAFLOW_SECRET_KEY"),
        ({"KETAFLOW_SECRET_KEY": "s" * 60}, "production mode requires KETAFLOW_ALLOWED_HOSTS"),
        ({"KETAFLOW_SECRET_KEY": "short"}, "at least 50 characters"),
    ],
)
def test_production_refuses_to_start_without_secret_and_hosts(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    environ.update(env, KETAFLOW_ENV="production", KETAFLOW_VAR_DIR=str(tmp_path))
    environ["DJANGO_SETTINGS_MODULE"] = "ketaflow.settings"
    result = subprocess.run(
        [KETAFLOW, "audit", "verify"], capture_output=True, text=True, env=environ, check=False
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


@pytest.mark.sqlite_only  # its own SQLite file in a subprocess, never the test database
def test_demo_is_refused_in_production(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    environ.update(
        KETAFLOW_ENV="production",
        KETAFLOW_SECRET_KEY="p" * 60,
        KETAFLOW_ALLOWED_HOSTS="clinic.example.org",
        KETAFLOW_AUDIT_KEY="a" * 40,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="ketaflow.settings",
    )
    result = subprocess.run(
        [KETAFLOW, "demo"], capture_output=True, text=True, env=environ, check=False
    )
    assert result.returncode == 2
    assert "not loaded in production mode" in result.stderr
    assert "Traceback" not in result.stderr
    # Refused before anything was done: the production database was not migrated (it was, and
    # the refusal came after the migration of an empty file, 17 s).
    database = tmp_path / "db.sqlite3"
    assert not database.exists() or database.stat().st_size == 0


def _run_with_database(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KETAFLOW_")}
    environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="ketaflow.settings")
    return subprocess.run(
        [KETAFLOW, *args], capture_output=True, text=True, env=environ, check=False
    )


@pytest.mark.sqlite_only  # its own SQLite file in a subprocess, never the test database
@pytest.mark.parametrize("command", [["audit", "verify"], ["ledger", "verify"]])
@pytest.mark.parametrize("where", ["unmigrated", "unreachable"])
def test_verify_on_a_database_it_cannot_use_is_one_line(
    tmp_path: Path, command: list[str], where: str
) -> None:
    """Issue 10, item 21: tracebacks for `audit verify` and `ledger verify` on an unmigrated
    database or an unreachable address."""
    url = (
        f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        if where == "unmigrated"
        else "postgres://nobody:secret@127.0.0.1:1/nothing"
    )
    result = _run_with_database(url, *command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot use the database" in result.stderr


def test_reconcile_of_a_day_in_the_future_is_one_line(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process on the test database (it migrated a new SQLite file and created the
    clinic in two more processes first: 27 s for one line of output)."""
    assert main(["ledger", "reconcile", "--clinic", world.clinic.slug, "--day", "9999-12-31"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert "--day 9999-12-31 is in the future" in err


def test_a_model_validation_error_is_one_line_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.exceptions import ValidationError

    from ketaflow.cli import main, web

    def refuse(args: object) -> int:
        raise ValidationError({"clinic": ["This field cannot be blank."]})

    monkeypatch.setattr(web, "cmd_demo", refuse)
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err == "ketaflow demo: error: clinic: This field cannot be blank.\n"
