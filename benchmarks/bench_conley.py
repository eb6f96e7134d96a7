"""Conley spatial-HAC benchmark (issue 18): feols with two-way fixed effects on 10,000 units x
20 years, 200 km cutoff, lag 3, Bartlett. Target: under 10 s on the project machine.

Units are spread uniformly over a China-sized box (20-45 N, 95-125 E), about 150 neighbours
within 200 km per unit. No peer: pyfixest 0.60 has no Conley vcov (its PRs #1318/#1373 have
not landed in the installed version).

    PYTHONPATH=python python benchmarks/bench_conley.py [units] [years]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import polars as pl

import pilotdid


def main(units: int = 10_000, years: int = 20) -> None:
    rng = np.random.default_rng(2026)
    lat = rng.uniform(20, 45, units)
    lon = rng.uniform(95, 125, units)
    n = units * years
    x = rng.normal(size=n)
    df = pl.DataFrame(
        {
            "unit": np.repeat(np.arange(units), years),
            "year": np.tile(np.arange(2000, 2000 + years), units),
            "lat": np.repeat(lat, years),
            "lon": np.repeat(lon, years),
            "x": x,
            "y": 0.5 * x + rng.normal(size=n),
        }
    )
    spec = {"cutoff_km": 200, "lag": 3}
    t0 = time.perf_counter()
    base = pilotdid.feols("y ~ x | unit + year", df, vcov="hetero")
    t_hetero = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = pilotdid.feols("y ~ x | unit + year", df, vcov={"conley": spec})
    t_conley = time.perf_counter() - t0
    print(f"{units} units x {years} years, {r.vcov_type}")
    print(f"feols hetero: {t_hetero:.2f} s; feols conley: {t_conley:.2f} s (target < 10 s)")
    print(f"se(x): hetero {base.se()['x']:.5f}, conley {r.se()['x']:.5f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
