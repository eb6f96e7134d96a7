"""Synthetic DID with placebo SEs (200 replicates): pilotdid vs diff-diff's SyntheticDiD and
synthdid-py, on one generated block-adoption panel per size, in one process.

    PYTHONPATH=python python benchmarks/bench_synthdid.py [--units 1000 20000] [--repeat 3]
        [--periods 30] [--reps 200] [--peer-timeout 1800]

Prints the median wall time of each tool, its estimate and SE, and the ratio to pilotdid
(a peer slower than --peer-timeout seconds on its first run is not repeated). Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import polars as pl

import pilotdid as pdid


def make_panel(n_units: int, n_times: int, seed: int = 0) -> pl.DataFrame:
    """Factor-model panel: 5% treated from period 2/3 on, effect 1."""
    rng = np.random.default_rng(seed)
    n_tr = max(2, n_units // 20)
    t0 = (2 * n_times) // 3
    a = rng.normal(size=(n_units, 1))
    b = rng.normal(size=(1, n_times))
    load = rng.normal(size=(n_units, 2))
    fac = np.cumsum(rng.normal(size=(2, n_times)), axis=1) * 0.3
    y = a + b + load @ fac + rng.normal(size=(n_units, n_times))
    treated = np.zeros(n_units, dtype=np.int64)
    treated[-n_tr:] = 1
    post = np.arange(n_times) >= t0
    d = treated[:, None] * post[None, :]
    y = y + d * 1.0
    return pl.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_times),
            "time": np.tile(np.arange(1, n_times + 1), n_units),
            "y": y.ravel(),
            "d": d.ravel().astype(np.int64),
            "treated": np.repeat(treated, n_times),
        }
    )


def _pandas(df: pl.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: df.get_column(c).to_numpy() for c in df.columns})


def run_pilotdid(df, reps):
    r = pdid.synthdid(
        df, y="y", unit="unit", time="time", treatment="d", vcov="placebo", reps=reps, seed=1
    )
    return r.estimate, r.std_error


def run_diff_diff(pdf, reps, post):
    from diff_diff import SyntheticDiD

    res = SyntheticDiD(variance_method="placebo", n_bootstrap=reps, seed=1).fit(
        pdf, outcome="y", treatment="treated", unit="unit", time="time", post_periods=post
    )
    return float(res.att), float(res.se)


def run_synthdid_py(pdf, reps):
    import synthdid

    p = synthdid.panel_matrices(pdf, unit="unit", time="time", outcome="y", treatment="d")
    est = synthdid.synthdid_estimate(p.Y, p.N0, p.T0)
    return float(est), float(synthdid.placebo_se(est, reps, random_state=1))


def timed(fn, repeat, timeout):
    times, out = [], None
    for i in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if i == 0 and times[0] > timeout:
            break
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, nargs="+", default=[1000, 20000])
    ap.add_argument("--periods", type=int, default=30)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer-timeout", type=float, default=1800.0)
    ap.add_argument("--skip", nargs="*", default=[], help="peers to skip: diff-diff synthdid-py")
    args = ap.parse_args()
    for n in args.units:
        df = make_panel(n, args.periods)
        pdf = _pandas(df)
        post = list(range((2 * args.periods) // 3 + 1, args.periods + 1))
        rows = [("pilotdid", *timed(lambda df=df: run_pilotdid(df, args.reps), args.repeat, 1e9))]
        if "diff-diff" not in args.skip:
            rows.append(
                (
                    "diff-diff SyntheticDiD",
                    *timed(
                        lambda pdf=pdf, post=post: run_diff_diff(pdf, args.reps, post),
                        args.repeat,
                        args.peer_timeout,
                    ),
                )
            )
        if "synthdid-py" not in args.skip:
            rows.append(
                (
                    "synthdid-py",
                    *timed(
                        lambda pdf=pdf: run_synthdid_py(pdf, args.reps),
                        args.repeat,
                        args.peer_timeout,
                    ),
                )
            )
        base = rows[0][1]
        print(f"--- {n} units x {args.periods} periods, placebo SE, {args.reps} replicates")
        for name, secs, (est, se) in rows:
            print(
                f"{name:<24} {secs:9.3f} s  estimate {est:.6f}  se {se:.4f}  "
                f"{secs / base:6.1f}x pilotdid's time"
            )
        peers = [r[1] for r in rows[1:]]
        if peers:
            print(f"fastest peer / pilotdid: {min(peers) / base:.1f}x")


if __name__ == "__main__":
    main()
