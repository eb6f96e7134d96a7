"""Benchmark: the restricted wild cluster bootstrap (WCR, 9,999 Rademacher draws) of a
two-way FE regression with 41 clusters, pilotdid vs pyfixest's ``Feols.wildboottest`` (which
runs the ``wildboottest`` package on the design with the fixed effects as dummies).

    python benchmarks/bench_wild.py                    # 1 and 100 rows per city-year
    python benchmarks/bench_wild.py --rows-per-cell 1 --reps 5

Data (seeded): 41 clusters ("cities", as the Yangtze River Delta sample) x 20 years x
``rows-per-cell`` rows (firms) per city-year; a city-level treatment ``d`` switching on in
three batches, a firm regressor ``x``, city and year effects, errors correlated within
city. Model: ``y ~ d + x | city + year``, CR1 by city, H0: coefficient of ``d`` = 0. Each tool
is called once as warm-up and then ``--reps`` times; the median wall time and
ratio = pyfixest / pilotdid (> 1: pilotdid faster) are printed with both p-values (equal up to
Monte Carlo error: the two draw different Rademacher sequences) and the machine's load.
The time is that of the bootstrap call on an existing fit (both tools), not of the fit.
"""

from __future__ import annotations

import argparse
import os
import platform
import warnings

import numpy as np
import pandas as pd
from _timing import time_it

CLUSTERS = 41
YEARS = 20
DRAWS = 9999


def design(rows_per_cell: int, seed: int = 41) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = np.repeat(np.arange(CLUSTERS), YEARS * rows_per_cell)
    year = np.tile(np.repeat(np.arange(YEARS), rows_per_cell), CLUSTERS)
    batch = rng.choice([8, 9, 10, 99], size=CLUSTERS, p=[0.2, 0.2, 0.2, 0.4])
    d = (year >= batch[city]).astype(float)
    x = rng.normal(size=city.size)
    city_shock = rng.normal(0.0, 0.5, CLUSTERS)[city]
    y = (
        rng.normal(0.0, 1.0, CLUSTERS)[city]
        + 0.05 * year
        + 0.1 * d
        + 0.5 * x
        + city_shock * rng.normal(1.0, 0.2, city.size)
        + rng.normal(size=city.size)
    )
    return pd.DataFrame({"city": city, "year": year, "d": d, "x": x, "y": y})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows-per-cell", default="1,100", help="comma-separated rows per city-year")
    ap.add_argument("--reps", type=int, default=3, help="timed calls per tool (median)")
    a = ap.parse_args(argv)

    import pyfixest as pf

    import pilotdid as pdid

    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpus, "
        f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}; pyfixest "
        f"{pf.__version__}; load average {os.getloadavg()[0]:.2f}"
    )
    print(f"WCR wild cluster bootstrap, {DRAWS} Rademacher draws, {CLUSTERS} clusters, H0: d = 0")
    for cell in (int(float(s)) for s in a.rows_per_cell.split(",")):
        df = design(cell)
        fml = "y ~ d + x | city + year"
        ours = pdid.feols(fml, df, vcov={"CR1": "city"})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = pf.feols(fml, df, vcov={"CRV1": "city"})

        def run_ours(ours=ours):
            return ours.wildboottest("d", reps=DRAWS, seed=1)

        def run_ref(ref=ref):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ref.wildboottest(param="d", reps=DRAWS, seed=1)

        run_ours()  # warm-up
        t_ours, r_ours = time_it(run_ours, a.reps)
        run_ref()  # warm-up
        t_ref, r_ref = time_it(run_ref, a.reps)
        p_ref = float(r_ref["Pr(>|t|)"])
        print(
            f"[{len(df):,} rows, {cell} per city-year] pilotdid {t_ours:.4f} s | pyfixest "
            f"{t_ref:.4f} s | ratio {t_ref / t_ours:.1f}x | p-value {r_ours.p_value:.4f} vs "
            f"{p_ref:.4f} | load average {os.getloadavg()[0]:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
