"""Thin views over the registry: access check, form, service, template."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.outcomes.selectors import chart_section
from ketaflow.patients import selectors, services
from ketaflow.patients.access import patient_for_user
from ketaflow.patients.forms import (
    RECORD_FORMS,
    REGISTER_ANYWAY_FIELD,
    MergeForm,
    NoteForm,
    PatientForm,
    PatientSearchForm,
    ReasonForm,
    RemoveForm,
)
from ketaflow.patients.models import Patient, PatientRecord
from ketaflow.web.auth import request_user
from ketaflow.web.forms import apply_validation_error


def _error_line(errors: Any) -> str:
    return "; ".join(f"{field}: {' '.join(str(e) for e in errs)}" for field, errs in errors.items())


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user.may(Perm.LIST_PATIENTS):
        own = selectors.own_record(user)
        if own is not None:
            return redirect("patient_chart", patient_id=own.pk)
        raise PermissionDenied("Your role may not list patients.")
    form = PatientSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    include_inactive = bool(form.cleaned_data.get("inactive")) if form.is_valid() else False
    page = selectors.list_page(user, query, include_inactive=include_inactive)
    services.patient_list_viewed(
        actor=Actor.from_request(request), query=query, patient_ids=[p.pk for p in page.patients]
    )
    return render(request, "patients/list.html", {"form": form, **page.context()})


@login_required
@require_http_methods(["GET", "POST"])
def patient_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user.may(Perm.REGISTER_PATIENT) or user.clinic_id is None:
        raise PermissionDenied("Your role may not register patients.")
    form = PatientForm(request.POST or None)
    duplicates: list[services.PossibleDuplicate] = []
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        try:
            patient = services.patient_register(
                actor=actor,
                clinic_id=user.clinic_id,
                data=form.cleaned_data,
                register_anyway_reason=form.cleaned_data.get(REGISTER_ANYWAY_FIELD) or "",
            )
        except ValidationError as exc:
            if any(e.code == services.DUPLICATE_CODE for e in exc.error_dict.get("__all__", [])):
                form.ask_register_anyway()
                duplicates = services.possible_duplicates(
                    clinic_id=user.clinic_id, data=form.cleaned_data
                )
                services.duplicates_shown(actor=actor, duplicates=duplicates)
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Registered {patient.display_name} ({patient.mrn}).")
            return redirect("patient_chart", patient_id=patient.pk)
    return render(
        request,
        "patients/form.html",
        {"form": form, "title": "Register a patient", "duplicates": duplicates},
    )


@login_required
def patient_chart(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.VIEW_DEMOGRAPHICS, actor=actor)
    page = selectors.chart_page(user, patient)
    context = page.context()
    context.update(reason_form=ReasonForm(), note_form=NoteForm() if page.show_clinical else None)
    # One audit entry for the page, naming each section shown (the outcomes section among them;
    # it wrote a second entry of its own, a chained write more on every chart view).
    services.chart_viewed(actor=actor, patient=patient, sections=page.sections)
    if page.show_clinical:
        context["outcomes_section"] = chart_section(patient, user)
    return render(request, "patients/chart.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    patient = patient_for_user(
        request_user(request), patient_id, need=Perm.EDIT_DEMOGRAPHICS, actor=actor
    )
    form = PatientForm(request.POST or None, instance=selectors.patient_for_edit(patient))
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(actor=actor, patient=patient, data=form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("patient_chart", patient_id=patient.pk)
    if request.method == "GET":
        services.form_viewed(
            actor=actor,
            patient=patient,
            what="details",
            object_type="patient",
            object_id=patient.pk,
        )
    return render(
        request,
        "patients/form.html",
        {"form": form, "patient": patient, "title": f"Edit {patient.display_name}"},
    )


def _form_class(kind: str) -> Any:
    try:
        return RECORD_FORMS[kind]
    except KeyError:
        raise Http404("No such kind of record.") from None


def _record(patient: Patient, kind: str, record_id: int) -> PatientRecord:
    return selectors.record_of(patient, services.RECORD_KINDS[kind], record_id)


@login_required
@require_http_methods(["GET", "POST"])
def record_new(request: HttpRequest, patient_id: int, kind: str) -> HttpResponse:
    form_class = _form_class(kind)
    actor = Actor.from_request(request)
    patient = patient_for_user(
        request_user(request), patient_id, need=Perm.EDIT_CLINICAL, actor=actor
    )
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_add(actor=actor, patient=patient, record=form.save(commit=False))
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Added {form.instance.label}.")
            return redirect("patient_chart", patient_id=patient.pk)
    label = form_class._meta.model.label
    services.form_viewed(
        actor=actor, patient=patient, what=f"a new {label}", object_type=kind, object_id=""
    )
    return render(
        request,
        "patients/form.html",
        {"form": form, "patient": patient, "title": f"Add {label} for {patient.display_name}"},
    )


@login_required
@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, patient_id: int, kind: str, record_id: int) -> HttpResponse:
    form_class = _form_class(kind)
    actor = Actor.from_request(request)
    patient = patient_for_user(
        request_user(request), patient_id, need=Perm.EDIT_CLINICAL, actor=actor
    )
    record = _record(patient, kind, record_id)
    form = form_class(request.POST or None, instance=_record(patient, kind, record_id))
    if request.method == "POST" and form.is_valid():
        try:
            services.record_update(actor=actor, record=record, data=form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Saved {record.label}.")
            return redirect("patient_chart", patient_id=patient.pk)
    services.form_viewed(
        actor=actor, patient=patient, what=record.label, object_type=kind, object_id=record.pk
    )
    return render(
        request,
        "patients/form.html",
        {
            "form": form,
            "patient": patient,
            "title": f"Edit {record.label}: {record}",
            "remove_form": RemoveForm(),
            "remove_url_args": (patient.pk, kind, record.pk),
        },
    )


@login_required
@require_POST
def record_remove(request: HttpRequest, patient_id: int, kind: str, record_id: int) -> HttpResponse:
    _form_class(kind)
    actor = Actor.from_request(request)
    patient = patient_for_user(
        request_user(request), patient_id, need=Perm.EDIT_CLINICAL, actor=actor
    )
    record = _record(patient, kind, record_id)
    form = RemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Reason: say why the record is removed.")
        return redirect("record_edit", patient_id=patient.pk, kind=kind, record_id=record.pk)
    services.record_remove(actor=actor, record=record, reason=form.cleaned_data["reason"])
    messages.success(request, f"Removed {record.label}.")
    return redirect("patient_chart", patient_id=patient.pk)


@login_required
@require_POST
def note_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    patient = patient_for_user(request_user(request), patient_id, need=Perm.WRITE_NOTE, actor=actor)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(actor=actor, patient=patient, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, _error_line(exc.message_dict))
        else:
            messages.success(request, "Note saved.")
    else:
        messages.error(request, _error_line(form.errors))
    return redirect("patient_chart", patient_id=patient.pk)


@login_required
def patient_export(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.EXPORT_CHART, actor=actor)
    data = services.patient_export(actor=actor, patient=patient, include_clinical=True)
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{patient.mrn}.json"'
    response["Cache-Control"] = "no-store"
    return response


def record_download(patient: Patient, data: bytes, file_format: str) -> HttpResponse:
    """A complete-record file as a download (never cached: it holds the whole chart)."""
    content_type = "application/pdf" if file_format == "pdf" else "application/json"
    response = HttpResponse(data, content_type=content_type)
    name = f"{patient.mrn}-complete-record.{file_format}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_GET
def patient_record(request: HttpRequest, patient_id: int, file_format: str) -> HttpResponse:
    """The complete record (right of access), asked for by the patient through the clinic."""
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.EXPORT_CHART, actor=actor)
    data = services.patient_record_export(
        actor=actor, patient=patient, file_format=file_format, for_the_patient=False
    )
    return record_download(patient, data, file_format)


@login_required
@require_http_methods(["GET", "POST"])
def patient_merge(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The medical director merges a duplicate (by its record number) into this record."""
    user = request_user(request)
    actor = Actor.from_request(request)
    keep = patient_for_user(user, patient_id, need=Perm.MANAGE_REGISTRY, actor=actor)
    form = MergeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        mrn = form.cleaned_data["duplicate"].strip()
        duplicate = selectors.patient_by_mrn(user, mrn)
        if duplicate is None:
            form.add_error("duplicate", f"No patient of this clinic has the record number {mrn}.")
        else:
            try:
                services.patient_merge(
                    actor=actor, keep=keep, duplicate=duplicate, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(
                    request, f"Merged {duplicate.mrn} into {keep.mrn}: its records are here now."
                )
                return redirect("patient_chart", patient_id=keep.pk)
    services.form_viewed(
        actor=actor, patient=keep, what="a merge", object_type="patient", object_id=keep.pk
    )
    return render(
        request,
        "patients/form.html",
        {"form": form, "patient": keep, "title": f"Merge a duplicate into {keep.display_name}"},
    )


def _activation(request: HttpRequest, patient_id: int, *, activate: bool) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.MANAGE_REGISTRY, actor=actor)
    if request.method != "POST":  # the form is on the chart
        return redirect("patient_chart", patient_id=patient.pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Reason: say why.")
        return redirect("patient_chart", patient_id=patient.pk)
    change = services.patient_reactivate if activate else services.patient_deactivate
    try:
        change(actor=actor, patient=patient, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Record reactivated." if activate else "Record deactivated.")
    return redirect("patient_chart", patient_id=patient.pk)


@login_required
@require_http_methods(["GET", "POST"])
def patient_deactivate(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _activation(request, patient_id, activate=False)


@login_required
@require_http_methods(["GET", "POST"])
def patient_reactivate(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _activation(request, patient_id, activate=True)
