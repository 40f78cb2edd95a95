"""The clinic's infusion-day settings, each with the safer default and its source.

A clinic changes them with ``KETAFLOW_INFUSION_POLICY`` in the Django settings (a dict of the
field names below); anything not given keeps the default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings

from ketaflow.clinical.instruments import DEFAULT_INSTRUMENT_SETTINGS
from ketaflow.clinical.monitoring import PREGNANCY_TEST_AGES


@dataclass(frozen=True)
class InfusionPolicy:
    # Dose is mg/kg, so the weight must be today's or recent (clinical.md s. 4.1: "require weight
    # on the day (or within N days)"). Default 0: today's weight only, the safer reading.
    weight_valid_days: int = 0
    # Pregnancy test where it applies (clinical.md s. 3: pregnancy is a contraindication; trial
    # registries require a test). Clinic policy: anyone not recorded male at birth (female,
    # intersex, not disclosed) aged 12 to 55 inclusive, wider than WHO's reproductive age 15-49.
    pregnancy_test_sexes: tuple[str, ...] = ("female", "intersex", "unknown")
    pregnancy_test_min_age: int = PREGNANCY_TEST_AGES[0]
    pregnancy_test_max_age: int = PREGNANCY_TEST_AGES[1]
    # Modified Aldrete: discharge at 9 or more of 10 (Aldrete 1995; clinical.md s. 4.5).
    aldrete_discharge_minimum: int = DEFAULT_INSTRUMENT_SETTINGS.aldrete_discharge_minimum
    # The vitals schedule is the clinic's (treatment.models.ScheduleSettings).
    # Clock skew accepted for a time entered on a tablet (clinic policy): a time up to this many
    # minutes ahead of the server is taken as "now"-ish, further ahead is refused.
    future_skew_min: int = 2
    # An entry made while offline is accepted up to this many hours after it was made
    # (clinic policy: the length of a clinic day).
    late_entry_max_hours: int = 12


def infusion_policy() -> InfusionPolicy:
    overrides: dict[str, Any] = dict(getattr(settings, "KETAFLOW_INFUSION_POLICY", {}) or {})
    known = {f.name for f in fields(InfusionPolicy)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"KETAFLOW_INFUSION_POLICY: unknown settings {', '.join(unknown)}")
    return InfusionPolicy(**overrides)
