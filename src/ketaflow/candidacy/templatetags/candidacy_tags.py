"""The candidacy and consent section of the patient chart (the chart view audits the view):
read by ``candidacy.selectors.chart_section``, laid out here."""

from __future__ import annotations

from typing import Any

from django import template

from ketaflow.accounts.models import User
from ketaflow.candidacy.selectors import chart_section
from ketaflow.patients.models import Patient

register = template.Library()


@register.inclusion_tag("candidacy/_chart_section.html")
def candidacy_section(patient: Patient, user: User) -> dict[str, Any]:
    section = chart_section(patient, user)
    return {
        "patient": section.patient,
        "assessments": section.assessments,
        "consent": section.consent,
        "may_assess": section.may_assess,
        "staff": section.staff,
    }
