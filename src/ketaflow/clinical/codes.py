"""ICD-10-CM code lists the eligibility rules read, kept as data with their source.

Source of every code below: ICD-10-CM 2025 tabular list (CMS/NCHS, FY2025), chapter 5 "Mental,
behavioral and neurodevelopmental disorders" (F01-F99). A code matches a list when it starts with
one of the list's prefixes after normalisation (upper case, no spaces), so a category (F20) covers
all its subcodes (F20.0-F20.9) and a subcategory (F10.15) covers F10.150, F10.151 and F10.159.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ketaflow.clinical import sources


@dataclass(frozen=True)
class CodeMatch:
    """A diagnosis code found in a list, with what the list entry means."""

    code: str
    meaning: str

    @property
    def label(self) -> str:
        return f"{self.code} {self.meaning}"


def normalize(code: str) -> str:
    return "".join(code.split()).upper()


def matches(codes: Iterable[str], table: Mapping[str, str]) -> tuple[CodeMatch, ...]:
    """The codes that fall under a prefix of ``table``, each with the entry's meaning."""
    found: list[CodeMatch] = []
    for raw in codes:
        code = normalize(raw)
        for prefix, meaning in table.items():
            if code.startswith(prefix):
                found.append(CodeMatch(code, meaning))
                break
    return tuple(found)


SOURCE: Final = sources.ICD10CM_2025

# --- indications --------------------------------------------------------------------------

PTSD: Final[Mapping[str, str]] = MappingProxyType({"F43.1": "post-traumatic stress disorder"})
DEPRESSION: Final[Mapping[str, str]] = MappingProxyType(
    {
        "F32": "major depressive disorder, single episode",
        "F33": "major depressive disorder, recurrent",
    }
)
BIPOLAR: Final[Mapping[str, str]] = MappingProxyType({"F31": "bipolar disorder"})

# --- current mania or hypomania (a hard stop, like the "current mania" answer) -------------
# F30.3/F30.4 (manic episode in partial/full remission) and F31.7x (bipolar in remission) are not
# current episodes; the mixed episode F31.6x has manic symptoms now and counts (the safer reading).
CURRENT_MANIA: Final[Mapping[str, str]] = MappingProxyType(
    {
        "F30.1": "manic episode without psychotic symptoms",
        "F30.2": "manic episode, severe, with psychotic symptoms",
        "F30.8": "other manic episode",
        "F30.9": "manic episode, unspecified",
        "F31.0": "bipolar disorder, current episode hypomanic",
        "F31.1": "bipolar disorder, current episode manic without psychotic features",
        "F31.2": "bipolar disorder, current episode manic, severe, with psychotic features",
        "F31.6": "bipolar disorder, current episode mixed",
    }
)

# --- psychosis ------------------------------------------------------------------------------
# Block F20-F29 "Schizophrenia, schizotypal, delusional, and other non-mood psychotic disorders":
# a primary psychotic disorder, excluded by the trials (clinical.md s. 3 hard stops).
PSYCHOTIC_DISORDERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "F20": "schizophrenia",
        "F21": "schizotypal disorder",
        "F22": "delusional disorder",
        "F23": "brief psychotic disorder",
        "F24": "shared psychotic disorder",
        "F25": "schizoaffective disorder",
        "F28": "other psychotic disorder",
        "F29": "unspecified psychosis",
    }
)

# Mood episodes with psychotic features, and psychotic disorders due to a known physiological
# condition: psychotic features in the history, which need a psychiatrist's review.
_MOOD_WITH_PSYCHOTIC_FEATURES: Final = {
    "F30.2": "manic episode, severe, with psychotic symptoms",
    "F31.2": "bipolar disorder, current episode manic, severe, with psychotic features",
    "F31.5": "bipolar disorder, current episode depressed, severe, with psychotic features",
    "F31.64": "bipolar disorder, current episode mixed, severe, with psychotic features",
    "F32.3": "major depressive disorder, single episode, severe, with psychotic features",
    "F33.3": "major depressive disorder, recurrent, severe, with psychotic symptoms",
    "F06.0": "psychotic disorder with hallucinations due to a known physiological condition",
    "F06.2": "psychotic disorder with delusions due to a known physiological condition",
}

# Substance-induced psychotic disorder: F1x.15x (abuse), F1x.25x (dependence), F1x.95x (use,
# unspecified) for every substance category that has one (F17 nicotine has none).
_SUBSTANCES: Final = {
    "F10": "alcohol",
    "F11": "opioid",
    "F12": "cannabis",
    "F13": "sedative, hypnotic or anxiolytic",
    "F14": "cocaine",
    "F15": "other stimulant",
    "F16": "hallucinogen",
    "F18": "inhalant",
    "F19": "other psychoactive substance",
}
_USE: Final = {"1": "abuse", "2": "dependence", "9": "use"}

PSYCHOTIC_FEATURES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **_MOOD_WITH_PSYCHOTIC_FEATURES,
        **{
            f"{category}.{digit}5": f"{substance} {use} with {substance}-induced psychotic disorder"
            for category, substance in _SUBSTANCES.items()
            for digit, use in _USE.items()
        },
    }
)
