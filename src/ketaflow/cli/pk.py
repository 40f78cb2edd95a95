"""``ketaflow pk simulate`` and ``ketaflow pk population`` (ketaflow.pk; no Django)."""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ketaflow.cli.common import CliError, float_list, print_json
from ketaflow.pk import (
    DEFAULT_MODEL,
    MINUTES_PER_DAY,
    MODELS,
    Bolus,
    Covariates,
    Drug,
    OutOfPopulationWarning,
    PKModel,
    Regimen,
    WeightDistribution,
    get_model,
    plan_course,
    simulate,
    simulate_population,
    time_grid,
)
from ketaflow.pk.simulate import prediction_facts

DEFAULT_TAIL_MIN = 360.0  # default grid runs this long after the last dose
# Ten million virtual patients take minutes and about 10 GiB here (docs/performance-pk.md);
# more is a typing mistake on a clinic's machine.
MAX_SUBJECTS = 10_000_000


def _events(text: str) -> list[tuple[float, float]]:
    """Parse ``"0:0.875,40:0"`` (time_min:rate_mg_per_min pairs) for argparse."""
    pairs = []
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        time_text, sep, rate_text = item.partition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"{item!r} is not TIME_MIN:RATE_MG_PER_MIN")
        try:
            pairs.append((float(time_text), float(rate_text)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not TIME_MIN:RATE_MG_PER_MIN") from None
    if not pairs:
        raise argparse.ArgumentTypeError("expected TIME_MIN:RATE_MG_PER_MIN pairs")
    return pairs


def _add_common(p: argparse.ArgumentParser) -> None:
    model_help = ", ".join(MODELS)
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"one of: {model_help} (default: {DEFAULT_MODEL})"
    )
    p.add_argument(
        "--age-yr",
        type=float,
        help="age in years (checked against the model's population; used by perez-ruixo)",
    )
    dose = p.add_argument_group("regimen (one infusion unless --infusions/--schedule-days)")
    dose.add_argument("--dose-mg-per-kg", type=float, help="dose per infusion, mg per kg")
    dose.add_argument("--dose-mg", type=float, help="dose per infusion, mg")
    dose.add_argument("--rate-mg-per-kg-per-h", type=float, help="infusion rate (needs --over-min)")
    dose.add_argument("--rate-mg-per-min", type=float, help="infusion rate (needs --over-min)")
    dose.add_argument("--over-min", type=float, help="infusion duration, minutes")
    dose.add_argument("--bolus-mg", type=float, help="a bolus at the start of every infusion, mg")
    dose.add_argument(
        "--dose-is-s-ketamine",
        action="store_true",
        help="the doses are S-ketamine (default: racemic ketamine, halved for an S-ketamine "
        "model with a warning)",
    )
    dose.add_argument("--infusions", type=int, default=1, help="number of infusions (default 1)")
    dose.add_argument("--every-days", type=float, help="days between infusion starts")
    dose.add_argument(
        "--schedule-days", type=float_list, help="explicit infusion start days, e.g. 0,2,4,7,9,11"
    )
    dose.add_argument(
        "--events",
        type=_events,
        help="a recorded session instead of a plan: "
        "TIME_MIN:RATE_MG_PER_MIN changes, ending with a stop (rate 0), "
        "e.g. 0:0.875,40:0",
    )
    grid = p.add_argument_group("time points (minutes from the first dose)")
    grid.add_argument("--at-min", type=float_list, help="comma-separated time points")
    grid.add_argument(
        "--until-min", type=float, help=f"grid end (default: last dose + {DEFAULT_TAIL_MIN:g} min)"
    )
    grid.add_argument(
        "--step-min", type=float, help="grid step (default 1 min; 10 min for windows over two days)"
    )
    p.add_argument(
        "--ke0-per-min",
        type=float,
        help="add an effect site with this ke0 "
        "(user-supplied estimate; simons has a published one)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--plot", metavar="FILE.png", help="write a PNG picture")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    pk = subparsers.add_parser(
        "pk",
        help="ketamine pharmacokinetics: simulate a patient or a population",
        description="Predict ketamine concentrations (ng/mL) from published models.",
    )
    sub = pk.add_subparsers(dest="pk_command", metavar="SUBCOMMAND", required=True)

    sim = sub.add_parser(
        "simulate",
        help="concentrations of one patient",
        description="Exact plasma (and effect-site, metabolite) concentrations for one patient. "
        "Example: ketaflow pk simulate --model domino --weight-kg 70 --dose-mg-per-kg 0.5 "
        "--over-min 40 --at-min 10,20,40,60,120,240 --json",
    )
    sim.add_argument("--weight-kg", type=float, required=True, help="body weight, kg")
    _add_common(sim)
    sim.add_argument("--level-ng-per-ml", type=float, help="report the time spent above this")
    sim.add_argument(
        "--occupancy",
        action="store_true",
        help="add the NMDA-receptor occupancy estimate (illustrative)",
    )
    sim.set_defaults(handler=_simulate)

    pop = sub.add_parser(
        "population",
        help="percentile bands for a virtual population",
        description="Monte-Carlo population with inter-individual variability; exact "
        "percentile bands and the distribution of Cmax. Example: ketaflow pk population "
        "--model domino --n 10000 --weight-kg 70 --dose-mg-per-kg 0.5 --over-min 40 --json",
    )
    pop.add_argument("--n", type=int, required=True, help="number of virtual patients")
    pop.add_argument("--weight-kg", type=float, required=True, help="median body weight, kg")
    pop.add_argument(
        "--weight-cv",
        type=float,
        default=0.0,
        help="log-normal weight CV (default 0: everyone weighs --weight-kg)",
    )
    _add_common(pop)
    pop.add_argument(
        "--percentiles",
        type=float_list,
        default=[5.0, 50.0, 95.0],
        help="percentiles of the band (default 5,50,95)",
    )
    pop.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    pop.add_argument(
        "--threads",
        type=int,
        help="workers (default: all cores); threads, or forked processes for large populations",
    )
    pop.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only for long runs)",
    )
    pop.set_defaults(handler=_population)


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise CliError(f"{name} must be a positive number, got {value:g}")


def _regimen(args: argparse.Namespace, weight_kg: float) -> Regimen:
    """The regimen the options describe (doses per kg use ``weight_kg``)."""
    doses = [args.dose_mg_per_kg, args.dose_mg, args.rate_mg_per_kg_per_h, args.rate_mg_per_min]
    given = sum(d is not None for d in doses)
    if args.events is not None:
        if given or args.over_min is not None:
            raise CliError("--events describes the whole session; drop the dose options")
        return Regimen.from_rate_changes(args.events)
    if given > 1:
        raise CliError(
            "give one of --dose-mg-per-kg, --dose-mg, --rate-mg-per-kg-per-h, --rate-mg-per-min"
        )
    for name, value in (
        ("dose", args.dose_mg_per_kg),
        ("dose", args.dose_mg),
        ("rate", args.rate_mg_per_kg_per_h),
        ("rate", args.rate_mg_per_min),
        ("bolus", args.bolus_mg),
    ):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise CliError(f"{name} must not be negative, got {value:g}")
    if given == 0 and args.bolus_mg is None:
        raise CliError(
            "no dose: give --dose-mg-per-kg (or --dose-mg, a rate, --bolus-mg or --events)"
        )
    if given and args.over_min is None:
        what = (
            "a rate"
            if args.rate_mg_per_kg_per_h is not None or args.rate_mg_per_min
            else ("a dose")
        )
        raise CliError(f"{what} needs a duration: add --over-min")
    _positive("--over-min", args.over_min)
    if args.infusions < 1:
        raise CliError(f"--infusions must be at least 1, got {args.infusions}")
    if args.schedule_days is not None and (args.infusions != 1 or args.every_days is not None):
        raise CliError("--schedule-days replaces --infusions/--every-days")
    if args.infusions > 1 and args.every_days is None:
        raise CliError("--infusions needs --every-days (or use --schedule-days)")
    _positive("--every-days", args.every_days)
    if args.schedule_days is not None:
        starts = [d * MINUTES_PER_DAY for d in args.schedule_days]
    else:
        step = (args.every_days or 0.0) * MINUTES_PER_DAY
        starts = [k * step for k in range(args.infusions)]
    if given:
        over = float(args.over_min)
        if args.dose_mg_per_kg is not None:
            dose_mg = args.dose_mg_per_kg * weight_kg
        elif args.dose_mg is not None:
            dose_mg = args.dose_mg
        elif args.rate_mg_per_kg_per_h is not None:
            dose_mg = args.rate_mg_per_kg_per_h * weight_kg / 60.0 * over
        else:
            dose_mg = args.rate_mg_per_min * over
        regimen = plan_course(dose_mg=dose_mg, over_min=over, starts_min=starts)
    else:
        regimen = Regimen()
    if args.bolus_mg:
        regimen = regimen.plus(Regimen(boluses=tuple(Bolus(s, args.bolus_mg) for s in starts)))
    return regimen.stated_as(Drug.ESKETAMINE) if args.dose_is_s_ketamine else regimen


def _describe(model: PKModel, keys: Iterable[str]) -> None:
    """What the numbers predict: one line per output (analyte, sampling site, unit)."""
    for key in keys:
        print(f"{key}: {model.prediction_label(key)}")


def _times(args: argparse.Namespace, regimen: Regimen) -> np.ndarray[Any, np.dtype[np.float64]]:
    if args.at_min is not None:
        if args.until_min is not None or args.step_min is not None:
            raise CliError("--at-min replaces --until-min/--step-min")
        return np.asarray(args.at_min, dtype=np.float64)
    until = args.until_min if args.until_min is not None else regimen.end_min + DEFAULT_TAIL_MIN
    step = args.step_min
    if step is None:
        step = 1.0 if until - min(0.0, regimen.start_min) <= 2 * MINUTES_PER_DAY else 10.0
    return time_grid(until_min=until, step_min=step, start_min=min(0.0, regimen.start_min))


def _check_subject(args: argparse.Namespace) -> None:
    _positive("--weight-kg", args.weight_kg)
    if args.age_yr is not None and not (math.isfinite(args.age_yr) and args.age_yr >= 0):
        raise CliError(f"--age-yr must not be negative, got {args.age_yr:g}")
    _positive("--ke0-per-min", args.ke0_per_min)


def _simulate(args: argparse.Namespace) -> int:
    model = get_model(args.model)
    _check_subject(args)
    covariates = Covariates(weight_kg=args.weight_kg, age_yr=args.age_yr)
    regimen = _regimen(args, args.weight_kg)
    times = _times(args, regimen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfPopulationWarning)  # reported below instead
        result = simulate(model, regimen, covariates, times, ke0_per_min=args.ke0_per_min)
    summary = result.summary(level_ng_per_ml=args.level_ng_per_ml)
    if args.plot:
        from ketaflow.pk.plotting import plot_simulation  # matplotlib only when plotting

        plot_simulation(result, args.plot, occupancy=args.occupancy)
    if args.json:
        data = result.as_dict()
        if args.occupancy:
            data["nmda_occupancy_estimate"] = result.nmda_occupancy().tolist()
        data["summary"] = summary.as_dict()
        data["model"] = model.key
        data.update(prediction_facts(result.model))
        data["warnings"] = list(result.warnings)
        print_json(data)
        return 0
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    keys = result.analytes
    given = result.regimen
    print(
        f"{result.model.title}; {args.weight_kg:g} kg; total dose {given.total_dose_mg:.4g} mg "
        f"{given.drug.value}"
    )
    _describe(result.model, keys)
    if len(times) <= 60:
        print("time_min  " + "  ".join(keys))
        for k, t in enumerate(times):
            print(f"{t:8g}  " + "  ".join(f"{result[key][k]:{len(key)}.2f}" for key in keys))
    s = summary
    print(
        f"Cmax {s.cmax_ng_per_ml:.1f} ng/mL at {s.tmax_min:g} min; AUC "
        f"{s.auc_ng_min_per_ml:.0f} ng·min/mL over {s.window_min[0]:g}-{s.window_min[1]:g} min"
    )
    if s.time_above_level_min is not None:
        print(f"time above {s.level_ng_per_ml:g} ng/mL: {s.time_above_level_min:.1f} min")
    for start, conc in s.before_next_infusion_ng_per_ml:
        print(f"before the infusion at {start:g} min: {conc:.3g} ng/mL")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


def _population(args: argparse.Namespace) -> int:
    model = get_model(args.model)
    _check_subject(args)
    if not 1 <= args.n <= MAX_SUBJECTS:
        raise CliError(f"--n must be between 1 and {MAX_SUBJECTS:,}, got {args.n}")
    if args.weight_cv < 0:
        raise CliError(f"--weight-cv must not be negative, got {args.weight_cv:g}")
    regimen = _regimen(args, args.weight_kg)
    per_kg = args.dose_mg_per_kg is not None or args.rate_mg_per_kg_per_h is not None
    times = _times(args, regimen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfPopulationWarning)  # reported below instead
        result = simulate_population(
            model,
            regimen,
            times,
            n_subjects=args.n,
            weight=WeightDistribution(args.weight_kg, args.weight_cv),
            percentiles=args.percentiles,
            seed=args.seed,
            age_yr=args.age_yr,
            dose_reference_weight_kg=args.weight_kg if per_kg else None,
            ke0_per_min=args.ke0_per_min,
            progress=args.progress,
            threads=args.threads,
        )
    if args.plot:
        from ketaflow.pk.plotting import plot_population  # matplotlib only when plotting

        plot_population(result, args.plot)
    if args.json:
        print_json(result.as_dict())
        return 0
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(
        f"{result.model.title}; {result.n_subjects} virtual patients, median {args.weight_kg:g} kg"
    )
    _describe(result.model, result.bands)
    print(f"variability: {result.model.variability_source}")
    for key in result.bands:
        cmax = result.cmax_percentiles(key)
        text = ", ".join(f"{label} {value:.1f}" for label, value in cmax.items())
        print(f"Cmax {key}: {text}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0
