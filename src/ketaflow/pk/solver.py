"""Exact solution of linear compartment models for piecewise-constant input.

For x' = A x + b u(t), y = C x, with A = V diag(lambda) V^-1, the modal state z = V^-1 x evolves
independently per mode. On an interval [t_m, t_m+1) with constant rate u_m, starting from z_m
(after any bolus at t_m):

    z(t) = exp(lambda tau) * (z_m + g u_m / lambda) - g u_m / lambda,   tau = t - t_m, g = V^-1 b

so each output is ``offset[m] + sum_i amplitude[m, i] * exp(lambda_i * tau)``. The coefficients
are computed once per breakpoint (a handful per regimen); every time point then costs one
exponential per mode. Nothing is integrated with a fixed step. Everything is batched over N
subjects (``np.linalg.eig`` on stacked matrices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketaflow.pk.models import (
    EFFECT_SITE_KEY,
    MG_PER_L_TO_NG_PER_ML,
    FlowKind,
    PKModel,
)
from ketaflow.pk.regimen import PiecewiseInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

EXP_FLOOR = -600.0
"""Exponents below this are raised to it before ``exp``: exp(-600) = 2.6e-261, so a decayed mode
contributes below 1e-250 ng/mL instead of producing subnormal numbers, which are several times
slower to compute with. No concentration of interest is affected."""

MAX_EIGENVECTOR_CONDITION = 1e10
"""Above this condition number (Frobenius norm) of the eigenvector matrix the modal sum would
lose more than about 6 of 16 significant digits; such systems are refused rather than solved
inexactly."""


@dataclass(frozen=True)
class LinearSystems:
    """N linear systems x' = A x + b u, y = C x. States in mg (effect site: mg/L)."""

    rate_matrix_per_min: FloatArray  # (N, n, n)
    input_vector: FloatArray  # (n,) mg of state per mg dosed
    output_matrix: FloatArray  # (N, n_out, n) ng/mL per unit of state
    output_keys: tuple[str, ...]


def build_systems(model: PKModel, params: dict[str, FloatArray]) -> LinearSystems:
    """Assemble the rate matrices of N subjects from their (scaled, varied) parameters."""
    index = {c.name: i for i, c in enumerate(model.compartments)}
    n_subjects = next(iter(params.values())).shape[0]
    n_states = len(model.compartments) + (1 if model.effect_site is not None else 0)
    a = np.zeros((n_subjects, n_states, n_states), dtype=np.float64)
    volume = {c.name: params[c.volume_parameter] for c in model.compartments if c.volume_parameter}
    for flow in model.flows:
        value = params[flow.parameter]
        if flow.kind is FlowKind.CLEARANCE:
            k = value / volume[flow.source]
        elif flow.kind is FlowKind.RATE_CONSTANT:
            k = value
        else:
            k = flow.chain_length / value
        k = k * flow.rate_multiplier
        s = index[flow.source]
        a[:, s, s] -= k
        if flow.target is not None:
            a[:, index[flow.target], s] += flow.fraction_to_target * k
    b = np.zeros(n_states, dtype=np.float64)
    b[index[model.dosing_compartment]] = 1.0
    keys = model.analyte_keys
    c = np.zeros((n_subjects, len(keys), n_states), dtype=np.float64)
    for j, analyte in enumerate(model.analytes):
        comp = analyte.compartment
        c[:, j, index[comp]] = MG_PER_L_TO_NG_PER_ML * analyte.mass_factor / volume[comp]
    if model.effect_site is not None:
        ke0 = model.effect_site.ke0_per_min
        central = index[model.dosing_compartment]
        e = n_states - 1
        a[:, e, central] = ke0 / volume[model.dosing_compartment]
        a[:, e, e] = -ke0
        c[:, keys.index(EFFECT_SITE_KEY), e] = MG_PER_L_TO_NG_PER_ML
    return LinearSystems(a, b, c, keys)


@dataclass(frozen=True)
class ModalResponse:
    """Closed-form response of N subjects to one regimen (subject axis last, contiguous).

    For ``breaks_min[m] <= t < breaks_min[m+1]`` (the last interval is unbounded), output j of
    subject s is ``offset[m, j, s] + sum_i amplitude[m, j, i, s] * exp(eigenvalues[i, s] * tau)``
    with ``tau = t - breaks_min[m]``; before ``breaks_min[0]`` it is zero."""

    breaks_min: FloatArray  # (K,)
    eigenvalues_per_min: FloatArray  # (n, N)
    amplitude: FloatArray  # (K, n_out, n, N) ng/mL
    offset: FloatArray  # (K, n_out, N) ng/mL
    output_keys: tuple[str, ...]

    @property
    def n_subjects(self) -> int:
        return int(self.eigenvalues_per_min.shape[1])

    def take(self, subjects: IntArray) -> ModalResponse:
        """The same response for a subset (or permutation) of subjects."""
        return ModalResponse(
            self.breaks_min,
            np.ascontiguousarray(self.eigenvalues_per_min[:, subjects]),
            np.ascontiguousarray(self.amplitude[..., subjects]),
            np.ascontiguousarray(self.offset[..., subjects]),
            self.output_keys,
        )

    @staticmethod
    def concatenate(parts: list[ModalResponse]) -> ModalResponse:
        first = parts[0]
        return ModalResponse(
            first.breaks_min,
            np.concatenate([p.eigenvalues_per_min for p in parts], axis=-1),
            np.concatenate([p.amplitude for p in parts], axis=-1),
            np.concatenate([p.offset for p in parts], axis=-1),
            first.output_keys,
        )


def modal_response(
    systems: LinearSystems, regimen: PiecewiseInput, dose_scale: FloatArray | None = None
) -> ModalResponse:
    """Coefficients of the closed form; ``dose_scale`` (N,) multiplies every dose per subject."""
    lam_c, vec_c = np.linalg.eig(systems.rate_matrix_per_min)
    if np.iscomplexobj(lam_c):
        if np.max(np.abs(lam_c.imag)) > 1e-9 * np.max(np.abs(lam_c.real)):
            raise ValueError(
                "complex eigenvalues: not a compartment structure this solver supports"
            )
        lam: FloatArray = np.ascontiguousarray(lam_c.real)
        vec: FloatArray = np.ascontiguousarray(vec_c.real)
    else:
        lam, vec = lam_c, vec_c
    if np.any(lam >= 0):
        raise ValueError("the model has a non-decaying mode (no elimination)")
    n_subjects, n_states = lam.shape
    try:
        inverse = np.linalg.inv(vec)
    except np.linalg.LinAlgError:
        inverse = np.full_like(vec, np.inf)
    # Frobenius-norm condition number: an upper bound of the 2-norm one (at most n times it),
    # from the inverse that the input vector needs anyway (no SVD per subject)
    cond = np.linalg.norm(vec, axis=(1, 2)) * np.linalg.norm(inverse, axis=(1, 2))
    if np.any(~np.isfinite(cond)) or np.max(cond) > MAX_EIGENVECTOR_CONDITION:
        raise ValueError(
            "near-repeated eigenvalues make the modal solution inexact "
            f"(eigenvector condition {np.max(cond):.3g})"
        )
    g = inverse @ systems.input_vector  # (N, n)
    if dose_scale is not None:
        g = g * dose_scale[:, None]
    h = systems.output_matrix @ vec  # (N, n_out, n)
    breaks = regimen.breaks_min
    n_breaks = breaks.shape[0]
    n_out = h.shape[1]
    amplitude = np.empty((n_breaks, n_out, n_states, n_subjects), dtype=np.float64)
    offset = np.empty((n_breaks, n_out, n_subjects), dtype=np.float64)
    z = np.zeros((n_subjects, n_states), dtype=np.float64)
    for m in range(n_breaks):
        z = z + g * regimen.boluses_mg[m]
        beta = g * (regimen.rates_mg_per_min[m] / lam)
        alpha = z + beta
        amplitude[m] = np.transpose(h * alpha[:, None, :], (1, 2, 0))
        offset[m] = -np.einsum("sjn,sn->js", h, beta)
        if m + 1 < n_breaks:
            z = np.exp(lam * (breaks[m + 1] - breaks[m])) * alpha - beta
    return ModalResponse(
        breaks, np.ascontiguousarray(lam.T), amplitude, offset, systems.output_keys
    )


def interval_index(breaks_min: FloatArray, time_min: FloatArray) -> IntArray:
    """Index m of the interval containing each time; -1 before the first breakpoint."""
    return np.searchsorted(breaks_min, time_min, side="right").astype(np.intp) - 1


def _runs(idx: IntArray) -> list[tuple[int, int, int]]:
    """(start, end, interval) for runs of consecutive equal interval indices."""
    if idx.shape[0] == 0:
        return []
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    ends = np.r_[starts[1:], idx.shape[0]]
    return [(lo, hi, int(idx[lo])) for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)]


def evaluate(response: ModalResponse, time_min: FloatArray) -> FloatArray:
    """Outputs at arbitrary times, shape (n_out, N, T). Subject-major: for few subjects."""
    ascending = bool(np.all(time_min[1:] >= time_min[:-1]))
    order = np.arange(time_min.shape[0]) if ascending else np.argsort(time_min, kind="stable")
    sorted_t = time_min if ascending else time_min[order]
    idx = interval_index(response.breaks_min, sorted_t)
    lam = response.eigenvalues_per_min.T  # (N, n)
    n_out = len(response.output_keys)
    out = np.zeros((n_out, response.n_subjects, time_min.shape[0]), dtype=np.float64)
    for lo, hi, m in _runs(idx):
        if m < 0:
            continue
        tau = sorted_t[lo:hi] - response.breaks_min[m]
        expo = lam[:, None, :] * tau[None, :, None]  # (N, T_m, n)
        np.maximum(expo, EXP_FLOOR, out=expo)
        np.exp(expo, out=expo)
        amp = np.transpose(response.amplitude[m], (2, 1, 0))  # (N, n, n_out)
        block = expo @ amp  # (N, T_m, n_out)
        out[:, :, lo:hi] = np.transpose(block, (2, 0, 1)) + response.offset[m][:, :, None]
    if not ascending:
        unsorted = np.empty_like(out)
        unsorted[:, :, order] = out
        return unsorted
    return out


def evaluate_time_major(response: ModalResponse, time_min: FloatArray) -> FloatArray:
    """Outputs at a block of times, shape (n_out, T, N): one row per time over all subjects,
    the layout used for exact percentiles across subjects."""
    idx = interval_index(response.breaks_min, time_min)
    n_out = len(response.output_keys)
    n_subjects = response.n_subjects
    out = np.zeros((n_out, time_min.shape[0], n_subjects), dtype=np.float64)
    lam = response.eigenvalues_per_min
    expo = np.empty((time_min.shape[0], n_subjects), dtype=np.float64)
    work = np.empty_like(expo)
    # runs of consecutive times in the same interval share their coefficients
    for lo, hi, m in _runs(idx):
        if m < 0:
            continue
        tau = time_min[lo:hi] - response.breaks_min[m]
        e, w = expo[: hi - lo], work[: hi - lo]
        for j in range(n_out):
            out[j, lo:hi] = response.offset[m, j]
        for i in range(lam.shape[0]):
            np.multiply.outer(tau, lam[i], out=e)
            np.maximum(e, EXP_FLOOR, out=e)
            np.exp(e, out=e)
            for j in range(n_out):
                np.multiply(e, response.amplitude[m, j, i], out=w)
                out[j, lo:hi] += w
    return out
