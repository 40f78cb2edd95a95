"""Exact solution of linear compartment models for piecewise-constant input.

For x' = A x + b u(t), y = C x, with A = V diag(lambda) V^-1, the modal state z = V^-1 x evolves
independently per mode. On an interval [t_m, t_m+1) with constant rate u_m, starting from z_m
(after any bolus at t_m):

    z(t) = exp(lambda tau) * (z_m + g u_m / lambda) - g u_m / lambda,   tau = t - t_m, g = V^-1 b

so each output is ``offset[m] + sum_i amplitude[m, i] * exp(lambda_i * tau)``. The coefficients
are computed once per breakpoint (a handful per regimen); every time point then costs one
exponential per mode. Nothing is integrated with a fixed step. Everything is batched over N
subjects (eigenvalues in closed form for 2 and 3 states, ``np.linalg.eig`` on stacked
matrices otherwise).
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


def _cross(
    r: tuple[FloatArray, FloatArray, FloatArray], s: tuple[FloatArray, FloatArray, FloatArray]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    return (r[1] * s[2] - r[2] * s[1], r[2] * s[0] - r[0] * s[2], r[0] * s[1] - r[1] * s[0])


def _closed_form_eigen(a: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """Eigenvalues (N, n) and unit right eigenvectors (N, n, n) of N real 2x2 or 3x3 matrices in
    closed form, or ``None`` when a subject's roots are not clearly real (then the caller uses
    LAPACK for all). ``np.linalg.eig`` calls LAPACK once per 3x3 matrix (about 10 us each, 0.1 s
    for 10,000 subjects, serial before any worker starts); the same numbers from whole-array
    arithmetic take about a tenth of that (benchmarks/pk_benchmark.py, docs/performance-pk.md).

    Roots: the characteristic polynomial's (trigonometric form of the cubic, on the matrix
    shifted by a third of its trace), then two Newton steps on the unshifted polynomial, which
    restore full relative precision to a small eigenvalue next to large ones. Vectors: the null
    vector of A - lambda I, the longest cross product of two of its rows (3x3) or the normal of
    its longer row (2x2). Agrees with LAPACK to about 1e-14 (tests/pk/test_solver.py)."""
    n_subjects, n, _ = a.shape
    e = [[np.ascontiguousarray(a[:, i, j]) for j in range(n)] for i in range(n)]
    lam = np.empty((n, n_subjects), dtype=np.float64)
    vec = np.empty((n, n, n_subjects), dtype=np.float64)  # (component, mode, subject)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if n == 2:
            (a00, a01), (a10, a11) = e
            half = 0.5 * (a00 + a11)
            disc = 0.25 * (a00 - a11) ** 2 + a01 * a10
            if not np.all(disc > 0):
                return None
            root = np.sqrt(disc)
            det = a00 * a11 - a01 * a10
            big = half - np.where(half < 0, root, -root)  # the root of larger magnitude
            roots = (big, det / big)  # the smaller from the product, no cancellation
            for k, value in enumerate(roots):
                lam[k] = value
                m00, m11 = a00 - value, a11 - value
                first = m00 * m00 + a01 * a01 >= a10 * a10 + m11 * m11
                x = np.where(first, -a01, -m11)
                y = np.where(first, m00, a10)
                norm = np.sqrt(x * x + y * y)
                vec[0, k], vec[1, k] = x / norm, y / norm
        elif n == 3:
            (a00, a01, a02), (a10, a11, a12), (a20, a21, a22) = e
            trace = a00 + a11 + a22
            shift = trace / 3.0
            b00, b11, b22 = a00 - shift, a11 - shift, a22 - shift
            p = b00 * b11 - a01 * a10 + b00 * b22 - a02 * a20 + b11 * b22 - a12 * a21
            q = -(
                b00 * (b11 * b22 - a12 * a21)
                - a01 * (a10 * b22 - a12 * a20)
                + a02 * (a10 * a21 - b11 * a20)
            )
            r = np.sqrt(-p / 3.0)
            cosine = q / (-2.0 * r**3)
            # three distinct real roots: p < 0 and |cos| < 1 (a repeated root is refused below
            # by the eigenvector condition either way)
            if not np.all((p < 0) & (np.abs(cosine) < 1.0)):
                return None
            phi = np.arccos(cosine) / 3.0
            c1 = a00 * a11 - a01 * a10 + a00 * a22 - a02 * a20 + a11 * a22 - a12 * a21
            det = (
                a00 * (a11 * a22 - a12 * a21)
                - a01 * (a10 * a22 - a12 * a20)
                + a02 * (a10 * a21 - a11 * a20)
            )
            for k in range(3):
                value = 2.0 * r * np.cos(phi - 2.0 * np.pi * k / 3.0) + shift
                for _ in range(2):
                    f = ((value - trace) * value + c1) * value - det
                    slope = (3.0 * value - 2.0 * trace) * value + c1
                    value = value - f / slope
                lam[k] = value
                rows = (
                    (a00 - value, a01, a02),
                    (a10, a11 - value, a12),
                    (a20, a21, a22 - value),
                )
                best = _cross(rows[0], rows[1])
                best_norm = best[0] ** 2 + best[1] ** 2 + best[2] ** 2
                for i, j in ((0, 2), (1, 2)):
                    other = _cross(rows[i], rows[j])
                    other_norm = other[0] ** 2 + other[1] ** 2 + other[2] ** 2
                    longer = other_norm > best_norm
                    best = (
                        np.where(longer, other[0], best[0]),
                        np.where(longer, other[1], best[1]),
                        np.where(longer, other[2], best[2]),
                    )
                    best_norm = np.where(longer, other_norm, best_norm)
                scale = 1.0 / np.sqrt(best_norm)
                for i in range(3):
                    vec[i, k] = best[i] * scale
        else:
            return None
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(vec))):
        return None
    return np.ascontiguousarray(lam.T), np.ascontiguousarray(np.transpose(vec, (2, 0, 1)))


def _eigen(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Real eigenvalues (N, n) and right eigenvectors (N, n, n) of N rate matrices."""
    closed = _closed_form_eigen(a) if a.shape[1] in (2, 3) else None
    if closed is not None:
        return closed
    lam_c, vec_c = np.linalg.eig(a)
    if np.iscomplexobj(lam_c):
        if np.max(np.abs(lam_c.imag)) > 1e-9 * np.max(np.abs(lam_c.real)):
            raise ValueError(
                "complex eigenvalues: not a compartment structure this solver supports"
            )
        return np.ascontiguousarray(lam_c.real), np.ascontiguousarray(vec_c.real)
    return lam_c, vec_c


def _inverse(vec: FloatArray) -> FloatArray:
    """Inverse of N small matrices: the adjugate over the determinant for 2x2 and 3x3 (whole-
    array arithmetic; LAPACK's batched inverse costs about 1 us a matrix), LAPACK otherwise.
    A singular matrix gives infinities, which the caller's condition check refuses."""
    n = vec.shape[1]
    if n not in (2, 3):
        try:
            inverted = np.asarray(np.linalg.inv(vec), dtype=np.float64)
            return inverted
        except np.linalg.LinAlgError:
            return np.full_like(vec, np.inf)
    e = [[vec[:, i, j] for j in range(n)] for i in range(n)]
    out = np.empty_like(vec)
    with np.errstate(divide="ignore", invalid="ignore"):
        if n == 2:
            (m00, m01), (m10, m11) = e
            det = m00 * m11 - m01 * m10
            out[:, 0, 0], out[:, 0, 1] = m11 / det, -m01 / det
            out[:, 1, 0], out[:, 1, 1] = -m10 / det, m00 / det
        else:
            (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = e
            c00, c01, c02 = m11 * m22 - m12 * m21, m12 * m20 - m10 * m22, m10 * m21 - m11 * m20
            det = m00 * c00 + m01 * c01 + m02 * c02
            out[:, 0, 0], out[:, 1, 0], out[:, 2, 0] = c00 / det, c01 / det, c02 / det
            out[:, 0, 1] = (m02 * m21 - m01 * m22) / det
            out[:, 1, 1] = (m00 * m22 - m02 * m20) / det
            out[:, 2, 1] = (m01 * m20 - m00 * m21) / det
            out[:, 0, 2] = (m01 * m12 - m02 * m11) / det
            out[:, 1, 2] = (m02 * m10 - m00 * m12) / det
            out[:, 2, 2] = (m00 * m11 - m01 * m10) / det
    if not np.all(np.isfinite(out)):
        return np.full_like(vec, np.inf)
    return out


def modal_response(
    systems: LinearSystems, regimen: PiecewiseInput, dose_scale: FloatArray | None = None
) -> ModalResponse:
    """Coefficients of the closed form; ``dose_scale`` (N,) multiplies every dose per subject."""
    lam, vec = _eigen(systems.rate_matrix_per_min)
    if np.any(lam >= 0):
        raise ValueError("the model has a non-decaying mode (no elimination)")
    n_subjects, n_states = lam.shape
    inverse = _inverse(vec)
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
