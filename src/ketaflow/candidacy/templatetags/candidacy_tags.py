"""The candidacy and consent section of the patient chart (the chart view audits the view)."""

from __future__ import annotations

from typing import Any

from django import template

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.candidacy.selectors import current_consent_for
from ketaflow.patients.models import Patient

register = template.Library()


@register.inclusion_tag("candidacy/_chart_section.html")
def candidacy_section(patient: Patient, user: User) -> dict[str, Any]:
    return {
        "patient": patient,
        "assessments": CandidacyAssessment.objects.filter(patient=patient).select_related(
            "signed_by"
        )[:5],
        "consent": current_consent_for(patient),
        "may_assess": user.may(Perm.EDIT_CLINICAL),
        "staff": user.role_enum.is_staff_role,
    }
