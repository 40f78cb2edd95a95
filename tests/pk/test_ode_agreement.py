"""The closed-form solver against an independent ODE solution, for every model.

The right-hand sides below are written out by hand from each model's published structure (as in
the nlmixr2lib ``model()`` blocks the parameters come from), not assembled by
``ketaflow.pk.solver.build_systems``, and are integrated with ``scipy.integrate.solve_ivp``
(Radau, rtol 1e-12) piecewise between dose events. The Simons 2022 transit chain is integrated
with its two *equal* rate constants, so the solver's split (see ``CHAIN_SPLIT``) is checked too.

Tolerance: relative error <= 1e-8 wherever the concentration exceeds 1e-6 of the analyte's peak;
below that, an absolute error <= 1e-9 x peak (the relative error of a value near zero, before
the first dose or after days of washout, is dominated by the ODE solver's own absolute error).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy.integrate import solve_ivp

from ketaflow.pk import MODELS, Bolus, Covariates, Infusion, PKModel, Regimen, simulate
from ketaflow.pk.models import (
    KETAMINE_MOLAR_MASS_G_PER_MOL,
    NORKETAMINE_MOLAR_MASS_G_PER_MOL,
    to_arrays,
)
from ketaflow.pk.population import WeightDistribution, population_response
from ketaflow.pk.solver import evaluate

FloatArray = npt.NDArray[np.float64]
Rhs = Callable[[float, FloatArray, float], FloatArray]

RTOL = 1e-8  # the issue asks for 1e-6 or better; observed worst case 7e-10 (simons)
ODE_RTOL = 1e-12

# bolus, an infusion with a rate change, a pause, another infusion, and a second session at 48 h
REGIMEN = Regimen(
    infusions=(
        Infusion(0.0, 30.0, 0.6),
        Infusion(30.0, 10.0, 1.2),
        Infusion(55.0, 20.0, 0.4),
        Infusion(2880.0, 40.0, 0.875),
    ),
    boluses=(Bolus(0.0, 5.0), Bolus(2900.0, 3.0)),
)
TIMES = np.unique(
    np.concatenate(
        (np.linspace(-5.0, 200.0, 83), np.linspace(200.0, 4400.0, 71), [30.0, 40.0, 2920.0])
    )
)


def _mammillary(
    p: dict[str, float], n_out: int
) -> tuple[Rhs, int, Callable[[FloatArray], list[FloatArray]]]:
    """Parent: central, peripheral 2 and (if V3 given) peripheral 3."""
    v1, cl, q2, v2 = p["v1_l"], p["cl_l_per_min"], p["q2_l_per_min"], p["v2_l"]
    q3, v3 = p.get("q3_l_per_min", 0.0), p.get("v3_l", 1.0)

    def rhs(_t: float, x: FloatArray, u: float) -> FloatArray:
        c1 = x[0] / v1
        return np.array(
            [
                u - cl * c1 - q2 * c1 + q2 * x[1] / v2 - q3 * c1 + q3 * x[2] / v3,
                q2 * c1 - q2 * x[1] / v2,
                q3 * c1 - q3 * x[2] / v3,
            ]
        )

    return rhs, 3, lambda x: [1000 * x[0] / v1]


def _fanta(p: dict[str, float]) -> tuple[Rhs, int, Callable[[FloatArray], list[FloatArray]]]:
    parent, _, _ = _mammillary(p, 1)
    v1, cl = p["v1_l"], p["cl_l_per_min"]
    nv, ncl, nvp, nq = p["nk_v_l"], p["nk_cl_l_per_min"], p["nk_vp_l"], p["nk_q_l_per_min"]

    def rhs(t: float, x: FloatArray, u: float) -> FloatArray:
        dk = parent(t, x[:3], u)
        n1, n2 = x[3] / nv, x[4] / nvp
        return np.concatenate(
            (dk, [cl * x[0] / v1 - ncl * n1 - nq * n1 + nq * n2, nq * n1 - nq * n2])
        )

    return rhs, 5, lambda x: [1000 * x[0] / v1, 1000 * x[3] / nv]


def _simons(p: dict[str, float]) -> tuple[Rhs, int, Callable[[FloatArray], list[FloatArray]]]:
    parent, _, _ = _mammillary(p, 1)
    v1, cl = p["v1_l"], p["cl_l_per_min"]
    k = 2.0 / p["mtt_k_to_nk_min"]  # two-compartment chain, each draining at 2/MTT (unsplit)
    nvp, ncl, nq = p["nk_vp_l"], p["nk_cl_l_per_min"], p["nk_q_l_per_min"]
    mw = NORKETAMINE_MOLAR_MASS_G_PER_MOL / KETAMINE_MOLAR_MASS_G_PER_MOL

    def rhs(t: float, x: FloatArray, u: float) -> FloatArray:
        dk = parent(t, x[:3], u)
        n1, n2 = x[5] / v1, x[6] / nvp  # VN1 = VK1
        return np.concatenate(
            (
                dk,
                [
                    cl * x[0] / v1 - k * x[3],
                    k * x[3] - k * x[4],
                    0.8 * k * x[4] - ncl * n1 - nq * n1 + nq * n2,
                    nq * n1 - nq * n2,
                ],
            )
        )

    return rhs, 7, lambda x: [1000 * x[0] / v1, 1000 * mw * x[5] / v1]


def _perez_ruixo(p: dict[str, float]) -> tuple[Rhs, int, Callable[[FloatArray], list[FloatArray]]]:
    vc, vp, vp2, vh = p["v1_l"], p["v2_l"], p["v3_l"], p["vh_l"]
    q1, q2, qh = p["q2_l_per_min"], p["q3_l_per_min"], p["qh_l_per_min"]
    kel, kmet = p["kel_per_min"], p["kmet_per_min"]
    vcn, cln, vpn, q3 = p["nk_v_l"], p["nk_cl_l_per_min"], p["nk_vp_l"], p["nk_q_l_per_min"]

    def rhs(_t: float, x: FloatArray, u: float) -> FloatArray:
        central, p1, p2, liver, n1, n2 = x
        return np.array(
            [
                u + q1 / vp * p1 + q2 / vp2 * p2 + qh / vh * liver - (q1 + q2 + qh) / vc * central,
                q1 / vc * central - q1 / vp * p1,
                q2 / vc * central - q2 / vp2 * p2,
                qh / vc * central - (qh / vh + kel + kmet) * liver,
                kmet * liver + q3 / vpn * n2 - (cln + q3) / vcn * n1,
                q3 / vcn * n1 - q3 / vpn * n2,
            ]
        )

    return rhs, 6, lambda x: [1000 * x[0] / vc, 1000 * x[4] / vcn]


def reference_solution(
    model: PKModel, p: dict[str, float], regimen: Regimen, times: FloatArray
) -> FloatArray:
    """(n_out, T) by solve_ivp, restarted at every dose event."""
    if model.key == "fanta":
        rhs, n, read = _fanta(p)
    elif model.key == "simons":
        rhs, n, read = _simons(p)
    elif model.key == "perez-ruixo":
        rhs, n, read = _perez_ruixo(p)
    else:
        rhs, n, read = _mammillary(p, 1)
    ke0 = model.effect_site.ke0_per_min if model.effect_site else None
    v1 = p["v1_l"]

    def full(t: float, x: FloatArray, u: float) -> FloatArray:
        dx = rhs(t, x[:n], u)
        if ke0 is None:
            return dx
        return np.append(dx, ke0 * (x[0] / v1 - x[n]))  # effect site in mg/L

    size = n + (1 if ke0 is not None else 0)
    # the system is linear: its Jacobian is read off the hand-written right-hand side
    jac = np.array([full(0.0, e, 0.0) for e in np.eye(size)]).T
    pw = regimen.piecewise()
    edges = np.concatenate((pw.breaks_min, [times[-1] + 1.0]))
    x = np.zeros(size)
    out = np.zeros((len(read(x)) + (1 if ke0 else 0), times.shape[0]))
    for m in range(pw.breaks_min.shape[0]):
        x[0] += pw.boluses_mg[m]
        a, b = edges[m], edges[m + 1]
        sel = np.flatnonzero((times >= a) & (times < b))
        t_eval = np.append(times[sel], b)
        rate = float(pw.rates_mg_per_min[m])

        def piece(t: float, y: FloatArray, rate: float = rate) -> FloatArray:
            return full(t, y, rate)

        def jacobian(_t: float, _y: FloatArray) -> FloatArray:
            return jac

        sol = solve_ivp(
            piece,
            (float(a), float(b)),
            x,
            method="LSODA",
            rtol=ODE_RTOL,
            atol=1e-18,
            t_eval=t_eval,
            jac=jacobian,
        )
        assert sol.success
        states = np.asarray(sol.y)
        for k, col in zip(sel, states.T[:-1], strict=True):
            values = read(col)
            if ke0 is not None:
                values.append(1000 * col[n])
            out[:, k] = values
        x = states[:, -1].copy()
    return out


def assert_agrees(actual: FloatArray, expected: FloatArray) -> None:
    for row_a, row_e in zip(actual, expected, strict=True):
        peak = float(np.max(np.abs(row_e)))
        big = np.abs(row_e) > 1e-6 * peak
        rel = np.abs(row_a[big] - row_e[big]) / np.abs(row_e[big])
        assert rel.max() <= RTOL, f"max relative error {rel.max():.2e}"
        assert np.all(np.abs(row_a[~big] - row_e[~big]) <= 1e-9 * peak)


@pytest.mark.parametrize("key", list(MODELS))
def test_closed_form_matches_ode(key: str) -> None:
    model = MODELS[key]
    age = {"herd": 8.0, "hornik": 8.0, "flint": 5.0}.get(key, 30.0)
    weight = {"herd": 25.0, "hornik": 25.0, "flint": 18.0}.get(key, 70.0)
    cov = Covariates(weight_kg=weight, age_yr=age)
    result = simulate(model, REGIMEN.stated_as(model.drug), cov, TIMES)
    expected = reference_solution(
        model, model.individual_parameters(cov), REGIMEN.stated_as(model.drug), TIMES
    )
    actual = np.array([result[k] for k in result.analytes])
    assert_agrees(actual, expected)


@pytest.mark.parametrize("key", ["domino", "kamp", "fanta"])
def test_user_effect_site_matches_ode(key: str) -> None:
    model = MODELS[key].with_effect_site(0.2, "test value")
    cov = Covariates(weight_kg=82.0, age_yr=45.0)
    result = simulate(model, REGIMEN.stated_as(model.drug), cov, TIMES)
    expected = reference_solution(
        model, model.individual_parameters(cov), REGIMEN.stated_as(model.drug), TIMES
    )
    assert_agrees(np.array([result[k] for k in result.analytes]), expected)


@pytest.mark.parametrize("key", ["domino", "simons", "perez-ruixo"])
def test_batched_population_subjects_match_ode(key: str) -> None:
    """Subjects of a sampled population (batched eigendecomposition) each match their ODE."""
    model = MODELS[key]
    response, weights, _ = population_response(
        model,
        REGIMEN.stated_as(model.drug),
        n_subjects=40,
        weight=WeightDistribution(75.0, 0.15),
        seed=3,
        age_yr=30.0,
    )
    values = evaluate(response, TIMES)  # (n_out, N, T)
    # re-draw the same subjects' parameters with the same seed
    from ketaflow.pk.models import CovariateArrays
    from ketaflow.pk.population import sample_parameters

    rng = np.random.default_rng(3)
    w = WeightDistribution(75.0, 0.15).sample(40, rng)
    assert np.array_equal(w, weights)
    params = sample_parameters(model, CovariateArrays(w, np.full(40, 30.0), False), rng)
    for s in (0, 17, 39):
        p = {k: float(v[s]) for k, v in params.items()}
        expected = reference_solution(model, p, REGIMEN.stated_as(model.drug), TIMES)
        assert_agrees(values[:, s, :], expected)
    assert to_arrays(Covariates(70.0)).weight_kg.shape == (1,)
