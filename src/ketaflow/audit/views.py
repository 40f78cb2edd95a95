"""The medical director's view of their clinic's audit trail."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.checkpoints import audit_chain_name, configured_file, latest_checkpoint
from ketaflow.audit.context import Actor
from ketaflow.audit.forms import AuditFilterForm
from ketaflow.audit.selectors import (
    auditor_clinic,
    entries_filtered,
    no_entries,
    record_numbers,
)
from ketaflow.audit.services import (
    Action,
    audit_record,
    audit_verify,
    entries_naming_patient,
    trail_read,
)
from ketaflow.patients.access import patient_for_user
from ketaflow.patients.models import Patient
from ketaflow.web.auth import request_user


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
        entries = no_entries()  # another clinic's patient: nothing at all
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
