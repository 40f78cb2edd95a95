"""Ketamine infusion dosing with drug-library guardrails, as smart infusion pumps do.

Precision: every quantity is a Python ``float`` (IEEE double), computed without rounding
(``dose_mg = weight_basis_kg * dose_mg_per_kg`` exactly as floating point gives it). For the pump
and the syringe the result also carries *displayed* values rounded to the stated resolution
(half-even); whenever a displayed value differs from the exact one, a warning says so. Nothing is
clamped: a value outside a hard limit is refused (:class:`HardLimitError`); outside a soft limit it
needs an override reason from an allowed role (:class:`OverrideRequiredError` otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from ketaflow.clinical import sources
from ketaflow.clinical.common import Indication, Role, Sex
from ketaflow.clinical.errors import ClinicalInputError, HardLimitError, OverrideRequiredError


class WeightBasis(StrEnum):
    """Which weight the mg/kg dose is multiplied by; always chosen explicitly by the clinician."""

    ACTUAL = "actual"
    IDEAL = "ideal"  # Devine 1974
    ADJUSTED = "adjusted"  # IBW + 0.4 x (actual - IBW)

    @property
    def label(self) -> str:
        return WEIGHT_BASIS_LABELS[self]


WEIGHT_BASIS_LABELS: Final[Mapping[WeightBasis, str]] = MappingProxyType(
    {
        WeightBasis.ACTUAL: "Actual body weight",
        WeightBasis.IDEAL: "Ideal body weight (Devine)",
        WeightBasis.ADJUSTED: "Adjusted body weight",
    }
)


@dataclass(frozen=True)
class LimitSet:
    """Soft and hard limits on one quantity; ``None`` means no limit on that side.

    A value is within the soft range if ``soft_min <= value <= soft_max``; the hard range likewise.
    The hard range must contain the soft range.
    """

    unit: str
    hard_min: float | None
    soft_min: float | None
    soft_max: float | None
    hard_max: float | None

    def __post_init__(self) -> None:
        bounds = [
            b for b in (self.hard_min, self.soft_min, self.soft_max, self.hard_max) if b is not None
        ]
        if bounds != sorted(bounds):
            raise ClinicalInputError(
                f"limits in {self.unit} are not ordered hard <= soft: {bounds}"
            )


def check_limit(name: str, value: float, limits: LimitSet) -> tuple[str | None, str | None]:
    """Return (hard breach message, soft breach message) of ``value`` against ``limits``."""
    unit = limits.unit
    if limits.hard_min is not None and value < limits.hard_min:
        return f"{name} {value:g} {unit} is below the hard minimum {limits.hard_min:g} {unit}", None
    if limits.hard_max is not None and value > limits.hard_max:
        return f"{name} {value:g} {unit} is above the hard maximum {limits.hard_max:g} {unit}", None
    if limits.soft_min is not None and value < limits.soft_min:
        return None, f"{name} {value:g} {unit} is below the soft minimum {limits.soft_min:g} {unit}"
    if limits.soft_max is not None and value > limits.soft_max:
        return None, f"{name} {value:g} {unit} is above the soft maximum {limits.soft_max:g} {unit}"
    return None, None


@dataclass(frozen=True)
class DrugLibraryEntry:
    """One drug-library entry: a drug for one indication, its defaults and its limits."""

    drug: str
    indication: Indication
    default_dose_mg_per_kg: float
    default_duration_min: float
    dose_mg_per_kg_limits: LimitSet
    total_dose_mg_limits: LimitSet
    duration_min_limits: LimitSet
    max_final_concentration_mg_per_ml: float
    override_roles: frozenset[Role]
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Adjusted body weight = IBW + factor x (actual - IBW); a clinic setting (Pai & Paloucek 2000
    # 0.4 [RECALLED, unverified]).
    adjusted_bw_factor: float = 0.4

    def __post_init__(self) -> None:
        checks = (
            ("default dose", self.default_dose_mg_per_kg, self.dose_mg_per_kg_limits),
            ("default duration", self.default_duration_min, self.duration_min_limits),
        )
        for name, value, limits in checks:
            hard, soft = check_limit(name, value, limits)
            if hard or soft:
                raise ClinicalInputError(f"drug library entry {self.drug}: {hard or soft}")


# Shared numbers for racemic ketamine; each names its source (clinical.md sections 1-2).
_DOSE_MG_PER_KG_LIMITS: Final = LimitSet(
    unit="mg/kg",
    hard_min=0.1,  # Fava 2018: lowest dose studied (0.1 mg/kg); below it likely an entry error
    soft_min=0.2,  # Abdallah 2022: 0.2 mg/kg arm; lower needs an override
    soft_max=0.5,  # Feder 2014/2021, Murrough 2013, Zarate 2006: 0.5 mg/kg standard protocol
    hard_max=1.0,  # Fava 2018 highest dose; ASKP 2018 usual starting dose 0.5-1 mg/kg
)
_TOTAL_DOSE_MG_LIMITS: Final = LimitSet(
    unit="mg",
    hard_min=None,
    soft_min=None,
    # Derived (clinic policy): 0.5 mg/kg x 115 kg, the upper weight in the ICU trial NCT05803551.
    soft_max=57.5,
    # Derived (clinic policy): 1.0 mg/kg (Fava 2018 maximum) x 115 kg (NCT05803551 upper weight).
    hard_max=115.0,
)
_DURATION_MIN_LIMITS: Final = LimitSet(
    unit="min",
    # Clinic policy: no published floor; the label warns that rapid IV doses cause respiratory
    # depression, so faster than 30 min is refused (Ketalar prescribing information).
    hard_min=30.0,
    soft_min=40.0,  # Feder 2014/2021, Zarate 2006, Fava 2018: 40 min
    soft_max=60.0,  # ASKP 2018: 40-60 min
    hard_max=120.0,  # Clinic policy: twice the longest usual duration (no published ceiling)
)
# Ketalar label: the 100 mg/mL strength must be diluted before IV use [SECONDARY: droracle];
# the 50 mg/mL strength may be given IV, so a final concentration above 50 mg/mL is refused.
_MAX_FINAL_CONCENTRATION_MG_PER_ML: Final = 50.0
# Who may override a soft limit (clinic policy). The one place this is decided: the drug library
# entries carry it and the accounts app grants its OVERRIDE_SOFT_LIMIT permission from it.
SOFT_LIMIT_OVERRIDE_ROLES: Final = frozenset({Role.PRESCRIBER, Role.MEDICAL_DIRECTOR})

KETAMINE_PTSD: Final = DrugLibraryEntry(
    drug="ketamine hydrochloride (racemic)",
    indication=Indication.PTSD,
    default_dose_mg_per_kg=0.5,  # Feder 2014; Feder 2021: 0.5 mg/kg
    default_duration_min=40.0,  # Feder 2014: over 40 min
    dose_mg_per_kg_limits=_DOSE_MG_PER_KG_LIMITS,
    total_dose_mg_limits=_TOTAL_DOSE_MG_LIMITS,
    duration_min_limits=_DURATION_MIN_LIMITS,
    max_final_concentration_mg_per_ml=_MAX_FINAL_CONCENTRATION_MG_PER_ML,
    override_roles=SOFT_LIMIT_OVERRIDE_ROLES,
    sources=MappingProxyType(
        {
            "default": f"{sources.FEDER_2014}; {sources.FEDER_2021}",
            "dose_mg_per_kg": f"{sources.FAVA_2018}; {sources.ABDALLAH_2022}; {sources.ASKP_2018}",
            "total_dose_mg": f"{sources.CLINIC_POLICY}; {sources.ICU_TRIAL_NCT05803551}",
            "duration_min": f"{sources.ASKP_2018}; {sources.KETAMINE_LABEL}; clinic policy",
        }
    ),
)
KETAMINE_DEPRESSION: Final = DrugLibraryEntry(
    drug="ketamine hydrochloride (racemic)",
    indication=Indication.DEPRESSION,
    default_dose_mg_per_kg=0.5,  # Zarate 2006; Murrough 2013; ELEKT-D 2023: 0.5 mg/kg
    default_duration_min=40.0,  # Zarate 2006; Murrough 2013 (AJP); ELEKT-D 2023: over 40 min
    dose_mg_per_kg_limits=_DOSE_MG_PER_KG_LIMITS,
    total_dose_mg_limits=_TOTAL_DOSE_MG_LIMITS,
    duration_min_limits=_DURATION_MIN_LIMITS,
    max_final_concentration_mg_per_ml=_MAX_FINAL_CONCENTRATION_MG_PER_ML,
    override_roles=SOFT_LIMIT_OVERRIDE_ROLES,
    sources=MappingProxyType(
        {
            "default": f"{sources.MURROUGH_2013}; {sources.ELEKT_D_2023}",
            "dose_mg_per_kg": f"{sources.FAVA_2018}; {sources.ABDALLAH_2022}; {sources.ASKP_2018}",
            "total_dose_mg": f"{sources.CLINIC_POLICY}; {sources.ICU_TRIAL_NCT05803551}",
            "duration_min": f"{sources.ASKP_2018}; {sources.KETAMINE_LABEL}; clinic policy",
        }
    ),
)
DRUG_LIBRARY: Final[Mapping[Indication, DrugLibraryEntry]] = MappingProxyType(
    {Indication.PTSD: KETAMINE_PTSD, Indication.DEPRESSION: KETAMINE_DEPRESSION}
)

# Entry-error guards (not clinical limits): values no adult patient has.
WEIGHT_KG_RANGE: Final = (20.0, 400.0)  # ENTRY_GUARD
HEIGHT_CM_RANGE: Final = (100.0, 250.0)  # ENTRY_GUARD
# Devine 1974: IBW = 50 kg (male) / 45.5 kg (female) + 2.3 kg per inch over 5 feet.
DEVINE_BASE_KG: Final[Mapping[Sex, float]] = MappingProxyType({Sex.MALE: 50.0, Sex.FEMALE: 45.5})
DEVINE_KG_PER_INCH: Final = 2.3  # Devine 1974
DEVINE_BASE_HEIGHT_CM: Final = 152.4  # 60 inches (Devine 1974)
CM_PER_INCH: Final = 2.54  # exact by definition
KG_PER_LB: Final = 0.45359237  # exact by definition (international pound, 1959)
# Clinic policy (no published value): a weight of the day more than 10 % from the patient's last
# recorded weight is confirmed before it is used (a 110 typed in pounds for a 50 kg patient is a
# 120 % change). A clinic setting; the medical director reviews it.
WEIGHT_CHANGE_CONFIRM_PERCENT: Final = 10.0
ADJUSTED_BW_FACTOR: Final = KETAMINE_PTSD.adjusted_bw_factor  # Pai & Paloucek 2000 [RECALLED]
# The preparation (issue 10, item 14): what a clinic can actually hang. A value outside these is a
# typing mistake (a 500 mg/mL vial, a 100,000 mL bag), refused naming the field.
# Ketalar prescribing information: ketamine HCl injection is supplied as 10, 50 and 100 mg/mL
# (100 mg/mL read in clinical.md s. 2.4; 10 and 50 mg/mL [RECALLED, unverified]).
VIAL_CONCENTRATIONS_MG_PER_ML: Final = (10.0, 50.0, 100.0)
# Clinic policy: trial infusions were diluted in 50-100 mL of normal saline [RECALLED, unverified];
# 20-500 mL holds every bag a ketamine infusion uses and refuses a unit or digit slip.
FINAL_VOLUME_ML_RANGE: Final = (20.0, 500.0)
# The programmable range of a large-volume infusion pump, 0.1-999 mL/h [RECALLED, unverified]:
# a rate outside it cannot be keyed into the pump.
PUMP_RATE_ML_PER_H_RANGE: Final = (0.1, 999.0)
# The bag convention: the drug volume is part of the final volume, so the diluent to add is the
# final volume minus the drug volume. Milligrams are of ketamine base, the label's convention:
# "each mL contains ketamine hydrochloride equivalent to 10, 50 or 100 mg ketamine base"
# (Ketalar prescribing information [RECALLED, unverified]), so a vial's stated mg/mL is used as is.
BAG_CONVENTION: Final = (
    "The final volume includes the drug volume: diluent = final volume - drug volume. "
    "Doses are mg of ketamine base, as the vial's strength is labelled (Ketalar label)."
)
# Display resolution of values a nurse keys in: clinic policy, typical pump/syringe resolution.
PUMP_RATE_RESOLUTION_ML_PER_H: Final = Decimal("0.1")
SYRINGE_RESOLUTION_ML: Final = Decimal("0.01")


def max_pump_rate_ml_per_h(entry: DrugLibraryEntry, total_volume_ml: float) -> Fraction | None:
    """The fastest the bag may run: its whole volume over the drug library's hard minimum
    duration (``mL/h = mL / (min / 60)``, exact). ``None`` when the entry has no minimum."""
    hard_min = entry.duration_min_limits.hard_min
    if hard_min is None or not total_volume_ml:
        return None
    return Fraction(total_volume_ml) / (Fraction(hard_min) / 60)


def pounds_to_kg(weight_lb: float) -> float:
    """A weight typed in pounds, in kilograms (exact factor; the caller shows both)."""
    if isinstance(weight_lb, bool) or not isinstance(weight_lb, int | float):
        raise ClinicalInputError(f"weight_lb: {weight_lb!r} is not a number")
    if not math.isfinite(weight_lb) or weight_lb <= 0:
        raise ClinicalInputError(f"weight_lb: {weight_lb!r} must be a positive finite number")
    return weight_lb * KG_PER_LB


def kg_to_pounds(weight_kg: float) -> float:
    """A weight in kilograms, in pounds (exact factor), to show beside the kilograms."""
    return weight_kg / KG_PER_LB


def weight_change_to_confirm(
    weight_kg: float,
    last_weight_kg: float | None,
    *,
    confirm_percent: float = WEIGHT_CHANGE_CONFIRM_PERCENT,
) -> str | None:
    """The question to ask before using ``weight_kg`` when it differs from the last recorded
    weight by more than ``confirm_percent`` (clinic policy), else ``None``."""
    if last_weight_kg is None or last_weight_kg <= 0:
        return None
    change = (weight_kg - last_weight_kg) / last_weight_kg * 100.0
    if abs(change) <= confirm_percent:
        return None
    pounds = kg_to_pounds(weight_kg)
    return (
        f"{weight_kg:g} kg is {abs(change):.0f} % {'above' if change > 0 else 'below'} the last "
        f"recorded weight {last_weight_kg:g} kg (more than {confirm_percent:g} %). Was it weighed "
        f"in pounds ({weight_kg:g} lb = {weight_kg * KG_PER_LB:.1f} kg), or is {pounds:.0f} lb "
        "right? Re-weigh and confirm."
    )


def ideal_body_weight_kg(height_cm: float, sex: Sex) -> float:
    """Devine 1974 ideal body weight; not clamped below 152.4 cm (callers warn there)."""
    _require_range("height_cm", height_cm, HEIGHT_CM_RANGE)
    inches_over_60 = (height_cm - DEVINE_BASE_HEIGHT_CM) / CM_PER_INCH
    return DEVINE_BASE_KG[sex] + DEVINE_KG_PER_INCH * inches_over_60


def adjusted_body_weight_kg(
    weight_kg: float, height_cm: float, sex: Sex, *, factor: float = ADJUSTED_BW_FACTOR
) -> float:
    """IBW + factor x (actual - IBW); the factor is a clinic setting (default 0.4, Pai &
    Paloucek 2000 [RECALLED, unverified])."""
    _require_range("weight_kg", weight_kg, WEIGHT_KG_RANGE)
    ibw = ideal_body_weight_kg(height_cm, sex)
    return ibw + factor * (weight_kg - ibw)


@dataclass(frozen=True)
class Override:
    """A documented decision to exceed a soft limit."""

    reason: str
    role: Role
    by: str = ""


@dataclass(frozen=True)
class InfusionRequest:
    """What the prescriber orders. Weight basis is always explicit; height and sex are needed
    for ideal and adjusted weight. ``duration_min`` ``None`` means no pump rate is computed."""

    indication: Indication
    weight_kg: float
    weight_basis: WeightBasis
    dose_mg_per_kg: float
    vial_concentration_mg_per_ml: float
    final_volume_ml: float
    duration_min: float | None
    height_cm: float | None = None
    sex: Sex | None = None
    override: Override | None = None


@dataclass(frozen=True)
class InfusionPlan:
    """The computed infusion. ``*_exact`` values are unrounded; the others are the displayed values
    at pump/syringe resolution (a warning is present whenever they differ)."""

    indication: Indication
    drug: str
    weight_basis: WeightBasis
    weight_basis_kg: float
    dose_mg_per_kg: float
    dose_mg: float
    drug_volume_ml: float
    drug_volume_ml_exact: float
    diluent_volume_ml: float
    total_volume_ml: float
    final_concentration_mg_per_ml: float
    duration_min: float | None
    rate_ml_per_h: float | None
    rate_ml_per_h_exact: float | None
    soft_limit_breaches: tuple[str, ...]
    override: Override | None
    warnings: tuple[str, ...]


def _require_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClinicalInputError(f"{name}: {value!r} is not a finite number", field=name)
    low, high = bounds
    if not low <= value <= high:
        raise ClinicalInputError(
            f"{name}: {value:g} is outside the plausible entry range {low:g}-{high:g}", field=name
        )


def _require_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClinicalInputError(f"{name}: {value!r} is not a finite number")
    if value <= 0:
        raise ClinicalInputError(f"{name}: must be greater than 0, got {value:g}")


def _display(value: float, resolution: Decimal) -> float:
    return float(Decimal(repr(value)).quantize(resolution, rounding=ROUND_HALF_EVEN))


def basis_weight(
    weight_kg: float,
    weight_basis: WeightBasis,
    height_cm: float | None,
    sex: Sex | None,
    *,
    adjusted_bw_factor: float = ADJUSTED_BW_FACTOR,
) -> tuple[float, list[str]]:
    """The weight the mg/kg dose multiplies, with warnings about the formula's limits.

    Raises :class:`ClinicalInputError` with ``field`` set (``weight_kg``, ``height_cm``, ``sex``).
    """
    _require_range("weight_kg", weight_kg, WEIGHT_KG_RANGE)
    if weight_basis is WeightBasis.ACTUAL:
        return float(weight_kg), []
    if height_cm is None:
        raise ClinicalInputError(
            f"weight basis {weight_basis.value} needs height_cm and sex (Devine formula)",
            field="height_cm",
        )
    if sex is None:
        raise ClinicalInputError(
            f"weight basis {weight_basis.value} needs height_cm and sex (Devine formula): the "
            "formula has equations only for female and male sex at birth; use actual weight",
            field="sex",
        )
    warnings: list[str] = []
    ibw = ideal_body_weight_kg(height_cm, sex)
    if height_cm < DEVINE_BASE_HEIGHT_CM:
        warnings.append(
            f"Height {height_cm:g} cm is below 152.4 cm, where the Devine formula is not "
            "validated; it was extrapolated, not clamped."
        )
    if weight_basis is WeightBasis.IDEAL:
        if ibw > weight_kg:
            warnings.append(
                f"Ideal body weight {ibw:.2f} kg is above actual weight {weight_kg:g} kg: "
                "the dose is higher than on actual weight."
            )
        return ibw, warnings
    adjusted = ibw + adjusted_bw_factor * (weight_kg - ibw)
    if weight_kg < ibw:
        warnings.append(
            f"Adjusted body weight is meant for patients above ideal weight; actual "
            f"{weight_kg:g} kg is below ideal {ibw:.2f} kg, so adjusted {adjusted:.2f} kg "
            "is above actual weight."
        )
    return adjusted, warnings


def weight_basis_kg(
    request: InfusionRequest, *, adjusted_bw_factor: float = ADJUSTED_BW_FACTOR
) -> tuple[float, list[str]]:
    """The weight the dose is based on, with warnings about the formula's limits."""
    return basis_weight(
        request.weight_kg,
        request.weight_basis,
        request.height_cm,
        request.sex,
        adjusted_bw_factor=adjusted_bw_factor,
    )


def plan_infusion(request: InfusionRequest, entry: DrugLibraryEntry | None = None) -> InfusionPlan:
    """Compute dose, volumes and pump rate, enforcing the drug library's limits.

    Raises :class:`ClinicalInputError` for missing or impossible inputs, :class:`HardLimitError`
    when a hard limit is broken, :class:`OverrideRequiredError` when a soft limit is breached
    without an override whose role is allowed and whose reason is not blank.
    """
    entry = entry if entry is not None else DRUG_LIBRARY[request.indication]
    if entry.indication is not request.indication:
        raise ClinicalInputError(
            f"drug library entry is for {entry.indication.value}, request is for "
            f"{request.indication.value}"
        )
    _require_positive("dose_mg_per_kg", request.dose_mg_per_kg)
    _require_positive("vial_concentration_mg_per_ml", request.vial_concentration_mg_per_ml)
    _require_positive("final_volume_ml", request.final_volume_ml)
    if request.duration_min is not None:
        _require_positive("duration_min", request.duration_min)
    if request.vial_concentration_mg_per_ml not in VIAL_CONCENTRATIONS_MG_PER_ML:
        strengths = ", ".join(f"{c:g}" for c in VIAL_CONCENTRATIONS_MG_PER_ML)
        raise ClinicalInputError(
            f"vial_concentration_mg_per_ml: {request.vial_concentration_mg_per_ml:g} mg/mL is not "
            f"a strength ketamine is supplied in ({strengths} mg/mL, Ketalar label)"
        )
    _require_range("final_volume_ml", request.final_volume_ml, FINAL_VOLUME_ML_RANGE)

    basis_kg, warnings = weight_basis_kg(request, adjusted_bw_factor=entry.adjusted_bw_factor)
    if basis_kg <= 0:
        raise ClinicalInputError(
            f"{request.weight_basis.value} body weight is {basis_kg:.2f} kg (not positive) for "
            f"height {request.height_cm} cm; use actual weight"
        )
    dose_mg = basis_kg * request.dose_mg_per_kg
    drug_volume_ml = dose_mg / request.vial_concentration_mg_per_ml
    if drug_volume_ml > request.final_volume_ml:
        raise ClinicalInputError(
            f"drug volume {drug_volume_ml:.2f} mL is more than the final volume "
            f"{request.final_volume_ml:g} mL; use a larger final volume or a stronger vial"
        )
    final_concentration = dose_mg / request.final_volume_ml

    checks = [
        check_limit("dose", request.dose_mg_per_kg, entry.dose_mg_per_kg_limits),
        check_limit("total dose", dose_mg, entry.total_dose_mg_limits),
    ]
    if request.duration_min is not None:
        checks.append(check_limit("duration", request.duration_min, entry.duration_min_limits))
    hard = [h for h, _ in checks if h is not None]
    if final_concentration > entry.max_final_concentration_mg_per_ml:
        hard.append(
            f"final concentration {final_concentration:.2f} mg/mL is above "
            f"{entry.max_final_concentration_mg_per_ml:g} mg/mL (dilute before IV use)"
        )
    if hard:
        raise HardLimitError("refused: " + "; ".join(hard))
    soft = tuple(s for _, s in checks if s is not None)
    override = request.override
    if soft:
        if override is None:
            raise OverrideRequiredError(
                "override needed: " + "; ".join(soft) + " (give a reason and your role)"
            )
        if override.role not in entry.override_roles:
            allowed = ", ".join(sorted(r.label.lower() for r in entry.override_roles))
            raise OverrideRequiredError(
                f"{_article(override.role.label)} {override.role.label.lower()} may not override "
                "a soft limit "
                f"(who may: {allowed})"
            )
        if not override.reason.strip():
            raise OverrideRequiredError("override reason is blank")
        warnings.append(
            "Soft limit overridden by "
            + override.role.value
            + ": "
            + "; ".join(soft)
            + f" (reason: {override.reason.strip()})."
        )
    elif override is not None:
        warnings.append("Override given but no soft limit was breached; it was not needed.")

    rate_exact: float | None = None
    rate_display: float | None = None
    if request.duration_min is None:
        warnings.append("No infusion duration given, so no pump rate was calculated.")
    else:
        rate_exact = request.final_volume_ml / (request.duration_min / 60.0)
        low, high = PUMP_RATE_ML_PER_H_RANGE
        if not low <= rate_exact <= high:
            raise ClinicalInputError(
                f"rate_ml_per_h: {rate_exact:.1f} mL/h is outside what an infusion pump can be "
                f"set to ({low:g}-{high:g} mL/h); check the final volume and the duration"
            )
        rate_display = _display(rate_exact, PUMP_RATE_RESOLUTION_ML_PER_H)
        if rate_display != rate_exact:
            warnings.append(
                f"Pump rate shown as {rate_display} mL/h (pump resolution 0.1 mL/h); exact rate "
                f"{rate_exact!r} mL/h."
            )
    volume_display = _display(drug_volume_ml, SYRINGE_RESOLUTION_ML)
    if volume_display != drug_volume_ml:
        warnings.append(
            f"Drug volume shown as {volume_display} mL (syringe resolution 0.01 mL); exact volume "
            f"{drug_volume_ml!r} mL."
        )
    return InfusionPlan(
        indication=request.indication,
        drug=entry.drug,
        weight_basis=request.weight_basis,
        weight_basis_kg=basis_kg,
        dose_mg_per_kg=request.dose_mg_per_kg,
        dose_mg=dose_mg,
        drug_volume_ml=volume_display,
        drug_volume_ml_exact=drug_volume_ml,
        diluent_volume_ml=request.final_volume_ml - drug_volume_ml,
        total_volume_ml=float(request.final_volume_ml),
        final_concentration_mg_per_ml=final_concentration,
        duration_min=request.duration_min,
        rate_ml_per_h=rate_display,
        rate_ml_per_h_exact=rate_exact,
        soft_limit_breaches=soft,
        override=override if soft else None,
        warnings=tuple(warnings),
    )


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
