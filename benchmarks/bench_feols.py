"""Benchmark: pilotdid.feols vs pyfixest.feols on simulated two-way fixed-effects panels.

    /work/venv/bin/python benchmarks/bench_feols.py                 # 1M and 10M rows
    /work/venv/bin/python benchmarks/bench_feols.py --quick         # 100k rows smoke run
    /work/venv/bin/python benchmarks/bench_feols.py --sizes 1e6 --reps 5

Model: ``y ~ x1 + x2 + x3 | unit + year`` with ``vcov={"CR1": "unit"}`` (pyfixest spelling
``{"CRV1": "unit"}``), fixef_rm="none" for both. Panels have 100 periods: 1M rows = 10,000 units,
10M rows = 100,000 units; each size is run balanced and unbalanced (10% of rows dropped at
random).

Both tools run in this one process on the same data: pyfixest gets a numpy-backed pandas frame,
pilotdid a polars frame built from the very same numpy arrays (``--pdid-frame pandas`` hands
pilotdid the pandas frame instead). pyfixest runs with its defaults (MAP demeaner, Rust backend,
fixef_tol 1e-6), i.e. what a user gets. Each tool is called once as warm-up, then ``--reps``
timed calls; the median wall time is reported, with ratio = pyfixest / pilotdid (> 1 means
pilotdid is faster). Coefficients must agree to 1e-6 relative (printed per case; the process
exits non-zero if they do not).

From 2**20 rows pilotdid takes its lean path for this model (two fixed effects, no weights,
no dropped row; core/src/linear/feols_lean.rs): no demeaned copy of the data is formed.
``--general`` turns it off, to time and measure the general path at the same sizes.

Demeaning bandwidth (pilotdid only), over the median of the demeaning times the core reports
in the timed runs, as a share of this machine's copy bandwidth (measured at the start: numpy
copy of 1 GiB, bytes read plus written). General path: the 4 demeaned columns (y, x1, x2, x3;
f64) read and written once, 4 * N * 8 * 2 bytes, the least any demeaner that writes them must
move (a lower bound on the traffic). Lean path: the phase solves each column's fixed effects
and writes no column, so it counts the 4 columns and the period codes read once,
(4 * 8 + 4) * N bytes. After each case the script prints the phase table of pilotdid's last
run (encode ids, singletons, row copy or scales, demeaning, cross products, solve, residuals
and meat or cluster codes, vcov), as the Rust core timed it.

Peak memory (``--rss 2e7``): each case runs in a fresh Python process that builds the panel,
keeps only the polars frame (the input arrays: 6 columns, 48 bytes a row), resets the kernel's
peak-RSS mark (``/proc/self/clear_refs``, Linux) and calls feols once; it prints the input
size, the process's peak RSS during the call as a multiple of the input, and what the call
added above the RSS just before it. That process imports numpy, polars and pilotdid only (no
pandas, no pyfixest), so its baseline is what a pilotdid user's process holds.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings
from typing import Any

import numpy as np
import polars as pl

N_PERIODS = 100
FML = "y ~ x1 + x2 + x3 | unit + year"
XNAMES = ["x1", "x2", "x3"]
BETA = np.array([1.0, -0.5, 0.25])
COEF_RTOL = 1e-6
COPY_GBPS: float | None = None  # measured in main()


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def build_panel(n_rows: int, unbalanced: bool, seed: int = 12345) -> dict[str, np.ndarray]:
    """unit x year panel with 100 periods, unit/year effects correlated with the regressors,
    unit-clustered errors; ``unbalanced`` drops 10% of rows uniformly at random."""
    rng = np.random.default_rng(seed)
    n_units = max(2, n_rows // N_PERIODS)
    n = n_units * N_PERIODS
    unit = np.repeat(np.arange(n_units, dtype=np.int64), N_PERIODS)
    year = np.tile(np.arange(2000, 2000 + N_PERIODS, dtype=np.int64), n_units)
    alpha = rng.standard_normal(n_units)
    gamma = rng.standard_normal(N_PERIODS) * 0.5
    a_u = alpha[unit]
    g_t = gamma[year - 2000]
    x1 = 0.5 * a_u + rng.standard_normal(n)
    x2 = 0.3 * g_t + rng.standard_normal(n)
    x3 = 0.2 * a_u - 0.2 * g_t + rng.standard_normal(n)
    y = a_u + g_t + BETA[0] * x1 + BETA[1] * x2 + BETA[2] * x3
    y += (rng.standard_normal(n_units) * 0.5)[unit] + rng.standard_normal(n)
    cols = {"unit": unit, "year": year, "x1": x1, "x2": x2, "x3": x3, "y": y}
    if unbalanced:
        keep = rng.random(n) >= 0.10
        cols = {k: np.ascontiguousarray(v[keep]) for k, v in cols.items()}
    return cols


def make_frames(cols: dict[str, np.ndarray]) -> tuple[Any, pl.DataFrame]:
    # pandas only here: the --rss child never imports it, so its baseline is pilotdid's own
    import pandas as pd

    pdf = pd.DataFrame({k: v for k, v in cols.items()}, copy=False)
    plf = pl.DataFrame({k: v for k, v in cols.items()})
    return pdf, plf


# ---------------------------------------------------------------------------------------------
# timing helpers
# ---------------------------------------------------------------------------------------------
def timed(fn, reps: int):
    """Warm up once, then ``reps`` timed calls. Returns (median seconds, times, last result)."""
    result = fn()
    times = []
    for _ in range(reps):
        del result
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def copy_bandwidth(gib: float = 1.0, reps: int = 5) -> float:
    """This machine's memory copy bandwidth in GB/s, counting bytes read plus bytes written
    (best of ``reps`` single-threaded copies of a ``gib`` GiB array)."""
    a = np.random.default_rng(0).random(int(gib * 2**27))
    b = np.empty_like(a)
    np.copyto(b, a)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best / 1e9


def phase_table(fit) -> list[tuple[str, float]]:
    """(phase, seconds) of pilotdid's last fit, as the Rust core timed them."""
    return list(fit._core.phases)


def demean_bandwidth(fit, n_obs: int, seconds: float) -> tuple[float, str]:
    """GB/s of demeaning over the core's demeaning time ``seconds`` (the median over the
    timed runs), counting the least traffic the path must move.

    General path: the 4 demeaned columns (y, x1, x2, x3; f64) read and written once,
    4 * N * 8 * 2 bytes. The exact paths make two passes and the iterative path one per
    sweep, so this is a lower bound on the traffic actually moved.

    Lean path (from 2**20 rows; core/src/linear/feols_lean.rs): no demeaned column is written;
    the phase solves each column's fixed effects, reading the 4 columns and the period codes
    (u32) once, 4 * N * 8 + 4 * N bytes. Its later passes (cross products, residuals and
    meat) read the columns again; they are timed as their own phases.
    """
    sweeps = list(fit._core.demean_iterations)
    note = f"{fit._core.demean_method}, sweeps per column {sweeps}"
    if fit._core.lean:
        return (4 * 8 + 4) * n_obs / seconds / 1e9, "lean path, read only: " + note
    return 4 * n_obs * 8 * 2 / seconds / 1e9, note


def _pdid_coefs(fit) -> np.ndarray:
    c = fit.coef()
    return np.array([c[k] for k in XNAMES])


def _pf_coefs(fit) -> np.ndarray:
    return fit.coef().loc[XNAMES].to_numpy()


# ---------------------------------------------------------------------------------------------
def run_case(
    label: str,
    n_rows: int,
    unbalanced: bool,
    reps: int,
    pdid_frame: str,
    skip_pyfixest: bool,
    pdid,
    pf,
) -> bool:
    t0 = time.perf_counter()
    cols = build_panel(n_rows, unbalanced)
    pdf, plf = make_frames(cols)
    n_obs = len(pdf)
    n_units = int(cols["unit"].max()) + 1
    dropped = ", 10% rows dropped" if unbalanced else ""
    print(
        f"\n[{label}] {n_obs:,} rows ({n_units:,} units x {N_PERIODS} periods{dropped}); "
        f"built in {time.perf_counter() - t0:.1f} s"
    )
    sys.stdout.flush()

    data_pdid = plf if pdid_frame == "polars" else pdf
    demean_seconds: list[float] = []

    def run_pd():
        fit = pdid.feols(FML, data_pdid, vcov={"CR1": "unit"}, fixef_rm="none")
        demean_seconds.append(dict(phase_table(fit))["demean"])
        return fit

    t_pd, times_pd, fit_pd = timed(run_pd, reps)
    # the warm-up call's demeaning is left out
    gbps, note = demean_bandwidth(fit_pd, fit_pd.nobs, statistics.median(demean_seconds[1:]))

    line = f"pilotdid {t_pd:.3f} s"
    ok = True
    if not skip_pyfixest:

        def run_pf():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pf.feols(FML, pdf, vcov={"CRV1": "unit"}, fixef_rm="none")

        t_pf, times_pf, fit_pf = timed(run_pf, reps)
        line += f" | pyfixest {t_pf:.3f} s | ratio {t_pf / t_pd:.2f}x"
        b_pd, b_pf = _pdid_coefs(fit_pd), _pf_coefs(fit_pf)
        rel = np.max(np.abs(b_pd - b_pf) / np.abs(b_pf))
        se_pd = np.array([fit_pd.se()[k] for k in XNAMES])
        se_pf = fit_pf.se().loc[XNAMES].to_numpy()
        rel_se = np.max(np.abs(se_pd - se_pf) / np.abs(se_pf))
        ok = bool(rel <= COEF_RTOL) and fit_pd.nobs == fit_pf._N
        agree = (
            f"coef max rel diff {rel:.1e} ({'OK' if rel <= COEF_RTOL else 'FAIL'} at "
            f"{COEF_RTOL:g}), se max rel diff {rel_se:.1e}, nobs {fit_pd.nobs:,} vs "
            f"{fit_pf._N:,}"
        )
    share = f" = {gbps / COPY_GBPS:.0%} of copy bandwidth" if COPY_GBPS else ""
    print(line + f" | demean {gbps:.2f} GB/s{share} ({note})")
    phases = phase_table(fit_pd)
    total = sum(sec for _, sec in phases)
    print(f"    phases of pilotdid's last run (core total {total:.3f} s of {t_pd:.3f} s wall):")
    for name, sec in phases:
        print(f"      {name:<28} {sec:7.3f} s  {sec / total:6.1%}")
    fmt = lambda ts: "[" + ", ".join(f"{t:.3f}" for t in ts) + "]"  # noqa: E731
    print(
        f"    runs: pilotdid {fmt(times_pd)}"
        + ("" if skip_pyfixest else f", pyfixest {fmt(times_pf)}")
    )
    if not skip_pyfixest:
        print("    " + agree)
    sys.stdout.flush()
    return ok


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_child(n_rows: int, case: str) -> int:
    """One feols call in this (fresh) process; prints input size and peak RSS multiples."""
    import pilotdid as pdid

    plf = pl.DataFrame(build_panel(n_rows, case == "unbalanced"))
    gc.collect()
    input_bytes = plf.estimated_size()
    before = _status_kib("VmRSS") * 1024
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM (the peak) to the current RSS
    fit = pdid.feols(FML, plf, vcov={"CR1": "unit"}, fixef_rm="none")
    peak = _status_kib("VmHWM") * 1024
    print(
        f"  {case}: {fit.nobs:,} rows, input {input_bytes / 1e9:.2f} GB; RSS before the call "
        f"{before / 1e9:.2f} GB, peak during it {peak / 1e9:.2f} GB = "
        f"{peak / input_bytes:.2f}x the input (the call added {(peak - before) / input_bytes:.2f}x)"
    )
    return 0


def rss_report(n_rows: int, cases: list[str], general: bool) -> None:
    import subprocess

    path = "general path" if general else "default path"
    print(f"\npeak RSS, one feols call per fresh process, {n_rows:,} rows ({path}):")
    sys.stdout.flush()
    for case in cases:
        cmd = [sys.executable, os.path.abspath(__file__), "--rss-child", str(n_rows), case]
        subprocess.run(cmd + (["--general"] if general else []), check=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sizes", default="1e6,1e7", help="comma-separated row counts (default 1e6,1e7)"
    )
    ap.add_argument("--reps", type=int, default=3, help="timed runs per tool (median reported)")
    ap.add_argument("--quick", action="store_true", help="100k rows only (smoke run)")
    ap.add_argument(
        "--cases",
        default="balanced,unbalanced",
        help="comma-separated subset of balanced,unbalanced",
    )
    ap.add_argument(
        "--pdid-frame",
        choices=["polars", "pandas"],
        default="polars",
        help="frame type handed to pilotdid (pyfixest always gets pandas)",
    )
    ap.add_argument(
        "--skip-pyfixest",
        action="store_true",
        help="time pilotdid only (no ratio, no agreement check)",
    )
    ap.add_argument(
        "--rss",
        type=float,
        default=None,
        help="only measure peak RSS at this many rows (fresh process per case)",
    )
    ap.add_argument(
        "--general",
        action="store_true",
        help="pilotdid on its general path only (the lean path, taken from 2**20 rows, off)",
    )
    ap.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.general:
        from pilotdid import regression

        regression._LEAN_MIN_ROWS = 1 << 62
    if args.rss_child:
        return rss_child(int(args.rss_child[0]), args.rss_child[1])

    global COPY_GBPS
    COPY_GBPS = copy_bandwidth()
    print(f"memory copy bandwidth: {COPY_GBPS:.1f} GB/s (read + write, numpy, 1 GiB)")
    sizes = [100_000] if args.quick else [int(float(s)) for s in args.sizes.split(",") if s]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in ("balanced", "unbalanced"):
            ap.error(f"unknown case {c!r}")

    if args.rss is not None:
        rss_report(int(args.rss), cases, args.general)
        return 0

    try:
        import pilotdid as pdid
    except ImportError as e:  # pragma: no cover - the point of the script is to run it
        print(
            f"cannot import pilotdid ({e}); build it first: maturin develop --release",
            file=sys.stderr,
        )
        return 2
    pf = None
    if not args.skip_pyfixest:
        import pyfixest as pf  # benchmark-only peer

    path = "general path only" if args.general else "lean path from 2**20 rows"
    print(f"bench_feols: {FML}, vcov CR1(unit), fixef_rm='none'; pilotdid {path}")
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}; "
        f"pilotdid {getattr(pdid, '__version__', '?')} (input: {args.pdid_frame})"
        + ("" if pf is None else f", pyfixest {pf.__version__} (input: pandas, numpy-backed)")
    )
    print(f"warm-up 1 + median of {args.reps} runs; ratio = pyfixest / pilotdid")

    all_ok = True
    for n in sizes:
        for case in cases:
            label = f"{case} {n / 1e6:g}M" if n >= 1_000_000 else f"{case} {n / 1e3:g}k"
            all_ok &= run_case(
                label,
                n,
                case == "unbalanced",
                args.reps,
                args.pdid_frame,
                args.skip_pyfixest,
                pdid,
                pf,
            )
    if not args.skip_pyfixest:
        print("\ncoefficient agreement: " + ("all OK" if all_ok else "FAILED (see above)"))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
