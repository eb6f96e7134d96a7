"""Benchmark: CS placebo replicates at 290 cities x 20 years, serial vs a 2-process dask
LocalCluster (issue 19). Prints the ratio, the per-replicate cost, the shipping overhead
(scatter of the payload) and a projection for a 10-node cluster.

Usage: python benchmarks/bench_executor.py [reps]   (the brief's number is 2000)
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import polars as pl

import pilotdid


def panel(n_units: int = 290, n_years: int = 20, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    cohorts = rng.choice([0, 0, 2008, 2011, 2014], size=n_units)
    years = np.arange(2005, 2005 + n_years)
    u = np.repeat(np.arange(n_units), n_years)
    t = np.tile(years, n_units)
    g = cohorts[u]
    d = ((g > 0) & (t >= g)).astype(float)
    y = rng.normal(size=n_units)[u] + 0.05 * (t - 2005) + 0.1 * d + rng.normal(size=u.size)
    return pl.DataFrame({"city": u, "year": t, "did": d, "y": y})


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    df = panel()
    m = pilotdid.feols("y ~ did | city + year", df, vcov={"CR1": "city"})
    t0 = time.perf_counter()
    serial = pilotdid.placebo(m, data=df, reps=reps, seed=1, statistic="cs")
    t_serial = time.perf_counter() - t0
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        t0 = time.perf_counter()
        client.scatter([{"df": df}], broadcast=True, hash=False)
        t_ship = time.perf_counter() - t0
        t0 = time.perf_counter()
        par = pilotdid.placebo(m, data=df, reps=reps, seed=1, statistic="cs", executor=client)
        t_dask = time.perf_counter() - t0
    assert np.array_equal(par.estimates, serial.estimates)
    per_rep = t_serial / reps
    # 10 nodes x 2 cores, the same per-replicate cost, shipping once per worker
    proj = t_ship + reps * per_rep / 20
    print(
        f"reps {reps}, cores {os.cpu_count()}: serial {t_serial:.1f}s, dask 2 workers "
        f"{t_dask:.1f}s, ratio {t_serial / t_dask:.2f}x; per replicate {1e3 * per_rep:.1f} ms; "
        f"shipping the panel {1e3 * t_ship:.0f} ms; 10 nodes x 2 cores projected {proj:.1f}s"
    )


if __name__ == "__main__":
    main()
