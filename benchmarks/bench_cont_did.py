"""Benchmark: pilotdid.cont_did (continuous-dose DID, cubic B-spline, dose aggregation,
999-draw multiplier bootstrap with uniform bands) vs moderndid.cont_did (0.4.1, same options:
cband=True, biters=999).

    python benchmarks/bench_cont_did.py                 # 2,000 and 20,000 units
    python benchmarks/bench_cont_did.py --sizes 5000 --reps 3

Data: a staggered panel (6 periods, cohorts 3/4/5 and 30% never treated, one lognormal dose
per unit, a nonlinear dose effect), seeded. Both tools run in this one process on the same
data: one warm-up call each, then --reps timed calls; medians and ratio = moderndid /
pilotdid (> 1: pilotdid faster), with the largest |ATT(d|d)| difference as a sanity check.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import polars as pl
from _timing import time_it


def panel(n: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    periods = np.arange(1, 7)
    g = np.where(rng.random(n) < 0.3, 0, rng.choice([3, 4, 5], n))
    d = np.where(g > 0, np.exp(rng.normal(0, 0.5, n)), 0.0)
    unit = np.repeat(np.arange(1, n + 1), len(periods))
    t = np.tile(periods, n)
    gg, dd = np.repeat(g, len(periods)), np.repeat(d, len(periods))
    post = (gg > 0) & (t >= gg)
    y = (
        np.repeat(rng.normal(0, 1, n), len(periods))
        + 0.1 * t
        + np.where(post, np.sqrt(dd) + 0.1 * dd**2, 0.0)
        + rng.normal(0, 1, n * len(periods))
    )
    return pl.DataFrame({"id": unit, "t": t, "y": y, "g": gg, "d": dd})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    import pilotdid as pdid

    try:
        import moderndid as md
    except ImportError:  # pragma: no cover
        md = None
    for n in a.sizes:
        df = panel(n)

        def ours(df=df):
            r = pdid.cont_did(df, y="y", unit="id", time="t", dose="d", cohort="g", reps=999)
            return r.estimate("level")

        ours()
        t_ours, est = time_it(ours, a.reps)
        line = f"n={n:>7,}: pilotdid {t_ours:.3f} s"
        if md is not None:

            def theirs(df=df):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return md.cont_did(
                        df,
                        yname="y",
                        tname="t",
                        idname="id",
                        gname="g",
                        dname="d",
                        cband=True,
                        biters=999,
                        random_state=1,
                    ).att_d

            theirs()
            t_md, ref = time_it(theirs, a.reps)
            diff = float(np.max(np.abs(np.asarray(ref) - est)))
            line += f" | moderndid {t_md:.3f} s | {t_md / t_ours:.1f}x | max |diff| {diff:.1e}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
