"""Planning a course: the dates the schedule rules give on the clinic's open weekdays, the dose
against the drug library, and the course itself (refused without a signed candidacy, outside
the hard limits, or without the planner's role and credentials)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import Clinic
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.candidacy.selectors import signed_candidacy_for
from ketaflow.clinical import (
    ClinicalInputError,
    DrugLibraryEntry,
    Indication,
    InductionPlan,
    InductionSettings,
    Sex,
    WeightBasis,
    plan_induction,
)
from ketaflow.clinical.dosing import basis_weight, check_limit
from ketaflow.clinicsettings.selectors import clinical_settings_for
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Course
from ketaflow.treatment.services.base import LIBRARY_KEYS, PATTERN_SETTINGS, open_weekdays


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
    user = actor.person()
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
