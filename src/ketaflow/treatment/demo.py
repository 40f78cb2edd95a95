"""Demo chairs, opening hours and courses (called from ``ketaflow.web.demo``).

Idempotent: chairs are found by name, opening hours by weekday, and a demo course by patient and
start date, so calling again adds nothing. Courses go through the same services as the web app.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Final

from django.db import transaction

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.clinical import DRUG_LIBRARY, Indication
from ketaflow.patients.models import Patient
from ketaflow.treatment import services
from ketaflow.treatment.models import Chair, Course, OpeningHours

DEMO_CHAIRS: Final = ("Chair 1", "Chair 2", "Chair 3", "Chair 4")
DEMO_OPENS: Final = dt.time(8, 0)
DEMO_CLOSES: Final = dt.time(18, 0)
DEMO_WEEKDAYS: Final = (0, 1, 2, 3, 4)  # Monday to Friday
DEMO_WEIGHT_KG: Final = Decimal("72.5")  # a plausible adult weight for the demo
DEMO_TIMES: Final = (dt.time(9, 0), dt.time(11, 0), dt.time(13, 0), dt.time(15, 0))


@transaction.atomic
def load_demo(*, actor: Actor, clinic: Clinic, today: dt.date) -> dict[str, int]:
    """Four chairs and Monday-Friday 08:00-18:00 opening hours for ``clinic``; returns how many
    chairs and opening-hours rows were created. ``actor`` and ``today`` are for symmetry with
    the other demo loaders (nothing here is patient data or depends on the date)."""
    chairs = 0
    for name in DEMO_CHAIRS:
        _, created = Chair.objects.get_or_create(clinic=clinic, name=name)
        chairs += created
    hours = 0
    for weekday in DEMO_WEEKDAYS:
        if not OpeningHours.objects.filter(clinic=clinic, weekday=weekday).exists():
            row = OpeningHours(
                clinic=clinic, weekday=weekday, opens_at=DEMO_OPENS, closes_at=DEMO_CLOSES
            )
            row.full_clean()
            row.save()
            hours += 1
    return {"chairs": chairs, "opening_hours": hours}


def _demo_nurse(clinic: Clinic) -> User | None:
    staff = User.objects.filter(clinic=clinic, is_active=True).order_by("pk")
    nurses = [u for u in staff if u.may(Perm.ADMINISTER) and not u.may(Perm.PLAN_COURSE)]
    return nurses[0] if nurses else None


@transaction.atomic
def demo_course(
    *,
    actor: Actor,
    patient: Patient,
    candidacy: CandidacyAssessment,
    start_on: dt.date,
    indication: Indication | None = None,
) -> Course:
    """Plan and book a standard induction (drug-library defaults, six infusions three a week)
    for ``patient`` from ``start_on`` (for the candidacy's first indication unless one is
    given, PTSD if it names none); ``actor`` must be a prescriber or the medical director
    with current credentials. Each infusion goes in the first chair free at the first demo time
    that has one, with the clinic's first nurse. Past dates are allowed (demo history).
    An existing course of the patient with the same start date is returned as it is."""
    existing = Course.objects.filter(patient=patient, start_on=start_on).first()
    if existing is not None:
        return existing
    if indication is None:
        named = [i for i in candidacy.indications if i in {x.value for x in Indication}]
        indication = Indication(named[0]) if named else Indication.PTSD
    entry = DRUG_LIBRARY[indication]
    course = services.course_plan(
        actor=actor,
        patient=patient,
        candidacy=candidacy,
        kind=Course.Kind.INDUCTION,
        indication=indication.value,
        drug_library_key=f"ketamine-{indication.value}",
        dose_mg_per_kg=Decimal(str(entry.default_dose_mg_per_kg)),
        duration_min=Decimal(str(entry.default_duration_min)),
        weight_basis=Course.WeightBasis.ACTUAL,
        pattern=Course.Pattern.THREE_A_WEEK,
        infusions_planned=6,  # Feder 2021; Albott 2018; Murrough 2013: six infusions
        start_on=start_on,
        weight_kg=DEMO_WEIGHT_KG,
        allow_past=True,
    )
    nurse = _demo_nurse(patient.clinic)
    for at in DEMO_TIMES:
        requests = [
            services.SlotRequest(
                sequence=index + 1, on=dt.date.fromisoformat(day), at=at, nurse=nurse
            )
            for index, day in enumerate(course.planned_dates)
        ]
        try:
            slots = services.slots_from_requests(course=course, requests=requests)
            services.course_book(actor=actor, course=course, slots=slots, allow_past=True)
        except services.BookingRefused:
            continue
        break
    return course
