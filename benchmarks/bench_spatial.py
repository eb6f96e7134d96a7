"""Benchmark: SDM with two-way FE (Lee-Yu) + LeSage-Pace effects with 1,000 draws in pilotdid
against spreg's Panel_FE_Lag (SAR, unit FE, no effects inference) on the same data.

    python benchmarks/bench_spatial.py [N] [T]

Defaults N = 3,000, T = 20. W: symmetrised 8-nearest-neighbour graph of random coordinates,
row-standardised. spreg is a benchmark-only dependency (pip install spreg libpysal).
method="auto" picks the sparse path above 1,500 units (printed); for N <= 8,000 the dense
exact path is also timed and the largest difference between the two is printed. spreg is
skipped above 10,000 units (its dense eigenvalues / inverses do not scale); measure peak
memory with `/usr/bin/time -v python benchmarks/bench_spatial.py 50000 10`.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import polars as pl

import pilotdid.weights as pw
from pilotdid.spatial.models import sar, sdm


def make_data(n: int, t: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(20, 40, n), rng.uniform(100, 120, n)
    import scipy.sparse as sp

    if n <= 10_000:
        d = pw.knn(lat, lon, k=8, transform=None).to_scipy()
    else:
        # pw.knn is O(N^2) (exact great-circle distances): at large N the benchmark's W uses a
        # planar k-d tree on (lon, lat) instead; only the fit is timed.
        from scipy.spatial import cKDTree

        _, nb = cKDTree(np.c_[lon, lat]).query(np.c_[lon, lat], k=9)
        d = sp.csr_matrix((np.ones(n * 8), (np.repeat(np.arange(n), 8), nb[:, 1:].ravel())), (n, n))
    sym = ((d + d.T) > 0).astype(float)
    W = pw.from_sparse(sym.tocoo()).row_standardise()
    Ws = W.to_scipy()
    import scipy.sparse.linalg as spla

    A = sp.identity(n, format="csc") - 0.4 * Ws.tocsc()
    lu = spla.splu(A)
    x = rng.normal(size=(t, n, 2))
    al, ga = rng.normal(size=n), rng.normal(size=t)
    y = np.empty((t, n))
    for s in range(t):
        u = x[s] @ [1.0, -0.5] + Ws @ x[s] @ [0.5, 0.3] + al + ga[s] + rng.normal(size=n)
        y[s] = lu.solve(u)
    df = pl.DataFrame(
        {
            "unit": np.tile(np.arange(n), t),
            "time": np.repeat(np.arange(t), n),
            "y": y.ravel(),
            "x1": x[:, :, 0].ravel(),
            "x2": x[:, :, 1].ravel(),
        }
    )
    return df, W


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    t = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    df, W = make_data(n, t)
    t0 = time.perf_counter()
    fit = sdm("y ~ x1 + x2", df, W=W, unit="unit", time="time", effects="twoways", lee_yu=True)
    imp = fit.impacts(reps=1000, seed=1)
    t_sdm = time.perf_counter() - t0
    t0 = time.perf_counter()
    fsar = sar("y ~ x1 + x2", df, W=W, unit="unit", time="time", effects="individual")
    t_sar = time.perf_counter() - t0
    print(f"N={n} T={t}")
    print(
        f"pilotdid SDM two-way Lee-Yu + effects (1000 draws): {t_sdm:.2f} s, "
        f"rho={fit.rho:.6f}, method={fit.method}"
    )
    print(f"pilotdid SAR unit FE: {t_sar:.2f} s, rho={fsar.rho:.6f}, method={fsar.method}")
    print(imp.tidy().select("effect", "term", "estimate", "std_error"))
    if n <= 8000 and fit.method != "dense":
        t0 = time.perf_counter()
        fd = sdm(
            "y ~ x1 + x2",
            df,
            W=W,
            unit="unit",
            time="time",
            effects="twoways",
            lee_yu=True,
            method="dense",
        )
        impd = fd.impacts(reps=1000, seed=1)
        t_dense = time.perf_counter() - t0
        dc = max(abs(fd.coef()[k] - fit.coef()[k]) for k in fd.coef())
        ds = max(abs(fd.se()[k] / fit.se()[k] - 1) for k in fd.se())
        de = float(
            np.max(np.abs(impd.tidy()["std_error"].to_numpy() - imp.tidy()["std_error"].to_numpy()))
        )
        print(
            f"pilotdid SDM dense path: {t_dense:.2f} s; sparse vs dense: max |coef diff| "
            f"{dc:.2e}, max SE rel diff {ds:.2e}, max effect delta-SE diff {de:.2e}"
        )
    if n > 10_000:
        print("spreg skipped above 10,000 units")
        return
    try:
        import libpysal
        import spreg
    except ImportError:
        print("spreg not installed: skipping the comparison")
        return
    wl = libpysal.weights.WSP(W.to_scipy().tocsr()).to_W(silence_warnings=True)
    # spreg 1.9's spdot rejects scipy's csr_array (which current libpysal/scipy produce):
    # a benchmark-only shim that multiplies sparse arrays the same way.
    import scipy.sparse as sp
    import spreg.panel_fe as pfe

    orig = pfe.spdot

    def spdot(a, b, array_out=True):
        if sp.issparse(a) or sp.issparse(b):
            out = a @ b
            return out.toarray() if array_out and sp.issparse(out) else out
        return orig(a, b, array_out)

    pfe.spdot = spdot
    # spreg wants (n*t) x 1 stacked by period (all units of period 1 first).
    d2 = df.sort(["time", "unit"])
    t0 = time.perf_counter()
    ref = spreg.Panel_FE_Lag(d2["y"].to_numpy()[:, None], d2.select("x1", "x2").to_numpy(), w=wl)
    t_ref = time.perf_counter() - t0
    print(f"spreg Panel_FE_Lag (unit FE, no effects): {t_ref:.2f} s, rho={float(ref.rho):.6f}")
    print(f"ratio spreg / pilotdid SDM+effects: {t_ref / t_sdm:.1f}x")
    print(f"ratio spreg / pilotdid SAR (same model): {t_ref / t_sar:.1f}x")


if __name__ == "__main__":
    main()
