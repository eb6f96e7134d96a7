"""Monte Carlo for pilotdid.mediation: coverage of the cluster-bootstrap CI of a*b and the
size of the Sobel test under a zero indirect effect.

Usage: python scripts/mc_mediation.py [n_datasets] [boot_reps]
Design: G clusters (units) x T years, unit and year effects, treatment switched on in a random
subset of units from a random year, cluster-correlated (AR-ish unit) errors;
m = a*d + unit + year + e_m, y = b*m + c'*d + unit + year + e_y. Fit with fixef unit+year,
CR1 by unit; percentile CI of a*b at 95%.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import polars as pl

import pilotdid
from pilotdid.mechanisms.baron_kenny import mediation


def simulate(
    rng: np.random.Generator, a: float, b: float, g: int = 40, t: int = 10
) -> pl.DataFrame:
    unit = np.repeat(np.arange(g), t)
    year = np.tile(np.arange(t), g)
    start = np.where(rng.random(g) < 0.5, rng.integers(3, t, g), 10**6)
    d = (year >= start[unit]).astype(float)
    ue_m, ue_y = rng.normal(size=g), rng.normal(size=g)
    ye = rng.normal(size=t)
    # cluster-correlated errors: a unit shock that persists plus noise
    sh_m, sh_y = rng.normal(size=g) * 0.5, rng.normal(size=g) * 0.5
    em = sh_m[unit] * (year / t) + rng.normal(size=g * t)
    ey = sh_y[unit] * (year / t) + rng.normal(size=g * t)
    m = a * d + ue_m[unit] + ye[year] + em
    y = b * m + 0.3 * d + ue_y[unit] + 0.5 * ye[year] + ey
    return pl.DataFrame({"unit": unit, "year": year, "d": d, "m": m, "y": y})


def run(n: int, reps: int, a: float, b: float, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    cover = reject = 0
    for i in range(n):
        df = simulate(rng, a, b)
        r = mediation(
            df,
            y="y",
            treatment="d",
            mediators=["m"],
            fixef="unit + year",
            vcov={"CR1": "unit"},
            reps=reps,
            seed=i,
        )
        row = r.table.row(0, named=True)
        cover += row["ci_low"] <= a * b <= row["ci_high"]
        reject += row["sobel_p"] < 0.05
    return cover / n, reject / n


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 299
    print(f"pilotdid {pilotdid.__version__}; {n} datasets, {reps} bootstrap replicates each")
    for a, b in [(0.5, 0.4), (0.0, 0.4), (0.5, 0.0)]:
        t0 = time.time()
        cov, rej = run(n, reps, a, b, seed=12345)
        print(
            f"a={a} b={b} a*b={a * b}: bootstrap 95% CI coverage {cov:.3f}; "
            f"Sobel rejection at 5% {rej:.3f}  ({time.time() - t0:.0f}s)"
        )
