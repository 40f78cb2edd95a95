"""Planning a course and booking its infusions into chairs, with every refusal explained.

Every write takes the acting person (``actor``), runs in one transaction, calls ``full_clean()``
and writes its audit entry (with the patient) in that transaction. Booking is all or nothing:
every conflict of every requested slot is collected and the whole request is refused with the
list, so nothing is ever half-booked. Times are stored aware (UTC in the database) and compared
with opening hours in the clinic's own time zone (``Clinic.time_zone``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

# clinic_today and clinic_zone are re-exported: the apps imported them from here before.
from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.clinictime import clinic_today as clinic_today
from ketaflow.accounts.clinictime import clinic_zone as clinic_zone
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.candidacy.selectors import signed_candidacy_for
from ketaflow.clinical import (
    DRUG_LIBRARY,
    THREE_A_WEEK,
    TWICE_A_WEEK,
    ClinicalInputError,
    DrugLibraryEntry,
    Indication,
    InductionPlan,
    InductionSettings,
    Sex,
    WeightBasis,
    plan_induction,
)
from ketaflow.clinical import sources as clinical_sources
from ketaflow.clinical.dosing import basis_weight, check_limit
from ketaflow.clinicsettings.selectors import clinical_settings_for
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import (
    Appointment,
    Chair,
    Course,
    OpeningHours,
    ScheduleSettings,
)

# The drug library entries a course may dose from, by the key stored on the course.
LIBRARY_KEYS: Final[Mapping[str, Indication]] = MappingProxyType(
    {f"ketamine-{indication.value}": indication for indication in DRUG_LIBRARY}
)

# How each course pattern spaces its infusions (ketaflow.clinical.scheduling).
_SINGLE: Final = InductionSettings(
    infusions=1,
    per_week=1,
    min_days_between=1,
    source=f"single infusion: {clinical_sources.FEDER_2014}; {clinical_sources.MURROUGH_2013}",
)
PATTERN_SETTINGS: Final[Mapping[str, InductionSettings]] = MappingProxyType(
    {
        Course.Pattern.THREE_A_WEEK: THREE_A_WEEK,
        Course.Pattern.TWICE_A_WEEK: TWICE_A_WEEK,
        Course.Pattern.SINGLE: _SINGLE,
    }
)

# Appointments that hold their chair, patient and nurse (a cancelled one or a no-show does not).
HOLDING_STATUSES: Final = (
    Appointment.Status.BOOKED,
    Appointment.Status.ARRIVED,
    Appointment.Status.IN_PROGRESS,
    Appointment.Status.COMPLETED,
)


class BookingRefused(ValidationError):
    """A booking was refused; ``reasons`` names every conflict, one line each."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons


# ---- clinic settings and time ----------------------------------------------------------------


def schedule_settings(clinic: Clinic) -> ScheduleSettings:
    """The clinic's scheduling policy, or the defaults (unsaved) if it has not set one."""
    found = ScheduleSettings.objects.filter(clinic=clinic).first()
    return found if found is not None else ScheduleSettings(clinic=clinic)


def clinic_datetime(clinic: Clinic, on: dt.date, at: dt.time) -> dt.datetime:
    """The aware instant of the clinic's local wall-clock time ``at`` on ``on``."""
    return dt.datetime.combine(on, at, tzinfo=clinic_zone(clinic))


local = clinic_local


def open_weekdays(clinic: Clinic) -> list[int]:
    return sorted(set(OpeningHours.objects.filter(clinic=clinic).values_list("weekday", flat=True)))


def chair_minutes(course: Course, settings: ScheduleSettings) -> float:
    """How long an appointment holds the chair: the infusion plus the clinic's recovery time."""
    return float(course.duration_min) + float(settings.recovery_min)


# ---- planning ------------------------------------------------------------------------------


def induction_settings(pattern: str, infusions_planned: int) -> InductionSettings:
    base = PATTERN_SETTINGS.get(pattern)
    if base is None:
        raise ValidationError({"pattern": f"Unknown pattern {pattern!r}."})
    if pattern == Course.Pattern.SINGLE and infusions_planned != 1:
        raise ValidationError(
            {"infusions_planned": "A single-infusion course has exactly 1 infusion."}
        )
    try:
        return dataclasses.replace(base, infusions=infusions_planned)
    except ClinicalInputError as exc:
        raise ValidationError({"infusions_planned": str(exc)}) from None


def schedule_preview(
    *, clinic: Clinic, pattern: str, infusions_planned: int, start_on: dt.date
) -> InductionPlan:
    """The infusion dates the schedule rules give on the clinic's open weekdays (no write)."""
    weekdays = open_weekdays(clinic)
    if not weekdays:
        raise ValidationError(
            {"start_on": "The clinic has no opening hours: add them in Administration first."}
        )
    settings = induction_settings(pattern, infusions_planned)
    try:
        return plan_induction(start_on, weekdays, settings)
    except ClinicalInputError as exc:
        raise ValidationError({"start_on": str(exc)}) from None


@dataclass(frozen=True)
class DoseCheck:
    """The planned dose against the drug library: the weight it is based on, the dose in mg,
    and the soft-limit breaches (warnings at planning; the override is given on the day)."""

    entry: DrugLibraryEntry
    basis_weight_kg: float
    dose_mg: float
    soft_breaches: tuple[str, ...]
    weight_notes: tuple[str, ...]


def basis_weight_kg(
    *, patient: Patient, weight_basis: str, weight_kg: float, height_cm: float | None
) -> tuple[float, list[str]]:
    """The weight the mg/kg dose multiplies (``ketaflow.clinical.dosing.basis_weight``, with its
    warnings), or a ValidationError naming the field."""
    try:
        basis_enum = WeightBasis(weight_basis)
    except ValueError:
        raise ValidationError({"weight_basis": f"Unknown weight basis {weight_basis!r}."}) from None
    sex = Sex.of(patient.sex_at_birth)
    try:
        basis, warnings = basis_weight(
            weight_kg,
            basis_enum,
            height_cm,
            sex,
            adjusted_bw_factor=clinical_settings_for(patient.clinic).adjusted_bw_factor,
        )
    except ClinicalInputError as exc:
        field = exc.field if exc.field in ("weight_kg", "height_cm") else "weight_basis"
        raise ValidationError({field: str(exc)}) from None
    if basis_enum is WeightBasis.ACTUAL:
        return basis, warnings
    return basis, [f"{basis_enum.label}: {basis:.1f} kg (actual {weight_kg:g} kg).", *warnings]


def dose_check(
    *,
    patient: Patient,
    indication: Indication,
    dose_mg_per_kg: float,
    duration_min: float,
    weight_basis: str,
    weight_kg: float,
    height_cm: float | None,
) -> DoseCheck:
    """Refuse (ValidationError naming the field) a dose, total dose or duration outside the
    drug library's hard limits; return the soft-limit breaches as warnings."""
    entry = clinical_settings_for(patient.clinic).drug_library[indication]
    basis, notes = basis_weight_kg(
        patient=patient, weight_basis=weight_basis, weight_kg=weight_kg, height_cm=height_cm
    )
    dose_mg = basis * dose_mg_per_kg
    checks = {
        "dose_mg_per_kg": check_limit("Dose", dose_mg_per_kg, entry.dose_mg_per_kg_limits),
        "duration_min": check_limit("Duration", duration_min, entry.duration_min_limits),
        "weight_kg": check_limit(
            f"Total dose at {basis:.1f} kg", dose_mg, entry.total_dose_mg_limits
        ),
    }
    hard = {field: [h] for field, (h, _) in checks.items() if h is not None}
    if hard:
        for messages in hard.values():
            messages[0] += " (drug library hard limit: refused)."
        raise ValidationError(hard)
    soft = tuple(s for _, s in checks.values() if s is not None)
    return DoseCheck(
        entry=entry,
        basis_weight_kg=basis,
        dose_mg=dose_mg,
        soft_breaches=soft,
        weight_notes=tuple(notes),
    )


def course_dose(course: Course) -> DoseCheck:
    """The dose check of a saved course (it passed the hard limits when it was planned)."""
    return dose_check(
        patient=course.patient,
        indication=Indication(course.indication),
        dose_mg_per_kg=float(course.dose_mg_per_kg),
        duration_min=float(course.duration_min),
        weight_basis=course.weight_basis,
        weight_kg=float(course.weight_kg or 0),
        height_cm=float(course.height_cm) if course.height_cm is not None else None,
    )


def _person(actor: Actor) -> User:
    if actor.user is None:
        raise ValueError("actor: this is done by a person, not by a system process")
    return actor.user


@transaction.atomic
def course_plan(
    *,
    actor: Actor,
    patient: Patient,
    candidacy: CandidacyAssessment | None,
    kind: str,
    indication: str,
    drug_library_key: str,
    dose_mg_per_kg: Decimal,
    duration_min: Decimal,
    weight_basis: str,
    pattern: str,
    infusions_planned: int,
    start_on: dt.date,
    weight_kg: Decimal,
    height_cm: Decimal | None = None,
    notes: str = "",
    allow_past: bool = False,
) -> Course:
    """Plan a course for ``patient``: refused without a signed candidacy decision, outside the
    drug library's hard limits, or without the planner's role and current licence and DEA
    registration (planning the dose is ordering a Schedule III drug). The dates come from the
    schedule rules on the clinic's open weekdays. ``allow_past`` is for historical entries."""
    user = _person(actor)
    clinic = patient.clinic
    errors: dict[str, list[str]] = {}
    signed = signed_candidacy_for(patient)
    if signed is None:
        errors["candidacy"] = [
            "No signed candidacy decision: a prescriber must sign the patient's eligibility "
            "decision before a course is planned."
        ]
    elif candidacy is not None and candidacy.pk != signed.pk:
        errors["candidacy"] = ["This is not the patient's current signed candidacy decision."]
    if not patient.active:
        errors.setdefault("candidacy", []).append(
            f"{patient.mrn} is an inactive record: no course is planned for it."
        )
    today = clinic_today(clinic)
    if not user.may(Perm.PLAN_COURSE):
        errors[NON_FIELD_ERRORS] = [f"The role {user.role_enum.label} may not plan a course."]
    else:
        check = credential_check(user, ClinicalAct.ORDER, on=today)
        if not check:
            errors[NON_FIELD_ERRORS] = [
                "You may not order ketamine today: " + "; ".join(check.problems) + "."
            ]
    try:
        indication_enum = Indication(indication)
    except ValueError:
        errors["indication"] = [f"Unknown indication {indication!r}."]
    else:
        if LIBRARY_KEYS.get(drug_library_key) is not indication_enum:
            errors["drug_library_key"] = [
                f"The drug library entry {drug_library_key!r} is not for {indication}."
            ]
        if signed is not None:
            signed_for = {i for i in signed.indications if isinstance(i, str)}
            if signed_for and indication not in signed_for:
                errors["indication"] = [
                    f"The candidacy decision was signed for {', '.join(sorted(signed_for))}, "
                    f"not {indication}."
                ]
    if start_on < today and not allow_past:
        errors["start_on"] = [f"The start date {start_on} is in the past."]
    if errors:
        raise ValidationError(errors)

    check_result = dose_check(
        patient=patient,
        indication=indication_enum,
        dose_mg_per_kg=float(dose_mg_per_kg),
        duration_min=float(duration_min),
        weight_basis=weight_basis,
        weight_kg=float(weight_kg),
        height_cm=float(height_cm) if height_cm is not None else None,
    )
    plan = schedule_preview(
        clinic=clinic, pattern=pattern, infusions_planned=infusions_planned, start_on=start_on
    )
    course = Course(
        patient=patient,
        candidacy=signed,
        kind=kind,
        indication=indication,
        drug_library_key=drug_library_key,
        dose_mg_per_kg=dose_mg_per_kg,
        duration_min=duration_min,
        weight_basis=weight_basis,
        weight_kg=weight_kg,
        height_cm=height_cm,
        pattern=pattern,
        infusions_planned=infusions_planned,
        min_spacing_days=plan.settings.min_days_between,
        start_on=start_on,
        planned_dates=[d.isoformat() for d in plan.dates],
        plan_explanation=plan.explanation[:500],
        planning_warnings=[*check_result.soft_breaches, *check_result.weight_notes, *plan.warnings],
        created_by=user,
        notes=notes,
    )
    course.full_clean()
    course.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="course",
        object_id=course.pk,
        patient_id=patient.pk,
        summary=f"planned a {course.get_kind_display().lower()} course: {infusions_planned} x "
        f"{dose_mg_per_kg} mg/kg over {duration_min} min from {plan.dates[0]}",
        detail={
            "indication": indication,
            "drug_library_key": drug_library_key,
            "dose_mg_per_kg": str(dose_mg_per_kg),
            "duration_min": str(duration_min),
            "weight_basis": weight_basis,
            "weight_kg": str(weight_kg),
            "basis_weight_kg": round(check_result.basis_weight_kg, 2),
            "dose_mg": round(check_result.dose_mg, 2),
            "pattern": pattern,
            "dates": course.planned_dates,
            "warnings": course.planning_warnings,
            "candidacy_id": signed.pk if signed else None,
        },
    )
    return course


# ---- booking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One infusion to book: its number in the course, when it starts, where and with whom."""

    sequence: int
    starts_at: dt.datetime
    chair: Chair
    nurse: User | None = None


@dataclass(frozen=True)
class SlotRequest:
    """A slot as the booking form gives it: a local date and time; no chair means the first
    chair free at that time."""

    sequence: int
    on: dt.date
    at: dt.time
    chair: Chair | None = None
    nurse: User | None = None


@dataclass(frozen=True)
class _Held:
    """An interval that holds a chair, the patient or a nurse."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    chair_id: int
    nurse_id: int | None
    patient_id: int


def _overlaps(a_start: dt.datetime, a_end: dt.datetime, b: _Held) -> bool:
    return a_start < b.ends_at and b.starts_at < a_end


def _peak(intervals: Iterable[_Held], start: dt.datetime, end: dt.datetime) -> int:
    """The most intervals that are open at one instant within [start, end)."""
    inside = [h for h in intervals if _overlaps(start, end, h)]
    points = [start] + [h.starts_at for h in inside if start <= h.starts_at < end]
    return max((sum(1 for h in inside if h.starts_at <= p < h.ends_at) for p in points), default=0)


def _label(clinic: Clinic, sequence: int, starts_at: dt.datetime) -> str:
    return f"Infusion {sequence} ({local(clinic, starts_at):%a %Y-%m-%d %H:%M})"


def _hhmm(clinic: Clinic, moment: dt.datetime) -> str:
    return f"{local(clinic, moment):%H:%M}"


def _held_nearby(clinic: Clinic, slots: Sequence[Slot], exclude_ids: set[int]) -> list[_Held]:
    """Everything already booked in the clinic on the days of ``slots`` (one query)."""
    if not slots:
        return []
    first = min(s.starts_at for s in slots) - dt.timedelta(days=1)
    last = max(s.starts_at for s in slots) + dt.timedelta(days=1)
    rows = (
        Appointment.objects.filter(
            patient__clinic=clinic,
            status__in=HOLDING_STATUSES,
            starts_at__lt=last,
            ends_at__gt=first,
        )
        .exclude(pk__in=exclude_ids)
        .values_list("starts_at", "ends_at", "chair_id", "nurse_id", "patient_id")
    )
    return [_Held(*row) for row in rows]


def _refusals(
    *,
    course: Course,
    slots: Sequence[Slot],
    exclude_ids: set[int],
    allow_past: bool,
) -> list[str]:
    """Every reason the slots cannot be booked (empty when they all can)."""
    clinic = course.patient.clinic
    settings = schedule_settings(clinic)
    minutes = chair_minutes(course, settings)
    hours = list(OpeningHours.objects.filter(clinic=clinic))
    reasons: list[str] = []
    if course.status not in (Course.Status.PLANNED, Course.Status.BOOKED, Course.Status.ACTIVE):
        return [f"The course is {course.get_status_display().lower()}: nothing can be booked."]
    if not slots:
        return ["No infusions were chosen to book."]
    kept = list(course.appointments.filter(status__in=HOLDING_STATUSES).exclude(pk__in=exclude_ids))
    taken_sequences = {a.sequence for a in kept}
    seen: set[int] = set()
    for slot in slots:
        if not 1 <= slot.sequence <= course.infusions_planned:
            reasons.append(
                f"Infusion {slot.sequence}: the course has infusions 1-{course.infusions_planned}."
            )
        elif slot.sequence in taken_sequences:
            reasons.append(f"Infusion {slot.sequence} is already booked.")
        elif slot.sequence in seen:
            reasons.append(f"Infusion {slot.sequence} was chosen twice.")
        seen.add(slot.sequence)
        if timezone.is_naive(slot.starts_at):
            raise ValueError("starts_at must be an aware datetime")

    held = _held_nearby(clinic, slots, exclude_ids)
    now = timezone.now()
    for slot in sorted(slots, key=lambda s: s.starts_at):
        start = slot.starts_at
        end = start + dt.timedelta(minutes=minutes)
        label = _label(clinic, slot.sequence, start)
        window = f"{_hhmm(clinic, start)}-{_hhmm(clinic, end)}"
        if start < now and not allow_past:
            reasons.append(f"{label}: the time is in the past.")
        if slot.chair.clinic_id != clinic.pk:
            reasons.append(f"{label}: chair {slot.chair} is not one of this clinic's chairs.")
        elif not slot.chair.active:
            reasons.append(f"{label}: chair {slot.chair} is out of service.")
        begin_local, end_local = local(clinic, start), local(clinic, end)
        fits = any(
            h.weekday == begin_local.weekday()
            and begin_local.date() == end_local.date()
            and h.opens_at <= begin_local.time()
            and end_local.time() <= h.closes_at
            for h in hours
        )
        if not fits:
            today_hours = [h for h in hours if h.weekday == begin_local.weekday()]
            opening = (
                ", ".join(f"{h.opens_at:%H:%M}-{h.closes_at:%H:%M}" for h in today_hours)
                if today_hours
                else "closed that day"
            )
            reasons.append(
                f"{label}: {window} (infusion {float(course.duration_min):g} min + recovery "
                f"{settings.recovery_min} min) is outside opening hours ({opening})."
            )
        for other in held:
            if other.chair_id == slot.chair.pk and _overlaps(start, end, other):
                reasons.append(
                    f"{label}: chair {slot.chair} is already booked "
                    f"{_hhmm(clinic, other.starts_at)}-{_hhmm(clinic, other.ends_at)}."
                )
                break
        for other in held:
            if other.patient_id == course.patient_id and _overlaps(start, end, other):
                reasons.append(
                    f"{label}: the patient already has an appointment "
                    f"{_hhmm(clinic, other.starts_at)}-{_hhmm(clinic, other.ends_at)}."
                )
                break
        if slot.nurse is not None:
            nurse = slot.nurse
            if nurse.clinic_id != clinic.pk or not nurse.may(Perm.ADMINISTER):
                reasons.append(f"{label}: {nurse} is not an infusion nurse of this clinic.")
            else:
                peak = _peak((h for h in held if h.nurse_id == nurse.pk), start, end)
                if peak + 1 > settings.max_patients_per_nurse:
                    reasons.append(
                        f"{label}: {nurse} already has {peak} patient"
                        f"{'' if peak == 1 else 's'} at that time (clinic maximum "
                        f"{settings.max_patients_per_nurse} per nurse at once)."
                    )
        held.append(
            _Held(
                start, end, slot.chair.pk, slot.nurse.pk if slot.nurse else None, course.patient_id
            )
        )

    days = sorted(
        [(local(clinic, a.starts_at).date(), a.sequence) for a in kept]
        + [(local(clinic, s.starts_at).date(), s.sequence) for s in slots]
    )
    for (day_a, seq_a), (day_b, seq_b) in itertools.pairwise(days):
        gap = (day_b - day_a).days
        if gap < course.min_spacing_days:
            reasons.append(
                f"Infusion {seq_b} on {day_b} is {gap} day{'' if gap == 1 else 's'} after "
                f"infusion {seq_a} on {day_a}: this course needs at least "
                f"{course.min_spacing_days} day{'' if course.min_spacing_days == 1 else 's'} "
                "between infusions."
            )
    return reasons


def _lock_clinic(clinic: Clinic) -> None:
    """Serialise bookings in one clinic (PostgreSQL row lock; SQLite serialises writers).

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: two bookings still wait for each other, but a
    transaction that only refers to the clinic (its foreign-key check at commit takes ``FOR KEY
    SHARE`` on the clinic's row) is not blocked. With ``FOR UPDATE`` the load benchmark's
    PostgreSQL run deadlocked: a booking held the clinic and waited for the audit chain's head,
    while another audited request held the head and, at its commit, waited for the clinic
    (its audit entry's foreign key; HTTP 500)."""
    Clinic.objects.select_for_update(no_key=True).filter(pk=clinic.pk).first()


def _refresh_course_status(course: Course) -> None:
    if course.status not in (Course.Status.PLANNED, Course.Status.BOOKED):
        return
    booked = course.appointments.filter(status__in=HOLDING_STATUSES).count()
    status = Course.Status.BOOKED if booked >= course.infusions_planned else Course.Status.PLANNED
    if status != course.status:
        course.status = status
        course.full_clean()
        course.save(update_fields=["status"])


def slots_from_requests(*, course: Course, requests: Sequence[SlotRequest]) -> list[Slot]:
    """Turn local dates and times into slots; a request without a chair gets the first active
    chair (by name) that is free for the whole appointment, counting earlier requests too."""
    clinic = course.patient.clinic
    minutes = chair_minutes(course, schedule_settings(clinic))
    chairs = list(Chair.objects.filter(clinic=clinic, active=True).order_by("name"))
    starts = [clinic_datetime(clinic, r.on, r.at) for r in requests]
    proposed: list[Slot] = []
    held = _held_nearby(
        clinic,
        [Slot(r.sequence, s, chairs[0]) for r, s in zip(requests, starts, strict=True)]
        if chairs
        else [],
        set(),
    )
    reasons: list[str] = []
    for request, start in zip(requests, starts, strict=True):
        end = start + dt.timedelta(minutes=minutes)
        chair = request.chair
        if chair is None:
            chair = next(
                (
                    c
                    for c in chairs
                    if not any(h.chair_id == c.pk and _overlaps(start, end, h) for h in held)
                ),
                None,
            )
            if chair is None:
                reasons.append(
                    f"{_label(clinic, request.sequence, start)}: no chair is free "
                    f"{_hhmm(clinic, start)}-{_hhmm(clinic, end)}."
                )
                continue
        nurse_id = request.nurse.pk if request.nurse else None
        held.append(_Held(start, end, chair.pk, nurse_id, course.patient_id))
        proposed.append(Slot(request.sequence, start, chair, request.nurse))
    if reasons:
        raise BookingRefused(reasons)
    return proposed


@transaction.atomic
def course_book(
    *, actor: Actor, course: Course, slots: Sequence[Slot], allow_past: bool = False
) -> list[Appointment]:
    """Book ``slots`` of ``course``, all or none. Refused (:class:`BookingRefused`, one reason
    per conflict) when a chair is taken, the time is outside opening hours, the patient already
    has an appointment then, the nurse already has the clinic's maximum of patients at once, or
    infusions are closer than the course's minimum spacing."""
    user = _person(actor)
    if not course.patient.active:
        raise BookingRefused([f"{course.patient.mrn} is an inactive record: it is not booked."])
    _lock_clinic(course.patient.clinic)
    reasons = _refusals(course=course, slots=slots, exclude_ids=set(), allow_past=allow_past)
    if reasons:
        raise BookingRefused(reasons)
    minutes = chair_minutes(course, schedule_settings(course.patient.clinic))
    booked: list[Appointment] = []
    for slot in sorted(slots, key=lambda s: s.sequence):
        appointment = Appointment(
            course=course,
            patient=course.patient,
            sequence=slot.sequence,
            chair=slot.chair,
            nurse=slot.nurse,
            starts_at=slot.starts_at,
            ends_at=slot.starts_at + dt.timedelta(minutes=minutes),
            booked_by=user,
        )
        appointment.full_clean()
        appointment.save()
        booked.append(appointment)
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=course.patient_id,
            summary=f"booked {_label(course.patient.clinic, slot.sequence, slot.starts_at)} "
            f"in {slot.chair}",
            detail=_appointment_detail(appointment),
        )
    _refresh_course_status(course)
    return booked


def _appointment_detail(appointment: Appointment) -> dict[str, object]:
    return {
        "course_id": appointment.course_id,
        "sequence": appointment.sequence,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "chair": appointment.chair.name,
        "nurse_id": appointment.nurse_id,
    }


def _require_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ValidationError({"reason": "Give a reason."})
    return text


def _require_changeable(appointment: Appointment, what: str) -> None:
    if appointment.status != Appointment.Status.BOOKED:
        raise ValidationError(
            f"Only a booked appointment can be {what}; this one is "
            f"{appointment.get_status_display().lower()}."
        )


@transaction.atomic
def appointment_cancel(*, actor: Actor, appointment: Appointment, reason: str) -> Appointment:
    """Cancel one booked appointment, with the reason; its infusion can then be booked again."""
    user = _person(actor)
    text = _require_reason(reason)
    _require_changeable(appointment, "cancelled")
    appointment.status = Appointment.Status.CANCELLED
    appointment.cancelled_at = timezone.now()
    appointment.cancelled_by = user
    appointment.cancel_reason = text[:300]
    appointment.full_clean()
    appointment.save()
    clinic = appointment.patient.clinic
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="appointment",
        object_id=appointment.pk,
        patient_id=appointment.patient_id,
        summary=f"cancelled {_label(clinic, appointment.sequence, appointment.starts_at)}: "
        f"{text[:120]}",
        detail={**_appointment_detail(appointment), "reason": text},
    )
    _refresh_course_status(appointment.course)
    return appointment


@transaction.atomic
def appointment_reschedule(
    *,
    actor: Actor,
    appointment: Appointment,
    starts_at: dt.datetime,
    chair: Chair,
    nurse: User | None,
    reason: str,
    allow_past: bool = False,
) -> Appointment:
    """Move one booked appointment, with the reason, under the same rules as booking."""
    _person(actor)
    text = _require_reason(reason)
    _require_changeable(appointment, "rescheduled")
    if not appointment.patient.active:
        raise BookingRefused([f"{appointment.patient.mrn} is an inactive record: not rebooked."])
    course = appointment.course
    clinic = appointment.patient.clinic
    _lock_clinic(clinic)
    slot = Slot(appointment.sequence, starts_at, chair, nurse)
    # The appointment's own sequence is free again for the moved slot.
    reasons = _refusals(
        course=course, slots=[slot], exclude_ids={appointment.pk}, allow_past=allow_past
    )
    if reasons:
        raise BookingRefused(reasons)
    before = _appointment_detail(appointment)
    before_start = appointment.starts_at
    appointment.starts_at = starts_at
    appointment.ends_at = starts_at + dt.timedelta(
        minutes=chair_minutes(course, schedule_settings(clinic))
    )
    appointment.chair = chair
    appointment.nurse = nurse
    appointment.full_clean()
    appointment.save()
    after = _appointment_detail(appointment)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="appointment",
        object_id=appointment.pk,
        patient_id=appointment.patient_id,
        summary=f"moved infusion {appointment.sequence} from "
        f"{local(clinic, before_start):%Y-%m-%d %H:%M} to "
        f"{local(clinic, starts_at):%Y-%m-%d %H:%M} in {chair}: {text[:100]}",
        detail={
            "changes": {k: [before[k], v] for k, v in after.items() if before[k] != v},
            "reason": text,
        },
    )
    return appointment


# ---- audited reads -------------------------------------------------------------------------


def course_viewed(*, actor: Actor, course: Course, sections: list[str]) -> None:
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="course",
        object_id=course.pk,
        patient_id=course.patient_id,
        summary=f"viewed course ({', '.join(sections)})",
        detail={"sections": sections},
    )


def board_viewed(
    *,
    actor: Actor,
    day: dt.date,
    appointments: Sequence[Appointment],
    waiting: Sequence[Course] = (),
) -> None:
    """The chair board lists patients: audited as a list view, with every patient shown (the
    day's appointments and the courses waiting to be booked)."""
    patient_ids = sorted({a.patient_id for a in appointments} | {c.patient_id for c in waiting})
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="chair_board",
        object_id=day.isoformat(),
        summary=f"viewed the chair board of {day}: {len(appointments)} appointments, "
        f"{len(patient_ids)} patients",
        detail={"day": day.isoformat(), "patient_ids": patient_ids},
    )
