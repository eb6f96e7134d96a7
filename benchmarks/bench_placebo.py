"""Benchmark: pilotdid.placebo vs the equivalent loop over pyfixest.feols.

    /work/venv/bin/python benchmarks/bench_placebo.py                   # 1,000 reps
    /work/venv/bin/python benchmarks/bench_placebo.py --peer-reps 1000  # full pyfixest loop

Design (the acceptance case of issue 4): a balanced panel of 290 units x 20 years, staggered
adoption (4 cohorts + never treated), three controls, ``y ~ did + x1 + x2 + x3 | unit + year``
with CR1 by unit. Placebo scheme "units" (cohorts permuted across units), 1,000 replicates.

pilotdid: ``pilotdid.placebo(fit, df, reps=1000, scheme="units", seed=1)`` timed ``--runs``
times (median; the first call is a warm-up). The peer: for each replicate, permute the
cohorts across units with numpy, rebuild the DID column and call ``pyfixest.feols`` with the
same formula (its defaults otherwise), keeping the coefficient - what a user's loop does.
The pyfixest loop runs ``--peer-reps`` replicates (default 100) and its time is scaled
linearly to the pilotdid replicate count (independent fits: the loop is linear in the
number of replicates); pass ``--peer-reps 1000`` to time the full loop. The placebo
coefficients of the first replicates are checked against pyfixest refits on pilotdid's own
placebo assignments (agreement to 1e-6 relative; pyfixest's default demeaning tolerance).
Prints ``pilotdid X s | pyfixest Y s | ratio``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402

import pilotdid as pdid  # noqa: E402
from pilotdid.robust.randomization import placebo  # noqa: E402

FML = "y ~ did + x1 + x2 + x3 | unit + year"


def build(n_units: int = 290, n_years: int = 20, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2001 + n_years)
    cohorts = rng.choice([0, 2006, 2009, 2012, 2015], size=n_units, p=[0.4, 0.15, 0.15, 0.15, 0.15])
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(years, n_units)
    g = cohorts[unit]
    did = ((g > 0) & (year >= g)).astype(float)
    a = rng.normal(size=n_units)[unit]
    b = rng.normal(size=n_years)[year - years[0]]
    x1 = 0.5 * a + rng.normal(size=unit.size)
    x2 = 0.3 * b + rng.normal(size=unit.size)
    x3 = rng.normal(size=unit.size)
    y = a + b + 0.3 * did + 0.5 * x1 - 0.2 * x2 + 0.1 * x3 + rng.normal(size=unit.size)
    return pd.DataFrame(
        {"unit": unit, "year": year, "cohort": g, "did": did, "x1": x1, "x2": x2, "x3": x3, "y": y}
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-reps", type=int, default=100)
    args = ap.parse_args()

    pdf = build()
    df = pl.DataFrame({c: pdf[c].to_numpy() for c in pdf.columns})
    fit = pdid.feols(FML, df, vcov={"CR1": "unit"})
    placebo(fit, data=df, reps=args.reps, seed=1)  # warm-up
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        res = placebo(fit, data=df, reps=args.reps, scheme="units", seed=1)
        times.append(time.perf_counter() - t0)
    t_pdid = statistics.median(times)

    import pyfixest as pf

    rng = np.random.default_rng(1)
    unit_cohort = pdf.groupby("unit")["cohort"].first().to_numpy()
    unit = pdf["unit"].to_numpy()
    year = pdf["year"].to_numpy()
    work = pdf.copy()
    peer = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf.feols(FML, data=work, vcov={"CRV1": "unit"})  # warm-up
        t0 = time.perf_counter()
        for _ in range(args.peer_reps):
            g = rng.permutation(unit_cohort)[unit]
            work["did"] = ((g > 0) & (year >= g)).astype(float)
            peer.append(pf.feols(FML, data=work, vcov={"CRV1": "unit"}).coef()["did"])
        t_peer_loop = time.perf_counter() - t0
        # Same assignments: pyfixest on pilotdid's placebo data for a few replicates.
        worst = 0.0
        for r in range(3):
            pdata = res.placebo_data(r)
            d = pd.DataFrame({c: pdata.get_column(c).to_numpy() for c in pdata.columns})
            b = pf.feols(FML, data=d, vcov={"CRV1": "unit"}).coef()["did"]
            worst = max(worst, abs(b - res.estimates[r]) / max(abs(b), 1e-12))
    t_peer = t_peer_loop * args.reps / args.peer_reps
    scaled = "" if args.peer_reps == args.reps else f" (scaled from {args.peer_reps} reps)"
    print(
        f"placebo, {pdf['unit'].nunique()} units x {pdf['year'].nunique()} years, "
        f"{args.reps} reps, {os.cpu_count()} cpus"
    )
    print(f"check: max relative difference vs pyfixest on 3 replicates {worst:.2e}")
    print(f"pilotdid {t_pdid:.3f} s | pyfixest {t_peer:.2f} s{scaled} | {t_peer / t_pdid:.0f}x")


if __name__ == "__main__":
    main()
