"""The medical director's view of the audit trail."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.checkpoints import configured_file, latest_checkpoint
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import Action, audit_record, audit_verify
from ketaflow.patients.access import patient_for_user
from ketaflow.web.auth import request_user


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="User")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEntry.Action.choices]
    )
    patient = forms.IntegerField(required=False, min_value=1, label="Patient id")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _auditor(request: HttpRequest) -> User:
    user = request_user(request)
    if not user.may(Perm.VIEW_AUDIT_TRAIL):
        audit_record(
            actor=Actor.from_request(request),
            action=Action.DENIED,
            object_type="audit_trail",
            summary="denied: view audit trail",
        )
        raise PermissionDenied("Only the medical director may read the audit trail.")
    return user


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    user = _auditor(request)
    form = AuditFilterForm(request.GET or None)
    entries = AuditEntry.objects.all()
    if form.is_valid():
        data = form.cleaned_data
        if data["actor"]:
            entries = entries.filter(actor_username__icontains=data["actor"])
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["patient"]:
            entries = entries.filter(patient_id=data["patient"])
        if data["since"]:
            entries = entries.filter(at__date__gte=data["since"])
        if data["until"]:
            entries = entries.filter(at__date__lte=data["until"])
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    verify = audit_verify() if request.GET.get("verify") == "1" else None
    context = {
        "form": form,
        "page": page,
        "verify": verify,
        "checkpoint": latest_checkpoint(configured_file(), "audit"),
        "time_zone": user.clinic.time_zone if user.clinic else "UTC",
    }
    return render(request, "audit/list.html", context)


@login_required
def patient_access_history(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.VIEW_AUDIT_TRAIL, actor=actor)
    entries = AuditEntry.objects.filter(patient_id=patient.pk)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="access_history",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary="viewed the chart's access history",
    )
    return render(request, "audit/patient_history.html", {"patient": patient, "page": page})
