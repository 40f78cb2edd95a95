"""NMDA-receptor occupancy from binding affinities: an illustrative estimate, not a measurement.

Occupancy here is the fraction of [3H]MK-801 binding sites a competitive ligand mixture would
occupy at equilibrium (Ebert 1997 affinities). In vivo block is use- and voltage-dependent and
Mg2+-sensitive (pk.md §5), so the curve is labelled as an estimate wherever it is shown.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ketaflow.pk.models import (
    KETAMINE_MOLAR_MASS_G_PER_MOL,
    NORKETAMINE_MOLAR_MASS_G_PER_MOL,
    Drug,
)

FloatArray = npt.NDArray[np.float64]

KI_S_KETAMINE_UM = 0.30  # Ebert 1997 Eur J Pharmacol 333:99, [3H]MK-801, rat cortex [pk.md §5]
KI_R_KETAMINE_UM = 1.4  # Ebert 1997 [pk.md §5]
KI_S_NORKETAMINE_UM = 1.7  # Ebert 1997 [pk.md §5]
OCCUPANCY_LABEL = "NMDA receptor occupancy (estimate from Ebert 1997 binding Ki; illustrative)"


def nmda_occupancy_estimate(
    ketamine_ng_per_ml: FloatArray,
    drug: Drug,
    *,
    s_norketamine_ng_per_ml: FloatArray | None = None,
    unbound_fraction: float = 1.0,
) -> FloatArray:
    """theta = sum(C_i/K_i) / (1 + sum(C_i/K_i)) for ligands competing at one site.

    Racemic ketamine is split half S, half R (pk.md §5 sketch); esketamine is all S.
    ``unbound_fraction`` (plasma binding, about 0.53-0.77 [recalled in pk.md §5]) scales the
    total plasma concentration to the free concentration; the default 1 uses total plasma."""
    if not 0 < unbound_fraction <= 1:
        raise ValueError(f"unbound_fraction must be in (0, 1], got {unbound_fraction}")
    ketamine_um = unbound_fraction * ketamine_ng_per_ml / KETAMINE_MOLAR_MASS_G_PER_MOL
    if drug is Drug.RACEMIC_KETAMINE:
        ratio = 0.5 * ketamine_um / KI_S_KETAMINE_UM + 0.5 * ketamine_um / KI_R_KETAMINE_UM
    else:
        ratio = ketamine_um / KI_S_KETAMINE_UM
    if s_norketamine_ng_per_ml is not None:
        nk_um = unbound_fraction * s_norketamine_ng_per_ml / NORKETAMINE_MOLAR_MASS_G_PER_MOL
        ratio = ratio + nk_um / KI_S_NORKETAMINE_UM
    return np.asarray(ratio / (1.0 + ratio), dtype=np.float64)
