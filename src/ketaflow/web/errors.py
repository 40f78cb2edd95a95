"""The server-error answer: 503 with Retry-After when the database is not answering (a restart,
a failover, a full disk), 500 otherwise. JSON on the REST API, an OperationOutcome on FHIR, a page
elsewhere. Rendered without the request's context: the context processors read the database that
just failed."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

RETRY_AFTER_S = 30

UNAVAILABLE = (
    f"The clinic's database is not answering. Try again in {RETRY_AFTER_S} seconds; if you were "
    "saving something, check that it was saved before you enter it again."
)
FAILED = "Something went wrong on the server. The error has been logged; try again or call support."


def database_unavailable(exc: BaseException | None) -> bool:
    """The database could not be reached or dropped the connection (not a query's own error)."""
    return isinstance(exc, OperationalError | InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    unavailable = database_unavailable(sys.exc_info()[1])
    status = 503 if unavailable else 500
    message = UNAVAILABLE if unavailable else FAILED
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
        response = HttpResponse(page.render({"message": message, "status": status}), status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_S)
    return response
