"""The director's research export page: what the export holds and how it is de-identified
(GET), and the export itself as a zip download (POST; audited by the service)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from ketaflow.audit.context import Actor
from ketaflow.clinical.deidentify import IDENTIFIERS, TABLES
from ketaflow.research.access import research_clinic_for_user
from ketaflow.research.forms import ExportForm
from ketaflow.research.selectors import research_patients
from ketaflow.research.services import research_export
from ketaflow.web.auth import request_user


@login_required
@require_http_methods(["GET", "POST"])
def export_page(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    clinic = research_clinic_for_user(user, actor=actor)
    form = ExportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        export = research_export(actor=actor, clinic=clinic, formats=form.chosen())
        response = HttpResponse(export.zip(), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export.folder}.zip"'
        return response
    return render(
        request,
        "research/export.html",
        {
            "form": form,
            "clinic": clinic,
            "patients": len(research_patients(clinic)),
            "tables": TABLES,
            "identifiers": IDENTIFIERS,
        },
        status=400 if form.is_bound else 200,
    )
