"""FHIR R4 at ``/fhir/``: thin operations over the REST API's token authentication, scopes and
throttle, the access functions (404 for another clinic's id, 403 for the role), the selectors
of ``fhir.selectors`` and the audited services of ``fhir.services``. Every answer is
``application/fhir+json`` (the bulk export's files ``application/fhir+ndjson``); every error an
OperationOutcome naming the element and the rule."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ValidationError as PydanticValidationError

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.roles import Perm
from ketaflow.api.auth import TokenAuth, TokenThrottle, api_token, api_user, require_scope
from ketaflow.api.errors import add_handlers
from ketaflow.audit.context import Actor
from ketaflow.audit.selectors import auditor_clinic, record_numbers
from ketaflow.audit.services import trail_read
from ketaflow.fhir import build, capability
from ketaflow.fhir import selectors as fhir_selectors
from ketaflow.fhir.build import Built
from ketaflow.fhir.services import (
    ImportRefused,
    answers_of,
    clinic_exported,
    fhir_read,
    questionnaire_import,
)
from ketaflow.patients.access import patient_for_user, patients_for_user
from ketaflow.patients.models import Patient
from ketaflow.patients.selectors import patient_search
from ketaflow.patients.services import patient_list_viewed

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"

fhir = NinjaAPI(
    title="KetaFlow FHIR R4",
    version="fhir-r4",
    urls_namespace="fhir",
    auth=TokenAuth(),
    throttle=[TokenThrottle()],
    openapi_url=None,
    docs_url=None,
)


# ---- answers and errors ----------------------------------------------------------------------


def _answer(data: dict[str, Any], status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False), status=status, content_type=FHIR_JSON
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def outcome(
    status: int, code: str, diagnostics: str, expression: str = "", **headers: str
) -> HttpResponse:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return _answer({"resourceType": "OperationOutcome", "issue": [issue]}, status, **headers)


def _install(api: NinjaAPI) -> None:
    def validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        first = exc.errors[0] if exc.errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return outcome(400, "invalid", f"{where}: {first.get('msg', 'invalid')}", where)

    def refused(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return outcome(422, "business-rule", "; ".join(exc.messages))

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return outcome(404, "not-found", str(exc) or "Not found.")

    def denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return outcome(403, "forbidden", str(exc) or "Forbidden.")

    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        reason = getattr(request, "api_refusal", "")
        detail = (
            f"The token is refused: {reason}."
            if reason
            else "Give a token: Authorization: Bearer <token>."
        )
        return outcome(401, "login", detail, WWW_Authenticate='Bearer realm="ketaflow"')

    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        wait = str(int(exc.wait) + 1) if exc.wait is not None else "60"
        return outcome(
            429,
            "throttled",
            "Too many calls with this token; wait and try again.",
            Retry_After=wait,
        )

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = {403: "forbidden", 404: "not-found", 401: "login"}.get(exc.status_code, "invalid")
        return outcome(exc.status_code, code, str(exc))

    add_handlers(
        api,
        [
            (NinjaValidationError, validation),
            (DjangoValidationError, refused),
            (Http404, not_found),
            (PermissionDenied, denied),
            (AuthenticationError, unauthenticated),
            (Throttled, throttled),
            (HttpError, http_error),
        ],
    )


_install(fhir)


class BadParameter(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def _bad_parameter(request: HttpRequest, exc: BadParameter) -> HttpResponse:
    return outcome(400, "invalid", str(exc), exc.name)


add_handlers(fhir, [(BadParameter, _bad_parameter)])


# ---- helpers ---------------------------------------------------------------------------------


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/").rstrip("/")


def _bundle(request: HttpRequest, kind: str, found: list[Built]) -> dict[str, Any]:
    base = _base(request)
    return {
        "resourceType": "Bundle",
        "type": kind,
        "total": len(found),
        "link": [{"relation": "self", "url": request.build_absolute_uri()}],
        "entry": [
            {
                "fullUrl": f"{base}/{b.type}/{b.id}",
                "resource": b.resource,
                "search": {"mode": "match"},
            }
            for b in found
        ],
    }


def _kind(kind: str) -> str:
    if kind not in capability.TYPES:
        raise Http404(f"{kind} is not a resource type this server serves.")
    return kind


_PATIENT_NEED = {"Patient": Perm.VIEW_DEMOGRAPHICS}


def _patient(request: HttpRequest, actor: Actor, patient_id: int, kind: str) -> Patient:
    need = _PATIENT_NEED.get(kind, Perm.VIEW_CLINICAL)
    return patient_for_user(api_user(request), patient_id, need=need, actor=actor)


def _director_trail(request: HttpRequest) -> tuple[Actor, Any]:
    """The acting director and their clinic, for the AuditEvent operations (scopes fhir:read
    and audit:read; the role must read the trail)."""
    require_scope(request, "fhir:read")
    actor = require_scope(request, "audit:read")
    return actor, auditor_clinic(api_user(request), actor)


# ---- search parameters -----------------------------------------------------------------------

_DATE = re.compile(r"^(eq|ne|ge|le|gt|lt)?(\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?)$")
# The date parameter's standard name per type (``date`` is accepted for every type too).
DATE_PARAMETERS = {
    "Observation": "date",
    "Condition": "onset-date",
    "AllergyIntolerance": "date",
    "QuestionnaireResponse": "authored",
    "MedicationAdministration": "effective-time",
    "Procedure": "date",
    "Consent": "date",
    "AuditEvent": "date",
}


def _dates(request: HttpRequest, kind: str) -> list[tuple[str, dt.date | dt.datetime]]:
    names = {"date", DATE_PARAMETERS.get(kind, "date")}
    found: list[tuple[str, dt.date | dt.datetime]] = []
    for name in names:
        for value in request.GET.getlist(name):
            match = _DATE.match(value.strip())
            if match is None:
                raise BadParameter(
                    name,
                    f"{value!r} is not a date: give YYYY-MM-DD or a date and time with its "
                    "offset, optionally after ge, le, gt, lt, eq or ne",
                )
            prefix, text = match.group(1) or "eq", match.group(2)
            try:
                when: dt.date | dt.datetime = (
                    dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                    if "T" in text
                    else dt.date.fromisoformat(text)
                )
            except ValueError:
                raise BadParameter(name, f"{value!r} is not a real date") from None
            found.append((prefix, when))
    return found


def _matches_date(
    built: Built, tests: list[tuple[str, dt.date | dt.datetime]], patient: Patient
) -> bool:
    for prefix, when in tests:
        value = built.when
        if value is None:
            return False
        if isinstance(when, dt.datetime):
            if not isinstance(value, dt.datetime):
                value = dt.datetime.combine(value, dt.time(), tzinfo=when.tzinfo)
            left: Any = value
        else:
            # A day is the clinic's day (clinic time), as the clinic's pages show it.
            left = (
                clinic_local(patient.clinic, value).date()
                if isinstance(value, dt.datetime)
                else value
            )
        ok = {
            "eq": left == when,
            "ne": left != when,
            "ge": left >= when,
            "le": left <= when,
            "gt": left > when,
            "lt": left < when,
        }[prefix]
        if not ok:
            return False
    return True


def _codes(request: HttpRequest) -> set[str]:
    wanted: set[str] = set()
    for value in request.GET.getlist("code"):
        for token in value.split(","):
            token = token.strip()
            if not token:
                raise BadParameter("code", "give a code, or system|code")
            wanted.add(token)
    return wanted


def _count(request: HttpRequest, default: int = 100, most: int = 1000) -> int:
    value = request.GET.get("_count", str(default))
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise BadParameter("_count", f"must be a whole number from 1 to {most}")
    return int(value)


def _patient_parameter(request: HttpRequest, *, required: bool) -> int | None:
    values = request.GET.getlist("patient") or request.GET.getlist("subject")
    if not values:
        if required:
            raise BadParameter("patient", "search this type by patient: ?patient=<id>")
        return None
    value = values[0].removeprefix("Patient/")
    if not value.isdigit() or len(value) > 18 or int(value) < 1:
        raise BadParameter("patient", f"{values[0]!r} is not a patient id")
    return int(value)


def _known_parameters(request: HttpRequest, kind: str) -> None:
    allowed = set(capability.SEARCH_PARAMETERS[kind]) | {"_count", "_format"}
    for name in request.GET:
        if name not in allowed:
            raise BadParameter(
                name, f"{kind} is not searched by {name}; use {', '.join(sorted(allowed))}"
            )


# ---- the operations --------------------------------------------------------------------------


@fhir.get("/metadata", auth=None, throttle=[], include_in_schema=False)
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement: what this server implements (no token needed)."""
    return _answer(capability.statement(_base(request)))


@fhir.get("/$export", include_in_schema=False)
def export_manifest(request: HttpRequest) -> HttpResponse:
    """The clinic's bulk export (the medical director's token, scope fhir:export): a manifest
    naming one NDJSON file per resource type, each fetched with the same token. Synchronous:
    each file is built when it is fetched."""
    _exporter(request)
    base = _base(request)
    return _answer(
        {
            "transactionTime": timezone.now().isoformat(),
            "request": request.build_absolute_uri(),
            "requiresAccessToken": True,
            "output": [
                {"type": kind, "url": f"{base}/$export/{kind}"} for kind in capability.EXPORT_TYPES
            ],
            "error": [],
        }
    )


def _exporter(request: HttpRequest) -> Actor:
    actor = require_scope(request, "fhir:export")
    user = api_user(request)
    if not user.may(Perm.MANAGE_STAFF) or user.clinic_id is None:
        raise PermissionDenied("Only the medical director exports the clinic's records.")
    return actor


@fhir.get("/$export/{kind}", include_in_schema=False)
def export_file(request: HttpRequest, kind: str) -> HttpResponse:
    """One resource type of every patient of the clinic, one resource per line."""
    actor = _exporter(request)
    if kind not in capability.EXPORT_TYPES:
        raise Http404(f"{kind} is not exported.")
    user = api_user(request)
    lines: list[str] = []
    patient_ids: list[int] = []
    if kind == "AuditEvent":
        clinic = auditor_clinic(user, actor)
        entries = list(fhir_selectors.entries_filtered(clinic))
        found = fhir_selectors.audit_events(clinic.pk, clinic.slug, entries)
        patient_ids = sorted({e.patient_id for e in entries if e.patient_id is not None})
    else:
        found = []
        for patient in patients_for_user(user).select_related("clinic").order_by("pk"):
            rows = fhir_selectors.resources(patient, kind)
            if rows:
                patient_ids.append(patient.pk)
            found += rows
    lines = [json.dumps(b.resource, ensure_ascii=False) for b in found]
    clinic_exported(actor=actor, kind=kind, patient_ids=patient_ids, count=len(lines))
    body = "".join(line + "\n" for line in lines)
    return HttpResponse(body, content_type=FHIR_NDJSON)


@fhir.get("/Patient/{patient_id}/$everything", include_in_schema=False)
def everything(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Every resource of the patient the token may read: the patient's record types (scope
    fhir:read), and the audit events naming them if the token also reads the trail."""
    actor = require_scope(request, "fhir:read")
    patient = _patient(request, actor, patient_id, "Patient")
    patient_for_user(api_user(request), patient_id, need=Perm.VIEW_CLINICAL, actor=actor)
    found: list[Built] = []
    for kind in fhir_selectors.PATIENT_TYPES:
        found += fhir_selectors.resources(patient, kind)
    fhir_read(actor=actor, patient=patient, what="everything")
    user = api_user(request)
    if api_token(request).allows("audit:read") and user.may(Perm.VIEW_AUDIT_TRAIL):
        clinic = auditor_clinic(user, actor)
        entries = list(fhir_selectors.entries_filtered(clinic, patient=patient)[:1000])
        found += fhir_selectors.audit_events(clinic.pk, clinic.slug, entries)
        trail_read(
            actor=actor,
            patient=patient,
            shown=record_numbers(user, entries),
            verified=False,
            filters={"$everything": patient.pk},
        )
    bundle = _bundle(request, "searchset", found)
    return _answer(bundle)


@fhir.get("/QuestionnaireResponse", include_in_schema=False)
def questionnaire_search(request: HttpRequest) -> HttpResponse:
    """The search of QuestionnaireResponse (its path is also the create's)."""
    return search(request, "QuestionnaireResponse")


@fhir.post("/QuestionnaireResponse", include_in_schema=False)
def questionnaire_create(request: HttpRequest) -> HttpResponse:
    """Import a PHQ-9, GAD-7 or PCL-5 answered elsewhere: scored as in the clinic; a PHQ-9 item 9
    above 0 raises the urgent safety task at once. Refused input: an OperationOutcome naming the
    element (400 malformed, 422 refused by the rules); nothing is written."""
    actor = require_scope(request, "fhir:write")
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return outcome(400, "structure", "The body is not JSON.", "QuestionnaireResponse")
    if not isinstance(body, dict) or body.get("resourceType") != "QuestionnaireResponse":
        return outcome(
            400,
            "structure",
            "Send a QuestionnaireResponse resource (resourceType QuestionnaireResponse).",
            "QuestionnaireResponse.resourceType",
        )
    try:
        parsed = QuestionnaireResponse.model_validate(body)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["QuestionnaireResponse", *(str(p) for p in first["loc"])])
        return outcome(400, "structure", f"{where}: {first['msg']}", where)
    try:
        imported = answers_of(parsed)
        patient = patient_for_user(
            api_user(request), imported.patient_id, need=Perm.EDIT_CLINICAL, actor=actor
        )
        response = questionnaire_import(actor=actor, patient=patient, imported=imported)
    except ImportRefused as exc:
        code = "invalid" if exc.status == 400 else "business-rule"
        return outcome(exc.status, code, str(exc), exc.element)
    built = build.questionnaire_response(response)
    return _answer(
        built.resource, 201, Location=f"{_base(request)}/QuestionnaireResponse/{built.id}"
    )


@fhir.get("/{kind}", include_in_schema=False)
def search(request: HttpRequest, kind: str) -> HttpResponse:
    """A searchset Bundle: Patient by name, identifier or _id; the other types by patient
    (required), date (ge/le/gt/lt/eq/ne) and code (system|code or code, commas for any of)."""
    kind = _kind(kind)
    _known_parameters(request, kind)
    if kind == "AuditEvent":
        return _audit_search(request)
    actor = require_scope(request, "fhir:read")
    count = _count(request)
    if kind == "Patient":
        return _patient_search(request, actor, count)
    patient_id = _patient_parameter(request, required=True) or 0
    patient = _patient(request, actor, patient_id, kind)
    dates = _dates(request, kind)
    wanted = _codes(request)
    found = [
        b
        for b in fhir_selectors.resources(patient, kind)
        if _matches_date(b, dates, patient) and (not wanted or wanted & b.codes)
    ][:count]
    fhir_read(actor=actor, patient=patient, what=f"{kind} search")
    return _answer(_bundle(request, "searchset", found))


def _patient_search(request: HttpRequest, actor: Actor, count: int) -> HttpResponse:
    user = api_user(request)
    if not user.may(Perm.LIST_PATIENTS):
        raise PermissionDenied("Your role may not list patients.")
    ids = request.GET.getlist("_id")
    query = (request.GET.get("name") or request.GET.get("identifier") or "").strip()
    if len(query) > 100:
        raise BadParameter("name", "at most 100 characters")
    patients = patient_search(user, query).patients.select_related("clinic").order_by("pk")
    if ids:
        if not all(i.isdigit() and len(i) <= 18 for i in ids):
            raise BadParameter("_id", "give patient ids (whole numbers)")
        patients = patients.filter(pk__in=[int(i) for i in ids])
    shown = list(patients[:count])
    patient_list_viewed(actor=actor, query=query, patient_ids=[p.pk for p in shown])
    return _answer(_bundle(request, "searchset", [build.patient(p) for p in shown]))


def _audit_search(request: HttpRequest) -> HttpResponse:
    actor, clinic = _director_trail(request)
    user = api_user(request)
    count = _count(request)
    patient_id = _patient_parameter(request, required=False)
    patient = (
        patient_for_user(user, patient_id, need=Perm.VIEW_AUDIT_TRAIL, actor=actor)
        if patient_id is not None
        else None
    )
    since: dt.date | None = None
    until: dt.date | None = None
    for prefix, when in _dates(request, "AuditEvent"):
        day = when.date() if isinstance(when, dt.datetime) else when
        if prefix in ("ge", "gt"):
            since = day + dt.timedelta(days=1) if prefix == "gt" else day
        elif prefix in ("le", "lt"):
            until = day - dt.timedelta(days=1) if prefix == "lt" else day
        elif prefix == "eq":
            since = until = day
        else:
            raise BadParameter("date", "AuditEvent takes ge, le, gt, lt or eq")
    entries = list(
        fhir_selectors.entries_filtered(clinic, patient=patient, since=since, until=until)[:count]
    )
    found = fhir_selectors.audit_events(clinic.pk, clinic.slug, entries)
    trail_read(
        actor=actor,
        patient=patient,
        shown=record_numbers(user, entries),
        verified=False,
        filters={k: v for k, v in request.GET.items() if k != "_count"},
    )
    return _answer(_bundle(request, "searchset", found))


@fhir.get("/{kind}/{resource_id}", include_in_schema=False)
def read(request: HttpRequest, kind: str, resource_id: str) -> HttpResponse:
    """One resource. Another clinic's id, or one that does not exist, is 404 alike."""
    kind = _kind(kind)
    if kind == "AuditEvent":
        actor, clinic = _director_trail(request)
        entry = fhir_selectors.audit_entry(clinic, resource_id)
        if entry is None:
            raise Http404("No such AuditEvent.")
        trail_read(
            actor=actor,
            patient=None,
            shown=record_numbers(api_user(request), [entry]),
            verified=False,
            filters={"id": resource_id},
        )
        return _answer(build.audit_event(entry, clinic.slug).resource)
    actor = require_scope(request, "fhir:read")
    patient_id = fhir_selectors.patient_of(kind, resource_id)
    if patient_id is None:
        raise Http404(f"No such {kind}.")
    patient = _patient(request, actor, patient_id, kind)
    found = fhir_selectors.one(patient, kind, resource_id)
    if found is None:
        raise Http404(f"No such {kind}.")
    fhir_read(actor=actor, patient=patient, what=f"{kind}/{resource_id}")
    return _answer(found.resource)
