"""Published ketamine and esketamine compartment models: immutable parameter sets with sources.

Every model is a linear compartment system described declaratively: compartments (with the
parameter that gives their volume in L), first-order flows between them (a clearance in L/min, a
rate constant in 1/min or a mean transit time in min), the compartment that receives an IV dose,
and the analytes that are read out. Each parameter carries its typical value at the reference
covariates, its allometric weight exponent, its source, and its inter-individual variability
(log-normal variance omega^2) where the source gives one.

All numbers come from ``docs/reference/pk.md`` (sections named in each ``source``) or from the
public model code that reference cites (``nlmixr2/nlmixr2lib``), read for this module.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MINUTES_PER_HOUR = 60.0
MG_PER_L_TO_NG_PER_ML = 1000.0  # 1 mg/L = 1 µg/mL = 1000 ng/mL (definition)
KETAMINE_MOLAR_MASS_G_PER_MOL = 237.73  # pk.md §2 "Units caution"
NORKETAMINE_MOLAR_MASS_G_PER_MOL = 223.70  # pk.md §2 "Units caution"
DEFAULT_IIV_CV = 0.30
"""Stated default when a source gives no variability: 30 % CV log-normal on every volume and
clearance, the Monte-Carlo scenario used for the peer timings in pk.md §3."""


class Drug(Enum):
    RACEMIC_KETAMINE = "racemic ketamine"
    ESKETAMINE = "esketamine (S-ketamine)"


class Sampling(Enum):
    ARTERIAL = "arterial"
    VENOUS = "venous"
    NOT_STATED = "not stated in the source"


ANALYTE_NAMES: Final[Mapping[Drug, str]] = {
    Drug.RACEMIC_KETAMINE: "racemic ketamine",
    Drug.ESKETAMINE: "S-ketamine",
}
"""What the plasma prediction of a model of this drug measures (the analyte's name)."""

VENOUS_CAUTION: Final = (
    "venous blood levels run lower than arterial ones during and just after an infusion (Otto 2021)"
)
"""Why a measured (venous) level is not comparable with an arterial prediction (pk.md §2/§6;
no number: the 20-40 % in pk.md §6 is the reference's own estimate, not a cited measurement)."""


class FlowKind(Enum):
    CLEARANCE = "clearance"  # parameter in L/min; k = CL / V(source)
    RATE_CONSTANT = "rate constant"  # parameter in 1/min; k = parameter
    MEAN_TRANSIT_TIME = "mean transit time"  # parameter in min; k = chain_length / MTT


CHAIN_SPLIT = 1e-5
"""A chain of compartments with equal rate constants has a repeated, defective eigenvalue, which
an eigendecomposition cannot represent. Its two rate constants are therefore set to k*(1+s) and
k/(1+s) with s = 1e-5: the product is exact and the mean transit time changes by a relative
s**2/2 = 5e-11, far below the 1e-6 validation tolerance (tests/pk compare against solve_ivp of
the unsplit chain)."""


class OutOfPopulationWarning(UserWarning):
    """A model is used for a patient outside the population it was fitted on."""


@dataclass(frozen=True)
class Citation:
    reference: str
    doi: str | None
    pmid: str | None
    parameters_from: str  # where the numbers were transcribed from


@dataclass(frozen=True)
class StudyPopulation:
    """Who the model was fitted on. ``None`` means our reference does not record the bound."""

    description: str
    sampling: Sampling
    paediatric: bool
    age_min_yr: float | None
    age_max_yr: float | None
    weight_min_kg: float | None
    weight_max_kg: float | None
    source: str


@dataclass(frozen=True)
class Parameter:
    """One structural parameter. The unit is part of the name (``_l``, ``_l_per_min``, ``_min``)."""

    name: str
    typical_value: float  # at the model's reference weight
    weight_exponent: float  # value * (weight / reference weight) ** weight_exponent
    source: str
    iiv_omega2: float | None = None  # log-normal variance of exp(eta); None: source gives none
    iiv_source: str = ""


@dataclass(frozen=True)
class Compartment:
    name: str
    volume_parameter: str | None  # None: a transit compartment (amount only)


@dataclass(frozen=True)
class Flow:
    source: str
    target: str | None  # None: eliminated
    parameter: str
    kind: FlowKind = FlowKind.CLEARANCE
    fraction_to_target: float = 1.0  # the rest of the flow is eliminated
    chain_length: int = 1  # for MEAN_TRANSIT_TIME: k = chain_length / MTT
    rate_multiplier: float = 1.0  # numerical device for equal-rate chains, see CHAIN_SPLIT


@dataclass(frozen=True)
class Analyte:
    key: str  # result key, always ending in _ng_per_ml
    label: str
    compartment: str
    mass_factor: float = 1.0  # ng of analyte per ng of state mass (molar-mass conversion)
    mass_factor_source: str = "state carried in the analyte's own mass units"


@dataclass(frozen=True)
class EffectSite:
    """An effect compartment of negligible volume: dCe/dt = ke0 (Cp - Ce). An estimate."""

    ke0_per_min: float
    source: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ke0_per_min) and self.ke0_per_min > 0):
            raise ValueError(f"ke0_per_min must be a positive number, got {self.ke0_per_min}")
        if self.ke0_per_min > MAX_KE0_PER_MIN:
            raise ValueError(
                f"ke0_per_min must be at most {MAX_KE0_PER_MIN:g} per minute (a half-time of "
                f"{math.log(2) / MAX_KE0_PER_MIN * 60:.1f} s: faster is the plasma itself), "
                f"got {self.ke0_per_min:g}"
            )


# The fastest effect site worth modelling. Olofsen 2012 (docs/reference/pk.md, section 1d) found
# blood-effect half-times from about 0 min (cognitive flexibility) to 11.8 min; the ke0 values in
# use are 0.1-1 per minute (same section). 60 per minute is a half-time under a second, the
# plasma on any grid of a second or more; larger values only overflow the arithmetic (1e308 did).
MAX_KE0_PER_MIN = 60.0


EFFECT_SITE_KEY = "effect_site_ng_per_ml"


# Entry guards, not population limits (those are each model's StudyPopulation): no person weighs
# less than 0.2 kg (an extremely preterm newborn) or more than 700 kg, or is older than 130.
WEIGHT_KG_POSSIBLE: Final = (0.2, 700.0)
AGE_YR_POSSIBLE: Final = 130.0


@dataclass(frozen=True)
class Covariates:
    """One patient. Weight is required; age only matters where a model uses it or for the
    population check; ``asian_race`` is the Perez-Ruixo 2021 covariate (default: not Asian)."""

    weight_kg: float
    age_yr: float | None = None
    asian_race: bool = False

    def __post_init__(self) -> None:
        low, high = WEIGHT_KG_POSSIBLE
        if not (math.isfinite(self.weight_kg) and low <= self.weight_kg <= high):
            raise ValueError(
                f"weight_kg must be a body weight between {low:g} and {high:g} kg, "
                f"got {self.weight_kg:g}"
            )
        if self.age_yr is not None and not (
            math.isfinite(self.age_yr) and 0 <= self.age_yr <= AGE_YR_POSSIBLE
        ):
            raise ValueError(
                f"age_yr must be between 0 and {AGE_YR_POSSIBLE:g} years, got {self.age_yr:g}"
            )


@dataclass(frozen=True)
class CovariateArrays:
    """Covariates of N subjects (shape (N,)), as used by the covariate scaling functions."""

    weight_kg: FloatArray
    age_yr: FloatArray | None
    asian_race: bool


CovariateScaling = Callable[
    ["PKModel", Mapping[str, FloatArray], CovariateArrays], dict[str, FloatArray]
]


def allometric_scaling(
    model: PKModel, values: Mapping[str, FloatArray], cov: CovariateArrays
) -> dict[str, FloatArray]:
    """value * (weight / reference weight) ** exponent for each parameter."""
    ratio = cov.weight_kg / model.reference_weight_kg
    out: dict[str, FloatArray] = {}
    for p in model.parameters:
        out[p.name] = (
            values[p.name] * ratio**p.weight_exponent if p.weight_exponent else values[p.name]
        )
    return out


@dataclass(frozen=True)
class PKModel:
    key: str
    title: str
    drug: Drug
    citation: Citation
    population: StudyPopulation
    parameters: tuple[Parameter, ...]
    compartments: tuple[Compartment, ...]
    flows: tuple[Flow, ...]
    dosing_compartment: str
    analytes: tuple[Analyte, ...]
    covariate_scaling: CovariateScaling
    covariate_description: str
    reference_weight_kg: float = 70.0
    effect_site: EffectSite | None = None
    iiv_covariances: tuple[tuple[str, str, float], ...] = ()  # (param, param, covariance)
    iiv_published: bool = True
    notes: tuple[str, ...] = ()
    _by_name: Mapping[str, Parameter] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {p.name: p for p in self.parameters})
        names = {c.name for c in self.compartments}
        for flow in self.flows:
            if flow.source not in names or (flow.target is not None and flow.target not in names):
                raise ValueError(f"{self.key}: flow {flow} names an unknown compartment")
            if flow.parameter not in self._by_name:
                raise ValueError(f"{self.key}: flow parameter {flow.parameter} is not defined")

    def parameter(self, name: str) -> Parameter:
        return self._by_name[name]

    @property
    def analyte_keys(self) -> tuple[str, ...]:
        keys = tuple(a.key for a in self.analytes)
        return (*keys, EFFECT_SITE_KEY) if self.effect_site is not None else keys

    def with_effect_site(self, ke0_per_min: float, source: str) -> PKModel:
        """A copy with an effect compartment (e.g. a user-supplied ke0, labelled by ``source``)."""
        return dataclasses.replace(self, effect_site=EffectSite(ke0_per_min, source))

    @property
    def sampling_site(self) -> Sampling:
        """Where the source sampled the blood this model predicts (arterial or venous)."""
        return self.population.sampling

    @property
    def analyte(self) -> str:
        """What the plasma prediction measures: racemic ketamine or S-ketamine."""
        return ANALYTE_NAMES[self.drug]

    @property
    def sampling_description(self) -> str:
        site = self.sampling_site
        return (
            "sampling site not stated in the source" if site is Sampling.NOT_STATED else site.value
        )

    @property
    def measured_level_caution(self) -> str:
        """What to bear in mind when comparing this prediction with a measured level."""
        if self.sampling_site is Sampling.VENOUS:
            return (
                "This model predicts venous levels; a measured level from a vein is comparable, "
                "an arterial one runs higher."
            )
        where = (
            "This is an arterial prediction"
            if self.sampling_site is Sampling.ARTERIAL
            else "The source does not state whether it sampled arterial or venous blood"
        )
        return f"{where}; measured levels are usually venous, and {VENOUS_CAUTION}."

    def prediction_label(self, key: str = "plasma_ng_per_ml") -> str:
        """What one output predicts, e.g. "Plasma racemic ketamine (arterial), ng/mL"."""
        if key == EFFECT_SITE_KEY:
            what = f"Effect-site {self.analyte} (estimate)"
        elif key == "plasma_ng_per_ml":
            what = f"Plasma {self.analyte}"
        else:
            labels = {a.key: a.label for a in self.analytes}
            name = labels.get(key, key.removesuffix("_ng_per_ml")).replace(", plasma", "")
            what = f"Plasma {name}"
        return f"{what} ({self.sampling_description}), ng/mL"

    @property
    def short_name(self) -> str:
        """Author and year, e.g. "Domino 1984" (the start of the title)."""
        words: list[str] = []
        for word in self.title.split():
            words.append(word)
            if word.isdigit() and len(word) == 4:
                break
        return " ".join(words)

    @property
    def variability_source(self) -> str:
        """Whether the population's inter-individual variability is published or our default."""
        default = f"default {DEFAULT_IIV_CV:.0%} CV, not published".replace("%", " %")
        if not self.iiv_published:
            return default
        stand_ins = [
            p.name
            for p in self.parameters
            if p.iiv_omega2 is not None and "placeholder" in p.iiv_source
        ]
        text = f"published ({self.short_name})"
        if stand_ins:
            text += f"; placeholder {DEFAULT_IIV_CV:.0%} CV on {', '.join(stand_ins)}".replace(
                "%", " %"
            )
        return text

    def typical_values(self) -> dict[str, float]:
        return {p.name: p.typical_value for p in self.parameters}

    def individual_parameters(self, cov: Covariates) -> dict[str, float]:
        """The typical patient's parameters after covariate scaling (no variability)."""
        arrays = self.scaled_parameters(to_arrays(cov))
        return {name: float(value[0]) for name, value in arrays.items()}

    def scaled_parameters(self, cov: CovariateArrays) -> dict[str, FloatArray]:
        n = cov.weight_kg.shape[0]
        typical = {p.name: np.full(n, p.typical_value) for p in self.parameters}
        return self.covariate_scaling(self, typical, cov)

    def population_warnings(self, cov: CovariateArrays) -> list[str]:
        """Why (some of) these subjects lie outside the model's population, one line each."""
        pop = self.population
        n = cov.weight_kg.shape[0]
        who = "the patient" if n == 1 else "{k} of {n} subjects"
        found: list[str] = []

        def report(mask: npt.NDArray[np.bool_], what: str) -> None:
            k = int(np.count_nonzero(mask))
            if k:
                found.append(f"{self.key}: {who.format(k=k, n=n)} {what} ({pop.source})")

        if pop.weight_min_kg is not None:
            report(
                cov.weight_kg < pop.weight_min_kg,
                f"weigh less than {pop.weight_min_kg:g} kg, the lightest in {pop.description}",
            )
        if pop.weight_max_kg is not None:
            report(
                cov.weight_kg > pop.weight_max_kg,
                f"weigh more than {pop.weight_max_kg:g} kg, the heaviest in {pop.description}",
            )
        if cov.age_yr is not None:
            if pop.age_min_yr is not None:
                report(
                    cov.age_yr < pop.age_min_yr,
                    f"are younger than {pop.age_min_yr:g} y, the youngest in {pop.description}",
                )
            if pop.age_max_yr is not None:
                report(
                    cov.age_yr > pop.age_max_yr,
                    f"are older than {pop.age_max_yr:g} y, the oldest in {pop.description}",
                )
        elif pop.paediatric:
            found.append(f"{self.key}: paediatric model ({pop.description}) used without an age")
        return [
            line.replace("the patient are", "the patient is").replace(
                "the patient weigh", "the patient weighs"
            )
            for line in found
        ]

    def check_population(self, cov: CovariateArrays) -> list[str]:
        """Emit each population warning as an :class:`OutOfPopulationWarning`; return them."""
        found = self.population_warnings(cov)
        for message in found:
            warnings.warn(message, OutOfPopulationWarning, stacklevel=3)
        return found


def to_arrays(cov: Covariates) -> CovariateArrays:
    return CovariateArrays(
        weight_kg=np.array([cov.weight_kg], dtype=np.float64),
        age_yr=None if cov.age_yr is None else np.array([cov.age_yr], dtype=np.float64),
        asian_race=cov.asian_race,
    )


# --------------------------------------------------------------------------------------------
# Building blocks


def _exchange(a: str, b: str, parameter: str) -> tuple[Flow, Flow]:
    """Two-way exchange with one inter-compartmental clearance (L/min)."""
    return Flow(a, b, parameter), Flow(b, a, parameter)


def _per_hour(value_l_per_h: float) -> float:
    return value_l_per_h / MINUTES_PER_HOUR


_CENTRAL = Compartment("central", "v1_l")
_PERIPHERAL2 = Compartment("peripheral2", "v2_l")
_PERIPHERAL3 = Compartment("peripheral3", "v3_l")

_KETAMINE = Analyte("plasma_ng_per_ml", "ketamine, plasma", "central")
_ESKETAMINE = Analyte("plasma_ng_per_ml", "S-ketamine, plasma", "central")


def _mammillary(
    *,
    key: str,
    title: str,
    drug: Drug,
    citation: Citation,
    population: StudyPopulation,
    parameters: tuple[Parameter, ...],
    covariate_description: str,
    iiv_published: bool,
    notes: tuple[str, ...] = (),
    effect_site: EffectSite | None = None,
) -> PKModel:
    names = {p.name for p in parameters}
    three = "v3_l" in names
    compartments = (_CENTRAL, _PERIPHERAL2, *((_PERIPHERAL3,) if three else ()))
    flows = (
        Flow("central", None, "cl_l_per_min"),
        *_exchange("central", "peripheral2", "q2_l_per_min"),
        *(_exchange("central", "peripheral3", "q3_l_per_min") if three else ()),
    )
    if not iiv_published:
        omega2 = math.log(1 + DEFAULT_IIV_CV**2)
        parameters = tuple(
            dataclasses.replace(
                p,
                iiv_omega2=omega2,
                iiv_source=f"stated default {DEFAULT_IIV_CV:.0%} CV (not published)",
            )
            for p in parameters
        )
    return PKModel(
        key=key,
        title=title,
        drug=drug,
        citation=citation,
        population=population,
        parameters=parameters,
        compartments=compartments,
        flows=flows,
        dosing_compartment="central",
        analytes=(_KETAMINE if drug is Drug.RACEMIC_KETAMINE else _ESKETAMINE,),
        covariate_scaling=allometric_scaling,
        covariate_description=covariate_description,
        effect_site=effect_site,
        iiv_published=iiv_published,
        notes=notes,
    )


def _from_micro_constants(
    *,
    v1_l_per_kg: float,
    k10: float,
    k12: float,
    k21: float,
    k13: float | None,
    k31: float | None,
    source: str,
    reference_weight_kg: float = 70.0,
) -> tuple[Parameter, ...]:
    """Volumes and clearances at 70 kg from V1 per kg and micro-rate constants (1/min). With V1
    proportional to weight and fixed rate constants, every volume and clearance is linear in
    weight (exponent 1)."""
    v1 = v1_l_per_kg * reference_weight_kg
    params = [
        Parameter("v1_l", v1, 1.0, f"V1 = {v1_l_per_kg} L/kg; {source}"),
        Parameter("cl_l_per_min", k10 * v1, 1.0, f"CL = k10 {k10}/min x V1; {source}"),
        Parameter("q2_l_per_min", k12 * v1, 1.0, f"Q2 = k12 {k12}/min x V1; {source}"),
        Parameter("v2_l", k12 * v1 / k21, 1.0, f"V2 = Q2 / k21 {k21}/min; {source}"),
    ]
    if k13 is not None and k31 is not None:
        params += [
            Parameter("q3_l_per_min", k13 * v1, 1.0, f"Q3 = k13 {k13}/min x V1; {source}"),
            Parameter("v3_l", k13 * v1 / k31, 1.0, f"V3 = Q3 / k31 {k31}/min; {source}"),
        ]
    return tuple(params)


# --------------------------------------------------------------------------------------------
# Racemic ketamine

_PK_MD = "docs/reference/pk.md"

DOMINO_1984 = _mammillary(
    key="domino",
    title="Domino 1984 (three compartments, the STANPUMP model)",
    drug=Drug.RACEMIC_KETAMINE,
    citation=Citation(
        reference="Domino EF et al. Ketamine kinetics in unmedicated and diazepam-premedicated "
        "subjects. Clin Pharmacol Ther 1984;36:645-653",
        doi=None,
        pmid=None,
        parameters_from="values used: V1 0.063 L/kg; k10 0.4381, k12 0.5921, k13 0.5900, "
        "k21 0.2470, k31 0.0146 /min (the 4-decimal STANPUMP constants of opentiva/ketamine.py "
        "class Domino; stanpumpR R/drugs_ketamine.R and fus_anes tci/ketamine.py carry the same "
        f"constants to 3 decimals) [{_PK_MD} §0/§1a, code, not checked against the paper]. "
        "opentiva cites PMID 7198883, probably Domino 1982 "
        "[unverified], so no PMID is given here",
    ),
    population=StudyPopulation(
        description="adult subjects (Domino 1984)",
        sampling=Sampling.ARTERIAL,
        paediatric=False,
        age_min_yr=18.0,
        age_max_yr=None,
        weight_min_kg=None,
        weight_max_kg=None,
        source=f"adult study per its title; arterial-based per {_PK_MD} §6; no age or weight "
        "range recorded",
    ),
    parameters=_from_micro_constants(
        v1_l_per_kg=0.063,
        k10=0.4381,
        k12=0.5921,
        k21=0.2470,
        k13=0.5900,
        k31=0.0146,
        source=f"{_PK_MD} §0/§1a [code: opentiva, stanpumpR]",
    ),
    covariate_description="V1 = 0.063 L/kg x weight with fixed rate constants: every volume and "
    "clearance linear in weight",
    iiv_published=False,
    notes=(
        "No published ke0 (opentiva 0.652/min, stanpumpR tPeak 3 min and fus_anes 1.0/min are "
        f"unsourced, {_PK_MD} §1a); pass a ke0 explicitly for an effect site.",
    ),
)

CLEMENTS_1981 = _mammillary(
    key="clements",
    title="Clements & Nimmo 1981 (two compartments, 250 µg/kg bolus)",
    drug=Drug.RACEMIC_KETAMINE,
    citation=Citation(
        reference="Clements JA, Nimmo WS. Pharmacokinetics and analgesic effect of ketamine in "
        "man. Br J Anaesth 1981",
        doi=None,
        pmid="7459184",
        parameters_from=f"opentiva/ketamine.py class Clements250 [{_PK_MD} §1a, code]; "
        "unverified against the paper",
    ),
    population=StudyPopulation(
        description="adult volunteers (Clements 1981)",
        sampling=Sampling.NOT_STATED,
        paediatric=False,
        age_min_yr=18.0,
        age_max_yr=None,
        weight_min_kg=None,
        weight_max_kg=None,
        source=f"{_PK_MD} §1a records no population details beyond adults",
    ),
    parameters=_from_micro_constants(
        v1_l_per_kg=1.7522,
        k10=0.0109,
        k12=0.0186,
        k21=0.0137,
        k13=None,
        k31=None,
        source=f"{_PK_MD} §1a [code: opentiva Clements250]",
    ),
    covariate_description="V1 = 1.7522 L/kg x weight with fixed rate constants (linear in weight)",
    iiv_published=False,
    notes=("V1 of 1.75 L/kg is odd for a central compartment (pk.md §1a).",),
)

HIJAZI_2003 = _mammillary(
    key="hijazi",
    title="Hijazi 2003 (two compartments, ICU patients with brain or spinal injury)",
    drug=Drug.RACEMIC_KETAMINE,
    citation=Citation(
        reference="Hijazi Y et al. Br J Anaesth 2003;90:155",
        doi=None,
        pmid=None,
        parameters_from=f"opentiva/ketamine.py class Hijazi [{_PK_MD} §1a, code]; unverified",
    ),
    population=StudyPopulation(
        description="adult ICU patients with brain or spinal injury (Hijazi 2003)",
        sampling=Sampling.NOT_STATED,
        paediatric=False,
        age_min_yr=18.0,
        age_max_yr=None,
        weight_min_kg=None,
        weight_max_kg=None,
        source=f"{_PK_MD} §1a (opentiva's age_upper 18 looks wrong for an adult ICU study)",
    ),
    parameters=_from_micro_constants(
        v1_l_per_kg=1.08,
        k10=0.0333,
        k12=0.0088,
        k21=0.0030,
        k13=None,
        k31=None,
        source=f"{_PK_MD} §1a [code: opentiva Hijazi]",
    ),
    covariate_description="V1 = 1.08 L/kg x weight with fixed rate constants (linear in weight)",
    iiv_published=False,
    notes=("Critically ill population: not representative of outpatient infusions.",),
)

_HERD_SRC = f"{_PK_MD} §1a [code: opentiva Herd]"
HERD_2007 = _mammillary(
    key="herd",
    title="Herd 2007 (two compartments, PAEDIATRIC: children 1-14 y)",
    drug=Drug.RACEMIC_KETAMINE,
    citation=Citation(
        reference="Herd DW et al. Paediatr Anaesth 2007;17:831",
        doi=None,
        pmid=None,
        parameters_from=_HERD_SRC,
    ),
    population=StudyPopulation(
        description="children 1-14 y (Herd 2007)",
        sampling=Sampling.NOT_STATED,
        paediatric=True,
        age_min_yr=1.0,
        age_max_yr=14.0,
        weight_min_kg=None,
        weight_max_kg=None,
        source=f"{_PK_MD} §1a",
    ),
    parameters=(
        Parameter("v1_l", 38.7, 1.0, f"V1 38.7 L/70 kg; {_HERD_SRC}"),
        Parameter("v2_l", 102.0, 1.0, f"V2 102 L/70 kg; {_HERD_SRC}"),
        Parameter("cl_l_per_min", _per_hour(90.0), 0.75, f"CL 90 L/h/70 kg; {_HERD_SRC}"),
        Parameter("q2_l_per_min", _per_hour(215.0), 0.75, f"Q 215 L/h/70 kg; {_HERD_SRC}"),
    ),
    covariate_description="volumes x weight/70; clearances x (weight/70)^0.75",
    iiv_published=False,
    notes=(
        "Paediatric model. Herd 2007 also modelled norketamine; opentiva carries only the "
        "parent, so no metabolite here.",
    ),
)

_HORNIK_SRC = f"{_PK_MD} §1a [code: opentiva Hornik]"
HORNIK_2018 = _mammillary(
    key="hornik",
    title="Hornik 2018 (two compartments, PAEDIATRIC)",
    drug=Drug.RACEMIC_KETAMINE,
    citation=Citation(
        reference="Hornik CP et al. J Clin Pharmacol 2018",
        doi="10.1002/jcph.1116",
        pmid=None,
        parameters_from=_HORNIK_SRC,
    ),
    population=StudyPopulation(
        description="children (Hornik 2018)",
        sampling=Sampling.NOT_STATED,
        paediatric=True,
        age_min_yr=None,
        age_max_yr=18.0,
        weight_min_kg=None,
        weight_max_kg=None,
        source=f"{_PK_MD} §1a says 'children'; the exact age range is not recorded",
    ),
    parameters=(
        Parameter("v1_l", 32.8, 1.0, f"V1 32.8 L/70 kg; {_HORNIK_SRC}"),
        Parameter("v2_l", 152.0, 1.0, f"V2 152 L/70 kg; {_HORNIK_SRC}"),
        Parameter("cl_l_per_min", _per_hour(38.9), 0.75, f"CL 38.9 L/h/70 kg; {_HORNIK_SRC}"),
        Parameter("q2_l_per_min", _per_hour(54.9), 0.75, f"Q 54.9 L/h/70 kg; {_HORNIK_SRC}"),
    ),
    covariate_description="volumes x weight/70; clearances x (weight/70)^0.75",
    iiv_published=False,
    notes=("Paediatric model.",),
)

_KAMP_SRC = f"{_PK_MD} §1a [code: opentiva Klamp]"
KAMP_2020 = _mammillary(
    key="kamp",
    title="Kamp 2020 (three compartments, pooled raw data, arterial central compartment)",
    drug=Drug.RACEMIC_KETAMINE,
    citation=Citation(
        reference="Kamp J et al. Ketamine pharmacokinetics: a systematic review of the literature, "
        "meta-analysis, and population analysis. Anesthesiology 2020",
        doi="10.1097/ALN.0000000000003577",
        pmid="32997732",
        parameters_from=_KAMP_SRC,
    ),
    population=StudyPopulation(
        description="pooled adult raw data (Kamp 2020)",
        sampling=Sampling.ARTERIAL,
        paediatric=False,
        age_min_yr=18.0,
        age_max_yr=None,
        weight_min_kg=None,
        weight_max_kg=None,
        source=f"{_PK_MD} §1a/§6 (arterial central compartment); no ranges recorded",
    ),
    parameters=(
        Parameter("v1_l", 25.0, 1.0, f"V1 25 L/70 kg; {_KAMP_SRC}"),
        Parameter("v2_l", 56.0, 1.0, f"V2 56 L/70 kg; {_KAMP_SRC}"),
        Parameter("v3_l", 157.0, 1.0, f"V3 157 L/70 kg; {_KAMP_SRC}"),
        Parameter("cl_l_per_min", _per_hour(84.0), 1.0, f"CL 84 L/h/70 kg; {_KAMP_SRC}"),
        Parameter("q2_l_per_min", _per_hour(161.0), 1.0, f"Q2 161 L/h/70 kg; {_KAMP_SRC}"),
        Parameter("q3_l_per_min", _per_hour(79.0), 1.0, f"Q3 79 L/h/70 kg; {_KAMP_SRC}"),
    ),
    covariate_description="all volumes and clearances x weight/70",
    iiv_published=False,
    notes=(
        "The published raw-data model has two venous delay compartments, not included "
        "(pk.md §1a). The meta-regression found no covariate effect (pk.md §6).",
    ),
)

# --------------------------------------------------------------------------------------------
# Esketamine

_OLOFSEN_KE0 = EffectSite(
    ke0_per_min=math.log(2) / 6.1,
    source="Olofsen 2012 Anesthesiology 117:353 (S-ketamine): mean blood-effect-site "
    f"t½ke0 6.1 min across endpoints (range 0-11.8 min) [{_PK_MD} §1d, read]; an estimate",
)

_OTTO = "nlmixr2lib Otto_2021_s_ketamine.R (Otto 2021 Table 3, supplement)"
_FANTA_SRC = f"Fanta 2015 values as fixed in Otto 2021 [{_PK_MD} §1a, code: {_OTTO}]"
FANTA_2015 = PKModel(
    key="fanta",
    title="Fanta 2015 S-ketamine (three compartments, venous) with Otto 2021 S-norketamine",
    drug=Drug.ESKETAMINE,
    citation=Citation(
        reference="Fanta S et al. Population pharmacokinetics of S-ketamine and norketamine in "
        "healthy volunteers after intravenous and oral dosing. Eur J Clin Pharmacol "
        "2015;71:441-447; metabolite: Otto ME et al. Eur J Clin Pharmacol 2021;77:1181-1192 "
        "(doi 10.1007/s00228-021-03104-1)",
        doi="10.1007/s00228-015-1826-y",
        pmid=None,
        parameters_from=f"{_PK_MD} §1a/§1b [code: {_OTTO}]",
    ),
    population=StudyPopulation(
        description="healthy adult volunteers (Fanta 2015: 11 men; Otto 2021: 48 adults, mean "
        "age 23-24 y, mean weight 68-71 kg)",
        sampling=Sampling.VENOUS,
        paediatric=False,
        age_min_yr=18.0,
        age_max_yr=None,
        weight_min_kg=None,
        weight_max_kg=None,
        source=f"{_OTTO} population block; venous per {_PK_MD} §1a",
    ),
    parameters=(
        Parameter(
            "v1_l",
            133.0,
            1.0,
            f"V1 133 L/70 kg; {_FANTA_SRC}",
            0.084,
            f"Otto 2021 re-estimated omega2 V1 0.084 [{_PK_MD} §1b]",
        ),
        Parameter(
            "cl_l_per_min",
            _per_hour(95.2),
            0.75,
            f"CL 95.2 L/h/70 kg; {_FANTA_SRC}",
            0.026,
            f"Otto 2021 re-estimated omega2 CL 0.026 [{_PK_MD} §1b]",
        ),
        Parameter("v2_l", 187.0, 0.0, f"Vp1 187 L (not weight-scaled); {_FANTA_SRC}"),
        Parameter("q2_l_per_min", _per_hour(23.2), 0.0, f"Q1 23.2 L/h (not scaled); {_FANTA_SRC}"),
        Parameter("v3_l", 98.8, 0.0, f"Vp2 98.8 L (not weight-scaled); {_FANTA_SRC}"),
        Parameter("q3_l_per_min", _per_hour(157.0), 0.0, f"Q2 157 L/h (not scaled); {_FANTA_SRC}"),
        Parameter(
            "nk_v_l",
            98.6,
            1.0,
            f"S-norketamine V 98.6 L/70 kg; Otto 2021 [{_PK_MD} §1b]",
            0.040,
            f"omega2 0.040 [{_PK_MD} §1b]",
        ),
        Parameter(
            "nk_cl_l_per_min",
            _per_hour(57.7),
            0.75,
            f"S-norketamine CL 57.7 L/h/70 kg; Otto 2021 [{_PK_MD} §1b]",
            0.103,
            f"omega2 0.103 [{_PK_MD} §1b]",
        ),
        Parameter("nk_vp_l", 160.0, 0.0, f"S-norketamine Vp 160 L; Otto 2021 [{_PK_MD} §1b]"),
        Parameter(
            "nk_q_l_per_min",
            _per_hour(42.8),
            0.0,
            f"S-norketamine Q 42.8 L/h; Otto 2021 [{_PK_MD} §1b]",
        ),
    ),
    compartments=(
        _CENTRAL,
        _PERIPHERAL2,
        _PERIPHERAL3,
        Compartment("nk_central", "nk_v_l"),
        Compartment("nk_peripheral", "nk_vp_l"),
    ),
    flows=(
        # 100 % of S-ketamine clearance forms S-norketamine (Otto 2021, pk.md §1b)
        Flow("central", "nk_central", "cl_l_per_min"),
        *_exchange("central", "peripheral2", "q2_l_per_min"),
        *_exchange("central", "peripheral3", "q3_l_per_min"),
        Flow("nk_central", None, "nk_cl_l_per_min"),
        *_exchange("nk_central", "nk_peripheral", "nk_q_l_per_min"),
    ),
    dosing_compartment="central",
    analytes=(
        _ESKETAMINE,
        Analyte(
            "s_norketamine_ng_per_ml",
            "S-norketamine, plasma",
            "nk_central",
            1.0,
            "Otto 2021 carries S-norketamine in S-ketamine mass units with no "
            f"molar-mass correction, fitted to measured ng/mL [{_PK_MD} §1b]",
        ),
    ),
    covariate_scaling=allometric_scaling,
    covariate_description="central volumes x weight/70, elimination clearances x "
    "(weight/70)^0.75; peripheral volumes and inter-compartmental clearances not scaled",
    iiv_covariances=(("v1_l", "cl_l_per_min", 0.02261), ("nk_v_l", "nk_cl_l_per_min", 0.04456)),
    notes=("Venous model: under-predicts arterial peaks during infusion (pk.md §2).",),
)

_SIMONS = "nlmixr2lib Simons_2022_s_ketamine.R (Simons 2022 Table 4)"
_SIMONS_SRC = f"{_PK_MD} §1a [code: {_SIMONS}]"
SIMONS_2022 = PKModel(
    key="simons",
    title="Simons 2022 S-ketamine (three compartments, arterial) with S-norketamine",
    drug=Drug.ESKETAMINE,
    citation=Citation(
        reference="Simons P et al. S-Ketamine oral thin film - part 1: population "
        "pharmacokinetics of S-ketamine, S-norketamine and S-hydroxynorketamine. Front Pain Res "
        "2022;3:946486",
        doi="10.3389/fpain.2022.946486",
        pmid=None,
        parameters_from=f"{_PK_MD} §1a/§1b [code: {_SIMONS}]",
    ),
    population=StudyPopulation(
        description="20 healthy adult volunteers, 19-32 y, 53-93 kg (Simons 2022)",
        sampling=Sampling.ARTERIAL,
        paediatric=False,
        age_min_yr=19.0,
        age_max_yr=32.0,
        weight_min_kg=53.0,
        weight_max_kg=93.0,
        source=f"{_SIMONS} population block (Simons 2022 Table 1)",
    ),
    parameters=(
        Parameter(
            "v1_l",
            11.6,
            1.0,
            f"VK1 11.6 L/70 kg; {_SIMONS_SRC}",
            0.057,
            f"omega2 0.057 [{_SIMONS}]",
        ),
        Parameter("v2_l", 39.0, 1.0, f"VK2 39.0 L/70 kg; {_SIMONS_SRC}"),
        Parameter("v3_l", 174.0, 1.0, f"VK3 174 L/70 kg; {_SIMONS_SRC}"),
        Parameter(
            "cl_l_per_min",
            1.48,
            0.75,
            f"CLK1 1.48 L/min/70 kg; {_SIMONS_SRC}",
            0.029,
            f"omega2 0.029 [{_SIMONS}]",
        ),
        Parameter("q2_l_per_min", 2.43, 0.75, f"CLK2 2.43 L/min/70 kg; {_SIMONS_SRC}"),
        Parameter(
            "q3_l_per_min",
            1.21,
            0.75,
            f"CLK3 1.21 L/min/70 kg; {_SIMONS_SRC}",
            0.026,
            f"omega2 0.026 [{_SIMONS}]",
        ),
        Parameter(
            "mtt_k_to_nk_min",
            20.1,
            0.0,
            f"mean transit time of the two-compartment metabolism chain 20.1 min [{_SIMONS}]",
            0.021,
            f"omega2 0.021 [{_SIMONS}]",
        ),
        Parameter("nk_vp_l", 221.0, 1.0, f"S-norketamine VN2 221 L/70 kg [{_PK_MD} §1b]"),
        Parameter(
            "nk_cl_l_per_min",
            1.00,
            0.75,
            f"S-norketamine CLN1 1.00 L/min [{_PK_MD} §1b]",
            0.050,
            f"omega2 0.050 [{_SIMONS}]",
        ),
        Parameter("nk_q_l_per_min", 2.63, 0.75, f"S-norketamine CLN2 2.63 L/min [{_PK_MD} §1b]"),
    ),
    compartments=(
        _CENTRAL,
        _PERIPHERAL2,
        _PERIPHERAL3,
        Compartment("metabolism_1", None),
        Compartment("metabolism_2", None),
        # S-norketamine central volume equals the S-ketamine central volume (VN1 = VK1)
        Compartment("nk_central", "v1_l"),
        Compartment("nk_peripheral", "nk_vp_l"),
    ),
    flows=(
        Flow("central", "metabolism_1", "cl_l_per_min"),
        *_exchange("central", "peripheral2", "q2_l_per_min"),
        *_exchange("central", "peripheral3", "q3_l_per_min"),
        Flow(
            "metabolism_1",
            "metabolism_2",
            "mtt_k_to_nk_min",
            FlowKind.MEAN_TRANSIT_TIME,
            chain_length=2,
            rate_multiplier=1 + CHAIN_SPLIT,
        ),
        # 80 % of metabolised S-ketamine forms S-norketamine [pk.md §1b, Simons 2022 Methods]
        Flow(
            "metabolism_2",
            "nk_central",
            "mtt_k_to_nk_min",
            FlowKind.MEAN_TRANSIT_TIME,
            fraction_to_target=0.8,
            chain_length=2,
            rate_multiplier=1 / (1 + CHAIN_SPLIT),
        ),
        Flow("nk_central", None, "nk_cl_l_per_min"),
        *_exchange("nk_central", "nk_peripheral", "nk_q_l_per_min"),
    ),
    dosing_compartment="central",
    analytes=(
        _ESKETAMINE,
        Analyte(
            "s_norketamine_ng_per_ml",
            "S-norketamine, plasma",
            "nk_central",
            NORKETAMINE_MOLAR_MASS_G_PER_MOL / KETAMINE_MOLAR_MASS_G_PER_MOL,
            "Simons 2022 conserves moles (states in S-ketamine mass, concentrations in "
            f"nmol/mL); converted with 223.70/237.73 g/mol [{_PK_MD} §2]",
        ),
    ),
    covariate_scaling=allometric_scaling,
    covariate_description="volumes x weight/70, clearances x (weight/70)^0.75 (exponents "
    f"assumed: not printed in the paper, {_PK_MD} §1a)",
    effect_site=_OLOFSEN_KE0,
    notes=(
        "S-hydroxynorketamine is not modelled.",
        "ke0 from Olofsen 2012 (same group, arterial S-ketamine): an estimate.",
    ),
)


_PR = "nlmixr2lib PerezRuixo_2020_esketamine.R (Perez-Ruixo 2021 Table 3)"
_PR_SRC = f"{_PK_MD} §1b [code: {_PR}]"


def _perez_ruixo_scaling(
    model: PKModel, values: Mapping[str, FloatArray], cov: CovariateArrays
) -> dict[str, FloatArray]:
    """Body weight was not retained. Hepatic blood flow falls by 2.19 L/h per year above 60 y;
    Asian race multiplies kel by 0.36 and CLn/F by 0.81 [pk.md §1b]."""
    out = dict(values)
    if cov.age_yr is not None:
        out["qh_l_per_min"] = values["qh_l_per_min"] - _per_hour(2.19) * np.maximum(
            cov.age_yr - 60.0, 0.0
        )
        if np.any(out["qh_l_per_min"] <= 0):
            raise ValueError("perez-ruixo: age gives a non-positive hepatic blood flow")
    if cov.asian_race:
        out["kel_per_min"] = values["kel_per_min"] * 0.36
        out["nk_cl_l_per_min"] = values["nk_cl_l_per_min"] * 0.81
    return out


PEREZ_RUIXO_2021 = PKModel(
    key="perez-ruixo",
    title="Perez-Ruixo 2021 esketamine (three compartments + hepatic) with noresketamine",
    drug=Drug.ESKETAMINE,
    citation=Citation(
        reference="Perez-Ruixo C et al. Population pharmacokinetics of esketamine nasal spray and "
        "its metabolite noresketamine in healthy subjects and patients with treatment-resistant "
        "depression. Clin Pharmacokinet 2021;60:501-516",
        doi="10.1007/s40262-020-00953-4",
        pmid=None,
        parameters_from=f"{_PK_MD} §1b [code: {_PR}]",
    ),
    population=StudyPopulation(
        description="820 healthy adults and TRD patients, 18-86 y, 39-170 kg (Perez-Ruixo 2021)",
        sampling=Sampling.NOT_STATED,
        paediatric=False,
        age_min_yr=18.0,
        age_max_yr=86.0,
        weight_min_kg=39.0,
        weight_max_kg=170.0,
        source=f"{_PR} population block (Perez-Ruixo 2021 Table 2)",
    ),
    parameters=(
        Parameter("v1_l", 192.0, 0.0, f"Vc 192 L; {_PR_SRC}", 0.0730, f"CV 27.5 % [{_PR}]"),
        Parameter("q2_l_per_min", _per_hour(84.3), 0.0, f"Q1 84.3 L/h; {_PR_SRC}"),
        Parameter("v2_l", 143.0, 0.0, f"Vp1 143 L; {_PR_SRC}", 0.218, f"CV 49.3 % [{_PR}]"),
        Parameter("q3_l_per_min", _per_hour(37.6), 0.0, f"Q2 37.6 L/h; {_PR_SRC}"),
        Parameter("v3_l", 417.0, 0.0, f"Vp2 417 L; {_PR_SRC}"),
        Parameter(
            "qh_l_per_min",
            _per_hour(151.0),
            0.0,
            f"Qh 151 L/h; {_PR_SRC}",
            0.0524,
            f"CV 23.2 % [{_PR}]",
        ),
        Parameter("vh_l", 101.0, 0.0, f"Vh 101 L; {_PR_SRC}", 0.113, f"CV 34.6 % [{_PR}]"),
        Parameter(
            "kel_per_min",
            _per_hour(1.11),
            0.0,
            f"kel 1.11 /h; {_PR_SRC}",
            0.892,
            f"CV 120 % [{_PR}]",
        ),
        Parameter(
            "kmet_per_min",
            _per_hour(2.77),
            0.0,
            f"kmet 2.77 /h; {_PR_SRC}",
            0.0862,
            f"placeholder CV 30 %: the paper's Table 3 leaves it blank [{_PR}]",
        ),
        Parameter("nk_v_l", 70.0, 0.0, f"Vcn/F 70 L; {_PR_SRC}", 0.0955, f"CV 31.6 % [{_PR}]"),
        Parameter(
            "nk_cl_l_per_min",
            _per_hour(38.0),
            0.0,
            f"CLn/F 38 L/h; {_PR_SRC}",
            0.0625,
            f"CV 25.4 % [{_PR}]",
        ),
        Parameter("nk_vp_l", 115.0, 0.0, f"Vpn/F 115 L; {_PR_SRC}"),
        Parameter("nk_q_l_per_min", _per_hour(26.1), 0.0, f"Q3/F 26.1 L/h; {_PR_SRC}"),
    ),
    compartments=(
        _CENTRAL,
        _PERIPHERAL2,
        _PERIPHERAL3,
        Compartment("liver", "vh_l"),
        Compartment("nk_central", "nk_v_l"),
        Compartment("nk_peripheral", "nk_vp_l"),
    ),
    flows=(
        *_exchange("central", "peripheral2", "q2_l_per_min"),
        *_exchange("central", "peripheral3", "q3_l_per_min"),
        *_exchange("central", "liver", "qh_l_per_min"),
        Flow("liver", None, "kel_per_min", FlowKind.RATE_CONSTANT),
        Flow("liver", "nk_central", "kmet_per_min", FlowKind.RATE_CONSTANT),
        Flow("nk_central", None, "nk_cl_l_per_min"),
        *_exchange("nk_central", "nk_peripheral", "nk_q_l_per_min"),
    ),
    dosing_compartment="central",
    analytes=(
        _ESKETAMINE,
        Analyte(
            "s_norketamine_ng_per_ml",
            "noresketamine (S-norketamine), plasma, apparent",
            "nk_central",
            1.0,
            "apparent metabolite volumes (/F) fitted to measured ng/mL; "
            f"over-predicts noresketamine AUC by about 1.41 = 1/F_met [{_PK_MD} §1b]",
        ),
    ),
    covariate_scaling=_perez_ruixo_scaling,
    covariate_description="no weight effect; Qh - 2.19 L/h per year above 60 y; Asian race: kel "
    "x0.36, CLn/F x0.81",
    reference_weight_kg=74.0,  # median weight of the population (Table 2); unused for scaling
    notes=("Fitted mainly on intranasal dosing; IV data from one study (28 mg).",),
)

_FLINT_CODE = "nlmixr2lib Flint_2017_s_ketamine.R"
_FLINT_SRC = f"{_PK_MD} §1a [code: {_FLINT_CODE}]"
FLINT_2017 = _mammillary(
    key="flint",
    title="Flint 2017 S-ketamine (two compartments, PAEDIATRIC intensive care)",
    drug=Drug.ESKETAMINE,
    citation=Citation(
        reference="Flint RB et al. S-ketamine in children in the PICU, 2017",
        doi=None,
        pmid=None,
        parameters_from=_FLINT_SRC,
    ),
    population=StudyPopulation(
        description="PICU children 0.02-12.5 y (Flint 2017)",
        sampling=Sampling.NOT_STATED,
        paediatric=True,
        age_min_yr=0.02,
        age_max_yr=12.5,
        weight_min_kg=None,
        weight_max_kg=None,
        source=f"{_PK_MD} §1a",
    ),
    parameters=(
        Parameter("v1_l", 7.73, 1.0, f"V1 7.73 L/70 kg; {_FLINT_SRC}"),
        Parameter("v2_l", 545.0, 1.0, f"V2 545 L/70 kg; {_FLINT_SRC}"),
        Parameter(
            "cl_l_per_min",
            _per_hour(112.0),
            0.75,
            f"CL 112 L/h/70 kg; {_FLINT_SRC}",
            math.log(1 + 0.402**2),
            f"CV 40.2 % (Flint 2017 Table 3 as encoded in {_FLINT_CODE}; {_PK_MD} §1b: IIV CL "
            "40 %); the paper estimated no variability on the other parameters",
        ),
        Parameter("q2_l_per_min", _per_hour(196.0), 0.75, f"Q 196 L/h/70 kg; {_FLINT_SRC}"),
    ),
    covariate_description="volumes x weight/70, clearances x (weight/70)^0.75",
    iiv_published=True,
    notes=(
        "Paediatric model; extrapolating to adults is weak (pk.md §1a).",
        "Published variability: only S-ketamine clearance (CV 40.2 %); the S-norketamine "
        "clearance variability (CV 104 %, r = 0.506) belongs to a metabolite not modelled here.",
    ),
)


MODELS: Mapping[str, PKModel] = {
    m.key: m
    for m in (
        DOMINO_1984,
        CLEMENTS_1981,
        HIJAZI_2003,
        KAMP_2020,
        SIMONS_2022,
        FANTA_2015,
        PEREZ_RUIXO_2021,
        HERD_2007,
        HORNIK_2018,
        FLINT_2017,
    )
}
DEFAULT_MODEL = "domino"


def get_model(key: str) -> PKModel:
    """The model registered under ``key`` (see ``MODELS``); ValueError names the known keys."""
    try:
        return MODELS[key]
    except KeyError:
        raise ValueError(f"unknown model {key!r}; known: {', '.join(MODELS)}") from None
