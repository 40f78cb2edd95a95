"""The medical director's registry work: a duplicate merged into the record kept (every foreign
key to a patient found by introspection), a record deactivated or reactivated."""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.patients.models import Patient
from ketaflow.patients.services.base import patient_saved

# Every foreign key to Patient in every app, and what a merge does with the duplicate's rows.
# ``tests/patients/test_registry.py`` finds every such key by introspection and fails on one
# listed in neither table, so a future model cannot be forgotten.
MERGE_MOVES: frozenset[str] = frozenset(
    {
        "patients.Allergy.patient",
        "patients.CurrentMedication.patient",
        "patients.Diagnosis.patient",
        "patients.PsychotherapyTrial.patient",
        "patients.MedicationTrial.patient",
        "patients.ClinicalNote.patient",
        "patients.Patient.merged_into",  # records merged into the duplicate before
        "assessments.InstrumentResponse.patient",
        "candidacy.CandidacyAssessment.patient",
        "candidacy.Consent.patient",
        "treatment.Course.patient",
        "treatment.Appointment.patient",
        "infusions.InfusionSession.patient",  # not when signed: see MERGE_REFUSALS
        "portal.Invitation.patient",
        "portal.DueQuestionnaire.patient",
        "portal.UrgentTask.patient",
        "outcomes.BoosterRecommendation.patient",
    }
)
# Rows that cannot move: while the duplicate has any, the merge is refused with the reason.
MERGE_REFUSALS: dict[str, str] = {
    "ledger.LedgerEntry.patient": "it has controlled-substance ledger entries, which are "
    "append-only and hash-chained and keep the record they were written for",
}
# Kinds of course that hold a patient's treatment now (two at once would be two plans).
OPEN_COURSE_STATUSES = ("planned", "booked", "active")


def patient_foreign_keys() -> list[tuple[str, type[models.Model], str]]:
    """(``app.Model.field``, model, field name) of every concrete foreign key or one-to-one
    field that points at :class:`Patient`, in every installed app."""
    found = []
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is Patient:
                found.append((f"{model._meta.label}.{f.name}", model, f.name))
    return sorted(found, key=lambda t: t[0])


def _require_manager(actor: Actor, *patients: Patient) -> None:
    from ketaflow.accounts.roles import Perm

    user = actor.user
    if user is None or not user.may(Perm.MANAGE_REGISTRY):
        raise PermissionDenied("Only the medical director merges or deactivates records.")
    if any(p.clinic_id != user.clinic_id for p in patients):
        raise PermissionDenied("The patient belongs to another clinic.")


def merge_problems(keep: Patient, duplicate: Patient) -> list[str]:
    """Why ``duplicate`` cannot be merged into ``keep`` (empty: it can)."""
    from ketaflow.infusions.models import InfusionSession
    from ketaflow.treatment.models import Course

    if keep.pk == duplicate.pk:
        return ["a record cannot be merged into itself"]
    problems: list[str] = []
    if keep.clinic_id != duplicate.clinic_id:
        problems.append("the records belong to different clinics")
    if not keep.active:
        problems.append(f"the record kept ({keep.mrn}) is inactive: reactivate it first")
    if duplicate.merged_into_id is not None:
        problems.append(f"{duplicate.mrn} is already merged")
    if keep.user_id is not None and duplicate.user_id is not None:
        problems.append(
            "both records have a portal login: a person has one; end the duplicate's first"
        )
    open_courses = [
        Course.objects.filter(patient=p, status__in=OPEN_COURSE_STATUSES).exists()
        for p in (keep, duplicate)
    ]
    if all(open_courses):
        problems.append(
            "both records have a course planned, booked or in progress: cancel or complete one "
            "first (a patient follows one treatment plan at a time)"
        )
    if InfusionSession.objects.filter(patient=duplicate, locked=True).exists():
        problems.append(
            f"{duplicate.mrn} has a signed infusion note, whose seal covers the patient it was "
            "signed for"
        )
    for key, model, name in patient_foreign_keys():
        if key in MERGE_REFUSALS and model._default_manager.filter(**{name: duplicate}).exists():
            problems.append(f"{duplicate.mrn} cannot be merged: {MERGE_REFUSALS[key]}")
    return problems


def patient_merge(*, actor: Actor, keep: Patient, duplicate: Patient, reason: str) -> Patient:
    """Merge ``duplicate`` into ``keep`` (the medical director, one clinic): every row of every
    model that points at the duplicate moves to the kept record, in one transaction; the
    duplicate becomes inactive, merged into the kept record, and stays readable. Refused, with
    each reason, where moving would break a rule (:func:`merge_problems`); a database rule that
    still fails (a unique constraint) refuses it naming the kind of record."""
    _require_manager(actor, keep, duplicate)
    if not reason.strip():
        raise ValidationError({"reason": "say why the records are merged"})
    with transaction.atomic():
        keep = Patient.objects.select_for_update().get(pk=keep.pk)
        duplicate = Patient.objects.select_for_update().get(pk=duplicate.pk)
        problems = merge_problems(keep, duplicate)
        if problems:
            raise ValidationError({NON_FIELD_ERRORS: ["merge refused: " + "; ".join(problems)]})
        moved: dict[str, int] = {}
        for key, model, name in patient_foreign_keys():
            if key not in MERGE_MOVES:
                continue
            rows = model._default_manager.filter(**{name: duplicate})
            if key == "patients.Patient.merged_into":
                rows = rows.exclude(pk=keep.pk)
            try:
                with transaction.atomic():
                    count = rows.update(**{name: keep})
            except IntegrityError:
                label = model._meta.verbose_name_plural
                raise ValidationError(
                    {
                        NON_FIELD_ERRORS: [
                            f"merge refused: both records have {label} that "
                            "cannot be held by one patient at once"
                        ]
                    }
                ) from None
            if count:
                moved[key] = count
        if keep.user_id is None and duplicate.user_id is not None:
            keep.user_id, duplicate.user_id = duplicate.user_id, None
            duplicate.save(update_fields=["user", "updated_at"])
            keep.save(update_fields=["user", "updated_at"])
            moved["patients.Patient.user"] = 1
        duplicate.active = False
        duplicate.merged_into = keep
        duplicate.deactivated_at = timezone.now()
        duplicate.deactivation_reason = f"merged into {keep.mrn}: {reason.strip()}"[:300]
        duplicate.full_clean()
        duplicate.save()
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="patient",
            object_id=keep.pk,
            patient_id=keep.pk,
            summary=f"merged duplicate {duplicate.mrn} into {keep.mrn} ({reason.strip()[:120]})",
            detail={"duplicate": duplicate.pk, "reason": reason.strip(), "moved": moved},
            patient_ids=[keep.pk, duplicate.pk],
        )
    return keep


def _set_active(*, actor: Actor, patient: Patient, active: bool, reason: str) -> Patient:
    patient.active = active
    patient.deactivated_at = None if active else timezone.now()
    patient.deactivation_reason = "" if active else reason[:300]
    verb = "reactivated" if active else "deactivated"
    return patient_saved(
        actor=actor,
        patient=patient,
        summary=f"{verb} the record ({reason[:120]})",
        detail={"reason": reason},
    )


@transaction.atomic
def patient_deactivate(*, actor: Actor, patient: Patient, reason: str) -> Patient:
    """Take a record out of the lists (moved away, registered in error, deceased): it is no
    longer booked or drawn for; it stays readable, and every read is still audited."""
    _require_manager(actor, patient)
    if not reason.strip():
        raise ValidationError({"reason": "say why the record is deactivated"})
    if not patient.active:
        raise ValidationError({NON_FIELD_ERRORS: [f"{patient.mrn} is already inactive"]})
    return _set_active(actor=actor, patient=patient, active=False, reason=reason.strip())


@transaction.atomic
def patient_reactivate(*, actor: Actor, patient: Patient, reason: str) -> Patient:
    """Bring an inactive record back into the lists (not a merged duplicate)."""
    _require_manager(actor, patient)
    if not reason.strip():
        raise ValidationError({"reason": "say why the record is reactivated"})
    if patient.merged_into_id is not None:
        raise ValidationError(
            {NON_FIELD_ERRORS: [f"{patient.mrn} was merged; its records are on the kept one"]}
        )
    if patient.active:
        raise ValidationError({NON_FIELD_ERRORS: [f"{patient.mrn} is active"]})
    return _set_active(actor=actor, patient=patient, active=True, reason=reason.strip())
