from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ketaflow.backup.access import backups_for_user
from ketaflow.backup.health import health
from ketaflow.backup.schedule import backup_state, recent_runs
from ketaflow.web.auth import request_user


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For a monitoring system: no login, no patient data, not audited. 200 when the database,
    the worker and the backups are well; 503 naming what is not."""
    ok, report = health()
    return JsonResponse(report, status=200 if ok else 503)


@login_required
@require_GET
def backup_status(request: HttpRequest) -> HttpResponse:
    """The director's view of the installation's backups: the last good one, overdue or not,
    the last failure, the recent runs; times in the viewer's clinic's time zone."""
    user = request_user(request)
    backups_for_user(request, user)
    state = backup_state()
    return render(
        request,
        "backup/status.html",
        {
            "state": state,
            "runs": recent_runs(),
            "keep": settings.BACKUP_KEEP,
            "interval_hours": settings.BACKUP_INTERVAL_HOURS,
            "time_zone": user.clinic.time_zone if user.clinic else settings.TIME_ZONE,
        },
    )
