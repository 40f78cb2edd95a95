"""De-identification of the research export: the HIPAA Safe Harbor rule set (no Django).

Source: 45 CFR 164.514(b)(2) (the "Safe Harbor" method) and HHS Office for Civil Rights,
*Guidance Regarding Methods for De-identification of Protected Health Information in Accordance
with the HIPAA Privacy Rule* (26 November 2012),
https://www.hhs.gov/hipaa/for-professionals/special-topics/de-identification/index.html;
summarised with what this export does for each identifier in deidentification.md s. 1-5.

The export is built by allow-list: only the columns declared in :data:`TABLES` leave, each with
how it was de-identified. Nothing is scrubbed: free text (notes, reasons, comments, "other"
descriptions) is never selected. What this module decides:

- **Geography** (identifier B): only the first three digits of a US ZIP code, and ``000`` for the
  three-digit areas of 20,000 people or fewer (:data:`RESTRICTED_ZIP3`); a foreign or malformed
  postal code gives nothing.
- **Dates** (identifier C): every date is shifted by one offset per patient (random, from
  :func:`secrets.randbelow`, never stored or written), so intervals within a patient are kept and
  calendar dates are not. Ages are grouped in five-year bands, with everyone of 90 or over in
  one group, ``90+``; no birth date or birth year leaves.
- **Unique codes** (identifier R): patients, courses and infusions get research ids drawn at
  random for each export (:class:`Pseudonyms`), not derived from any internal id or the record
  number, so two exports cannot be linked to each other or back to the record (the re-
  identification code of 164.514(c) is then not needed, and none is kept).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

SAFE_HARBOR_SOURCE: Final = (
    "45 CFR 164.514(b)(2); HHS OCR, Guidance Regarding Methods for De-identification of "
    "Protected Health Information (2012), https://www.hhs.gov/hipaa/for-professionals/"
    "special-topics/de-identification/index.html"
)

SAFE_HARBOR_STATEMENT: Final = (
    "De-identified by the HIPAA Safe Harbor method (45 CFR 164.514(b)(2)): the eighteen "
    "identifiers of the individual, relatives, employers and household members are removed; "
    "geography is limited to the first three ZIP digits (000 where the three-digit area holds "
    "20,000 people or fewer); every date is shifted by a secret random offset per patient "
    "(intervals within a patient are kept, calendar dates are not real); ages of 90 and over "
    "are one group (90+) and no birth date or year is included; research ids are random for "
    "this export; free text is left out. The exporting clinic has no actual knowledge that "
    "the remaining information could identify an individual, alone or in combination "
    "(164.514(b)(2)(ii)): check this before sharing a small cohort."
)


@dataclass(frozen=True)
class Identifier:
    """One of the eighteen identifiers of 164.514(b)(2)(i), and what the export does with it."""

    letter: str
    name: str
    handling: str


# 45 CFR 164.514(b)(2)(i)(A)-(R), in the rule's order (deidentification.md s. 1).
IDENTIFIERS: Final[tuple[Identifier, ...]] = (
    Identifier("A", "Names", "left out (patients, contacts, escorts, staff)"),
    Identifier(
        "B",
        "Geographic subdivisions smaller than a state",
        "left out, except the first three ZIP digits (000 for the restricted areas)",
    ),
    Identifier(
        "C",
        "All elements of dates (except year) related to an individual; ages over 89",
        "dates shifted per patient by a secret random offset; ages in bands, 90+ as one group",
    ),
    Identifier("D", "Telephone numbers", "left out"),
    Identifier("E", "Fax numbers", "left out (not held)"),
    Identifier("F", "Email addresses", "left out"),
    Identifier("G", "Social Security numbers", "left out (not held)"),
    Identifier("H", "Medical record numbers", "left out; random research ids instead"),
    Identifier("I", "Health plan beneficiary numbers", "left out (not held)"),
    Identifier("J", "Account numbers", "left out (logins, tokens, invitations)"),
    Identifier("K", "Certificate/license numbers", "left out (staff credentials)"),
    Identifier(
        "L", "Vehicle identifiers and serial numbers", "left out (not held; vial lots left out)"
    ),
    Identifier("M", "Device identifiers and serial numbers", "left out (chairs, pumps, devices)"),
    Identifier("N", "Web URLs", "left out"),
    Identifier("O", "IP addresses", "left out (the audit trail is not exported)"),
    Identifier("P", "Biometric identifiers", "left out (not held)"),
    Identifier("Q", "Full-face photographs and comparable images", "left out (not held)"),
    Identifier(
        "R",
        "Any other unique identifying number, characteristic or code",
        "internal ids and record numbers left out; research ids random for each export",
    ),
)

# Three-digit ZIP areas of 20,000 people or fewer (2000 Census ZCTAs), which become 000: HHS de-
# identification guidance, section 3.3 "When can ZIP codes be included in de-identified
# information?" (deidentification.md s. 2). HHS says to use newer Census data where published.
RESTRICTED_ZIP3: Final[frozenset[str]] = frozenset(
    {
        "036",
        "059",
        "063",
        "102",
        "203",
        "556",
        "692",
        "790",
        "821",
        "823",
        "830",
        "831",
        "878",
        "879",
        "884",
        "890",
        "893",
    }
)
RESTRICTED_ZIP3_REPLACEMENT: Final = "000"
_US_ZIP = re.compile(r"^\s*(\d{3})\d{2}(?:[- ]?\d{4})?\s*$")

# 164.514(b)(2)(i)(C): "all ages over 89 ... aggregated into a single category of age 90 or older".
AGE_TOP_YEARS: Final = 90
AGE_BAND_YEARS: Final = 5  # our choice of band width below 90 (not a Safe Harbor number)

# How far a patient's dates move: a whole number of days in [-MAX, MAX], never 0. Our choice:
# a year either way hides the season, intervals stay exact (deidentification.md s. 3).
MAX_SHIFT_DAYS: Final = 365


def zip3(postal_code: str) -> str:
    """The first three digits of a US ZIP code (``000`` for a restricted area), or ``""`` for a
    postal code that is not a US ZIP (nothing of it leaves)."""
    match = _US_ZIP.match(postal_code or "")
    if match is None:
        return ""
    first = match.group(1)
    return RESTRICTED_ZIP3_REPLACEMENT if first in RESTRICTED_ZIP3 else first


def age_years(birth: dt.date, on: dt.date) -> int:
    """Completed years of age on ``on``."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def age_group(age: int) -> str:
    """Five-year bands (``"35-39"``), everyone 90 or over as ``"90+"``, under 18 as ``"<18"``."""
    if age < 0:
        raise ValueError(f"age must be 0 or more, got {age}")
    if age >= AGE_TOP_YEARS:
        return f"{AGE_TOP_YEARS}+"
    if age < 18:
        return "<18"
    low = 18 if age < 20 else age - age % AGE_BAND_YEARS
    high = 19 if low == 18 else low + AGE_BAND_YEARS - 1
    return f"{low}-{high}"


def icd10_category(code: str) -> str:
    """The ICD-10-CM category (the three characters before the dot): ``F43.12`` -> ``F43``."""
    head = code.strip().upper().split(".")[0]
    return head[:3]


_ID_ALPHABET: Final = string.ascii_uppercase + string.digits
_ID_LENGTH: Final = 10  # 36**10 ids: a collision is redrawn, a guess is hopeless


@dataclass
class Pseudonyms:
    """Research ids and date offsets for one export, drawn at random and kept only in memory.

    ``research_id(kind, key)`` gives the same random id for the same internal key within this
    export (e.g. a patient's id) and a new one in the next export. ``offset_days(patient_key)``
    is the patient's date shift. Nothing here is derived from the keys."""

    _ids: dict[tuple[str, object], str] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)
    _offsets: dict[object, int] = field(default_factory=dict)

    def research_id(self, kind: str, key: object) -> str:
        found = self._ids.get((kind, key))
        if found is None:
            while True:
                body = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))
                found = f"{kind}-{body}"
                if found not in self._used:
                    break
            self._used.add(found)
            self._ids[(kind, key)] = found
        return found

    def offset_days(self, patient_key: object) -> int:
        found = self._offsets.get(patient_key)
        if found is None:
            magnitude = secrets.randbelow(MAX_SHIFT_DAYS) + 1
            found = magnitude if secrets.randbelow(2) else -magnitude
            self._offsets[patient_key] = found
        return found

    def shift(self, patient_key: object, day: dt.date | None) -> dt.date | None:
        """``day`` moved by the patient's offset (None stays None)."""
        if day is None:
            return None
        return day + dt.timedelta(days=self.offset_days(patient_key))


# ---- the tables and their data dictionary --------------------------------------------------


class ColumnType(StrEnum):
    STRING = "string"  # a code from a fixed list (see the meaning), never free text
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"  # shifted: see SHIFTED


SHIFTED: Final = "shifted by the patient's secret random offset (intervals within a patient kept)"
RANDOM_ID: Final = "random for this export; not derived from any internal id or record number"
NOT_IDENTIFYING: Final = "not an identifier (kept as recorded)"
DERIVED: Final = "derived from non-identifying data"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    unit: str
    meaning: str
    deidentified: str


@dataclass(frozen=True)
class Table:
    name: str
    one_row_per: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def label(self) -> str:
        """The table in words, for pages ("PK predictions")."""
        return TABLE_LABELS[self.name]


TABLE_LABELS: Final[dict[str, str]] = {
    "patients": "Patients",
    "courses": "Courses",
    "infusions": "Infusions",
    "adverse_events": "Adverse events",
    "questionnaires": "Questionnaires",
    "outcomes": "Outcomes",
    "pk_predictions": "PK predictions",
    "safety_events": "Safety events",
}


S, N, F, B, D = (
    ColumnType.STRING,
    ColumnType.INTEGER,
    ColumnType.FLOAT,
    ColumnType.BOOLEAN,
    ColumnType.DATE,
)


def _patient() -> Column:
    return Column("patient_id", S, "", "the patient's research id", RANDOM_ID)


def _course() -> Column:
    return Column("course_id", S, "", "the course's research id", RANDOM_ID)


def _infusion() -> Column:
    return Column("infusion_id", S, "", "the infusion's research id", RANDOM_ID)


TABLES: Final[tuple[Table, ...]] = (
    Table(
        "patients",
        "patient with at least one course",
        (
            _patient(),
            Column(
                "age_group",
                S,
                "years",
                "age at the start of the first course, in five-year bands (18-19 first)",
                "banded; 90 and over as 90+; no birth date or year",
            ),
            Column("sex_at_birth", S, "", "female, male, intersex or unknown", NOT_IDENTIFYING),
            Column(
                "zip3",
                S,
                "",
                "first three digits of the US ZIP code; empty when none or not a US ZIP",
                "000 for the 17 restricted three-digit areas; the rest of the address left out",
            ),
            Column("indication", S, "", "ptsd or depression (the first course's)", NOT_IDENTIFYING),
            Column(
                "diagnosis_categories",
                S,
                "",
                "ICD-10-CM categories (three characters) of the recorded diagnoses, ';'-separated",
                "categories only (subcodes left out); free-text descriptions left out",
            ),
        ),
    ),
    Table(
        "courses",
        "course of infusions",
        (
            _course(),
            _patient(),
            Column("kind", S, "", "induction or booster", NOT_IDENTIFYING),
            Column("indication", S, "", "ptsd or depression", NOT_IDENTIFYING),
            Column("age_group", S, "years", "age at the course's start, banded", "as patients"),
            Column("start_date", D, "", "the course's planned start", SHIFTED),
            Column("status", S, "", "planned, booked, active, completed or cancelled", DERIVED),
            Column("pattern", S, "", "three_a_week, twice_a_week or single", NOT_IDENTIFYING),
            Column("infusions_planned", N, "infusions", "infusions planned", NOT_IDENTIFYING),
            Column("dose_mg_per_kg", F, "mg/kg", "planned dose per kilogram", NOT_IDENTIFYING),
            Column("duration_min", F, "min", "planned infusion duration", NOT_IDENTIFYING),
            Column("weight_basis", S, "", "actual, ideal or adjusted body weight", NOT_IDENTIFYING),
        ),
    ),
    Table(
        "infusions",
        "infusion session with a dose computed",
        (
            _infusion(),
            _course(),
            _patient(),
            Column("sequence", N, "", "1 for the course's first infusion", NOT_IDENTIFYING),
            Column("date", D, "", "the infusion's day (clinic time)", SHIFTED),
            Column("status", S, "", "the session's state (e.g. signed, stopped)", DERIVED),
            Column("weight_kg", F, "kg", "the weight of the day", NOT_IDENTIFYING),
            Column("weight_basis", S, "", "actual, ideal or adjusted body weight", NOT_IDENTIFYING),
            Column("dose_mg_per_kg", F, "mg/kg", "ordered dose per kilogram", NOT_IDENTIFYING),
            Column("dose_mg", F, "mg", "ordered dose (exact, not rounded)", NOT_IDENTIFYING),
            Column(
                "delivered_dose_mg", F, "mg", "dose delivered by the pump record", NOT_IDENTIFYING
            ),
            Column("duration_min", F, "min", "ordered duration", NOT_IDENTIFYING),
            Column("pauses", N, "", "pump pauses recorded", NOT_IDENTIFYING),
            Column("stopped_early", B, "", "stopped before the planned dose", DERIVED),
            Column(
                "stop_reason",
                S,
                "",
                "why paused or stopped: patient_request, vitals, side_effect, prescriber, "
                "equipment, other (empty if none)",
                "the reason's code only; the note is left out",
            ),
            Column("side_effects", N, "", "side effects recorded", NOT_IDENTIFYING),
            Column(
                "vital_sign_events",
                N,
                "",
                "critical or emergency vital-sign readings (adverse events)",
                NOT_IDENTIFYING,
            ),
            Column(
                "dissociation_score",
                F,
                "points",
                "CADSS total at this infusion (the highest if several; empty if none)",
                "score only (CADSS items are not reproduced)",
            ),
        ),
    ),
    Table(
        "adverse_events",
        "side effect or vital-sign event during an infusion",
        (
            _infusion(),
            _patient(),
            Column("category", S, "", "side_effect or vital_signs", NOT_IDENTIFYING),
            Column(
                "kind",
                S,
                "",
                "the side effect (nausea, dissociation, ...) or the reading's tier "
                "(critical, emergency)",
                "code only; 'other' descriptions, notes and medications left out",
            ),
            Column("severity", S, "", "mild, moderate, severe (side effects)", NOT_IDENTIFYING),
            Column(
                "minutes_from_start",
                F,
                "min",
                "onset after the infusion's start (empty if not started)",
                "relative time; no clock time",
            ),
        ),
    ),
    Table(
        "questionnaires",
        "scored questionnaire or clinician scale",
        (
            _patient(),
            Column(
                "instrument",
                S,
                "",
                "pcl5, phq9, gad7, cssrs, caps5, madrs, cadss or aldrete",
                NOT_IDENTIFYING,
            ),
            Column("date", D, "", "the day it was taken (clinic time)", SHIFTED),
            Column(
                "total",
                F,
                "points",
                "the total score (empty for the C-SSRS)",
                "totals only; no item answers",
            ),
            Column(
                "severity_band",
                S,
                "",
                "PHQ-9/GAD-7 band; PCL-5 probable_ptsd or below_cutpoint; C-SSRS risk level "
                "(low, moderate, high); empty otherwise",
                DERIVED,
            ),
            Column("source", S, "", "clinic or portal", NOT_IDENTIFYING),
        ),
    ),
    Table(
        "outcomes",
        "induction course and its outcome measure",
        (
            _course(),
            _patient(),
            Column("measure", S, "", "pcl5 (PTSD) or phq9 (depression)", NOT_IDENTIFYING),
            Column("baseline_date", D, "", "the baseline score's day", SHIFTED),
            Column(
                "baseline_score",
                F,
                "points",
                "last score on or before the first infusion",
                NOT_IDENTIFYING,
            ),
            Column("endpoint_date", D, "", "the end-of-induction score's day", SHIFTED),
            Column(
                "endpoint_score",
                F,
                "points",
                "first score after the last infusion",
                NOT_IDENTIFYING,
            ),
            Column("response", B, "", "response criterion met at the endpoint", DERIVED),
            Column("remission", B, "", "remission criterion met at the endpoint", DERIVED),
            Column(
                "status",
                S,
                "",
                "the patient's current status on the measure: not_yet_responding, responder, "
                "remission, loss_of_response, no_scores",
                DERIVED,
            ),
            Column(
                "loss_of_response_date", D, "", "when the loss rule was met (empty if not)", SHIFTED
            ),
            Column("weeks_in_response", F, "weeks", "weeks in response (empty if none)", DERIVED),
            Column(
                "booster_courses", N, "courses", "booster courses of the patient", NOT_IDENTIFYING
            ),
            Column(
                "booster_recommendations",
                N,
                "",
                "booster recommendations made for the patient",
                NOT_IDENTIFYING,
            ),
        ),
    ),
    Table(
        "pk_predictions",
        "infusion with a recorded pump history and weight",
        (
            _infusion(),
            _patient(),
            Column("model", S, "", "the ketaflow.pk model's key", NOT_IDENTIFYING),
            Column("model_name", S, "", "the model's publication (author, year)", NOT_IDENTIFYING),
            Column(
                "cmax_ng_per_ml",
                F,
                "ng/mL",
                "predicted peak plasma concentration of what was given (typical patient)",
                DERIVED,
            ),
            Column("tmax_min", F, "min", "time of the peak after the start", DERIVED),
            Column(
                "auc_ng_min_per_ml",
                F,
                "ng*min/mL",
                "predicted area under the curve from the start to 180 min after the end",
                DERIVED,
            ),
            Column(
                "outside_population",
                B,
                "",
                "the patient is outside the model's study population",
                DERIVED,
            ),
        ),
    ),
    Table(
        "safety_events",
        "urgent safety task or vital-sign emergency",
        (
            _patient(),
            Column(
                "kind",
                S,
                "",
                "suicide_risk (urgent task), infusion_reading (urgent task) or "
                "vital_sign_emergency (an emergency reading)",
                NOT_IDENTIFYING,
            ),
            Column("date", D, "", "the day it was raised (clinic time)", SHIFTED),
            Column("acknowledged", B, "", "an urgent task was acknowledged", NOT_IDENTIFYING),
            Column(
                "action",
                S,
                "",
                "the acknowledgement's action code (called_patient, emergency, ...)",
                "code only; the note is left out",
            ),
            Column(
                "infusion_id",
                S,
                "",
                "the infusion's research id when raised at an infusion",
                RANDOM_ID,
            ),
        ),
    ),
)

TABLES_BY_NAME: Final = {t.name: t for t in TABLES}

Cell = str | int | float | bool | dt.date | None


def check_rows(table: Table, rows: list[dict[str, Cell]]) -> None:
    """Refuse a row that is not exactly the table's columns, or a cell of the wrong type (an
    unexpected column is how an identifier would slip in)."""
    expected = set(table.names)
    kinds: dict[ColumnType, tuple[type, ...]] = {
        ColumnType.STRING: (str,),
        ColumnType.INTEGER: (int,),
        ColumnType.FLOAT: (int, float),
        ColumnType.BOOLEAN: (bool,),
        ColumnType.DATE: (dt.date,),
    }
    for number, row in enumerate(rows, start=1):
        if set(row) != expected:
            extra = sorted(set(row) - expected)
            missing = sorted(expected - set(row))
            raise ValueError(
                f"{table.name} row {number}: columns differ (extra {extra}, missing {missing})"
            )
        for column in table.columns:
            value = row[column.name]
            if value is None:
                continue
            bad_bool = column.type is not ColumnType.BOOLEAN and isinstance(value, bool)
            bad_datetime = isinstance(value, dt.datetime)
            if bad_bool or bad_datetime or not isinstance(value, kinds[column.type]):
                raise ValueError(
                    f"{table.name} row {number}: {column.name} must be {column.type.value}, "
                    f"got {type(value).__name__}"
                )
