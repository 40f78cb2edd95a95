"""A patient's complete record, for the right of access (HIPAA 45 CFR 164.524): everything the
clinic keeps about the patient, as a readable PDF and as a machine-readable JSON file.

What is in it is found, not listed: every model with a foreign key to the patient, and every model
with a foreign key to one of those (an infusion's vitals, events, side effects, decisions,
adverse events, addenda), so that a record kind added later is in the export without anyone
remembering to add it (``tests/patients/test_right_of_access.py`` checks the discovery).
Left out, each for a reason named in ``EXCLUDED``: the access log (the patient reads it on
"who viewed my record"; it is the clinic's record of its staff, not of the patient's care) and
nothing else.
Within a record, fields that are the system's machinery rather than information about the
patient (hashes, seals, tokens, secrets, internal versions) are left out (``_HIDDEN``).

Times are in the clinic's time zone, and the file says so; a choice is shown by its label.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db import models
from django.utils import timezone

from ketaflow.patients.models import Patient
from ketaflow.patients.services import _PATIENT_FIELDS
from ketaflow.web.export import pdf_text

# Model labels left out of the record, with the reason.
EXCLUDED: dict[str, str] = {}

# Fields that are machinery, not information about the patient.
_HIDDEN = re.compile(r"hash$|secret|token|^version$|^client_uuid$")
_SKIP_FIELDS = {"id", "patient", "clinic"}
_LABELS = {"mrn": "Record number", "spo2_percent": "SpO2 percent"}
_CODE_WORD = re.compile(r"[a-z]+(_[a-z0-9]+)+")
_CODE = re.compile(r"_")
# Bookkeeping the data file keeps and the readable file leaves out.
_PDF_LEAVES_OUT = {"Created at", "Updated at", "Updated by", "Recorded at"}


# A name's unit suffix as a person writes it: "systolic mmhg" reads "Systolic (mmHg)".
_UNITS = (
    ("mg per kg", "mg/kg"),
    ("mg per ml", "mg/mL"),
    ("ml per h", "mL/h"),
    ("per min", "/min"),
    ("mmhg", "mmHg"),
    ("bpm", "/min"),
    ("percent", "%"),
    ("kg", "kg"),
    ("cm", "cm"),
    ("ml", "mL"),
    ("mg", "mg"),
    ("min", "min"),
)


def _label(f: Any) -> str:
    text = _LABELS.get(f.name, str(f.verbose_name))
    for suffix, unit in _UNITS:
        if text.endswith(" " + suffix):
            text = f"{text[: -len(suffix) - 1]} ({unit})"
            break
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Item:
    """One field of one record: its label and its value as a person reads it (``raw``: as the
    machine-readable file carries it)."""

    label: str
    text: str
    raw: Any


@dataclass(frozen=True)
class Entry:
    """One record (an allergy, an infusion, a vital sign reading)."""

    items: tuple[Item, ...]
    children: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Section:
    key: str  # "infusions.vitalsentry"
    title: str  # "Vitals entries"
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class CompleteRecord:
    patient: Patient
    time_zone: str
    generated_at: dt.datetime
    demographics: tuple[Item, ...]
    sections: tuple[Section, ...] = field(default=())


def _fk_to(
    model: type[models.Model], target: type[models.Model]
) -> list[models.ForeignKey[Any, Any]]:
    return [
        f
        for f in model._meta.get_fields()
        if isinstance(f, models.ForeignKey) and f.related_model is target
    ]


def patient_models() -> list[type[models.Model]]:
    """Every concrete model with a foreign key to the patient (not excluded)."""
    found = [
        m
        for m in apps.get_models()
        if m is not Patient and _fk_to(m, Patient) and m._meta.label not in EXCLUDED
    ]
    return sorted(found, key=lambda m: m._meta.label)


def child_models(parent: type[models.Model]) -> list[type[models.Model]]:
    """Models that belong to a record of ``parent`` (a foreign key to it) and have no patient
    key of their own."""
    found = [
        m
        for m in apps.get_models()
        if _fk_to(m, parent) and not _fk_to(m, Patient) and m._meta.label not in EXCLUDED
    ]
    return sorted(found, key=lambda m: m._meta.label)


@dataclass(frozen=True)
class _Derived:
    """A value a record reads from another of its fields (a session's dose from its plan), shown
    after it as a field of its own would be."""

    name: str
    choices: None = None

    @property
    def attname(self) -> str:
        return self.name

    @property
    def verbose_name(self) -> str:
        return self.name.replace("_", " ")


def _shown_fields(model: type[models.Model], parent: type[models.Model] | None) -> list[Any]:
    shown: list[Any] = []
    derived: dict[str, tuple[str, ...]] = getattr(model, "DERIVED_FIELDS", {})
    for f in model._meta.concrete_fields:
        if f.name in _SKIP_FIELDS or _HIDDEN.search(f.name):
            continue
        if parent is not None and isinstance(f, models.ForeignKey) and f.related_model is parent:
            continue
        shown.append(f)
        shown.extend(_Derived(name) for name in derived.get(f.name, ()))
    return shown


def _text(value: Any, zone: ZoneInfo) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        local = timezone.localtime(value, zone) if timezone.is_aware(value) else value
        return local.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # "70" not "70.00" or "7E+1"; a measured figure keeps its recorded places ("36.250")
        return format(value.normalize() if value == value.to_integral() else value, "f")
    if isinstance(value, float):
        # never exponent notation ("1e-05"): six significant figures written out
        return format(Decimal(f"{value:.6g}"), "f")
    if isinstance(value, list):
        # ["pause_infusion", "call_prescriber"] reads "pause infusion; call prescriber"
        return "; ".join(
            _CODE.sub(" ", v) if isinstance(v, str) and _CODE_WORD.fullmatch(v) else _text(v, zone)
            for v in value
        )
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _raw(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value, zone) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, models.Model):
        return str(value)
    return value


def _items(obj: models.Model, fields: Iterable[Any], zone: ZoneInfo) -> tuple[Item, ...]:
    items = []
    for f in fields:
        if isinstance(f, models.ForeignKey):
            value: Any = getattr(obj, f.name)
        elif f.choices:
            raw = getattr(obj, f.attname)
            label = dict(f.flatchoices).get(raw, raw)
            items.append(Item(_label(f), _text(label, zone), raw))
            continue
        else:
            value = getattr(obj, f.attname)
        items.append(Item(_label(f), _text(value, zone), _raw(value, zone)))
    return tuple(items)


def _title(model: type[models.Model]) -> str:
    text = str(model._meta.verbose_name_plural)
    return text[:1].upper() + text[1:]


def _concrete(model: Any) -> type[models.Model]:
    """The model a row is kept under (a proxy's rows under their concrete model)."""
    concrete: type[models.Model] = model._meta.concrete_model
    return concrete


@functools.cache
def _references(model: type[models.Model]) -> tuple[models.ForeignKey[Any, Any], ...]:
    """A model's foreign keys to another row's key (computed once a model, not once a row)."""
    return tuple(
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.ForeignKey)
        and f.target_field is _concrete(f.related_model)._meta.pk  # by key, no other column
    )


class _Loaded:
    """The rows an export has read, by model and key: a record's reference to another (a
    reading's session, the session's patient, a course's chair) is set from them instead of
    a query of its own, and what a section refers to that is not among them is read in bulk,
    one query a model (the export read each reference row by row: 281 queries for one demo
    patient)."""

    # How far references are followed in bulk: a record's references (an infusion's
    # appointment) and theirs (the appointment's chair), which their descriptions name.
    DEPTH = 2

    def __init__(self, patient: Patient) -> None:
        self.rows: dict[tuple[type[models.Model], Any], models.Model] = {}
        self.add([patient, patient.clinic])

    def add(self, rows: Iterable[models.Model]) -> None:
        for row in rows:
            self.rows[(_concrete(type(row)), row.pk)] = row

    def link(self, rows: Iterable[models.Model]) -> None:
        """Set each reference of ``rows`` that points at a row already read."""
        for row in rows:
            for f in _references(type(row)):
                target = self.rows.get((_concrete(f.related_model), row.__dict__[f.attname]))
                if target is not None and not f.is_cached(row):
                    f.set_cached_value(row, target)

    def read_references(self, rows: list[models.Model], depth: int = DEPTH) -> None:
        """Read what ``rows`` refer to and is not read yet (one query a model), then link."""
        if rows and depth > 0:
            wanted: dict[type[models.Model], set[Any]] = {}
            for f in _references(type(rows[0])):
                target = _concrete(f.related_model)
                keys = {row.__dict__[f.attname] for row in rows} - {None}
                wanted.setdefault(target, set()).update(
                    k for k in keys if (target, k) not in self.rows
                )
            for target, keys in wanted.items():
                if keys:
                    found = list(target._default_manager.filter(pk__in=keys))
                    self.add(found)
                    self.read_references(found, depth - 1)
        self.link(rows)


def _entries(
    model: type[models.Model],
    rows: list[models.Model],
    zone: ZoneInfo,
    loaded: _Loaded,
    parent: type[models.Model] | None = None,
) -> list[Entry]:
    """The entries of ``rows`` (in their order), each with its child records; the children of
    all rows are read at once, one query a kind."""
    if not rows:
        return []
    fields = _shown_fields(model, parent)
    loaded.add(rows)
    loaded.read_references(rows)
    keys = [row.pk for row in rows]
    children: list[tuple[type[models.Model], dict[Any, list[Entry]]]] = []
    for child in child_models(model):
        key = _fk_to(child, model)[0]
        child_rows: list[models.Model] = list(
            child._default_manager.filter(**{f"{key.attname}__in": keys}).order_by("pk")
        )
        grouped: dict[Any, list[Entry]] = {}
        for row, entry in zip(
            child_rows, _entries(child, child_rows, zone, loaded, parent=model), strict=True
        ):
            grouped.setdefault(row.__dict__[key.attname], []).append(entry)
        children.append((child, grouped))
    return [
        Entry(
            _items(row, fields, zone),
            tuple(
                Section(child._meta.label_lower, _title(child), tuple(grouped[row.pk]))
                for child, grouped in children
                if grouped.get(row.pk)
            ),
        )
        for row in rows
    ]


def _section(
    model: type[models.Model], rows: models.QuerySet[Any], zone: ZoneInfo, loaded: _Loaded
) -> Section:
    entries = _entries(model, list(rows.order_by("pk")), zone, loaded)
    return Section(model._meta.label_lower, _title(model), tuple(entries))


# The chart's own list of the patient's fields (the JSON export's), with the record number first:
# one list, so a field added to the registry is in the right of access too.
_DEMOGRAPHICS = ("mrn", *_PATIENT_FIELDS)


def complete_record(patient: Patient) -> CompleteRecord:
    """Everything the clinic keeps about ``patient`` (a read: the caller audits it)."""
    zone = ZoneInfo(patient.clinic.time_zone)
    demo_fields = [Patient._meta.get_field(name) for name in _DEMOGRAPHICS]
    loaded = _Loaded(patient)
    sections = []
    for model in patient_models():
        key = _fk_to(model, Patient)[0].name
        rows = model._default_manager.filter(**{key: patient})
        sections.append(_section(model, rows, zone, loaded))
    return CompleteRecord(
        patient=patient,
        time_zone=str(zone),
        generated_at=timezone.localtime(timezone.now(), zone),
        demographics=_items(patient, demo_fields, zone),
        sections=tuple(sections),
    )


# ---- the two files ----------------------------------------------------------------------------


def _entry_json(entry: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {item.label: item.raw for item in entry.items}
    for child in entry.children:
        out[child.title] = [_entry_json(e) for e in child.entries]
    return out


def as_json(record: CompleteRecord) -> dict[str, Any]:
    """The machine-readable file: every record kind (empty ones too, so the reader sees what
    the clinic could hold), times as ISO 8601 in the clinic's time zone."""
    patient = record.patient
    return {
        "kind": "KetaFlow complete patient record (HIPAA right of access, 45 CFR 164.524)",
        "clinic": patient.clinic.name,
        "time_zone": record.time_zone,
        "generated_at": record.generated_at.isoformat(),
        "patient": {item.label: item.raw for item in record.demographics},
        "records": {
            section.title: [_entry_json(e) for e in section.entries] for section in record.sections
        },
    }


def _structured(raw: Any) -> bool:
    """A structured result (a score's working, the dose plan's copy, a resistance assessment's
    judgements: a mapping or a list of them), which the data file carries and the readable
    file leaves out rather than print as code."""
    return isinstance(raw, dict) or (
        isinstance(raw, list) and any(isinstance(v, dict) for v in raw)
    )


def as_pdf(record: CompleteRecord) -> bytes:
    """The readable file: the demographics, then each kind of record that has entries, each
    entry as label and value lines (a table would cut long values at the page edge)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    body = ParagraphStyle("line", parent=styles["BodyText"], fontSize=9, leading=11)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    patient = record.patient

    def lines(number: int, items: Iterable[Item], style: ParagraphStyle) -> Paragraph:
        """One paragraph: the entry's number, then its "label: value" pairs (structured
        results, such as a score's working or the dose plan's copy, are in the data file
        only). One paragraph, not the number above the pairs kept together with them: laid
        out once, not twice (the PDF of a patient with a course of infusions took most of a
        second)."""
        shown = [
            f"<b>{pdf_text(i.label)}:</b> {pdf_text(i.text)}"
            for i in items
            if i.text and not _structured(i.raw) and i.label not in _PDF_LEAVES_OUT
        ]
        return Paragraph(f"<i>{number}.</i> " + " · ".join(shown), style)

    story: list[Any] = [
        Paragraph("Complete patient record", styles["Title"]),
        Paragraph(
            pdf_text(
                f"{patient.given_name} {patient.family_name} · record number {patient.mrn} · "
                f"{patient.clinic.name}"
            ),
            styles["Heading3"],
        ),
        Paragraph(
            pdf_text(
                f"Made {record.generated_at:%Y-%m-%d %H:%M} ({record.time_zone}); every time in "
                f"this record is in that time zone. Provided under the patient's right of access "
                f"(HIPAA 45 CFR 164.524)."
            ),
            small,
        ),
        Paragraph("Patient", styles["Heading2"]),
        *[
            Paragraph(f"<b>{pdf_text(i.label)}:</b> {pdf_text(i.text)}", body)
            for i in record.demographics
            if i.text
        ],
    ]

    def add(section: Section, level: int) -> None:
        story.append(Paragraph(pdf_text(section.title), styles[f"Heading{level}"]))
        for number, entry in enumerate(section.entries, start=1):
            story.append(lines(number, entry.items, body))
            for child in entry.children:
                add(child, min(level + 1, 4))
            story.append(Spacer(1, 1.5 * mm))

    for section in record.sections:
        if section.entries:
            add(section, 2)
    buffer = io.BytesIO()
    margin = 18 * mm
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=f"Complete record {patient.mrn}",
    )
    doc.build(story)
    return buffer.getvalue()
