"""Every error of the API is JSON: ``{"detail": one line, "errors": [{"field", "rule",
"message"}]}``, naming the field and the rule where there is one.

A caller's mistake is a validation error (422 from the schema, 400 from a service's
``ValidationError``); anything else raised, a bare ``ValueError`` included, is the server's own
error: Django's 500 answer (JSON on this API, ``ketaflow.web.errors.server_error``), logged,
never passed off as the caller's 400."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from ketaflow.api.schemas import ErrorOut
from ketaflow.audit.chain import DamagedRecord
from ketaflow.web.errors import DAMAGED

ERROR_CODES = (400, 401, 403, 404, 422, 429)


def errors(ok: dict[int, Any]) -> dict[int, Any]:
    """An operation's responses: its own and every error, so that the schema documents them."""
    return {**ok, **dict.fromkeys(ERROR_CODES, ErrorOut)}


def _body(detail: str, items: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "errors": items or []}


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "data")]
    return ".".join(parts) or "request"


Handler = Callable[[HttpRequest, Any], HttpResponse]


def add_handlers(api: NinjaAPI, handlers: Sequence[tuple[type[Exception], Handler]]) -> None:
    """Register each exception's handler (the REST API's JSON errors, the FHIR facade's
    OperationOutcomes), each typed as taking the exception it handles."""
    for exception, handler in handlers:
        api.add_exception_handler(exception, handler)


def install(api: NinjaAPI) -> None:
    def validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        items = [
            {
                "field": _field(e.get("loc", ())),
                "rule": str(e.get("type", "invalid")),
                "message": str(e.get("msg", "invalid")),
            }
            for e in exc.errors
        ]
        detail = "; ".join(f"{i['field']}: {i['message']}" for i in items) or "invalid request"
        return api.create_response(request, _body(detail, items), status=422)

    def refused(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        items: list[dict[str, str]] = []
        if hasattr(exc, "error_dict"):
            for field, errs in exc.message_dict.items():
                name = "request" if field == NON_FIELD_ERRORS else field
                items += [{"field": name, "rule": "refused", "message": m} for m in errs]
        else:
            items = [{"field": "request", "rule": "refused", "message": m} for m in exc.messages]
        detail = "; ".join(f"{i['field']}: {i['message']}" for i in items)
        return api.create_response(request, _body(detail, items), status=400)

    def damaged(request: HttpRequest, exc: DamagedRecord) -> HttpResponse:
        # Not the caller's error: a stored record changed outside KetaFlow.
        return api.create_response(request, _body(DAMAGED.format(problem=exc)), status=500)

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(request, _body(str(exc) or "Not found."), status=404)

    def denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return api.create_response(request, _body(str(exc) or "Forbidden."), status=403)

    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        reason = getattr(request, "api_refusal", "")
        detail = (
            f"The token is refused: {reason}."
            if reason
            else "Give a token: Authorization: Bearer <token>."
        )
        response = api.create_response(request, _body(detail), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="ketaflow"'
        return response

    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        response = api.create_response(
            request, _body("Too many calls with this token; wait and try again."), status=429
        )
        if exc.wait is not None:
            response["Retry-After"] = str(int(exc.wait) + 1)
        return response

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return api.create_response(request, _body(str(exc)), status=exc.status_code)

    add_handlers(
        api,
        [
            (NinjaValidationError, validation),
            (DjangoValidationError, refused),
            (DamagedRecord, damaged),
            (Http404, not_found),
            (PermissionDenied, denied),
            (AuthenticationError, unauthenticated),
            (Throttled, throttled),
            (HttpError, http_error),
        ],
    )
