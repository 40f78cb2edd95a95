"""The display layer: how every value reaches a page, a PDF or an export. Formatting only (no
query, no decision): enumerations and codes in words from the core's own names, numbers with
their unit at a precision that fits the quantity, never in exponent notation.

Loaded into every template (``builtins`` in settings.TEMPLATES): ``{{ x|label }}``,
``{{ dose|mg }}``, ``{{ dose|dose_mg }}`` (0.1 mg, the exact figure one click away),
``{{ total|score }}``, ``{{ value|num:2 }}``, ``{{ value|unit:"mL/h" }}`` and
``{{ text|readable }}`` for stored text that may carry codes (audit summaries)."""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import cast

from django import forms, template
from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ketaflow.accounts.clinictime import zone_words
from ketaflow.web.chart_markup import chart_html as build_chart_html
from ketaflow.web.charts import SvgChart

register = template.Library()

# Words that keep their capitals when a code is turned into words.
_ACRONYMS = {
    "ptsd": "PTSD",
    "mdd": "MDD",
    "trd": "TRD",
    "bp": "BP",
    "hr": "HR",
    "spo2": "SpO2",
    "ect": "ECT",
    "tms": "TMS",
    "emdr": "EMDR",
    "cpt": "CPT",
    "pe": "PE",
    "dea": "DEA",
    "acls": "ACLS",
    "bls": "BLS",
    "pals": "PALS",
    "phq9": "PHQ-9",
    "pcl5": "PCL-5",
    "gad7": "GAD-7",
    "cssrs": "C-SSRS",
    "maoi": "MAOI",
    "ssri": "SSRI",
    "snri": "SNRI",
    "iv": "IV",
    "im": "IM",
    "bmi": "BMI",
    "pdf": "PDF",
    "csv": "CSV",
    "totp": "TOTP",
    "id": "ID",
    "mrn": "MRN",
}
_CODE = re.compile(r"^[a-z][a-z0-9]*(?:[._][a-z0-9]+)*$")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_DOTTED = re.compile(r"(?<![\w.@/])[a-z][a-z0-9_]+(?:\.[a-z][a-z0-9_]+)+(?![\w@/]|\.\w)")
_FILE_ENDINGS = ("md", "py", "html", "txt", "pdf", "csv", "org", "com", "net", "json")
_EXPONENT = re.compile(r"\b\d+(?:\.\d+)?E[+-]?\d+\b")
_LONG_DECIMAL = re.compile(r"\b(\d+)\.(\d{4,})\b")


def _words(code: str) -> str:
    return " ".join(_ACRONYMS.get(w, w) for w in code.split("_") if w)


def code_words(code: str) -> str:
    """A code in words: ``severe_headache`` -> "Severe headache", ``airway.sleep_apnea`` ->
    "Airway: sleep apnea", ``resistance.ptsd.shown`` -> "Resistance, PTSD: shown"."""
    parts = [_words(p) for p in code.split(".") if p]
    if not parts:
        return ""
    text = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}: {parts[-1]}"
    return text[:1].upper() + text[1:]


_CORE_LABELS: dict[str, str] = {}


def _core_labels() -> dict[str, str]:
    """Every member of the core's enumerations (ketaflow.clinical) that names itself, by value:
    the labels come from the core, not from a list kept here."""
    if not _CORE_LABELS:
        import importlib
        import pkgutil

        import ketaflow.clinical

        for info in pkgutil.walk_packages(ketaflow.clinical.__path__, "ketaflow.clinical."):
            for obj in vars(importlib.import_module(info.name)).values():
                if isinstance(obj, type) and issubclass(obj, enum.StrEnum):
                    for member in obj:
                        named = getattr(member, "label", None)
                        if isinstance(named, str) and named:
                            _CORE_LABELS.setdefault(member.value, named)
    return _CORE_LABELS


@register.filter
def label(value: object) -> str:
    """An enumeration member or a stored code in words. A Django choice or a core enumeration
    with a label gives its label; any other code is spelled from its own name."""
    if value is None or value == "":
        return ""
    found = getattr(value, "label", None)
    if isinstance(found, str) and found:
        return found
    if isinstance(value, enum.Enum):
        value = value.value
    text = str(value)
    if not _CODE.match(text):
        return text
    return _core_labels().get(text) or code_words(text)


@register.filter
def labels(values: object) -> str:
    """Codes in words, joined: ``["chest_pain", "headache"]`` -> "Chest pain, Headache"."""
    if not isinstance(values, list | tuple | set | frozenset):
        return label(values)
    return ", ".join(label(v) for v in values)


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Fraction):
        value = float(value)
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def fixed(value: object, places: int = 1) -> str:
    """``value`` at ``places`` decimals (half up), never in exponent notation; "" for none."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    quantum = Decimal(1).scaleb(-places)
    return f"{number.quantize(quantum, rounding=ROUND_HALF_UP):f}"


def trimmed(value: object, places: int = 2) -> str:
    """``value`` at up to ``places`` decimals, trailing zeros dropped: 40.0 -> "40", 0.50 ->
    "0.5", Decimal("1E+1") -> "10"."""
    text = fixed(value, places)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


@register.filter
def num(value: object, places: int = 2) -> str:
    """A number at up to ``places`` decimals, without trailing zeros or exponent."""
    return trimmed(value, int(places))


@register.filter
def score(value: object) -> str:
    """A questionnaire or scale score: an integer (Aldrete 10 of 10, PHQ-9 14)."""
    return trimmed(value, 0)


@register.filter
def unit(value: object, name: str) -> str:
    """A number with its unit: ``{{ rate|unit:"mL/h" }}`` -> "150 mL/h"."""
    text = trimmed(value, 2)
    return f"{text} {name}" if text else ""


@register.filter
def mg(value: object) -> str:
    """A dose in mg to 0.1 mg: 21.797 -> "21.8 mg"."""
    text = fixed(value, 1)
    return f"{text} mg" if text else ""


@register.filter
def dose_mg(value: object) -> SafeString | str:
    """A dose to 0.1 mg with the exact figure one click away (a disclosure, no script)."""
    shown = mg(value)
    if not shown:
        return ""
    exact = trimmed(value, 3)
    if exact == trimmed(value, 1):
        return shown
    return format_html(
        '<details class="exact"><summary>{}</summary>exact: {} mg</details>', shown, exact
    )


def readable_text(text: str) -> str:
    """Stored text in words: codes spelled out, numbers without exponent or a dozen decimals."""
    text = _EXPONENT.sub(lambda m: trimmed(m.group(0), 3), text)
    text = _LONG_DECIMAL.sub(lambda m: trimmed(m.group(0), 3), text)
    text = _DOTTED.sub(
        lambda m: (
            m.group(0)
            if m.group(0).rsplit(".", 1)[1] in _FILE_ENDINGS
            else code_words(m.group(0)).lower()
        ),
        text,
    )
    return _SNAKE.sub(lambda m: _words(m.group(0)), text)


@register.filter
def readable(value: object) -> str:
    """Text written with codes in it (an audit summary, a stored reason) in words."""
    return "" if value is None else readable_text(str(value))


@register.filter
def chart_html(chart: SvgChart) -> SafeString:
    """One server-rendered SVG chart (``web/_chart.html``), built by
    :func:`ketaflow.web.chart_markup.chart_html`."""
    return build_chart_html(chart)


@register.filter
def zone(name: str) -> str:
    """A time zone's IANA name in words: ``{{ time_zone|zone }}`` -> "New York time (EST)"."""
    return zone_words(str(name))


@register.simple_tag
def filters_in_words(form: forms.Form) -> SafeString:
    """A search or filter form's choices as one line of words, for paper: the form itself is not
    printed (app.css), so a printed list or report says what it was filtered by. A choice shows
    its label, a date as "2 Dec 2026"; a field left empty is left out."""
    parts: list[tuple[str, str]] = []
    for bound in form:
        value = bound.value()
        if value in (None, "", [], False):
            continue
        field = bound.field
        shown = str(value)
        if isinstance(field, forms.ChoiceField):
            choices = cast("Iterable[tuple[object, object]]", field.choices)
            shown = next((str(text) for key, text in choices if str(key) == str(value)), shown)
        elif isinstance(field, forms.DateField):
            # Not a date: the page shows the field's error, and here the text as typed.
            with contextlib.suppress(ValidationError):
                if day := field.to_python(value):
                    shown = date_format(day, "j M Y")
        parts.append((str(bound.label), shown))
    words = format_html_join("; ", "{}: {}", parts) if parts else "none (everything is shown)"
    return format_html('<p class="print-only filters-in-words">Filters: {}</p>', words)
