"""Candidacy and consent: assess an intake, sign the decision, record and withdraw consent.

The decision itself always comes from ``ketaflow.clinical.assess_eligibility``; here it is
stored, shown and signed. Every function audits what it did in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.candidacy.intake import build_intake
from ketaflow.candidacy.models import CandidacyAssessment, Consent, ConsentForm
from ketaflow.clinical import assess_eligibility, intake_from_dict, to_jsonable
from ketaflow.clinical.common import count_text
from ketaflow.clinical.instruments import URGENT_SUICIDE_RISKS
from ketaflow.clinicsettings.selectors import clinical_settings_for
from ketaflow.patients.models import Patient
from ketaflow.portal.safety import urgent_task_raise


@transaction.atomic
def candidacy_assess(
    *, actor: Actor, patient: Patient, answers: dict[str, Any]
) -> CandidacyAssessment:
    """Assess a consultation's answers with the registry history; earlier unsigned assessments
    of the patient are superseded. A moderate or high C-SSRS risk raises the urgent safety task
    in the same transaction. Raises ValueError naming the intake field on bad input."""
    user = actor.person()
    intake = build_intake(patient, answers, today=clinic_today(patient.clinic))
    clinical_intake = intake_from_dict(intake)
    result = assess_eligibility(clinical_intake, clinical_settings_for(patient.clinic).eligibility)
    data: Any = to_jsonable(result)
    CandidacyAssessment.objects.filter(
        patient=patient, status=CandidacyAssessment.Status.ASSESSED
    ).update(status=CandidacyAssessment.Status.SUPERSEDED)
    assessment = CandidacyAssessment(
        patient=patient,
        created_by=user,
        intake=intake,
        decision=result.decision.value,
        indications=data["indications"],
        findings=data["findings"],
        resistance=data["resistance"],
        summary=result.summary[:500],
    )
    assessment.full_clean()
    assessment.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="candidacy",
        object_id=assessment.pk,
        patient_id=patient.pk,
        summary=f"assessed candidacy: {result.summary}"[:300],
    )
    if clinical_intake.cssrs_risk in URGENT_SUICIDE_RISKS:
        urgent_task_raise(
            actor=actor,
            patient=patient,
            reasons=[
                f"C-SSRS screener: {clinical_intake.cssrs_risk.value} risk (candidacy intake)"
            ],
        )
    return assessment


def _deciding(
    actor: Actor, assessment: CandidacyAssessment, what: str
) -> tuple[User, CandidacyAssessment]:
    """The prescriber deciding ``assessment`` (locked): the role, a current licence and an
    assessment still awaiting its decision, or the refusal naming which."""
    user = actor.person()
    assessment = CandidacyAssessment.objects.select_for_update().get(pk=assessment.pk)
    if not user.may(Perm.SIGN_CANDIDACY):
        raise PermissionDenied(f"The role {user.role_enum.label} may not {what} a candidacy.")
    check = credential_check(user, ClinicalAct.SIGN, on=clinic_today(assessment.patient.clinic))
    if not check.ok:
        raise ValidationError({"__all__": f"Cannot {what}: {'; '.join(check.problems)}."})
    if assessment.status != CandidacyAssessment.Status.ASSESSED:
        raise ValidationError(
            {"__all__": f"This assessment is {assessment.get_status_display().lower()}."}
        )
    return user, assessment


def _decided(
    actor: Actor,
    assessment: CandidacyAssessment,
    user: User,
    *,
    summary: str,
    detail: dict[str, Any],
) -> CandidacyAssessment:
    """The tail of signing and declining: who decided and when, validated, saved, audited."""
    assessment.signed_by = user
    assessment.signed_at = timezone.now()
    assessment.full_clean()
    assessment.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="candidacy",
        object_id=assessment.pk,
        patient_id=assessment.patient_id,
        summary=summary,
        detail=detail,
    )
    return assessment


DECLINE_REASON_MIN = 20


@transaction.atomic
def candidacy_decline(
    *, actor: Actor, assessment: CandidacyAssessment, reason: str, referrer: str = ""
) -> CandidacyAssessment:
    """Record the prescriber's decision that the patient is not a candidate, with the reason
    (the letter to the referrer says it). Any assessment awaiting its decision may be declined,
    a hard stop included; the same role and licence as signing."""
    user, assessment = _deciding(actor, assessment, "decide")
    reason = reason.strip()
    if len(reason) < DECLINE_REASON_MIN:
        raise ValidationError(
            {
                "reason": f"Reason: write at least {DECLINE_REASON_MIN} characters on why the "
                "patient is not a candidate (the letter to the referrer quotes it)."
            }
        )
    assessment.status = CandidacyAssessment.Status.DECLINED
    assessment.decline_reason = reason
    assessment.referrer = referrer.strip()
    return _decided(
        actor,
        assessment,
        user,
        summary="decided: not a candidate",
        detail={"reason": reason, "referrer": assessment.referrer},
    )


@transaction.atomic
def candidacy_sign(
    *, actor: Actor, assessment: CandidacyAssessment, review_note: str
) -> CandidacyAssessment:
    """Sign a candidacy decision. A hard stop cannot be signed; cautions need a written review;
    only a prescriber or the medical director with a current licence may sign."""
    user, assessment = _deciding(actor, assessment, "sign")
    if assessment.decision == CandidacyAssessment.Decision.NOT_ELIGIBLE:
        stops = [f["message"] for f in assessment.findings if f.get("tier") == "hard_stop"]
        raise ValidationError({"__all__": "A hard stop cannot be signed past: " + " ".join(stops)})
    note = review_note.strip()
    if assessment.cautions and len(note) < 20:
        raise ValidationError(
            {
                "review_note": "Review of cautions: write at least 20 characters on how each "
                f"of the {count_text(len(assessment.cautions), 'caution')} is managed."
            }
        )
    CandidacyAssessment.objects.filter(
        patient=assessment.patient, status=CandidacyAssessment.Status.SIGNED
    ).update(status=CandidacyAssessment.Status.SUPERSEDED)
    assessment.status = CandidacyAssessment.Status.SIGNED
    assessment.review_note = note
    return _decided(
        actor,
        assessment,
        user,
        summary=f"signed candidacy: {assessment.get_decision_display()}",
        detail={"review_note": note},
    )


def _names_match(typed: str, patient: Patient) -> bool:
    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    wanted = {
        norm(f"{patient.given_name} {patient.family_name}"),
        norm(f"{patient.preferred_name} {patient.family_name}") if patient.preferred_name else "",
    }
    return norm(typed) in wanted


@transaction.atomic
def consent_record(
    *, actor: Actor, patient: Patient, form: ConsentForm, signed_name: str
) -> Consent:
    """Record the patient's acceptance of ``form``, witnessed by the acting member of staff."""
    user = actor.person()
    if not user.may(Perm.RECORD_CONSENT):
        raise PermissionDenied(f"The role {user.role_enum.label} may not witness consent.")
    if form.clinic_id != patient.clinic_id or form.retired:
        raise ValidationError({"__all__": "This consent form is not in use at the clinic."})
    if not _names_match(signed_name, patient):
        raise ValidationError(
            {"signed_name": "The typed name must be the patient's full name as registered."}
        )
    consent = Consent(
        patient=patient,
        form=form,
        accepted_at=timezone.now(),
        signed_name=signed_name.strip(),
        witness=user,
        recorded_by=user,
    )
    consent.full_clean()
    consent.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="consent",
        object_id=consent.pk,
        patient_id=patient.pk,
        summary=f"recorded consent to {form} witnessed by {user.get_username()}",
    )
    return consent


@transaction.atomic
def consent_withdraw(*, actor: Actor, consent: Consent, reason: str) -> Consent:
    actor.person()
    if consent.withdrawn_at is not None:
        raise ValidationError({"__all__": "This consent is already withdrawn."})
    if not reason.strip():
        raise ValidationError({"reason": "Reason: say why consent is withdrawn."})
    consent.withdrawn_at = timezone.now()
    consent.withdrawal_reason = reason.strip()
    consent.full_clean()
    consent.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="consent",
        object_id=consent.pk,
        patient_id=consent.patient_id,
        summary=f"consent withdrawn: {reason.strip()[:200]}",
    )
    return consent


def candidacy_viewed(*, actor: Actor, assessment: CandidacyAssessment) -> None:
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="candidacy",
        object_id=assessment.pk,
        patient_id=assessment.patient_id,
        summary="viewed candidacy decision",
    )


def candidacy_letter_viewed(*, actor: Actor, assessment: CandidacyAssessment) -> None:
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="candidacy_letter",
        object_id=assessment.pk,
        patient_id=assessment.patient_id,
        summary="viewed the not-a-candidate letter to the referrer",
    )


def consent_viewed(*, actor: Actor, patient: Patient) -> None:
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="consent",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary="viewed consent",
    )
