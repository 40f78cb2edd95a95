"""`ketaflow vitals classify`: one set of readings through ketaflow.clinical.monitoring.

Prints the tier (normal, abnormal, critical, emergency), the actions most urgent first and the
reasons; ``--json`` prints one object with ``tier``, ``actions`` and ``reasons``. An impossible
reading (a pressure in kPa, a saturation typed as a fraction) exits 2 with one line naming the
field and the likely mistake. Imports only the clinical core.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from ketaflow.cli.common import CliError, print_json

# The options, the vital each reads, and its unit (the names say the unit).
_READINGS = (
    ("--systolic-mmhg", "systolic_bp_mmhg"),
    ("--diastolic-mmhg", "diastolic_bp_mmhg"),
    ("--heart-rate-bpm", "heart_rate_bpm"),
    ("--spo2-pct", "spo2_percent"),
    ("--resp-rate-per-min", "respiratory_rate_per_min"),
)
_BASELINES = (
    ("--baseline-systolic-mmhg", "systolic_bp_mmhg"),
    ("--baseline-diastolic-mmhg", "diastolic_bp_mmhg"),
)
# Kept in step with EndOrganSymptom by tests/clinical/test_cli_vitals.py (no import at --help).
SYMPTOMS = (
    "chest_pain",
    "dyspnea",
    "severe_headache",
    "visual_change",
    "neurological_deficit",
    "confusion",
    "seizure",
    "reduced_consciousness",
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    vitals = subparsers.add_parser(
        "vitals",
        help="classify vital signs (tier, actions, reasons)",
        description="Vital signs through the clinic's monitoring rules.",
    )
    sub = vitals.add_subparsers(dest="vitals_command", metavar="SUBCOMMAND", required=True)
    classify = sub.add_parser(
        "classify",
        help="the tier, actions and reasons for one set of readings",
        description=(
            "Classify one set of readings: prints the tier (normal, abnormal, critical, "
            "emergency), the actions most urgent first and the reasons. Exit 2 with one line "
            "for an impossible reading (e.g. a pressure in kPa, SpO2 as a fraction)."
        ),
    )
    for option, _ in _READINGS:
        classify.add_argument(option, required=True, metavar="N")
    for option, _ in _BASELINES:
        classify.add_argument(option, metavar="N", help="baseline, for the change from it")
    classify.add_argument(
        "--symptom",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a symptom present now (repeatable): {', '.join(SYMPTOMS)}",
    )
    classify.add_argument("--json", action="store_true", help="print one JSON object")
    classify.set_defaults(handler=_classify)


def _number(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CliError(f"{option}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise CliError(f"{option}: {text!r} is not a finite number")
    return value


def _classify(args: argparse.Namespace) -> int:
    from ketaflow.clinical.monitoring import EndOrganSymptom, VitalSign, assess_vitals

    def value_of(option: str) -> str | None:
        found: str | None = getattr(args, option.lstrip("-").replace("-", "_"))
        return found

    readings = {VitalSign(name): _number(opt, str(value_of(opt))) for opt, name in _READINGS}
    baseline = {
        VitalSign(name): _number(opt, text)
        for opt, name in _BASELINES
        if (text := value_of(opt)) is not None
    }
    unknown = [s for s in args.symptom if s not in SYMPTOMS]
    if unknown:
        raise CliError(f"--symptom: {unknown[0]!r} is not one of: {', '.join(SYMPTOMS)}")
    result = assess_vitals(
        readings,
        baseline=baseline or None,
        symptoms=[EndOrganSymptom(s) for s in args.symptom],
    )
    if args.json:
        print_json(
            {
                "tier": result.level.value,
                "actions": [a.value for a in result.actions],
                "reasons": list(result.reasons),
            }
        )
        return 0
    print(f"tier: {result.level.value}")
    if result.actions:
        print("actions, most urgent first:")
        for number, action in enumerate(result.actions, start=1):
            print(f"  {number}. {action.label} ({action.value})")
    else:
        print("actions: none")
    print("reasons:")
    for reason in result.reasons:
        print(f"  - {reason}")
    return 0
