"""The README's REST API example, run as written against the demo clinic: its ``ketaflow``
command through the command's entry point, each ``curl`` as the same request to the app, each
``python3 -c`` with the previous answer on its input."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.test import Client

from ketaflow.accounts.models import User
from ketaflow.audit.models import AuditEntry
from ketaflow.cli import main
from ketaflow.infusions.models import VitalsEntry
from ketaflow.web.demo import demo_load

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://127.0.0.1:8000"


def readme_commands(heading: str = "## The REST API") -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split(heading + "\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def _curl(argv: list[str], answers: list[Any]) -> str:
    method, data, url = "GET", None, ""
    headers: dict[str, str] = {}
    args = iter(argv[1:])
    for arg in args:
        if arg == "-s":
            continue
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(": ")
            headers[name] = value
        elif arg == "-d":
            data = next(args)
        else:
            url = arg
    assert url.startswith(BASE), url
    content_type = headers.pop("Content-Type", "application/octet-stream")
    client = Client(headers=headers)
    path = url.removeprefix(BASE)
    if method == "GET":
        response = client.get(path)
    else:
        response = client.generic(method, path, data or "", content_type=content_type)
    answers.append(response)
    assert response.status_code < 400, (url, response.content)
    return response.content.decode()


def _run(command: str, env: dict[str, str], answers: list[Any]) -> str:
    command = re.sub(r"\$([A-Z_]+)", lambda m: env[m.group(1)], command)
    output = ""
    for part in command.split(" | "):
        argv = shlex.split(part)
        if argv[0] == ".venv/bin/ketaflow":
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                assert main(argv[1:]) == 0, err.getvalue()
            output = out.getvalue()
        elif argv[0] == "curl":
            output = _curl(argv, answers)
        elif argv[0] == "python3":
            output = subprocess.run(
                [sys.executable, *argv[1:]],
                input=output,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        else:  # pragma: no cover - the README names only these
            raise AssertionError(f"the test does not know {argv[0]!r}")
    return output


def test_the_readme_api_example_works_against_the_demo_clinic(db: None) -> None:
    demo_load()
    cache.clear()
    commands = readme_commands()
    assert len(commands) == 5
    env: dict[str, str] = {}
    answers: list[Any] = []
    for command in commands:
        assignment = re.fullmatch(r"([A-Z_]+)=\$\((.*)\)", command)
        if assignment:
            env[assignment.group(1)] = _run(assignment.group(2), env, answers).strip()
        else:
            _run(command, env, answers)
    assert env["TOKEN"].startswith("kf_")
    listed = answers[0].json()
    assert any(p["display_name"].endswith("Whitfield") for p in listed)
    recorded = answers[-1]
    assert recorded.status_code == 201
    entry = VitalsEntry.objects.get(pk=recorded.json()["id"])
    assert str(entry.client_uuid) == "6f1c2a7e-3b7d-4f8e-9a61-2d4c5b6e7f80"
    assert entry.session_id == int(env["SESSION"])
    assert recorded.json()["level"] == "normal"
    assert entry.by_id == User.objects.get(username="nurse").pk
    assert entry.session.patient.family_name == "Whitfield"
    assert AuditEntry.objects.filter(object_type="vitals_entry", object_id=str(entry.pk)).exists()


def test_the_readme_fhir_example_works_against_the_demo_clinic(db: None) -> None:
    demo_load()
    cache.clear()
    commands = readme_commands("## FHIR R4")
    assert len(commands) == 3
    env: dict[str, str] = {}
    answers: list[Any] = []
    for command in commands:
        assignment = re.fullmatch(r"([A-Z_]+)=\$\((.*)\)", command)
        if assignment:
            env[assignment.group(1)] = _run(assignment.group(2), env, answers).strip()
        else:
            _run(command, env, answers)
    everything = answers[-1]
    assert everything["Content-Type"] == "application/fhir+json"
    bundle = everything.json()
    assert bundle["resourceType"] == "Bundle"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Observation", "MedicationAdministration"} <= kinds
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert patient["id"] == env["PATIENT"]
    assert patient["name"][0]["family"] == "Whitfield"
    assert AuditEntry.objects.filter(
        actor_username="prescriber", object_type="patient", object_id=env["PATIENT"]
    ).exists()
