"""The load benchmark's data: the demo clinics, more clinics like Riverside, more patients and one
login per simulated user (each with its own second factor), written as JSON for the scenario.

    DJANGO_SETTINGS_MODULE=ketaflow.settings python benchmarks/load/seed.py OUT.json \
        [--clinics 4] [--patients 60] [--logins 60]

Run by ``benchmarks/load/run.py`` against the database it started (never against a real
clinic's: the demo loader refuses production mode). A TOTP code is accepted once per 30-s step
for each device, so simulated users never share a login: ``--logins`` per role (spread over the
clinics), each enrolled with a secret written to OUT.json.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import django

# The scenario's mix (scenario.py's user classes take these weights): of 12 simulated users, 4
# nurses, 2 prescribers, 2 at the front desk, 3 patients and 1 director.
WEIGHTS = {"nurse": 4, "prescriber": 2, "frontdesk": 2, "patient": 3, "director": 1}
ROLES = tuple(WEIGHTS)
PASSWORD = "ketaflow-load-benchmark"  # noqa: S105 - a throwaway database's logins only


def secret_for(username: str) -> str:
    """A login's TOTP secret (Base32, 160 bits), derived from its name."""
    digest = hashlib.sha256(f"ketaflow-load:{username}".encode()).digest()[:20]
    return base64.b32encode(digest).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--clinics", type=int, default=4, help="clinics like Riverside, added")
    parser.add_argument("--patients", type=int, default=60, help="more patients per clinic")
    parser.add_argument("--users", type=int, default=200, help="simulated users at most")
    args = parser.parse_args(argv)
    django.setup()
    data = seed(clinics=args.clinics, patients=args.patients, users=args.users)
    args.out.write_text(json.dumps(data, indent=1))
    counts = data["counts"]
    print(
        f"seeded {counts['clinics']} clinics, {counts['patients']} patients, "
        f"{counts['running_infusions']} running infusions, {counts['logins']} logins"
    )
    return 0


def _clinic_specs(extra: int) -> list[Any]:
    """Riverside's spec again under new names: staff, portal patient and credentials renamed
    (those are unique), each running infusion's patient twice more (three chairs busy)."""
    from ketaflow.ledger import demo as ledger_demo
    from ketaflow.web import demo

    specs = []
    for n in range(1, extra + 1):
        staff = []
        for person in demo._STAFF:
            clone = copy.deepcopy(person)
            clone["username"] = f"{person['username']}-{n}"
            clone["credentials"] = [
                (kind, licence, f"{number}-{n}", where)
                for kind, licence, number, where in person["credentials"]
            ]
            staff.append(clone)

        def patients(today: dt.date, n: int = n) -> list[dict[str, Any]]:
            people = []
            for person in demo._patients(today):
                copies = 3 if person["stage"] == "session_running" else 1
                for k in range(copies):
                    clone = copy.deepcopy(person)
                    if clone["username"]:
                        clone["username"] = f"{clone['username']}-{n}"
                    if k:
                        clone["username"] = None
                        data = clone["data"]
                        data["given_name"] += f" {chr(ord('A') + k)}"
                        data["phone"] = f"+1 555 09{n:02d} {k:03d}"
                        data["date_of_birth"] = data["date_of_birth"].replace(
                            year=data["date_of_birth"].year - k
                        )
                    people.append(clone)
            return people

        specs.append(
            demo._ClinicSpec(
                slug=f"load-{n}",
                name=f"Load Test Clinic {n}",
                address=f"{n} Load Street",
                staff=staff,
                patients=patients,
                patient_username=f"patient-{n}",
                totp_key=secret_for(f"patient-{n}"),
                supplies=ledger_demo.RIVERSIDE_SUPPLIES,
                ledger_days=ledger_demo.DAYS,
                outcomes=True,
                phone=f"+1 555 01{n:02d} 100",
            )
        )
    return specs


def _person(i: int, clinic_slug: str) -> dict[str, Any]:
    return {
        "given_name": f"Load{i}",
        "family_name": f"Patient {clinic_slug}",
        "date_of_birth": dt.date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
        "sex_at_birth": "female" if i % 2 else "male",
        "phone": f"+1 555 02{i % 100:02d} {i:03d}",
        "emergency_contact_name": "Sam Contact",
        "emergency_contact_relationship": "friend",
        "emergency_contact_phone": "+1 555 0300 000",
        "escort_name": "Sam Contact",
        "escort_phone": "+1 555 0300 000",
    }


def logins_needed(role: str, users: int) -> int:
    """Logins of ``role`` for ``users`` simulated users (locust rounds each class's share up)."""
    return -(-users * WEIGHTS[role] // sum(WEIGHTS.values())) + 2


def seed(*, clinics: int, patients: int, users: int) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from ketaflow.accounts import second_factor
    from ketaflow.accounts.models import Clinic, User
    from ketaflow.accounts.roles import Role
    from ketaflow.audit.context import Actor
    from ketaflow.infusions.models import InfusionSession
    from ketaflow.patients import services
    from ketaflow.patients.models import Patient
    from ketaflow.treatment.models import Appointment, Chair
    from ketaflow.web import demo

    demo.demo_load()
    for spec in _clinic_specs(clinics):
        with transaction.atomic():
            demo._load_clinic(spec)
    actor = Actor.system("load benchmark")
    all_clinics = list(Clinic.objects.order_by("pk"))
    for clinic in all_clinics:
        have = Patient.objects.filter(clinic=clinic, given_name__startswith="Load").count()
        with transaction.atomic():
            for i in range(have, patients):
                services.patient_register(
                    actor=actor, clinic_id=clinic.pk, data=_person(i, clinic.slug)
                )
    today = dt.datetime.now(dt.UTC)
    per_clinic: dict[str, dict[str, Any]] = {}
    for clinic in all_clinics:
        per_clinic[clinic.slug] = {
            "patients": list(
                Patient.objects.filter(clinic=clinic, active=True)
                .order_by("pk")
                .values_list("pk", flat=True)
            ),
            "running_sessions": list(
                InfusionSession.objects.filter(
                    patient__clinic=clinic, started_at__isnull=False, ended_at__isnull=True
                ).values_list("pk", flat=True)
            ),
            "appointments": list(
                Appointment.objects.filter(
                    patient__clinic=clinic,
                    starts_at__gt=today + dt.timedelta(days=2),
                    status=Appointment.Status.BOOKED,
                ).values_list("pk", flat=True)
            ),
            "chairs": list(
                Chair.objects.filter(clinic=clinic, active=True).values_list("pk", flat=True)
            ),
        }
    roles = {
        "nurse": Role.NURSE,
        "prescriber": Role.PRESCRIBER,
        "frontdesk": Role.FRONT_DESK,
        "director": Role.MEDICAL_DIRECTOR,
        "patient": Role.PATIENT,
    }
    accounts: dict[str, list[dict[str, Any]]] = {role: [] for role in ROLES}
    hashed = make_password(PASSWORD)  # once: Argon2 is slow on purpose
    charting = [c for c in all_clinics if per_clinic[c.slug]["running_sessions"]]
    for role in ROLES:
        homes = charting if role == "nurse" else all_clinics
        for i in range(logins_needed(role, users)):
            clinic = homes[i % len(homes)]
            username = f"lt-{role}-{i}"
            with transaction.atomic():
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User(
                        username=username,
                        role=roles[role],
                        clinic=clinic,
                        first_name="Load",
                        last_name=f"{role.title()} {i}",
                    )
                    user.password = hashed
                    user.save()
                    second_factor.enrol_totp(user=user, secret=secret_for(username), last_t=0)
                    if role == "patient":
                        patient = services.patient_register(
                            actor=actor,
                            clinic_id=clinic.pk,
                            data=_person(10_000 + i, clinic.slug) | {"given_name": f"Portal{i}"},
                        )
                        services.patient_link_login(actor=actor, patient=patient, user_id=user.pk)
            accounts[role].append(
                {
                    "username": username,
                    "password": PASSWORD,
                    "totp_secret": secret_for(username),
                    "clinic": user.clinic.slug if user.clinic else clinic.slug,
                }
            )
    return {
        "accounts": accounts,
        "clinics": per_clinic,
        "counts": {
            "clinics": len(all_clinics),
            "patients": Patient.objects.count(),
            "running_infusions": sum(len(c["running_sessions"]) for c in per_clinic.values()),
            "logins": sum(len(a) for a in accounts.values()),
        },
    }


if __name__ == "__main__":
    sys.exit(main())
