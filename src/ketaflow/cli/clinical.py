"""Subcommands of `ketaflow` for ketaflow.clinical: score, screen, dose.

Options are validated here rather than by argparse, so a bad value gives exit code 2 and one line
naming the option (argparse's own usage errors, e.g. an unknown option, also exit 2).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ketaflow.cli.common import CliError, print_json
from ketaflow.clinical import (
    DRUG_LIBRARY,
    CadssVersion,
    Indication,
    InfusionRequest,
    Instrument,
    InstrumentSettings,
    JsonValue,
    Override,
    Role,
    Sex,
    WeightBasis,
    assess_eligibility,
    intake_from_dict,
    intake_json_schema,
    plan_infusion,
    score,
    to_jsonable,
)
from ketaflow.clinical.dosing import (
    BAG_CONVENTION,
    FINAL_VOLUME_ML_RANGE,
    VIAL_CONCENTRATIONS_MG_PER_ML,
    pounds_to_kg,
)
from ketaflow.clinical.instruments import parse_ratings, parse_yes_no, parse_yes_no_list


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    _register_score(subparsers)
    _register_screen(subparsers)
    _register_dose(subparsers)


# --- helpers ------------------------------------------------------------------------------


def _choice(option: str, value: str | None, allowed: list[str]) -> str:
    if value is None:
        raise CliError(f"{option} is required (one of: {', '.join(allowed)})")
    if value.lower() not in allowed:
        raise CliError(f"{option}: {value!r} is not one of: {', '.join(allowed)}")
    return value.lower()


def _number(option: str, value: str | None, *, required: bool = True) -> float | None:
    if value is None:
        if required:
            raise CliError(f"{option} is required")
        return None
    try:
        number = float(value)
    except ValueError:
        raise CliError(f"{option}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise CliError(f"{option}: {value!r} is not a finite number")
    return number


def _required_number(option: str, value: str | None) -> float:
    number = _number(option, value)
    if number is None:  # pragma: no cover - _number raises when required
        raise CliError(f"{option} is required")
    return number


def _finite_float(text: str) -> float:
    """A JSON number that is a finite float (1e999 would parse as infinity)."""
    value = float(text)
    if not math.isfinite(value):
        raise CliError(f"{text} is not a finite number")
    return value


def _as_object(data: JsonValue) -> dict[str, JsonValue]:
    if not isinstance(data, dict):  # pragma: no cover - results are dataclasses
        raise CliError("internal error: result is not an object")
    return data


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        print(line)


# --- score --------------------------------------------------------------------------------

_INSTRUMENTS = [i.value for i in Instrument]


def _register_score(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a rating scale (PCL-5, PHQ-9, GAD-7, C-SSRS, CAPS-5, MADRS, CADSS, Aldrete)",
        description=(
            "Score one instrument from its item answers. Ratings are whole numbers separated by "
            "commas; the C-SSRS screener takes six y/n answers."
        ),
        epilog="example: ketaflow score phq9 --answers 1,2,1,0,3,1,2,0,1 --json",
    )
    parser.add_argument("instrument", metavar="INSTRUMENT", help=", ".join(_INSTRUMENTS))
    parser.add_argument("--answers", help="comma-separated answers, in item order")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--pcl5-cutpoint",
        help="PCL-5 probable-PTSD cut-point, 31-33 (default 33, VA National Center for PTSD)",
    )
    parser.add_argument(
        "--cadss-version", default="23", help="CADSS version: 23 (default) or 28 items"
    )
    parser.add_argument(
        "--behaviour-within-3-months",
        metavar="Y/N",
        help="C-SSRS item 6: was the behaviour within the past 3 months? (unset = treated as yes)",
    )
    parser.set_defaults(handler=_score)


def _score(args: argparse.Namespace) -> int:
    instrument = Instrument(_choice("INSTRUMENT", args.instrument, _INSTRUMENTS))
    if args.answers is None:
        raise CliError("--answers is required")
    answers: list[int] | list[bool]
    if instrument is Instrument.CSSRS:
        answers = parse_yes_no_list(args.answers)
    else:
        answers = parse_ratings(args.answers)
    cutpoint = _number("--pcl5-cutpoint", args.pcl5_cutpoint, required=False)
    settings = InstrumentSettings()
    if cutpoint is not None:
        if not cutpoint.is_integer():
            raise CliError(f"--pcl5-cutpoint: {args.pcl5_cutpoint!r} is not a whole number")
        settings = InstrumentSettings(pcl5_probable_ptsd_cutpoint=int(cutpoint))
    version = CadssVersion(_choice("--cadss-version", args.cadss_version, ["23", "28"]))
    recent = (
        parse_yes_no(args.behaviour_within_3_months, what="--behaviour-within-3-months")
        if args.behaviour_within_3_months is not None
        else None
    )
    result = score(
        instrument,
        answers,
        settings=settings,
        cadss_version=version,
        cssrs_behaviour_within_3_months=recent,
    )
    data = _as_object(to_jsonable(result))
    if args.json:
        print_json(data)
        return 0
    lines = [f"{instrument.label}: total {result.total}"]
    for key in (
        "clusters",
        "provisional_diagnosis",
        "probable_ptsd",
        "severity",
        "suicide_risk_flag",
        "risk",
        "discharge_ready",
    ):
        if key in data:
            value = data[key]
            shown = (
                ", ".join(f"{k} {v}" for k, v in value.items())
                if isinstance(value, dict)
                else value
            )
            lines.append(f"  {key.replace('_', ' ')}: {shown}")
    lines += [f"  - {line}" for line in result.explanation]
    lines.append(f"  source: {result.source}")
    _print_lines(lines)
    return 0


# --- screen -------------------------------------------------------------------------------


def _register_screen(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "screen",
        help="decide ketamine candidacy from an intake JSON file",
        description=(
            "Apply the eligibility rules to a structured intake (JSON) and print the decision "
            "(eligible, needs review, not eligible) with every finding. Use --schema for the "
            "intake's JSON Schema."
        ),
        epilog="example: ketaflow screen intake.json --json",
    )
    parser.add_argument(
        "intake", metavar="INTAKE.json", nargs="?", help="intake file ('-' = stdin)"
    )
    parser.add_argument("--schema", action="store_true", help="print the intake JSON Schema")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_screen)


def _reject_constant(name: str) -> Any:
    raise CliError(f"intake: {name} is not allowed in JSON")


def _screen(args: argparse.Namespace) -> int:
    if args.schema:
        if args.intake is not None:
            raise CliError("give either --schema or INTAKE.json, not both")
        print_json(intake_json_schema())
        return 0
    if args.intake is None:
        raise CliError("INTAKE.json is required (or --schema)")
    try:
        text = sys.stdin.read() if args.intake == "-" else Path(args.intake).read_text("utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {args.intake}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{args.intake}: not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise CliError(f"{args.intake}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise CliError(f"{args.intake}: the JSON is nested too deeply") from None
    result = assess_eligibility(intake_from_dict(data))
    if args.json:
        print_json(to_jsonable(result))
        return 0
    lines = [f"Decision: {result.summary}"]
    lines.append(
        "Indications: " + (", ".join(i.value for i in result.indications) or "none recorded")
    )
    for f in result.findings:
        lines.append(f"  [{f.tier.value}] {f.rule_id}: {f.message} (source: {f.source})")
    for assessment in result.resistance:
        lines.append(
            f"Treatment resistance ({assessment.indication.value}): {assessment.explanation}"
        )
        for j in assessment.judgements:
            mark = "counts" if j.counts else "does not count"
            lines.append(f"  {j.kind} {j.trial}: {mark} - {' '.join(j.reasons)}")
    _print_lines(lines)
    return 0


# --- dose ---------------------------------------------------------------------------------

_BASES = [b.value for b in WeightBasis]
_ROLES = [r.value for r in Role]


def _register_dose(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "dose",
        help="compute a ketamine infusion (dose, volumes, pump rate) within drug-library limits",
        description=(
            "Compute dose_mg, drug_volume_ml, total_volume_ml and rate_ml_per_h for racemic "
            f"ketamine from the drug library entry of the indication. {BAG_CONVENTION} "
            "Vial strengths: "
            f"{', '.join(f'{c:g}' for c in VIAL_CONCENTRATIONS_MG_PER_ML)} mg/mL; final volume "
            f"{FINAL_VOLUME_ML_RANGE[0]:g}-{FINAL_VOLUME_ML_RANGE[1]:g} mL. "
            "Soft-limit breaches need --override-reason and --override-role; hard-limit "
            "breaches are refused. Displayed "
            "volumes/rates are rounded to syringe/pump resolution and the exact values are "
            "reported alongside with a warning."
        ),
        epilog=(
            "example: ketaflow dose --indication ptsd --weight-kg 80 --weight-basis actual "
            "--vial-concentration-mg-per-ml 10 --final-volume-ml 100 --json"
        ),
    )
    parser.add_argument("--indication", help="ptsd or depression (required)")
    parser.add_argument(
        "--weight-kg", help="actual body weight in kg (this or --weight-lb, not both)"
    )
    parser.add_argument(
        "--weight-lb", help="actual body weight in pounds (converted exactly: 1 lb = 0.45359237 kg)"
    )
    parser.add_argument(
        "--weight-basis", help="actual, ideal (Devine) or adjusted (required, explicit)"
    )
    parser.add_argument("--height-cm", help="height in cm (needed for ideal/adjusted)")
    parser.add_argument("--sex", help="female or male (needed for ideal/adjusted)")
    parser.add_argument(
        "--dose-mg-per-kg", help="dose per kg (default: drug library default, 0.5 mg/kg)"
    )
    parser.add_argument(
        "--vial-concentration-mg-per-ml",
        "--concentration-mg-per-ml",
        dest="vial_concentration_mg_per_ml",
        help="vial concentration in mg/mL, e.g. 10, 50 or 100 (required)",
    )
    parser.add_argument("--final-volume-ml", help="final infusion volume in mL (required)")
    parser.add_argument(
        "--duration-min", help="infusion duration in minutes (default: drug library, 40 min)"
    )
    parser.add_argument("--override-reason", help="reason for exceeding a soft limit")
    parser.add_argument("--override-role", help=f"role giving the override: {', '.join(_ROLES)}")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_dose)


def _weight_kg(args: argparse.Namespace, notes: list[str]) -> float:
    """--weight-kg or --weight-lb: exactly one of them."""
    if args.weight_kg is not None and args.weight_lb is not None:
        raise CliError("give --weight-kg or --weight-lb, not both")
    if args.weight_lb is not None:
        pounds = _required_number("--weight-lb", args.weight_lb)
        try:
            kg = pounds_to_kg(pounds)
        except ValueError as exc:
            raise CliError(f"--weight-lb: {exc}") from None
        notes.append(f"Weight {pounds:g} lb = {kg:.2f} kg.")
        return kg
    if args.weight_kg is None:
        raise CliError("--weight-kg or --weight-lb is required")
    return _required_number("--weight-kg", args.weight_kg)


def _dose(args: argparse.Namespace) -> int:
    indication = Indication(_choice("--indication", args.indication, [i.value for i in Indication]))
    entry = DRUG_LIBRARY[indication]
    basis = WeightBasis(_choice("--weight-basis", args.weight_basis, _BASES))
    sex = Sex(_choice("--sex", args.sex, [s.value for s in Sex])) if args.sex is not None else None
    notes: list[str] = []
    dose_per_kg = _number("--dose-mg-per-kg", args.dose_mg_per_kg, required=False)
    if dose_per_kg is None:
        dose_per_kg = entry.default_dose_mg_per_kg
        notes.append(f"Dose per kg not given: drug library default {dose_per_kg:g} mg/kg used.")
    duration = _number("--duration-min", args.duration_min, required=False)
    if duration is None:
        duration = entry.default_duration_min
        notes.append(f"Duration not given: drug library default {duration:g} min used.")
    override = None
    if args.override_reason is not None or args.override_role is not None:
        if args.override_reason is None:
            raise CliError("--override-role given without --override-reason")
        role = Role(_choice("--override-role", args.override_role, _ROLES))
        override = Override(reason=args.override_reason, role=role)
    request = InfusionRequest(
        indication=indication,
        weight_kg=_weight_kg(args, notes),
        weight_basis=basis,
        dose_mg_per_kg=dose_per_kg,
        vial_concentration_mg_per_ml=_required_number(
            "--vial-concentration-mg-per-ml", args.vial_concentration_mg_per_ml
        ),
        final_volume_ml=_required_number("--final-volume-ml", args.final_volume_ml),
        duration_min=duration,
        height_cm=_number("--height-cm", args.height_cm, required=False),
        sex=sex,
        override=override,
    )
    plan = plan_infusion(request, entry)
    data = _as_object(to_jsonable(plan))
    warnings = [*notes, *plan.warnings]
    data["warnings"] = list[JsonValue](warnings)
    data["bag_convention"] = BAG_CONVENTION
    if args.json:
        print_json(data)
        return 0
    lines = [
        f"{plan.drug} for {plan.indication.value}",
        f"  weight_basis_kg: {plan.weight_basis_kg:g} ({plan.weight_basis.value})",
        f"  dose_mg: {plan.dose_mg:g} ({plan.dose_mg_per_kg:g} mg/kg)",
        f"  drug_volume_ml: {plan.drug_volume_ml:g}",
        f"  diluent_volume_ml: {plan.diluent_volume_ml:g}",
        f"  total_volume_ml: {plan.total_volume_ml:g}",
        f"  duration_min: {plan.duration_min:g}" if plan.duration_min is not None else "",
        f"  rate_ml_per_h: {plan.rate_ml_per_h:g}" if plan.rate_ml_per_h is not None else "",
    ]
    lines = [line for line in lines if line]
    lines.append(f"  bag: {BAG_CONVENTION}")
    lines += [f"  warning: {w}" for w in warnings]
    _print_lines(lines)
    return 0
