"""Test helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ketaflow.clinical import eligibility as el
from ketaflow.clinical.eligibility import Tier

DATA = Path(__file__).parent / "data"


def base_intake() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "intake_eligible.json").read_text())
    return data


def assess(data: dict[str, Any]) -> el.EligibilityResult:
    return el.assess_eligibility(el.intake_from_dict(data))


def rules_of(result: el.EligibilityResult) -> dict[str, Tier]:
    return {f.rule_id: f.tier for f in result.findings}
