"""Helpers of the URL sweeps (test_patient_isolation, test_outsider): every URL pattern of the
app, filled with record ids; a clinic's own records by kind; what a page must not show of a
clinic; a snapshot of every row a clinic owns; the fields of a page's form."""

from __future__ import annotations

import base64
import contextlib
import itertools
import re
import zlib
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Any

from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from ketaflow.accounts.models import Clinic, Credential, User
from ketaflow.api.models import ApiToken
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.models import AuditEntry
from ketaflow.candidacy.models import CandidacyAssessment, Consent
from ketaflow.fhir.capability import TYPES
from ketaflow.fhir.selectors import OBSERVATION_PREFIXES
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from ketaflow.infusions.questionnaires import CHAIR_INSTRUMENTS
from ketaflow.infusions.views import HANDLERS
from ketaflow.ledger.models import Count, DiscrepancyCase, Inventory, LedgerEntry, Receipt, Vial
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.patients.models import Allergy, Diagnosis, Patient
from ketaflow.patients.services import RECORD_KINDS
from ketaflow.portal.models import DueQuestionnaire, UrgentTask
from ketaflow.treatment.models import Appointment, Course
from tests.web.conftest import World

PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def patterns(
    resolver: URLResolver | None = None, prefix: str = "", *, admin: bool = False
) -> list[str]:
    """Every URL route of the app (the admin's only when ``admin``), logout left out."""
    routes: list[str] = []
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if "admin" in route and not admin:
                continue  # the admin is the director's alone (tested in test_access)
            routes += patterns(entry, route, admin=admin)
        elif isinstance(entry, URLPattern) and "logout" not in route:
            routes.append(route)
    return routes


def fill(route: str, ints: list[int], slugs: list[str]) -> list[str]:
    """``route`` with every combination of ``ints`` and ``slugs`` for its parameters."""
    params = PARAM.findall(route)
    choices = [ints if kind in ("int", "") else slugs for kind, _ in params]
    urls = []
    for values in itertools.product(*choices):
        url = route
        for value in values:
            url = PARAM.sub(str(value), url, count=1)
        urls.append("/" + url.lstrip("^").rstrip("$"))
    return urls


# A patient's record by its kind and id: ``patients/<patient_id>/<kind>/<record_id>/...``.
RECORD_ROUTE = re.compile(r"^patients/<int:patient_id>/<slug:kind>/<int:record_id>/")


def fill_records(
    route: str, ints: list[int], slugs: list[str], *, probes: Iterable[int] = ()
) -> list[str]:
    """``route`` filled as :func:`fill` does, but a patient's record route (patient, kind,
    record) with the records that exist: each record under its own patient, under another
    patient of ``ints`` and under each of ``probes`` (a record reached through another patient's
    address: a patient's own id with someone else's record), and each of ``slugs`` with the
    first id of ``ints`` for both (a kind that does not exist). :func:`fill`'s product of every
    id with every id and kind made 576 URLs of such a route for 12 ids (1,584 with the
    patient's 11 kinds), nearly all of them no record at all (session 12)."""
    if not RECORD_ROUTE.match(route):
        return fill(route, ints, slugs)
    tail = RECORD_ROUTE.sub("", route)
    urls = [f"/patients/{ints[0]}/{slug}/{ints[0]}/{tail}" for slug in slugs]
    extra = list(probes)
    for kind, model in RECORD_KINDS.items():
        for pk, owner in model._default_manager.order_by("pk").values_list("pk", "patient_id"):
            other = next(i for i in ints if i != owner)
            for patient in dict.fromkeys([owner, other, *extra]):
                urls.append(f"/patients/{patient}/{kind}/{pk}/{tail}")
    return urls


def _pks(queryset: models.QuerySet[Any]) -> list[int]:
    return list(queryset.order_by("pk").values_list("pk", flat=True))


def clinic_ids(clinic: Clinic) -> dict[str, list[int]]:
    """The clinic's record ids by the URL parameter that names their kind."""
    mine = {"patient__clinic": clinic}
    return {
        "patient_id": _pks(Patient.objects.filter(clinic=clinic)),
        "session_id": _pks(InfusionSession.objects.filter(**mine)),
        "appointment_id": _pks(Appointment.objects.filter(**mine)),
        "course_id": _pks(Course.objects.filter(**mine)),
        "assessment_id": _pks(CandidacyAssessment.objects.filter(**mine)),
        "consent_id": _pks(Consent.objects.filter(**mine)),
        "vial_id": _pks(Vial.objects.filter(clinic=clinic)),
        "receipt_id": _pks(Receipt.objects.filter(clinic=clinic)),
        "entry_id": _pks(LedgerEntry.objects.filter(clinic=clinic)),
        "count_id": _pks(Count.objects.filter(clinic=clinic)),
        "case_id": _pks(DiscrepancyCase.objects.filter(clinic=clinic)),
        "inventory_id": _pks(Inventory.objects.filter(clinic=clinic)),
        "rec_id": _pks(BoosterRecommendation.objects.filter(**mine)),
        "due_id": _pks(DueQuestionnaire.objects.filter(**mine)),
        "response_id": _pks(InstrumentResponse.objects.filter(**mine)),
        "task_id": _pks(UrgentTask.objects.filter(clinic=clinic)),
        "user_id": _pks(User.objects.filter(clinic=clinic)),
        "token_id": _pks(ApiToken.objects.filter(clinic=clinic)),
    }


REPORTS = ("administration", "ledger", "discrepancies")
# Clinical settings are addressed by key, not by record: a sample, one of each kind.
SETTING_KEYS = (
    "dosing.adjusted_bw_factor",
    "monitoring.bp_rise_critical_percent",
    "resistance.ptsd_dose.sertraline",
)
INSTRUMENTS = ("phq9", "pcl5", "gad7", "cssrs")


def _route_urls(route: str, ids: dict[str, list[int]], clinic: Clinic) -> Iterator[str]:
    """``route`` filled with the clinic's records, several parameters coherently (a record with
    its own patient, a vitals entry with its own session); a route without a record parameter
    once (the ledger's clinic-wide reports, a questionnaire by name)."""
    names = [name for _, name in PARAM.findall(route)]

    def url(**values: object) -> str:
        return "/" + PARAM.sub(lambda m: str(values[m.group(2)]), route)

    if names == ["patient_id", "kind", "record_id"]:
        for kind, model in RECORD_KINDS.items():
            for record in model._default_manager.filter(patient__clinic=clinic).order_by("pk"):
                yield url(patient_id=record.patient_id, kind=kind, record_id=record.pk)
    elif names == ["patient_id", "kind"]:
        for patient_id, kind in itertools.product(ids["patient_id"], RECORD_KINDS):
            yield url(patient_id=patient_id, kind=kind)
    elif names == ["session_id", "action"]:
        for session_id, action in itertools.product(ids["session_id"], HANDLERS):
            yield url(session_id=session_id, action=action)
    elif names == ["session_id", "instrument"]:  # a questionnaire at the chair, item by item
        for session_id, chair in itertools.product(ids["session_id"], CHAIR_INSTRUMENTS):
            yield url(session_id=session_id, instrument=chair.value)
    elif names == ["session_id", "entry_id"]:
        for entry in VitalsEntry.objects.filter(session__patient__clinic=clinic).order_by("pk"):
            yield url(session_id=entry.session_id, entry_id=entry.pk)
    elif names == ["name"]:  # the ledger's reports, with their record parameters and formats
        for fmt in ("html", "csv", "pdf"):
            for name in REPORTS:
                yield url(name=name) + f"?format={fmt}"
            for vial_id in ids["vial_id"]:
                yield url(name="vial") + f"?vial={vial_id}&format={fmt}"
            for inventory_id in ids["inventory_id"]:
                yield url(name="inventory") + f"?inventory={inventory_id}&format={fmt}"
    elif names == ["instrument"]:
        for instrument in INSTRUMENTS:
            yield url(instrument=instrument)
    elif names == ["token"]:
        yield url(token="no-such-token")
    elif names == ["key"]:  # a clinical setting: each clinic has its own value of every key
        for key in SETTING_KEYS:
            yield url(key=key)
    elif route.startswith("fhir/") and "kind" in names:  # FHIR: every type, the clinic's ids
        yield from _fhir_urls(route, ids, clinic)
    elif len(names) == 1:
        for value in ids[names[0]]:
            yield url(**{names[0]: value})
    else:
        raise AssertionError(f"the sweep does not know how to fill {route}: add it here")


def _fhir_urls(route: str, ids: dict[str, list[int]], clinic: Clinic) -> Iterator[str]:
    """The FHIR routes: each type's search by each patient, each resource read by its id (a
    vitals entry's observations by their prefixes), the export of each type."""
    if route == "fhir/$export/<kind>":
        yield from (f"/fhir/$export/{kind}" for kind in TYPES)
    elif route == "fhir/<kind>":
        for kind, patient_id in itertools.product(TYPES, ids["patient_id"]):
            yield f"/fhir/{kind}?patient={patient_id}"
    elif route == "fhir/<kind>/<resource_id>":
        vitals = _pks(VitalsEntry.objects.filter(session__patient__clinic=clinic))[:3]
        allergies = _pks(Allergy.objects.filter(patient__clinic=clinic))
        diagnoses = _pks(Diagnosis.objects.filter(patient__clinic=clinic))
        trail = _pks(AuditEntry.objects.filter(clinic=clinic))[-3:]
        reads: dict[str, list[int] | list[str]] = {
            "Patient": ids["patient_id"],
            "Condition": diagnoses,
            "AllergyIntolerance": allergies,
            "Observation": [
                f"{p}-{v}" for p in OBSERVATION_PREFIXES if p != "score" for v in vitals
            ]
            + [f"score-{r}" for r in ids["response_id"]],
            "QuestionnaireResponse": ids["response_id"],
            "MedicationAdministration": ids["session_id"],
            "Procedure": ids["session_id"],
            "Consent": ids["consent_id"],
            "AuditEvent": trail,
        }
        for kind, values in reads.items():
            yield from (f"/fhir/{kind}/{value}" for value in values)
    else:
        raise AssertionError(f"the sweep does not know how to fill {route}: add it here")


def clinic_urls(clinic: Clinic, routes: Iterable[str]) -> tuple[list[str], list[str]]:
    """Every route filled with every record of ``clinic`` of the right kind, plus the query
    strings that name a record or a patient (search, filters, print and export views): the
    URLs that name one of the clinic's records, and the others (lists, searches, the
    clinic-wide reports, forms of new records)."""
    ids = clinic_ids(clinic)
    named: list[str] = []
    others: list[str] = []
    for route in routes:
        if not PARAM.search(route):
            others.append("/" + route)
            continue
        for url in _route_urls(route, ids, clinic):
            record = "?vial=" in url or "?inventory=" in url or "/reports/" not in url
            record = record and not url.startswith("/settings/clinical/")
            (named if record and "/answer/" not in url and "/join/" not in url else others).append(
                url
            )
    named += [f"/ledger/vials/{pk}/waste/?draw={e}" for pk, e in _draws(clinic)]
    others += [f"/patients/?q={p.family_name}" for p in Patient.objects.filter(clinic=clinic)]
    others += [f"/audit/?patient={pk}" for pk in ids["patient_id"]]
    others += ["/outcomes/dashboard/?start=2000-01-01", "/treatment/board/?day=" + _today()]
    others += [
        f"/outcomes/dashboard/patients/?figure={f}"
        for f in ("patients", "courses", "responders", "losses", "infusions")
    ]
    return named, others


def _draws(clinic: Clinic) -> list[tuple[int, int]]:
    draws = LedgerEntry.objects.filter(clinic=clinic, kind=LedgerEntry.Kind.DRAWN).order_by("pk")
    return list(draws.values_list("vial_id", "pk")[:5])


def _today() -> str:
    return timezone.localdate().isoformat()


def secrets_of(clinic: Clinic) -> list[str]:
    """Text that no page of another clinic may show: the clinic's name and address, its
    patients' names (both orders), record numbers, emails and contacts, its staff's names and
    licence numbers, its suppliers, invoices and vial lots."""
    found: set[str] = {clinic.name}
    if clinic.address:
        found.add(clinic.address)
    for p in Patient.objects.filter(clinic=clinic):
        found |= {p.mrn, f"{p.given_name} {p.family_name}", f"{p.family_name}, {p.given_name}"}
        found |= {p.email, p.emergency_contact_name, p.escort_name}
    for u in User.objects.filter(clinic=clinic):
        found |= {f"{u.first_name} {u.last_name}", f"{u.last_name}, {u.first_name}"}
    found |= set(Credential.objects.filter(user__clinic=clinic).values_list("number", flat=True))
    for r in Receipt.objects.filter(clinic=clinic):
        found |= {r.supplier_name, r.supplier_address, r.supplier_dea_number, r.invoice_number}
    found |= set(Vial.objects.filter(clinic=clinic).values_list("lot", flat=True))
    return sorted(s for s in found if len(s.strip(" ,")) >= 4)


def response_text(response: Any) -> str:
    """What a person can read in a response: the page, the CSV, or a PDF's text."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    if response.get("Content-Type", "").startswith("image/"):
        return ""
    if body.startswith(b"%PDF"):
        return pdf_text(body)
    return str(body.decode(errors="replace"))


def pdf_text(body: bytes) -> str:
    """The text strings of a PDF's content streams (plain, Flate, or ASCII85 and Flate as
    ReportLab writes them)."""
    parts: list[str] = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\n?endstream", body, re.S):
        data = match.group(1).strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data.removeprefix(b"<~")[:-2], adobe=False)
        with contextlib.suppress(zlib.error):
            data = zlib.decompress(data)
        strings = re.findall(rb"\(((?:\\.|[^\\)])*)\)", data)
        parts += [s.decode("latin-1").replace("\\(", "(").replace("\\)", ")") for s in strings]
    return " ".join(parts)


def leaks(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets that ``text`` shows (a line break or run of spaces counts as one space)."""
    flat = " ".join(text.split())
    return [s for s in secrets if s in flat]


# ---- every row a clinic owns, to prove that requests changed nothing of it

_NOT_OWNED_APPS = {"audit", "sessions", "admin", "contenttypes", "auth"}


def _models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m._meta.app_label not in _NOT_OWNED_APPS]


def owned_rows(clinic: Clinic) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every row that belongs to ``clinic``: the clinic itself and, repeatedly, every row with a
    foreign key to a row it owns (its users, patients, their records, the ledger...); by model
    label and primary key, with all their values. The audit trail is left out (a refused
    request is audited as ``denied``)."""
    owned: dict[type[models.Model], set[Any]] = {Clinic: {clinic.pk}}
    grew = True
    while grew:
        grew = False
        for model in _models():
            for field in model._meta.concrete_fields:
                target = field.related_model if field.is_relation else None
                if not isinstance(target, type) or target not in owned:
                    continue
                rows = set(
                    model._default_manager.filter(
                        **{f"{field.name}__in": owned[target]}
                    ).values_list("pk", flat=True)
                )
                if not rows <= owned.get(model, set()):
                    owned[model] = owned.get(model, set()) | rows
                    grew = True
    return {
        model._meta.label: {
            row["pk"]: row
            for row in model._default_manager.filter(pk__in=pks).values(
                "pk", *[f.attname for f in model._meta.concrete_fields]
            )
        }
        for model, pks in owned.items()
    }


def changes(
    before: dict[str, dict[Any, dict[str, Any]]], after: dict[str, dict[Any, dict[str, Any]]]
) -> list[str]:
    """What differs between two :func:`owned_rows` snapshots, one line a row."""
    found: list[str] = []
    for label in sorted(set(before) | set(after)):
        old, new = before.get(label, {}), after.get(label, {})
        for pk in sorted(set(old) | set(new), key=str):
            if old.get(pk) != new.get(pk):
                what = "added" if pk not in old else "removed" if pk not in new else "changed"
                found.append(f"{label} #{pk} {what}")
    return found


# ---- the fields of a page's forms, as the owner of the records would send them


class _Forms(HTMLParser):
    """Each ``<form>`` of a page: its action and its named fields with their values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    @property
    def fields(self) -> dict[str, str]:
        if not self.forms:  # a field outside any form (e.g. a form="..." attribute)
            self.forms.append(("", {}))
        return self.forms[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag == "input" and name and name != "csrfmiddlewaretoken":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio"):
                self.fields.setdefault(name, a.get("value") or "on")
            else:
                self.fields.setdefault(name, a.get("value") or _plausible(kind))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and a.get("value"):
            self.fields.setdefault(self._select, a["value"])
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields.setdefault(name, "Reviewed with the patient; plan unchanged today.")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and data.strip():
            self.fields[self._textarea] = data


def _plausible(kind: str) -> str:
    if kind == "number":
        return "1"
    if kind == "date":
        return _today()
    if kind == "time":
        return "10:00"
    if kind == "datetime-local":
        return _today() + "T10:00"
    if kind == "email":
        return "someone@example.org"
    return "A plausible value"


def forms(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every form of the page: its action ("" for the page itself) and every named field with
    its value (or a plausible one), the first choice of each select and of each radio group."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class _Text(HTMLParser):
    """The text a browser shows of a page: its data outside ``<script>``, ``<style>`` and
    ``<head>``."""

    HIDDEN = frozenset({"script", "style", "head", "template"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in self.HIDDEN

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in self.HIDDEN and self._hidden > 0

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """What a person reads of ``html`` (a browser's ``innerText`` without its layout)."""
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def url_for(name: str, world: World, patient_pk: int | None = None) -> str:
    pk = patient_pk if patient_pk is not None else world.patient.pk
    record = Diagnosis.objects.filter(patient_id=pk).first()
    params: dict[str, Any] = {}
    pattern = get_resolver().reverse_dict.getlist(name)[0][0][0][1]
    if "patient_id" in pattern:
        params["patient_id"] = pk
    if "kind" in pattern:
        params["kind"] = "diagnosis"
    if "record_id" in pattern:
        params["record_id"] = record.pk if record else 1
    return reverse(name, kwargs=params)
