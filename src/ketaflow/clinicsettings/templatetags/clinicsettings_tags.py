"""A rule's source on a patient's page: citations without evidence tags (the settings used are
shown with their value and sign-off instead)."""

from __future__ import annotations

from django import template

from ketaflow.clinical.clinic_settings import source_for_patient_page

register = template.Library()


@register.filter
def patient_source(text: object) -> str:
    return source_for_patient_page(str(text or ""))
