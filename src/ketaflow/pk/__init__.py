"""Ketamine pharmacokinetics: published models, regimens, an exact solver, populations, plots.

Plain NumPy/SciPy (no Django). Times are in minutes, concentrations in ng/mL, doses in mg.

    >>> from ketaflow.pk import Covariates, Regimen, get_model, simulate, time_grid
    >>> result = simulate(get_model("domino"), Regimen.single_infusion(dose_mg=35, over_min=40),
    ...                   Covariates(weight_kg=70), time_grid(until_min=240, step_min=1))
    >>> round(float(result.at([40])["plasma_ng_per_ml"][0]), 1)
    240.3
"""

from typing import TYPE_CHECKING, Any

from ketaflow.pk.models import (
    DEFAULT_IIV_CV,
    DEFAULT_MODEL,
    EFFECT_SITE_KEY,
    MODELS,
    Citation,
    Covariates,
    Drug,
    EffectSite,
    OutOfPopulationWarning,
    Parameter,
    PKModel,
    Sampling,
    StudyPopulation,
    get_model,
)
from ketaflow.pk.occupancy import OCCUPANCY_LABEL, nmda_occupancy_estimate
from ketaflow.pk.population import (
    DEFAULT_PERCENTILES,
    PopulationResult,
    WeightDistribution,
    simulate_population,
)
from ketaflow.pk.regimen import MINUTES_PER_DAY, Bolus, Infusion, Regimen, plan_course
from ketaflow.pk.simulate import PLASMA_KEY, SimulationResult, Summary, simulate, time_grid

if TYPE_CHECKING:
    from ketaflow.pk.plotting import (
        DayWindow,
        day_windows,
        plot_population,
        plot_population_days,
        plot_simulation,
    )

# The plots need matplotlib, which takes longer to import than the rest of the package: it is
# imported on first use of a plot function, so that `ketaflow pk simulate` without --plot (and
# `ketaflow --help`) never loads it.
_LAZY = frozenset(
    {"DayWindow", "day_windows", "plot_population", "plot_population_days", "plot_simulation"}
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from ketaflow.pk import plotting

        return getattr(plotting, name)
    raise AttributeError(f"module 'ketaflow.pk' has no attribute {name!r}")


__all__ = [
    "DEFAULT_IIV_CV",
    "DEFAULT_MODEL",
    "DEFAULT_PERCENTILES",
    "EFFECT_SITE_KEY",
    "MINUTES_PER_DAY",
    "MODELS",
    "OCCUPANCY_LABEL",
    "PLASMA_KEY",
    "Bolus",
    "Citation",
    "Covariates",
    "DayWindow",
    "Drug",
    "EffectSite",
    "Infusion",
    "OutOfPopulationWarning",
    "PKModel",
    "Parameter",
    "PopulationResult",
    "Regimen",
    "Sampling",
    "SimulationResult",
    "StudyPopulation",
    "Summary",
    "WeightDistribution",
    "day_windows",
    "get_model",
    "nmda_occupancy_estimate",
    "plan_course",
    "plot_population",
    "plot_population_days",
    "plot_simulation",
    "simulate",
    "simulate_population",
    "time_grid",
]
