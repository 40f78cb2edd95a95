"""Parameter sets: immutable, sourced, with their population; out-of-population use warns."""

from __future__ import annotations

import dataclasses
import inspect
import re

import numpy as np
import pytest

import ketaflow.pk
from ketaflow.pk import (
    DEFAULT_MODEL,
    MODELS,
    Covariates,
    Drug,
    OutOfPopulationWarning,
    Regimen,
    Sampling,
    get_model,
    simulate,
)

UNIT_SUFFIX = re.compile(r"_(l|l_per_min|per_min|min)$")


def test_registry_has_the_issue_models() -> None:
    assert DEFAULT_MODEL == "domino"
    for key in (
        "domino",
        "clements",
        "hijazi",
        "kamp",
        "simons",
        "fanta",
        "perez-ruixo",
        "herd",
        "hornik",
    ):
        assert get_model(key).key == key


def test_unknown_model_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'propofol'.*domino"):
        get_model("propofol")


@pytest.mark.parametrize("key", list(MODELS))
def test_every_parameter_is_sourced_and_unit_named(key: str) -> None:
    model = MODELS[key]
    assert model.citation.reference
    assert model.citation.parameters_from
    assert model.population.description
    assert model.population.source
    assert model.covariate_description
    for p in model.parameters:
        assert UNIT_SUFFIX.search(p.name), p.name
        assert p.source, p.name
        assert p.typical_value > 0
        if p.iiv_omega2 is not None:
            assert p.iiv_source, p.name


def test_models_are_immutable() -> None:
    model = get_model("domino")
    attribute = "key"
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(model, attribute, "x")
    attribute = "typical_value"
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(model.parameters[0], attribute, 1.0)


def test_paediatric_models_are_marked() -> None:
    paediatric = {k for k, m in MODELS.items() if m.population.paediatric}
    assert paediatric == {"herd", "hornik", "flint"}
    for key in paediatric:
        assert "PAEDIATRIC" in MODELS[key].title


def test_sampling_and_drug() -> None:
    assert get_model("kamp").population.sampling is Sampling.ARTERIAL
    assert get_model("simons").population.sampling is Sampling.ARTERIAL
    assert get_model("fanta").population.sampling is Sampling.VENOUS
    assert get_model("perez-ruixo").drug is Drug.ESKETAMINE
    assert get_model("domino").drug is Drug.RACEMIC_KETAMINE


def test_effect_site_only_where_published() -> None:
    assert get_model("domino").effect_site is None
    simons = get_model("simons")
    assert simons.effect_site is not None
    assert simons.effect_site.ke0_per_min == pytest.approx(np.log(2) / 6.1)
    assert "Olofsen 2012" in simons.effect_site.source
    assert "estimate" in simons.effect_site.source


def test_user_ke0_is_labelled() -> None:
    result = simulate(
        get_model("domino"),
        Regimen.single_infusion(35, 40),
        Covariates(70.0),
        [40.0],
        ke0_per_min=0.5,
    )
    assert result.model.effect_site is not None
    assert "user-supplied" in result.model.effect_site.source
    assert "effect_site_ng_per_ml" in result.concentrations


@pytest.mark.parametrize("ke0", [60.0001, 1e6, 1e308])
def test_an_effect_site_faster_than_plasma_is_refused(ke0: float) -> None:
    # Olofsen 2012 (docs/reference/pk.md section 1d): half-times from about 0 to 11.8 min; 1e308
    # overflowed the modal arithmetic (a RuntimeWarning, a traceback in the CLI).
    with pytest.raises(ValueError, match="at most 60 per minute"):
        simulate(
            get_model("domino"),
            Regimen.single_infusion(35, 40),
            Covariates(70.0),
            [40.0],
            ke0_per_min=ke0,
        )


def test_the_fastest_allowed_effect_site_follows_the_plasma() -> None:
    result = simulate(
        get_model("domino"),
        Regimen.single_infusion(35, 40),
        Covariates(70.0),
        [39.0, 40.0, 41.0],
        ke0_per_min=60.0,
    )
    plasma = result.concentrations["plasma_ng_per_ml"]
    effect = result.concentrations["effect_site_ng_per_ml"]
    assert np.allclose(effect, plasma, rtol=0.02)


def test_metabolites() -> None:
    for key in ("fanta", "simons", "perez-ruixo"):
        assert "s_norketamine_ng_per_ml" in get_model(key).analyte_keys


def test_covariate_scaling() -> None:
    domino = get_model("domino")
    light, heavy = (domino.individual_parameters(Covariates(w)) for w in (50.0, 100.0))
    assert heavy["v1_l"] == pytest.approx(0.063 * 100)
    assert heavy["cl_l_per_min"] / light["cl_l_per_min"] == pytest.approx(2.0)
    fanta = get_model("fanta")
    p = fanta.individual_parameters(Covariates(140.0))
    assert p["cl_l_per_min"] == pytest.approx(95.2 / 60 * 2**0.75)
    assert p["v2_l"] == pytest.approx(187.0)  # peripheral volumes not scaled (Otto 2021)
    pr = get_model("perez-ruixo")
    old = pr.individual_parameters(Covariates(70.0, age_yr=70.0))
    young = pr.individual_parameters(Covariates(70.0, age_yr=40.0))
    assert young["qh_l_per_min"] - old["qh_l_per_min"] == pytest.approx(2.19 * 10 / 60)
    asian = pr.individual_parameters(Covariates(70.0, age_yr=40.0, asian_race=True))
    assert asian["kel_per_min"] == pytest.approx(young["kel_per_min"] * 0.36)


def test_out_of_population_warns_and_is_listed() -> None:
    with pytest.warns(OutOfPopulationWarning, match="simons: the patient weighs more than 93 kg"):
        result = simulate(
            get_model("simons"),
            Regimen.single_infusion(20, 20).stated_as(Drug.ESKETAMINE),
            Covariates(120.0, age_yr=25.0),
            [20.0],
        )
    assert len(result.warnings) == 1
    with pytest.warns(OutOfPopulationWarning, match="herd: the patient is older than 14 y"):
        simulate(get_model("herd"), Regimen.single_infusion(20, 20), Covariates(70.0, 40.0), [20.0])
    with pytest.warns(OutOfPopulationWarning, match="younger than 18 y"):
        simulate(
            get_model("domino"), Regimen.single_infusion(20, 20), Covariates(40.0, 12.0), [20.0]
        )


def test_in_population_is_silent() -> None:
    result = simulate(
        get_model("domino"), Regimen.single_infusion(35, 40), Covariates(70.0, age_yr=40.0), [40.0]
    )
    assert result.warnings == ()


@pytest.mark.parametrize("weight", [0.0, -70.0, float("nan"), 1e-308, 701.0, float("inf")])
def test_bad_weight(weight: float) -> None:
    with pytest.raises(ValueError, match=r"weight_kg must be a body weight between 0\.2 and 700"):
        Covariates(weight)


def test_public_api_is_documented() -> None:
    """Every exported function and class has a docstring or is a plain data holder."""
    for name in ketaflow.pk.__all__:
        obj = getattr(ketaflow.pk, name)
        if inspect.isfunction(obj):
            assert obj.__doc__, name


def test_misspelt_keyword_is_not_ignored() -> None:
    misspelt = {"ke0_per_mn": 0.3}
    with pytest.raises(TypeError):
        simulate(
            get_model("domino"),
            Regimen.single_infusion(35, 40),
            Covariates(70.0),
            [1.0],
            **misspelt,
        )
