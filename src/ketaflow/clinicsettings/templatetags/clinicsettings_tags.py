"""A rule's source on a patient's page: citations without evidence tags (the settings used are
shown with their value and sign-off instead); on the director's settings page: the whole source,
its tags kept, the reference documents by title."""

from __future__ import annotations

from django import template

from ketaflow.clinical.clinic_settings import readable_citations, source_for_patient_page

register = template.Library()


@register.filter
def patient_source(text: object) -> str:
    return source_for_patient_page(str(text or ""))


@register.filter
def setting_source(text: object) -> str:
    return readable_citations(str(text or ""))
