"""Benchmark: the full Δ^RM sensitivity analysis (Rambachan & Roth 2023), pilotdid.honest_did vs
the `honestdid` Python package (0.1.1, a port of the R package) and diff-diff's HonestDiD.

    python benchmarks/bench_honest.py                    # 10 M̄ values, 100-point theta grid
    python benchmarks/bench_honest.py --grid-points 1000 # HonestDiD's default grid (slow oracle)

Problem: an event study with 5 pre and 5 post periods (a seeded correlated covariance and a
mild pre-trend), target the first post-period effect, M̄ in linspace(0, 2, 10), the C-LF hybrid
test (kappa = alpha/10, 1000 least-favourable draws) inverted on the same theta grid by both.
Both tools run in this one process; pilotdid is called once as warm-up, then --reps times; the
oracle once (minutes). The ratio is oracle / pilotdid (> 1: pilotdid faster). Both costs are
linear in --grid-points and in the number of M̄ values, so the ratio does not depend much on
them. The endpoints agree up to the least-favourable draws (each tool draws its own), at most
a grid step or two; tests/test_honest_*.py compare them exactly with shared draws.

diff-diff 3.13 is timed for reference only: its Δ^RM interval is the identified set widened by
z sd (no ARP test; see tests/test_honest_acceptance.py), a different and much cheaper object.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def problem(seed: int = 16) -> SimpleNamespace:
    """A duck-typed event study result: 5 leads, reference -1, 5 lags."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(10, 10))
    sigma = (a @ a.T) / 10 * 0.004 + np.eye(10) * 0.002
    et = np.array([-6, -5, -4, -3, -2, 0, 1, 2, 3, 4])
    mean = np.where(et < 0, 0.01 * (et + 1), 0.1 + 0.02 * et)
    beta = rng.multivariate_normal(mean, sigma)
    return SimpleNamespace(
        event_time=et,
        estimate=beta,
        vcov=lambda: sigma.copy(),
        reference=[-1],
        estimator="synthetic",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid-points", type=int, default=100)
    ap.add_argument("--n-mbar", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    from pilotdid.did.sensitivity import honest_did

    es = problem()
    beta, sigma = es.estimate, es.vcov()
    mbars = np.linspace(0, 2, args.n_mbar)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpus; 5 pre / 5 post, "
        f"{len(mbars)} M̄ values, C-LF, {args.grid_points}-point grid"
    )

    def ours():
        return honest_did(
            es, m_bar=mbars, method="C-LF", grid_points=args.grid_points, breakdown=False
        )

    ours()
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        res = ours()
        times.append(time.perf_counter() - t0)
    t_ours = statistics.median(times)
    print(f"pilotdid.honest_did        {t_ours:9.3f} s  (median of {args.reps})")

    try:
        import honestdid.core as hd
        import pytest
    except ImportError:
        print("honestdid not installed: pip install honestdid==0.1.1")
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from test_honest_did import _numpy2_compatible  # honestdid 0.1.1's float() on (1,1) arrays

    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _numpy2_compatible(mp)
        t0 = time.perf_counter()
        df = hd.createSensitivityResults_relativeMagnitudes(
            beta, sigma, 5, 5, method="C-LF", Mbarvec=mbars, gridPoints=args.grid_points
        )
        t_hd = time.perf_counter() - t0
    step = 40 * np.sqrt(sigma[5, 5]) / (args.grid_points - 1)
    gap = np.max(np.abs(np.c_[df.lb, df.ub] - np.c_[res.lb, res.ub])) / step
    print(
        f"honestdid 0.1.1            {t_hd:9.3f} s  ratio {t_hd / t_ours:8.1f}x  "
        f"(endpoints within {gap:.0f} grid steps)"
    )

    try:
        from diff_diff.honest_did import HonestDiD
    except ImportError:
        return
    hdd = HonestDiD(method="relative_magnitude")
    t0 = time.perf_counter()
    for m in mbars:
        hdd._compute_rm_bounds(
            beta[:5],
            beta[5:],
            sigma,
            sigma[5:, 5:],
            np.eye(5)[0],
            5,
            5,
            float(m),
            list(es.event_time[:5]),
            None,
        )
    t_dd = time.perf_counter() - t0
    print(
        f"diff-diff 3.13 (naive RM)  {t_dd:9.3f} s  ratio {t_dd / t_ours:8.1f}x  "
        "(identified set ± z sd, not the ARP test)"
    )


if __name__ == "__main__":
    main()
