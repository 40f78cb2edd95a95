"""The server-error answer: 503 with Retry-After when the database is not answering (a restart,
a failover, a full disk), 500 otherwise; a record changed outside KetaFlow (``DamagedRecord``) is
named, in words, with what to do. JSON on the REST API, an OperationOutcome on FHIR, a page
elsewhere. Rendered without the request's context: the context processors read the database that
just failed."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from ketaflow.audit.chain import DamagedRecord

RETRY_AFTER_S = 30

UNAVAILABLE = (
    f"The clinic's database is not answering. Try again in {RETRY_AFTER_S} seconds; if you were "
    "saving something, check that it was saved before you enter it again."
)
FAILED = "Something went wrong on the server. The error has been logged; try again or call support."
DAMAGED = (
    "This record cannot be shown as it is stored: {problem}. It was changed outside KetaFlow, so "
    "KetaFlow neither shows nor uses it. If you were saving something, it may have been saved: "
    "do not enter it again before the director has checked. Tell the medical director: the "
    "tamper check (ketaflow audit verify) names the record."
)


def database_unavailable(exc: BaseException | None) -> bool:
    """The database could not be reached or dropped the connection (not a query's own error)."""
    return isinstance(exc, OperationalError | InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    exc = sys.exc_info()[1]
    unavailable = database_unavailable(exc)
    status = 503 if unavailable else 500
    message = UNAVAILABLE if unavailable else FAILED
    title = "Not available for a moment" if unavailable else "Server error"
    if isinstance(exc, DamagedRecord):
        message, title = DAMAGED.format(problem=exc), "Damaged record"
    response: HttpResponse
    if request.path.startswith("/fhir/"):
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "transient" if unavailable else "exception",
                    "diagnostics": message,
                }
            ],
        }
        response = JsonResponse(outcome, status=status, content_type="application/fhir+json")
    elif request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "errors": []}, status=status)
    else:
        page = loader.get_template("web/server_error.html")
        context = {"message": message, "status": status, "title": title}
        response = HttpResponse(page.render(context), status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_S)
    return response
