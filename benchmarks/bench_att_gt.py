"""Benchmark: pilotdid.att_gt (Callaway & Sant'Anna, dr, 999-draw multiplier bootstrap) vs the
Python peers that are installed (diff-diff, csdid, moderndid).

    python benchmarks/bench_att_gt.py                      # 50,000 and 500,000 units
    python benchmarks/bench_att_gt.py --sizes 5e4 --reps 3
    python benchmarks/bench_att_gt.py --quick              # 5,000 units smoke run
    python benchmarks/bench_att_gt.py --covariate          # ... with lpop as a covariate

Data: mpdta (500 counties x 2003-2007, /work/shared/reference/mpdta.csv) stacked to the
requested number of units: unit copies get new ids, and N(0, 0.01^2) noise is added to the
outcome (seeded). Estimator: never-treated controls, doubly robust, no covariates (or, with
--covariate, mpdta's time-invariant log population lpop in both the outcome regression and the
propensity score, through each tool's own covariate argument), varying base period,
multiplier bootstrap with 999 draws (pilotdid: Mammen weights as R did; diff-diff: its
default Rademacher; csdid: Mammen). All tools run in this one process on the same data; each
tool is called once as warm-up (skipped at sizes where a single call exceeds --max-seconds),
then --reps timed calls; medians and ratio = peer / pilotdid (> 1: pilotdid faster) are printed,
with the largest |ATT(g,t)| difference to pilotdid as a sanity check.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from _timing import time_it

MPDTA = Path(__file__).resolve().parent.parent / ".." / "shared" / "reference" / "mpdta.csv"
if not MPDTA.exists():
    MPDTA = Path("/work/shared/reference/mpdta.csv")


def stacked(n_units: int, seed: int = 2021) -> pl.DataFrame:
    base = pl.read_csv(MPDTA).sort(["countyreal", "year"])
    reps = int(np.ceil(n_units / 500))
    rng = np.random.default_rng(seed)
    ids = base["countyreal"].to_numpy()
    _, code = np.unique(ids, return_inverse=True)
    parts = []
    for r in range(reps):
        parts.append(
            base.with_columns(
                pl.Series("countyreal", code + r * 500 + 1),
                pl.Series("lemp", base["lemp"].to_numpy() + rng.normal(0, 0.01, base.height)),
            )
        )
    out = pl.concat(parts)
    return out.filter(pl.col("countyreal") <= n_units)


COVARIATES: list[str] = []


def run_pilotdid(d):
    from pilotdid.did.staggered import att_gt

    r = att_gt(
        d,
        controls=COVARIATES or None,
        y="lemp",
        time="year",
        unit="countyreal",
        cohort="first.treat",
        bstrap=True,
        reps=999,
        cband=True,
        seed=1,
    )
    return r.tidy().sort(["group", "t"])["estimate"].to_numpy()


def run_diffdiff(pdf):
    from diff_diff import CallawaySantAnna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = CallawaySantAnna(estimation_method="dr", n_bootstrap=999, seed=1, cband=True)
        res = cs.fit(
            pdf,
            outcome="lemp",
            unit="countyreal",
            time="year",
            first_treat="first.treat",
            covariates=COVARIATES or None,
        )
    eff = res.group_time_effects
    keys = sorted(eff)
    return np.array([eff[k]["effect"] for k in keys])


def run_csdid(pdf):
    from csdid.att_gt import ATTgt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ATTgt(
            yname="lemp",
            gname="first.treat",
            idname="countyreal",
            tname="year",
            data=pdf,
            control_group=["nevertreated"],
            xformla=("lemp ~ " + " + ".join(COVARIATES)) if COVARIATES else None,
            biters=999,
            cband=True,
        )
        m.fit(est_method="dr", bstrap=True)
    return np.asarray(m.results["att"], dtype=float)


def run_moderndid(pdf):
    import moderndid

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = moderndid.att_gt(
            data=pdf,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            xformla=("~ " + " + ".join(COVARIATES)) if COVARIATES else None,
            est_method="dr",
            boot=True,
            biters=999,
            cband=True,
            random_state=1,
        )
    return np.asarray(r.att_gt, dtype=float)


PEERS = {"diff-diff": run_diffdiff, "csdid": run_csdid, "moderndid": run_moderndid}


def available(name):
    mod = {"diff-diff": "diff_diff", "csdid": "csdid", "moderndid": "moderndid"}[name]
    try:
        __import__(mod)
        return True
    except Exception:
        return False


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="5e4,5e5")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="skip a peer at larger sizes once one call took longer than this",
    )
    ap.add_argument("--peers", default="diff-diff,csdid,moderndid")
    ap.add_argument("--covariate", action="store_true", help="lpop in the DR nuisance models")
    a = ap.parse_args(argv)
    if a.covariate:
        COVARIATES[:] = ["lpop"]
    sizes = [5000] if a.quick else [int(float(s)) for s in a.sizes.split(",")]
    peers = [p for p in a.peers.split(",") if p and available(p)]
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpus, "
        f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}; peers: {peers}; "
        f"covariates: {COVARIATES or 'none'}; load average {os.getloadavg()[0]:.2f}"
    )
    too_slow: set[str] = set()
    for n in sizes:
        d = stacked(n)
        pdf = pd.DataFrame({c: d[c].to_numpy() for c in d.columns})
        run_pilotdid(d)  # warm-up
        t_p, att_p = time_it(lambda d=d: run_pilotdid(d), a.reps)
        print(f"\n{n:,} units ({d.height:,} rows)")
        print(f"  {'pilotdid':<12}{t_p:>10.3f} s")
        for p in peers:
            if p in too_slow:
                print(f"  {p:<12}{'skipped (too slow at a smaller size)':>40}")
                continue
            try:
                t0 = time.perf_counter()
                att = PEERS[p](pdf)  # warm-up / single timing if slow
                t1 = time.perf_counter() - t0
                if t1 > a.max_seconds:
                    too_slow.add(p)
                    t_q = t1
                    note = " (1 run)"
                else:
                    t_q, att = time_it(lambda p=p, pdf=pdf: PEERS[p](pdf), a.reps)
                    note = ""
            except Exception as e:  # a peer failing must not stop the benchmark
                print(f"  {p:<12} failed: {type(e).__name__}: {str(e)[:100]}")
                continue
            diff = ""
            if att is not None and len(att) == len(att_p):
                diff = f"   max|dATT| {np.nanmax(np.abs(np.sort(att) - np.sort(att_p))):.2e}"
            print(f"  {p:<12}{t_q:>10.3f} s   ratio {t_q / t_p:>7.1f}x{note}{diff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
