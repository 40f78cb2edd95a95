from __future__ import annotations

from typing import Any

from django import forms

from ketaflow.patients.models import (
    Allergy,
    ClinicalNote,
    CurrentMedication,
    Diagnosis,
    MedicationTrial,
    Patient,
    PatientRecord,
    PsychotherapyTrial,
)
from ketaflow.patients.services import _PATIENT_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"


def _date_widgets(model: type[Any]) -> dict[str, forms.Widget]:
    from django.db import models

    return {
        f.name: DateInput(format="%Y-%m-%d")
        for f in model._meta.get_fields()
        if isinstance(f, models.DateField) and not isinstance(f, models.DateTimeField)
    }


class PatientForm(forms.ModelForm[Patient]):
    class Meta:
        model = Patient
        fields = _PATIENT_FIELDS
        widgets = _date_widgets(Patient)


def _record_form(model: type[PatientRecord], fields: list[str]) -> type[forms.ModelForm[Any]]:
    meta = type("Meta", (), {"model": model, "fields": fields, "widgets": _date_widgets(model)})
    return type(f"{model.__name__}Form", (forms.ModelForm,), {"Meta": meta})


RECORD_FORMS: dict[str, type[forms.ModelForm[Any]]] = {
    "allergy": _record_form(Allergy, ["substance", "reaction", "severity"]),
    "medication": _record_form(
        CurrentMedication, ["name", "dose_amount", "dose_unit", "frequency", "started_on"]
    ),
    "diagnosis": _record_form(Diagnosis, ["code", "description", "status", "onset_on"]),
    "psychotherapy": _record_form(
        PsychotherapyTrial,
        [
            "modality",
            "other_name",
            "sessions_completed",
            "started_on",
            "ended_on",
            "outcome",
            "notes",
        ],
    ),
    "medication-trial": _record_form(
        MedicationTrial,
        [
            "drug",
            "dose_mg_per_day",
            "duration_weeks",
            "started_on",
            "ended_on",
            "outcome",
            "reason_stopped",
            "notes",
        ],
    ),
}


class NoteForm(forms.ModelForm[ClinicalNote]):
    class Meta:
        model = ClinicalNote
        fields = ["kind", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 5})}


class RemoveForm(forms.Form):
    reason = forms.CharField(
        max_length=200, help_text="Why this record is removed (e.g. entered in error)."
    )


class PatientSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
