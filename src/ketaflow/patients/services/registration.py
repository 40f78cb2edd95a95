"""Registering a patient (with the duplicate check and its explicit "register anyway"),
changing their details, and linking their portal login."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.clinical.common import count_text
from ketaflow.patients.models import Patient
from ketaflow.patients.search import phone_digits
from ketaflow.patients.services.base import _PATIENT_FIELDS, _diff, patient_saved, snapshot


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
        summary=f"shown {count_text(len(ids), 'possible duplicate')} at registration",
        detail={"patient_ids": ids},
        patient_ids=ids,
    )


@transaction.atomic
def patient_update(*, actor: Actor, patient: Patient, data: dict[str, Any]) -> Patient:
    before = snapshot(patient, _PATIENT_FIELDS)
    for key, value in data.items():
        if key in _PATIENT_FIELDS:
            setattr(patient, key, value)
    changes = _diff(before, snapshot(patient, _PATIENT_FIELDS))
    return patient_saved(
        actor=actor,
        patient=patient,
        summary=f"changed {', '.join(sorted(changes)) or 'nothing'}",
        detail={"changes": changes},
    )


@transaction.atomic
def patient_link_login(*, actor: Actor, patient: Patient, user_id: int) -> Patient:
    """Give a patient their own portal login."""
    patient.user_id = user_id
    return patient_saved(
        actor=actor,
        patient=patient,
        summary="linked the patient's portal login",
        detail={"user_id": user_id},
        update_fields=["user", "updated_at"],
    )
