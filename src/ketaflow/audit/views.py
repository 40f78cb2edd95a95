"""The medical director's view of their clinic's audit trail."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.checkpoints import audit_chain_name, configured_file, latest_checkpoint
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.selectors import (
    auditor_clinic,
    entries_filtered,
    record_numbers,
)
from ketaflow.audit.services import (
    Action,
    audit_record,
    audit_verify,
    entries_naming_patient,
    trail_read,
)
from ketaflow.patients.access import patient_for_user, patients_for_user
from ketaflow.patients.models import Patient
from ketaflow.web.auth import request_user

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
        match = Q(mrn__iexact=value)
        if value.isdigit():
            match |= Q(pk=int(value))
        patient = patients_for_user(self.user).filter(match).order_by("pk").first()
        if patient is None:
            raise forms.ValidationError(NO_SUCH_PATIENT)
        return patient


def _auditor(request: HttpRequest) -> tuple[User, Clinic]:
    """The director and their clinic (the only clinic whose trail they read)."""
    user = request_user(request)
    return user, auditor_clinic(user, Actor.from_request(request))


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    """The director's clinic's entries only; the filter takes a patient of that clinic only."""
    user, clinic = _auditor(request)
    form = AuditFilterForm(request.GET or None, user=user)
    entries = entries_filtered(clinic)
    patient: Patient | None = None
    if form.is_bound and not form.is_valid() and "patient" in form.errors:
        entries = AuditEntry.objects.none()  # another clinic's patient: nothing at all
    elif form.is_valid():
        data = form.cleaned_data
        patient = data["patient"]
        entries = entries_filtered(
            clinic,
            patient=patient,
            actor=data["actor"],
            action=data["action"],
            since=data["since"],
            until=data["until"],
        )
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    mrns = record_numbers(user, shown)
    verify = audit_verify(clinic=clinic) if request.GET.get("verify") == "1" else None
    trail_read(
        actor=Actor.from_request(request),
        patient=patient,
        shown=mrns,
        verified=verify is not None,
        filters={k: v for k, v in request.GET.items() if k != "page"},
    )
    rows = [(e, mrns.get(e.patient_id) if e.patient_id is not None else None) for e in shown]
    return render(
        request,
        "audit/list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "verify": verify,
            "clinic": clinic,
            "time_zone": clinic.time_zone,
            "checkpoint": latest_checkpoint(
                configured_file(), audit_chain_name(f"clinic:{clinic.pk}")
            ),
        },
    )


@login_required
def patient_access_history(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.VIEW_AUDIT_TRAIL, actor=actor)
    entries = entries_naming_patient(patient.pk)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="access_history",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary="viewed the chart's access history",
    )
    rows = [(e, patient.mrn if e.patient_id == patient.pk else None) for e in shown]
    return render(
        request,
        "audit/patient_history.html",
        {
            "patient": patient,
            "page": page,
            "rows": rows,
            "time_zone": patient.clinic.time_zone,
        },
    )
