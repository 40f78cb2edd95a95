"""Demo data of the portal: the demo patient's authenticator (a fixed secret, printed by
``ketaflow demo`` so that anyone trying the demo can add it to an app), open questionnaires,
and one unacknowledged urgent task. Idempotent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts import second_factor
from ketaflow.accounts.clinictime import clinic_zone
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.patients.models import Patient
from ketaflow.portal import totp
from ketaflow.portal.answers import response_record
from ketaflow.portal.models import DueQuestionnaire, UrgentTask
from ketaflow.portal.plan import plan_generate

DEMO_PATIENT_USERNAME = "patient"
# Base32 (RFC 4648), 32 characters = 160 bits, the RFC 4226 recommended key length. Public on
# purpose: it is the demo's, printed at every `ketaflow demo`.
DEMO_TOTP_KEY = "KETAFLOWDEMOPATIENTTOTPSECRET234"
# PHQ-9 answers of the demo's urgent task: total 14 (moderate), item 9 answered 1.
DEMO_FLAGGED_PHQ9 = [2, 2, 1, 2, 1, 2, 1, 2, 1]


@dataclass(frozen=True)
class PortalDemo:
    totp_secret: str
    otpauth_uri: str
    due_created: int
    urgent_tasks_created: int


@transaction.atomic
def load_demo(
    *,
    clinic: Clinic,
    today: dt.date,
    staff: Mapping[str, User],
    username: str = DEMO_PATIENT_USERNAME,
    totp_key: str = DEMO_TOTP_KEY,
) -> PortalDemo:
    """Give the clinic's demo patient login ``username`` a TOTP device with ``totp_key``, the
    measurement plan's due questionnaires plus two open ones, and raise one urgent task (a
    PHQ-9 with item 9 above 0, entered by the nurse in ``staff``) for another demo patient.
    Returns the secret and the otpauth URL for ``ketaflow demo`` to print."""
    now = timezone.now()
    user = User.objects.get(username=username, role=Role.PATIENT)
    if not second_factor.has_second_factor(user):
        second_factor.enrol_totp(user=user, secret=totp_key, last_t=0)
    due_before = DueQuestionnaire.objects.count()
    plan_generate(now=now)
    patient = Patient.objects.get(user=user, clinic=clinic)
    opens = dt.datetime.combine(today, dt.time(0, 0), tzinfo=clinic_zone(clinic))
    for instrument in ("phq9", "pcl5"):
        exists = DueQuestionnaire.objects.filter(
            patient=patient, course=None, timepoint="demo-check-in", instrument=instrument
        ).exists()
        if not exists:
            DueQuestionnaire.objects.create(
                patient=patient,
                course=None,
                instrument=instrument,
                timepoint="demo-check-in",
                label="weekly check-in",
                due_at=opens,
                window_ends_at=opens + dt.timedelta(days=7),
            )
    due_created = DueQuestionnaire.objects.count() - due_before
    tasks_created = 0
    if not UrgentTask.objects.filter(clinic=clinic).exists():
        flagged = (
            Patient.objects.filter(clinic=clinic).exclude(pk=patient.pk).order_by("pk").first()
            or patient
        )
        nurse = staff.get("nurse")
        response_record(
            actor=Actor(user=nurse) if nurse is not None else Actor.system("demo"),
            patient=flagged,
            instrument="phq9",
            answers=DEMO_FLAGGED_PHQ9,
            context="follow-up",
            taken_at=now - dt.timedelta(hours=2),
        )
        tasks_created = UrgentTask.objects.filter(clinic=clinic).count()
    return PortalDemo(
        totp_secret=totp_key,
        otpauth_uri=totp.provisioning_uri(totp_key, username),
        due_created=due_created,
        urgent_tasks_created=tasks_created,
    )
