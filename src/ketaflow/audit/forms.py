"""The filter of the director's audit trail page."""

from __future__ import annotations

from django import forms
from django.http import QueryDict

from ketaflow.accounts.models import User
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.selectors import auditable_patient
from ketaflow.patients.models import Patient

NO_SUCH_PATIENT = "No such patient in this clinic."


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="User")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEntry.Action.choices]
    )
    patient = forms.CharField(
        required=False, max_length=20, label="Patient (record number)", strip=True
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: QueryDict | None, *, user: User) -> None:
        super().__init__(data)
        self.user = user

    def clean_patient(self) -> Patient | None:
        """A record number (MRN) or id of a patient of the director's own clinic."""
        value: str = self.cleaned_data["patient"]
        if not value:
            return None
        patient = auditable_patient(self.user, value)
        if patient is None:
            raise forms.ValidationError(NO_SUCH_PATIENT)
        return patient
