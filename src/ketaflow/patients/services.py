"""Writes and audited reads of the patient registry.

Every function takes the acting person (``actor``) and records what it did in the audit trail in
the same transaction. Each write calls ``full_clean()``: a record that breaks a rule is refused
with the field named and nothing stored.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.patients.models import (
    Allergy,
    ClinicalNote,
    CurrentMedication,
    Diagnosis,
    MedicationTrial,
    Patient,
    PatientRecord,
    PsychotherapyTrial,
    RegistrySettings,
)
from ketaflow.patients.search import phone_digits

R = TypeVar("R", bound=PatientRecord)

# The clinical sub-records of a chart, by the short name used in URLs.
RECORD_KINDS: dict[str, type[PatientRecord]] = {
    "allergy": Allergy,
    "medication": CurrentMedication,
    "diagnosis": Diagnosis,
    "psychotherapy": PsychotherapyTrial,
    "medication-trial": MedicationTrial,
}

_PATIENT_FIELDS = [
    "given_name",
    "family_name",
    "preferred_name",
    "date_of_birth",
    "sex_at_birth",
    "gender_identity",
    "pronouns",
    "phone",
    "email",
    "address_line",
    "city",
    "region",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "emergency_contact_phone",
    "escort_name",
    "escort_phone",
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    data = model_to_dict(obj, fields=fields)
    return {k: _jsonable(v) for k, v in data.items()}


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


@dataclass(frozen=True)
class PossibleDuplicate:
    patient: Patient
    matches: tuple[str, ...]  # "name and date of birth", "phone", "email"

    @property
    def text(self) -> str:
        state = "" if self.patient.active else ", inactive"
        return f"{self.patient.display_name} ({self.patient.mrn}{state}): same " + " and ".join(
            self.matches
        )


def possible_duplicates(
    *, clinic_id: int, data: dict[str, Any], exclude_id: int | None = None
) -> list[PossibleDuplicate]:
    """The clinic's patients who may be the person in ``data``: the same name (given and family,
    letter case aside) with the same date of birth, or the same phone number (its digits), or
    the same email address. Inactive records count too (a returning patient)."""
    given = str(data.get("given_name") or "").strip().lower()
    family = str(data.get("family_name") or "").strip().lower()
    born = data.get("date_of_birth")
    phone = phone_digits(str(data.get("phone") or ""))
    email = str(data.get("email") or "").strip().lower()
    found: list[PossibleDuplicate] = []
    candidates = Patient.objects.filter(clinic_id=clinic_id).order_by("pk")
    if exclude_id is not None:
        candidates = candidates.exclude(pk=exclude_id)
    for other in candidates.iterator(chunk_size=2000):
        matches: list[str] = []
        if (
            born is not None
            and other.date_of_birth == born
            and other.given_name.strip().lower() == given
            and other.family_name.strip().lower() == family
        ):
            matches.append("name and date of birth")
        if len(phone) >= 7 and phone_digits(other.phone) == phone:
            matches.append("phone")
        if email and other.email.strip().lower() == email:
            matches.append("email")
        if matches:
            found.append(PossibleDuplicate(other, tuple(matches)))
    return found


DUPLICATE_CODE = "possible_duplicate"


@transaction.atomic
def patient_register(
    *, actor: Actor, clinic_id: int, data: dict[str, Any], register_anyway_reason: str = ""
) -> Patient:
    """Register a patient. A possible duplicate (:func:`possible_duplicates`) is refused (code
    ``possible_duplicate``, naming each record and what matches) unless the person registers
    anyway with a reason, which the audit entry keeps with the records it named."""
    duplicates = possible_duplicates(clinic_id=clinic_id, data=data)
    reason = register_anyway_reason.strip()
    if duplicates and not reason:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: ValidationError(
                    "possible duplicate: "
                    + "; ".join(d.text for d in duplicates)
                    + ". Open that record, or register anyway with a reason.",
                    code=DUPLICATE_CODE,
                )
            }
        )
    patient = Patient(
        clinic_id=clinic_id, **{k: v for k, v in data.items() if k in _PATIENT_FIELDS}
    )
    patient.full_clean()
    patient.save()
    detail: dict[str, Any] = {"fields": sorted(k for k in data if k in _PATIENT_FIELDS)}
    summary = f"registered patient {patient.mrn}"
    if duplicates:
        detail["registered_anyway"] = {
            "reason": reason,
            "possible_duplicates": [
                {"patient": d.patient.pk, "mrn": d.patient.mrn, "matches": list(d.matches)}
                for d in duplicates
            ],
        }
        summary += (
            " anyway, beside possible duplicate "
            + ", ".join(d.patient.mrn for d in duplicates)
            + f" ({reason[:120]})"
        )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=summary,
        detail=detail,
        patient_ids=[patient.pk, *(d.patient.pk for d in duplicates)],
    )
    return patient


def duplicates_shown(*, actor: Actor, duplicates: list[PossibleDuplicate]) -> None:
    """Record that the registration form showed these possible duplicates."""
    ids = [d.patient.pk for d in duplicates]
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="patient_list",
        summary=f"shown {len(ids)} possible duplicate(s) at registration",
        detail={"patient_ids": ids},
        patient_ids=ids,
    )


@transaction.atomic
def patient_update(*, actor: Actor, patient: Patient, data: dict[str, Any]) -> Patient:
    before = snapshot(patient, _PATIENT_FIELDS)
    for key, value in data.items():
        if key in _PATIENT_FIELDS:
            setattr(patient, key, value)
    patient.full_clean()
    patient.save()
    changes = _diff(before, snapshot(patient, _PATIENT_FIELDS))
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"changed {', '.join(sorted(changes)) or 'nothing'}",
        detail={"changes": changes},
    )
    return patient


def record_kind_of(record: PatientRecord) -> str:
    for kind, model in RECORD_KINDS.items():
        if isinstance(record, model):
            return kind
    return type(record).__name__.lower()


@transaction.atomic
def record_add(*, actor: Actor, patient: Patient, record: R) -> R:
    """Add a clinical sub-record (allergy, medication, diagnosis, treatment trial) to a chart."""
    record.patient = patient
    record.full_clean()
    record.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type=record_kind_of(record),
        object_id=record.pk,
        patient_id=patient.pk,
        summary=f"added {record.label}: {record}",
        detail={"values": snapshot(record)},
    )
    return record


@transaction.atomic
def record_update(*, actor: Actor, record: R, data: dict[str, Any]) -> R:
    """Change a clinical sub-record (an allergy's severity, a medication's dose). Such records
    are corrected over time, so they are neither append-only nor sealed: instead every change's
    audit entry keeps each changed field's value before and after (``record_add`` and
    ``record_remove`` keep all values), and the hash-chained, checkpointed trail then shows what
    the chart said when, and who changed it."""
    before = snapshot(record)
    for key, value in data.items():
        setattr(record, key, value)
    record.full_clean()
    record.save()
    changes = _diff(before, snapshot(record))
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type=record_kind_of(record),
        object_id=record.pk,
        patient_id=record.patient_id,
        summary=f"changed {record.label}: {', '.join(sorted(changes)) or 'nothing'}",
        detail={"changes": changes},
    )
    return record


@transaction.atomic
def record_remove(*, actor: Actor, record: PatientRecord, reason: str) -> None:
    """Remove a sub-record entered in error. Its last values stay in the audit trail."""
    if not reason.strip():
        raise ValueError("reason: say why the record is removed")
    values = snapshot(record)
    kind, pk, patient_id, label = record_kind_of(record), record.pk, record.patient_id, str(record)
    record.delete()
    audit_record(
        actor=actor,
        action=Action.DELETE,
        object_type=kind,
        object_id=pk,
        patient_id=patient_id,
        summary=f"removed {record.label}: {label} ({reason.strip()[:120]})",
        detail={"values": values, "reason": reason.strip()},
    )


@transaction.atomic
def note_add(*, actor: Actor, patient: Patient, kind: str, text: str) -> ClinicalNote:
    if actor.user is None:
        raise ValueError("author: a note needs a person as its author")
    note = ClinicalNote(patient=patient, author=actor.user, kind=kind, text=text)
    note.full_clean()
    note.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="clinical_note",
        object_id=note.pk,
        patient_id=patient.pk,
        summary=f"wrote a {note.get_kind_display().lower()} note",
    )
    return note


def chart_viewed(*, actor: Actor, patient: Patient, sections: list[str]) -> None:
    """Record that ``actor`` opened ``patient``'s chart and which sections were shown."""
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"viewed chart ({', '.join(sections)})",
        detail={"sections": sections},
    )


def form_viewed(
    *, actor: Actor, patient: Patient, what: str, object_type: str, object_id: object
) -> None:
    """Record that an edit form showing ``patient``'s data was opened."""
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient.pk,
        summary=f"opened the edit form for {what}",
    )


def patient_list_viewed(*, actor: Actor, query: str, patient_ids: list[int]) -> None:
    audit_record(
        actor=actor,
        action=Action.SEARCH if query else Action.VIEW,
        object_type="patient_list",
        summary=(f"searched patients for {query!r}" if query else "listed patients")
        + f": {len(patient_ids)} shown",
        detail={"query": query, "patient_ids": patient_ids},
        patient_ids=patient_ids,
    )


def patient_export(*, actor: Actor, patient: Patient, include_clinical: bool) -> dict[str, Any]:
    """The chart as a JSON-ready dictionary; the export is audited."""
    data: dict[str, Any] = {
        "mrn": patient.mrn,
        "demographics": snapshot(patient, _PATIENT_FIELDS),
    }
    if include_clinical:
        for kind, model in RECORD_KINDS.items():
            data[kind] = [snapshot(r) for r in model._default_manager.filter(patient=patient)]
        data["notes"] = [
            {
                "at": n.recorded_at.isoformat(),
                "author": str(n.author),
                "kind": n.kind,
                "text": n.text,
            }
            for n in ClinicalNote.objects.filter(patient=patient).select_related("author")
        ]
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary="exported chart as JSON" + (" with clinical history" if include_clinical else ""),
    )
    return data


@transaction.atomic
def patient_record_export(
    *, actor: Actor, patient: Patient, file_format: str, for_the_patient: bool
) -> bytes:
    """The patient's complete record (right of access, HIPAA 164.524) as ``pdf`` or ``json``
    bytes; audited in the same transaction, saying who asked (staff on the patient's request, or
    the patient from the portal)."""
    from ketaflow.patients import right_of_access

    if file_format not in ("pdf", "json"):
        raise ValueError(f"file format: pdf or json, not {file_format!r}")
    record = right_of_access.complete_record(patient)
    if file_format == "pdf":
        data = right_of_access.as_pdf(record)
    else:
        data = json.dumps(right_of_access.as_json(record), indent=2, ensure_ascii=False).encode()
    who = "the patient, from the portal" if for_the_patient else "staff, on the patient's request"
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"exported the complete record as {file_format.upper()} (right of access; {who})",
        detail={
            "format": file_format,
            "for_the_patient": for_the_patient,
            "sections": {s.title: len(s.entries) for s in record.sections},
        },
    )
    return data


@transaction.atomic
def patient_link_login(*, actor: Actor, patient: Patient, user_id: int) -> Patient:
    """Give a patient their own portal login."""
    patient.user_id = user_id
    patient.full_clean()
    patient.save(update_fields=["user", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary="linked the patient's portal login",
        detail={"user_id": user_id},
    )
    return patient


# ---- duplicates merged, records deactivated ---------------------------------------------------

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
    patient.full_clean()
    patient.save()
    verb = "reactivated" if active else "deactivated"
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"{verb} the record ({reason[:120]})",
        detail={"reason": reason},
    )
    return patient


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


def require_active(patient: Patient, what: str) -> None:
    """Refuse ``what`` (e.g. "booked", "drawn for") for an inactive record."""
    if not patient.active:
        where = f", merged into {patient.merged_into.mrn}" if patient.merged_into else ""
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"{patient.display_name} ({patient.mrn}) is inactive{where}: not {what}"
                ]
            }
        )


def slashes_day_first(clinic_id: int) -> bool:
    found = RegistrySettings.objects.filter(clinic_id=clinic_id).first()
    return found is not None and found.slash_dates == RegistrySettings.SlashDates.DAY_FIRST
