"""Benchmark: pilotdid.green.gml (global Malmquist-Luenberger on SBM) vs DEAPack.

    /work/venv/bin/python benchmarks/bench_gml.py                 # 290 units x 20 years
    /work/venv/bin/python benchmarks/bench_gml.py --units 60      # smaller, quick
    /work/venv/bin/python benchmarks/bench_gml.py --skip-peer     # pilotdid alone

Design (the acceptance case of issue 8): 290 units x 20 years = 5,800 DMUs, 3 inputs, 1 good
and 2 bad outputs, CRS, global frontier. pilotdid: ``pilotdid.green.gml`` timed ``--runs``
times (median). It solves 5,800 SBM programs against all 5,800 DMUs (global frontier) and
5,800 against the 290 DMUs of the same year (contemporaneous frontiers, for EC and TC).

The peer: DEAPack (PyPI ``deapack``, test/benchmark-only) ``UndesirableSlacksBasedDEA``
(Tone's separable SBM with undesirable outputs, strong disposability: the same model) fitted
once on the pooled 5,800 rows (global frontier) and once per year (20 contemporaneous fits);
GML, EC and TC are then the same ratios. The two GML series are checked to agree (1e-6).
Prints ``pilotdid X s | DEAPack Y s | ratio``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import polars as pl

import pilotdid as pdid

INPUTS = ["labour", "capital", "energy"]
GOOD = "gdp"
BAD = ["so2", "wastewater"]


def make_data(n_units: int, n_years: int, seed: int = 20) -> pl.DataFrame:
    """Cobb-Douglas output with inefficiency and technical progress; bad outputs
    proportional to energy use with noise. All values strictly positive."""
    rng = np.random.default_rng(seed)
    n = n_units * n_years
    year = np.tile(np.arange(n_years), n_units)
    size = np.repeat(np.exp(rng.normal(scale=0.8, size=n_units)), n_years)
    x = {k: size * np.exp(rng.normal(scale=0.3, size=n)) for k in INPUTS}
    lny = (
        0.4 * np.log(x["labour"])
        + 0.4 * np.log(x["capital"])
        + 0.2 * np.log(x["energy"])
        + 0.02 * year
        - np.abs(rng.normal(scale=0.3, size=n))
    )
    y = np.exp(lny)
    so2 = x["energy"] * np.exp(rng.normal(scale=0.4, size=n) - 0.02 * year)
    ww = y * np.exp(rng.normal(scale=0.4, size=n))
    return pl.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_years),
            "year": 2001 + year,
            **x,
            "gdp": y,
            "so2": so2,
            "wastewater": ww,
        }
    )


def run_pilotdid(df: pl.DataFrame) -> pl.DataFrame:
    return pdid.green.gml(
        df,
        inputs=INPUTS,
        good=GOOD,
        bad=BAD,
        unit="unit",
        time="year",
        rts="crs",
    )


def run_deapack(df: pl.DataFrame) -> np.ndarray:
    import deapack as dp
    import pandas as pd

    pdf = pd.DataFrame({c: df[c].to_numpy() for c in df.columns})
    pdf["row"] = np.arange(len(pdf))

    def fit(frame):
        data = dp.DEAData.from_frame(frame, inputs=INPUTS, outputs=GOOD, bad_outputs=BAD, dmu="row")
        res = dp.UndesirableSlacksBasedDEA(returns_to_scale="crs").fit(data)
        return res.summary_frame["score"].to_numpy()

    eg = fit(pdf)
    et = np.empty(len(pdf))
    for _, sub in pdf.groupby("year"):
        et[sub["row"].to_numpy()] = fit(sub)
    out = pl.DataFrame({"unit": df["unit"], "year": df["year"], "eg": eg, "et": et}).sort(
        "unit", "year"
    )
    gml = (out["eg"] / out["eg"].shift(1)).to_numpy()
    gml[out["year"].to_numpy() == out["year"].min()] = np.nan
    return gml


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=290)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-peer", action="store_true")
    args = ap.parse_args()
    df = make_data(args.units, args.years)
    print(f"{args.units} units x {args.years} years = {df.height} DMUs, 3 inputs, 1 good, 2 bad")
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        g = run_pilotdid(df)
        times.append(time.perf_counter() - t0)
    t_p = statistics.median(times)
    print(f"pilotdid gml: median {t_p:.2f} s over {args.runs} runs ({times})")
    if args.skip_peer:
        return
    t0 = time.perf_counter()
    peer = run_deapack(df)
    t_d = time.perf_counter() - t0
    mine = g.sort("unit", "year")["gml"].fill_null(np.nan).to_numpy()
    ok = ~np.isnan(peer)
    diff = float(np.max(np.abs(mine[ok] - peer[ok])))
    print(f"max |GML pilotdid - GML DEAPack| = {diff:.2e}")
    print(f"pilotdid {t_p:.2f} s | DEAPack {t_d:.2f} s | {t_d / t_p:.1f}x")


if __name__ == "__main__":
    main()
