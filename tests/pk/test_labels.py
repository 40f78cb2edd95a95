"""Every prediction says what it predicts (issue 10, items 16-18): sampling site and analyte,
racemic-to-S-ketamine dose conversion, and where the population variability comes from."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ketaflow.cli import main
from ketaflow.pk import (
    MODELS,
    Covariates,
    Drug,
    Regimen,
    Sampling,
    WeightDistribution,
    get_model,
    simulate,
    simulate_population,
    time_grid,
)
from ketaflow.pk.models import DEFAULT_MODEL, CovariateArrays
from ketaflow.pk.plotting import population_figure, simulation_figure
from ketaflow.pk.population import sample_parameters

ADULT = Covariates(70.0, age_yr=30.0)
RACEMIC_35_MG = Regimen.single_infusion(35.0, 40.0)


# ---- 16: sampling site and analyte ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "site", "analyte"),
    [
        ("domino", Sampling.ARTERIAL, "racemic ketamine"),  # pk.md §6
        ("kamp", Sampling.ARTERIAL, "racemic ketamine"),  # pk.md §1a/§6
        ("simons", Sampling.ARTERIAL, "S-ketamine"),  # pk.md §1a
        ("fanta", Sampling.VENOUS, "S-ketamine"),  # pk.md §1a
        ("clements", Sampling.NOT_STATED, "racemic ketamine"),
        ("flint", Sampling.NOT_STATED, "S-ketamine"),
    ],
)
def test_model_names_site_and_analyte(key: str, site: Sampling, analyte: str) -> None:
    model = get_model(key)
    assert model.sampling_site is site
    assert model.analyte == analyte


def test_prediction_labels() -> None:
    assert get_model("domino").prediction_label() == "Plasma racemic ketamine (arterial), ng/mL"
    assert get_model("fanta").prediction_label() == "Plasma S-ketamine (venous), ng/mL"
    assert (
        get_model("fanta").prediction_label("s_norketamine_ng_per_ml")
        == "Plasma S-norketamine (venous), ng/mL"
    )
    assert (
        get_model("simons").prediction_label("effect_site_ng_per_ml")
        == "Effect-site S-ketamine (estimate) (arterial), ng/mL"
    )
    assert get_model("hijazi").prediction_label() == (
        "Plasma racemic ketamine (sampling site not stated in the source), ng/mL"
    )
    assert Sampling.NOT_STATED.value == "not stated in the source"


def test_every_model_labels_every_output() -> None:
    for model in MODELS.values():
        for key in model.analyte_keys:
            label = model.prediction_label(key)
            assert label.endswith(", ng/mL")
            assert "_ng_per_ml" not in label, label
            assert model.sampling_description in label


def test_plots_name_what_they_show() -> None:
    result = simulate(get_model("domino"), RACEMIC_35_MG, ADULT, time_grid(120, 2))
    axes = simulation_figure(result).axes[0]
    assert axes.get_ylabel() == "Plasma racemic ketamine (arterial), ng/mL"
    fanta = simulate(
        get_model("fanta"), RACEMIC_35_MG.stated_as(Drug.ESKETAMINE), ADULT, time_grid(120, 2)
    )
    legend_box = simulation_figure(fanta).axes[0].get_legend()
    assert legend_box is not None
    legend = [t.get_text() for t in legend_box.get_texts()]
    assert "Plasma S-norketamine (venous)" in legend
    assert simulation_figure(fanta).axes[0].get_ylabel() == "Plasma S-ketamine (venous), ng/mL"
    population = simulate_population(
        get_model("kamp"), RACEMIC_35_MG, time_grid(120, 5), n_subjects=50,
        weight=WeightDistribution(70.0),
    )  # fmt: skip
    assert population_figure(population).axes[0].get_ylabel() == (
        "Plasma racemic ketamine (arterial), ng/mL"
    )


# ---- 17: racemic dose to an S-ketamine model -----------------------------------------------


def test_racemic_dose_to_s_ketamine_model_is_halved_with_a_warning() -> None:
    fanta = get_model("fanta")
    converted = simulate(fanta, RACEMIC_35_MG, ADULT, [40.0, 120.0])
    stated = simulate(
        fanta, Regimen.single_infusion(17.5, 40.0).stated_as(Drug.ESKETAMINE), ADULT, [40.0, 120.0]
    )
    assert converted["plasma_ng_per_ml"] == pytest.approx(stated["plasma_ng_per_ml"], rel=1e-12)
    assert converted.regimen.total_dose_mg == pytest.approx(17.5)
    assert converted.regimen.drug is Drug.ESKETAMINE
    (warning,) = converted.warnings
    assert "35 mg racemic ketamine to 17.5 mg S-ketamine" in warning
    assert stated.warnings == ()


def test_dose_stated_as_s_ketamine_is_not_converted() -> None:
    regimen = RACEMIC_35_MG.stated_as(Drug.ESKETAMINE)
    result = simulate(get_model("simons"), regimen, ADULT, [40.0])
    assert result.regimen.total_dose_mg == pytest.approx(35.0)
    assert not any("converted" in w for w in result.warnings)
    # a racemic model is never converted
    domino = simulate(get_model("domino"), RACEMIC_35_MG, ADULT, [40.0])
    assert domino.regimen.total_dose_mg == pytest.approx(35.0)
    assert domino.warnings == ()


def test_s_ketamine_dose_to_racemic_model_is_refused() -> None:
    with pytest.raises(ValueError, match="dose: stated as S-ketamine, but model domino predicts"):
        simulate(get_model("domino"), RACEMIC_35_MG.stated_as(Drug.ESKETAMINE), ADULT, [40.0])


def test_regimen_keeps_its_drug() -> None:
    s = RACEMIC_35_MG.stated_as(Drug.ESKETAMINE)
    assert s.shifted(10.0).drug is Drug.ESKETAMINE
    assert s.scaled(2.0).drug is Drug.ESKETAMINE
    assert s.plus(s).drug is Drug.ESKETAMINE
    with pytest.raises(ValueError, match="cannot combine racemic ketamine and S-ketamine"):
        s.plus(RACEMIC_35_MG)


def test_population_converts_with_a_warning() -> None:
    kwargs = {"n_subjects": 100, "weight": WeightDistribution(70.0), "seed": 2, "age_yr": 30.0}
    grid = time_grid(120, 10)
    converted = simulate_population(get_model("fanta"), RACEMIC_35_MG, grid, **kwargs)  # type: ignore[arg-type]
    stated = simulate_population(
        get_model("fanta"),
        Regimen.single_infusion(17.5, 40.0).stated_as(Drug.ESKETAMINE),
        grid,
        **kwargs,  # type: ignore[arg-type]
    )
    assert converted.bands["plasma_ng_per_ml"] == pytest.approx(stated.bands["plasma_ng_per_ml"])
    assert any("converted 35 mg racemic" in w for w in converted.as_dict()["warnings"])
    assert not any("converted" in w for w in stated.warnings)


# ---- 18: where the variability comes from --------------------------------------------------


def test_variability_source_per_model() -> None:
    assert get_model("domino").variability_source == "default 30 % CV, not published"
    assert get_model("flint").variability_source == "published (Flint 2017)"
    assert get_model("simons").variability_source == "published (Simons 2022)"
    assert get_model("fanta").variability_source == "published (Fanta 2015)"
    assert get_model("clements").variability_source == "default 30 % CV, not published"
    assert get_model("perez-ruixo").variability_source.startswith("published (Perez-Ruixo 2021)")
    assert "placeholder 30 % CV" in get_model("perez-ruixo").variability_source
    for model in MODELS.values():
        assert model.variability_source.startswith(
            "published (" if model.iiv_published else "default 30 % CV"
        )


def test_flint_uses_its_published_clearance_variability() -> None:
    """Flint 2017 Table 3 (nlmixr2lib encoding, pk.md §1b): CV 40.2 % on CL, none elsewhere."""
    flint = get_model("flint")
    omega2 = flint.parameter("cl_l_per_min").iiv_omega2
    assert omega2 is not None
    assert omega2 == pytest.approx(math.log(1 + 0.402**2), rel=1e-12)
    assert omega2 == pytest.approx(0.14965, abs=2e-4)  # nlmixr2lib's rounded arithmetic
    for name in ("v1_l", "v2_l", "q2_l_per_min"):
        assert flint.parameter(name).iiv_omega2 is None
    rng = np.random.default_rng(5)
    cov = CovariateArrays(np.full(20_000, 70.0), None, False)
    sampled = sample_parameters(flint, cov, rng)
    assert np.std(np.log(sampled["cl_l_per_min"])) == pytest.approx(math.sqrt(omega2), rel=0.03)
    for name in ("v1_l", "v2_l", "q2_l_per_min"):
        assert np.ptp(sampled[name]) == 0.0
    result = simulate_population(
        flint,
        Regimen.single_infusion(35.0, 40.0).stated_as(Drug.ESKETAMINE),
        time_grid(60, 10),
        n_subjects=100,
        weight=WeightDistribution(70.0),
        age_yr=5.0,
    )
    assert result.as_dict()["variability_source"] == "published (Flint 2017)"


def test_domino_citation_names_the_values_used() -> None:
    cited = get_model("domino").citation.parameters_from
    for value in ("0.063 L/kg", "k10 0.4381", "k12 0.5921", "k13 0.5900", "k21 0.2470", "0.0146"):
        assert value in cited
    assert "opentiva/ketamine.py" in cited


# ---- the CLI --------------------------------------------------------------------------------

SIM = ["pk", "simulate", "--weight-kg", "70", "--dose-mg", "35", "--over-min", "40"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_simulate_json_names_site_and_analyte(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *SIM, "--model", "domino", "--at-min", "40", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["sampling_site"] == "arterial"
    assert data["analyte"] == "racemic ketamine"
    assert data["labels"] == {"plasma_ng_per_ml": "Plasma racemic ketamine (arterial), ng/mL"}
    assert data["warnings"] == []


def test_cli_simulate_text_names_site_and_analyte(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SIM, "--model", "fanta", "--at-min", "40")
    assert code == 0
    assert "plasma_ng_per_ml: Plasma S-ketamine (venous), ng/mL" in out
    assert "s_norketamine_ng_per_ml: Plasma S-norketamine (venous), ng/mL" in out


def test_cli_conversion_warning_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SIM, "--model", "simons", "--at-min", "20", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["sampling_site"] == "arterial"
    assert data["analyte"] == "S-ketamine"
    assert any(
        "converted 35 mg racemic ketamine to 17.5 mg S-ketamine" in w for w in data["warnings"]
    )
    converted = data["plasma_ng_per_ml"][0]

    code, out, err = run(capsys, *SIM, "--model", "simons", "--at-min", "20")
    assert code == 0
    assert "converted 35 mg racemic ketamine to 17.5 mg S-ketamine" in err
    assert "total dose 17.5 mg esketamine (S-ketamine)" in out

    code, out, _ = run(
        capsys, *SIM, "--model", "simons", "--at-min", "20", "--dose-is-s-ketamine", "--json"
    )
    assert code == 0
    stated = json.loads(out)
    assert not any("converted" in w for w in stated["warnings"])
    assert stated["plasma_ng_per_ml"][0] == pytest.approx(2 * converted, rel=1e-9)


def test_cli_s_ketamine_dose_to_racemic_model_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *SIM, "--model", "domino", "--dose-is-s-ketamine")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "dose: stated as S-ketamine, but model domino predicts racemic ketamine" in err


POP = ["pk", "population", "--n", "50", "--weight-kg", "70", "--dose-mg", "35", "--over-min", "40"]


@pytest.mark.parametrize(
    ("key", "source"),
    [("domino", "default 30 % CV, not published"), ("simons", "published (Simons 2022)")],
)
def test_cli_population_variability_source(
    capsys: pytest.CaptureFixture[str], key: str, source: str
) -> None:
    code, out, err = run(capsys, *POP, "--model", key, "--until-min", "60", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["variability_source"] == source
    assert data["sampling_site"] == "arterial"
    assert data["labels"]["plasma_ng_per_ml"].startswith("Plasma ")
    code, out, _ = run(capsys, *POP, "--model", key, "--until-min", "60")
    assert code == 0
    assert f"variability: {source}" in out
    assert "plasma_ng_per_ml: Plasma " in out


# ---- caution next to a prediction, and the pages that show one -----------------------------


def test_measured_level_caution_by_site() -> None:
    assert "venous" in get_model("domino").measured_level_caution
    assert "run lower than arterial" in get_model("domino").measured_level_caution
    assert "(Otto 2021)" in get_model("kamp").measured_level_caution
    assert get_model("fanta").measured_level_caution.startswith("This model predicts venous")
    assert "does not state whether" in get_model("hijazi").measured_level_caution
    for model in MODELS.values():
        assert "%" not in model.measured_level_caution  # pk.md cites no measured difference


SRC = Path(__file__).resolve().parents[2] / "src" / "ketaflow"


def test_infusion_pk_caption_matches_the_model_it_plots() -> None:
    """The session page's caption is written out (its view is not PK code); it must name what
    infusions/charts.py plots: the default model's analyte, site and caution."""
    charts = (SRC / "infusions" / "charts.py").read_text()
    assert "get_model(DEFAULT_MODEL)" in charts
    caption = (SRC / "infusions" / "templates" / "infusions" / "_pump.html").read_text()
    model = get_model(DEFAULT_MODEL)
    assert f"<strong>{model.prediction_label()}</strong>" in caption
    assert model.measured_level_caution in caption
    assert f"published {model.short_name} model" in caption


def test_course_page_shows_label_caution_and_variability() -> None:
    pages = SRC / "treatment" / "templates" / "treatment"
    # The course page and the planning page's preview share the estimate's caption.
    assert '{% include "treatment/_estimate.html"' in (pages / "course.html").read_text()
    assert '{% include "treatment/_estimate.html"' in (pages / "plan.html").read_text()
    page = (pages / "_estimate.html").read_text()
    for name in ("prediction_label", "measured_level_caution", "variability_source"):
        assert "{{ estimate.model." + name + " }}" in page
