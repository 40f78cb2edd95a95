from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ketaflow.backup.health import health


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For a monitoring system: no login, no patient data, not audited. 200 when the database,
    the worker and the backups are well; 503 naming what is not."""
    ok, report = health()
    return JsonResponse(report, status=200 if ok else 503)
