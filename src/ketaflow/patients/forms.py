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


REGISTER_ANYWAY_FIELD = "register_anyway_reason"


class PatientForm(forms.ModelForm[Patient]):
    class Meta:
        model = Patient
        fields = _PATIENT_FIELDS
        widgets = _date_widgets(Patient)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if REGISTER_ANYWAY_FIELD in self.data:
            self.ask_register_anyway()

    def ask_register_anyway(self) -> None:
        """Offer "register anyway" once a possible duplicate was found: an explicit reason."""
        self.fields[REGISTER_ANYWAY_FIELD] = forms.CharField(
            required=False,
            max_length=300,
            label="Register anyway: why this is another person or needs its own record",
            help_text="Leave empty and open the existing record instead if it is this person.",
        )


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
        labels = {"kind": "Kind", "text": "Note"}
        widgets = {"text": forms.Textarea(attrs={"rows": 5})}


class RemoveForm(forms.Form):
    reason = forms.CharField(
        max_length=200, help_text="Why this record is removed (e.g. entered in error)."
    )


class PatientSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    inactive = forms.BooleanField(required=False, label="Include inactive records")


class MergeForm(forms.Form):
    duplicate = forms.CharField(
        max_length=20,
        label="Record number (MRN) of the duplicate",
        help_text="Its records move to this record; it becomes inactive, merged into this one.",
    )
    reason = forms.CharField(max_length=300, label="Why these are the same person")
    confirm = forms.BooleanField(
        label="I have checked that both records are the same person (name, date of birth, "
        "contact details)"
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300)
