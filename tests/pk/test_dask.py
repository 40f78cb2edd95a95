"""The same population call on a Dask cluster (a small local one) gives the same answer."""

from __future__ import annotations

from typing import Any

import distributed
import numpy as np

from ketaflow.pk import Regimen, WeightDistribution, get_model, simulate_population, time_grid


def test_dask_cluster_matches_local_threads() -> None:
    model = get_model("fanta")
    regimen = Regimen.single_infusion(17.5, 40.0)
    t = time_grid(600.0, 2.0)
    common: dict[str, Any] = {
        "n_subjects": 1500,
        "weight": WeightDistribution(70.0, 0.1),
        "seed": 8,
    }
    local = simulate_population(model, regimen, t, **common)
    local_cluster: Any = distributed.LocalCluster  # dask ships no type hints
    client_class: Any = distributed.Client
    with (
        local_cluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        client_class(cluster) as client,
    ):
        remote = simulate_population(model, regimen, t, client=client, **common)
    for key in local.bands:
        np.testing.assert_allclose(remote.bands[key], local.bands[key], rtol=1e-12)
        np.testing.assert_allclose(
            remote.cmax_ng_per_ml[key], local.cmax_ng_per_ml[key], rtol=1e-12
        )
