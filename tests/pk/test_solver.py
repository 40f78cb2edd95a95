"""The solver's closed-form eigen-decomposition of 2- and 3-state rate matrices (issue 10 item
22: LAPACK's per-matrix call was 0.1 s of serial set-up for 10,000 subjects) against LAPACK,
and the cases it hands back to LAPACK or refuses."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from ketaflow.pk import MODELS, Regimen
from ketaflow.pk.models import CovariateArrays
from ketaflow.pk.population import sample_parameters
from ketaflow.pk.solver import (
    LinearSystems,
    _closed_form_eigen,
    _eigen,
    _inverse,
    build_systems,
    evaluate,
    modal_response,
)

FloatArray = npt.NDArray[np.float64]

SMALL = sorted(
    key
    for key, model in MODELS.items()
    if len(model.compartments) + (model.effect_site is not None) in (2, 3)
)


def _population_matrices(key: str, n: int = 2000) -> FloatArray:
    model = MODELS[key]
    rng = np.random.default_rng(7)
    weights = rng.uniform(45.0, 120.0, n)
    params = sample_parameters(model, CovariateArrays(weights, np.full(n, 40.0), False), rng)
    return build_systems(model, params).rate_matrix_per_min


def test_the_small_models_are_the_ones_the_closed_form_serves() -> None:
    assert {"domino", "kamp", "clements", "hijazi", "herd", "hornik", "flint"} <= set(SMALL)


@pytest.mark.parametrize("key", SMALL)
def test_closed_form_agrees_with_lapack(key: str) -> None:
    a = _population_matrices(key)
    closed = _closed_form_eigen(a)
    assert closed is not None, "every sampled subject has real, distinct roots"
    lam, vec = closed
    reference = np.sort(np.linalg.eigvals(a).real, axis=1)
    assert np.max(np.abs(np.sort(lam, axis=1) - reference) / np.abs(reference)) < 1e-12
    # A v = lambda v, to rounding of the matrix's own scale
    residual = np.einsum("nij,njk->nik", a, vec) - vec * lam[:, None, :]
    assert np.max(np.abs(residual)) < 1e-13 * np.max(np.abs(a))
    assert np.allclose(np.linalg.norm(vec, axis=1), 1.0, rtol=1e-14, atol=0)
    inverse = _inverse(vec)
    identity = np.einsum("nij,njk->nik", inverse, vec)
    assert np.max(np.abs(identity - np.eye(a.shape[1]))) < 1e-10


@pytest.mark.parametrize("key", SMALL)
def test_closed_form_response_equals_the_lapack_one(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same concentrations (to 1e-12 of the peak) as the response built on np.linalg.eig."""
    model = MODELS[key]
    systems = build_systems(
        model,
        sample_parameters(
            model,
            CovariateArrays(np.full(500, 70.0), np.full(500, 40.0), False),
            np.random.default_rng(3),
        ),
    )
    regimen = Regimen.single_infusion(dose_mg=35.0, over_min=40.0).piecewise()
    fast = modal_response(systems, regimen)
    monkeypatch.setattr("ketaflow.pk.solver._closed_form_eigen", lambda a: None)
    monkeypatch.setattr("ketaflow.pk.solver._inverse", lambda v: np.linalg.inv(v))
    slow = modal_response(systems, regimen)
    t = np.linspace(0.0, 600.0, 241)
    y_fast, y_slow = evaluate(fast, t), evaluate(slow, t)
    assert np.max(np.abs(y_fast - y_slow)) <= 1e-12 * np.max(np.abs(y_slow))


def test_complex_roots_go_to_lapack_and_are_refused() -> None:
    rotation = np.array([[[-0.1, -1.0, 0.0], [1.0, -0.1, 0.0], [0.0, 0.0, -0.5]]])
    assert _closed_form_eigen(rotation) is None
    with pytest.raises(ValueError, match="complex eigenvalues"):
        _eigen(rotation)
    assert _closed_form_eigen(rotation[:, :2, :2]) is None


def test_a_repeated_root_is_refused_as_before() -> None:
    """Two equal rate constants (a defective matrix): no closed form, and the solver refuses
    it by the eigenvector condition exactly as it did with LAPACK alone."""
    chain = np.array([[[-0.2, 0.0], [0.2, -0.2]]])
    assert _closed_form_eigen(chain) is None
    systems = LinearSystems(chain, np.array([1.0, 0.0]), np.array([[[0.0, 1.0]]]), ("x",))
    regimen = Regimen.single_infusion(dose_mg=35.0, over_min=40.0).piecewise()
    with pytest.raises(ValueError, match="near-repeated eigenvalues"):
        modal_response(systems, regimen)


def test_other_sizes_use_lapack() -> None:
    assert _closed_form_eigen(np.diag([-1.0, -2.0, -3.0, -4.0])[None]) is None
    lam, _ = _eigen(np.diag([-1.0, -2.0, -3.0, -4.0])[None])
    assert sorted(lam[0]) == [-4.0, -3.0, -2.0, -1.0]
