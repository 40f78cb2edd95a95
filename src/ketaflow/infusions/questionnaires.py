"""Questionnaires at the chair, item by item: one row per item with its choices.

The public-domain instruments (PCL-5, PHQ-9, GAD-7) show their item text and anchors, taken
from the portal's one copy (``ketaflow.portal.questionnaires``). The licensed ones (C-SSRS,
CADSS, MADRS, CAPS-5) show their item number only, never their text. Item counts and ranges
come from ``ketaflow.clinical.instruments``; the score and the suicide-risk flag from
``ketaflow.clinical.score`` and ``suicide_risk`` (the live preview), and the answer is recorded by
``infusions.services.screening_record`` (which raises the urgent task), never here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms

from ketaflow.clinical import CadssVersion, Instrument, score
from ketaflow.clinical.errors import ClinicalInputError
from ketaflow.clinical.instruments import (
    CAPS5_ITEMS,
    CSSRS_ITEM_COUNT,
    MADRS_ITEMS,
    ItemRange,
    suicide_risk,
)
from ketaflow.infusions.services import PRE_INFUSION_INSTRUMENTS
from ketaflow.portal.questionnaires import PORTAL_QUESTIONNAIRES

# What the chair records item by item: the pre-infusion questionnaires and the CADSS (the
# modified Aldrete has its own form).
CHAIR_INSTRUMENTS: tuple[Instrument, ...] = (*PRE_INFUSION_INSTRUMENTS, Instrument.CADSS)

_LICENSED_RANGES: dict[Instrument, ItemRange] = {
    Instrument.CADSS: CadssVersion.ITEMS_23.items,
    Instrument.MADRS: MADRS_ITEMS,
    Instrument.CAPS5: CAPS5_ITEMS,
}


@dataclass(frozen=True)
class Item:
    number: int
    text: str  # empty for a licensed instrument: its item number only

    @property
    def name(self) -> str:
        return f"item_{self.number}"

    @property
    def legend(self) -> str:
        return f"Item {self.number}" + (f": {self.text}" if self.text else "")


@dataclass(frozen=True)
class Sheet:
    """One instrument as the chair shows it."""

    instrument: Instrument
    stem: str
    items: tuple[Item, ...]
    choices: tuple[tuple[str, str], ...]  # (value, label) of each answer, lowest first
    yes_no: bool = False

    @property
    def title(self) -> str:
        return self.instrument.label

    @property
    def licensed(self) -> bool:
        return not any(i.text for i in self.items)


def sheet(instrument: Instrument) -> Sheet:
    """The item-by-item sheet of ``instrument``; ValueError for one without items to rate."""
    portal = PORTAL_QUESTIONNAIRES.get(instrument.value)
    if portal is not None:
        return Sheet(
            instrument,
            portal.stem,
            tuple(Item(n, text) for n, text in enumerate(portal.items, start=1)),
            tuple((str(v), f"{v} {label}") for v, label in portal.choices),
        )
    if instrument is Instrument.CSSRS:
        return Sheet(
            instrument,
            "Licensed instrument: ask each question from the clinic's licensed form.",
            tuple(Item(n, "") for n in range(1, CSSRS_ITEM_COUNT + 1)),
            (("n", "No"), ("y", "Yes")),
            yes_no=True,
        )
    found = _LICENSED_RANGES.get(instrument)
    if found is None:
        raise ValueError(f"{instrument.label} has no item-by-item sheet")
    return Sheet(
        instrument,
        "Licensed instrument: rate each item from the clinic's licensed form.",
        tuple(Item(n, "") for n in range(1, found.count + 1)),
        tuple((str(v), str(v)) for v in range(found.minimum, found.maximum + 1)),
    )


class ItemsForm(forms.Form):
    """One required radio group per item; an error names the item."""

    def __init__(self, the_sheet: Sheet, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sheet = the_sheet
        for item in the_sheet.items:
            self.fields[item.name] = forms.ChoiceField(
                choices=the_sheet.choices,
                widget=forms.RadioSelect,
                label=item.legend,
                error_messages={
                    "required": f"Item {item.number}: choose an answer.",
                    "invalid_choice": f"Item {item.number}: %(value)s is not one of the answers.",
                },
            )

    def answers(self) -> list[int] | list[bool]:
        values = [self.cleaned_data[i.name] for i in self.sheet.items]
        if self.sheet.yes_no:
            return [v == "y" for v in values]
        return [int(v) for v in values]

    def rows(self) -> list[tuple[Item, forms.BoundField]]:
        return [(item, self[item.name]) for item in self.sheet.items]


@dataclass(frozen=True)
class Preview:
    total: int | None
    complete: bool
    flag: str


def preview(the_sheet: Sheet, answers: Sequence[int] | Sequence[bool] | None) -> Preview:
    """The live total and flag of a complete answer (nothing is recorded): the same scoring
    and flag rule the service applies."""
    if answers is None:
        return Preview(None, False, "")
    try:
        result = score(the_sheet.instrument, answers)
    except ClinicalInputError as exc:
        return Preview(None, False, str(exc))
    flagged, risk = suicide_risk(result)
    flag = ""
    if flagged:
        flag = "Suicide-risk flag: recording this raises the urgent task for the prescribers" + (
            f" ({risk.value} risk)." if risk is not None else "."
        )
    return Preview(int(result.total), True, flag)
