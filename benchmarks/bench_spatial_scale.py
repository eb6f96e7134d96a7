"""Spatial diagnostics at scale (issue 18, scope item 5). Each part runs in its own process so
that its peak RSS (getrusage ru_maxrss) is its own.

- knn: ``weights.knn`` on 1,000,000 points (k = 6), target < 10 s; peer: scipy's cKDTree on
  the 3-D unit vectors (build + query, the same neighbour sets).
- lm: ``lm_tests`` on 50,000 units x 2 periods (kNN W, k = 6), peak RSS < 2 GB (a dense W
  alone would be 20 GB).
- moran: global Moran's I (99 permutations) and local Moran (99 permutations per unit) on
  50,000 units, peak RSS < 2 GB.
- effects: per-unit effects of a SAR at N = 10,000 (sparse solves; refused before).

    PYTHONPATH=python python benchmarks/bench_spatial_scale.py [part ...]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import numpy as np
import polars as pl

PARTS = ("knn", "lm", "moran", "effects")


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _coords(n: int, seed: int = 2026):
    rng = np.random.default_rng(seed)
    return rng.uniform(20, 45, n), rng.uniform(95, 125, n)


def _panel(W, t: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = W.n
    x = rng.normal(size=(t, n, 2))
    y = np.stack([x[s] @ [1.0, -0.5] + W.lag(rng.normal(size=n)) for s in range(t)])
    y += rng.normal(size=y.shape)
    return pl.DataFrame(
        {
            "u": np.tile(np.arange(n), t),
            "t": np.repeat(np.arange(t), n),
            "y": y.ravel(),
            "x1": x[:, :, 0].ravel(),
            "x2": x[:, :, 1].ravel(),
        }
    )


def part_knn() -> None:
    import pilotdid.weights as pw

    lat, lon = _coords(1_000_000)
    t0 = time.perf_counter()
    W = pw.knn(lat, lon, k=6, transform=None)
    t_ours = time.perf_counter() - t0
    print(f"knn 1,000,000 points k=6: {t_ours:.2f} s (target < 10 s), nnz {W.nnz}")
    try:
        from scipy.spatial import cKDTree
    except ImportError:
        return
    phi, lam = np.radians(lat), np.radians(lon)
    xyz = np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    t0 = time.perf_counter()
    _, idx = cKDTree(xyz).query(xyz, k=7, workers=-1)
    t_ref = time.perf_counter() - t0
    same = np.array_equal(np.sort(idx[:, 1:], axis=1), W.indices.reshape(-1, 6))
    print(f"cKDTree (workers=-1): {t_ref:.2f} s; ratio ours/cKDTree {t_ours / t_ref:.2f}")
    print(f"identical neighbour sets: {same}")


def part_lm() -> None:
    import pilotdid.weights as pw
    from pilotdid.spatial.models import lm_tests

    W = pw.knn(*_coords(50_000), k=6)
    df = _panel(W, 2)
    t0 = time.perf_counter()
    r = lm_tests("y ~ x1 + x2", df, W=W, unit="u", time="t", effects="individual")
    print(f"lm_tests 50,000 units x 2: {time.perf_counter() - t0:.2f} s; lm_lag {r['lm_lag']:.1f}")


def part_moran() -> None:
    import pilotdid.weights as pw
    from pilotdid.spatial.autocorrelation import moran, moran_local

    W = pw.knn(*_coords(50_000), k=6)
    y = _panel(W, 1)["y"].to_numpy()
    t0 = time.perf_counter()
    g = moran(y, W=W, reps=99)
    t_g = time.perf_counter() - t0
    t0 = time.perf_counter()
    loc = moran_local(y, W=W, reps=99)
    t_l = time.perf_counter() - t0
    print(
        f"moran 50,000 units (99 perms): {t_g:.2f} s, I = {g['I']:.4f}; "
        f"moran_local (99 perms/unit): {t_l:.2f} s, {loc.height} rows"
    )


def part_effects() -> None:
    import scipy.sparse as sp

    import pilotdid.weights as pw
    from pilotdid.spatial.models import sar

    d = pw.knn(*_coords(10_000), k=5, transform=None).to_scipy()
    W = pw.from_sparse(sp.coo_matrix(((d + d.T) > 0).astype(float))).row_standardise()
    df = _panel(W, 2)
    t0 = time.perf_counter()
    fit = sar("y ~ x1 + x2", df, W=W, unit="u", time="t", effects="individual", method="sparse")
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    u = fit.unit_impacts()
    t_u = time.perf_counter() - t0
    print(
        f"SAR N=10,000 T=2 (sparse): fit {t_fit:.2f} s; unit_impacts {t_u:.2f} s "
        f"({u.height} rows), rho {fit.rho:.3f}"
    )


def main(parts: list[str]) -> None:
    if len(parts) == 1:
        globals()[f"part_{parts[0]}"]()
        print(f"  peak RSS ({parts[0]}): {_rss_gb():.2f} GB")
        return
    for p in parts:
        subprocess.run([sys.executable, __file__, p], check=True)


if __name__ == "__main__":
    args = sys.argv[1:] or list(PARTS)
    bad = [a for a in args if a not in PARTS]
    if bad:
        raise SystemExit(f"unknown part(s) {bad}; choose from {PARTS}")
    main(args)
