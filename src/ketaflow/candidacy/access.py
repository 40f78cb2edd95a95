"""The one access check for candidacy assessments and consents: through their patient."""

from __future__ import annotations

from django.http import Http404

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.candidacy.models import CandidacyAssessment, Consent
from ketaflow.patients.access import patient_for_user


def candidacy_for_user(
    user: User, assessment_id: int, *, need: Perm, actor: Actor | None = None
) -> CandidacyAssessment:
    assessment = CandidacyAssessment.objects.filter(pk=assessment_id).first()
    if assessment is None:
        raise Http404("No such candidacy assessment.")
    patient_for_user(user, assessment.patient_id, need=need, actor=actor)
    return assessment


def consent_for_user(
    user: User, consent_id: int, *, need: Perm, actor: Actor | None = None
) -> Consent:
    consent = Consent.objects.filter(pk=consent_id).select_related("form").first()
    if consent is None:
        raise Http404("No such consent.")
    patient_for_user(user, consent.patient_id, need=need, actor=actor)
    return consent
