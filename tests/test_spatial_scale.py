"""Spatial diagnostics at scale (issue 18, scope item 5): the k-d tree behind ``weights.knn``
/ ``distance_band`` / ``inverse_distance(cutoff_km=...)``, ``lm_tests`` and Moran's I without an
N x N matrix, and per-unit effects by sparse solves.

References:
- scipy's cKDTree (test-only) on 3-D unit-sphere coordinates: the chord is monotone in the
  great-circle distance, so its k nearest neighbours are the haversine ones; and a brute-force
  numpy haversine (written here) on a sample of rows. Neighbour sets must be identical.
- Dense numpy formulas written here (Anselin 1988 / Anselin et al. 1996 LM tests in Elhorst's
  panel form; Cliff and Ord 1981 moments of Moran's I), and esda / spreg where those are
  already the oracles (tests/test_moran.py, tests/test_spatial_models.py): 1e-10.
- Per-unit effects: numpy's dense inverse (I - rho W)^-1 at the fitted rho, 1e-10.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import pilotdid.weights as pw
from pilotdid._core import PilotdidError
from pilotdid.spatial.autocorrelation import moran, moran_local
from pilotdid.spatial.models import lm_tests, sar, sdm

R_EARTH = 6371.0088


def _unit(lat, lon):
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _haversine_row(lat, lon, i):
    p1, p2 = np.radians(lat[i]), np.radians(lat)
    dl = np.radians(lon - lon[i])
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.minimum(np.sqrt(a), 1.0))


def _rows(W):
    return [W.indices[W.indptr[i] : W.indptr[i + 1]] for i in range(W.n)]


def test_knn_equals_ckdtree_on_unit_sphere_50k():
    """50,000 points over most of the globe: the k = 6 neighbour sets equal cKDTree's (query
    k + 1 on the unit vectors, the point itself dropped) row by row."""
    spatial = pytest.importorskip("scipy.spatial")
    rng = np.random.default_rng(18)
    n, k = 50_000, 6
    lat, lon = rng.uniform(-75, 75, n), rng.uniform(-180, 180, n)
    W = pw.knn(lat, lon, k=k, transform=None)
    assert W.nnz == n * k and np.all(np.diff(W.indptr) == k)
    _, idx = spatial.cKDTree(_unit(lat, lon)).query(_unit(lat, lon), k=k + 1)
    ours = W.indices.reshape(n, k)
    theirs = np.sort(idx[:, 1:], axis=1)
    # cKDTree returns the point itself first (distance 0, no duplicates here).
    assert np.array_equal(idx[:, 0], np.arange(n))
    assert np.array_equal(ours, theirs)


def test_knn_equals_brute_force_haversine_sample():
    """Clustered points (two dense cities, a ring across the antimeridian, near the pole):
    for 300 sampled rows, the neighbour set equals the k smallest numpy haversine distances
    (ties by index)."""
    rng = np.random.default_rng(5)
    lat = np.concatenate(
        [
            rng.normal(31.2, 0.05, 8000),
            rng.normal(32.0, 0.3, 8000),
            rng.uniform(-5, 5, 2000),
            rng.uniform(85, 89.9, 2000),
        ]
    )
    lon = np.concatenate(
        [
            rng.normal(121.5, 0.05, 8000),
            rng.normal(118.8, 0.3, 8000),
            np.where(rng.random(2000) < 0.5, 179.95, -179.95) + rng.normal(0, 0.01, 2000),
            rng.uniform(-180, 180, 2000),
        ]
    )
    lon = np.clip(lon, -180, 180)
    for k in (1, 5, 12):
        rows = _rows(pw.knn(lat, lon, k=k, transform=None))
        for i in rng.choice(lat.size, 100, replace=False):
            d = _haversine_row(lat, lon, i)
            d[i] = np.inf
            want = np.sort(np.lexsort((np.arange(lat.size), d))[:k])
            assert np.array_equal(rows[i], want), (k, i)


def test_distance_band_and_inverse_cutoff_equal_brute_force():
    """Band and cutoff weights from the tree equal all-pairs numpy haversine on 3,000 points
    (same pairs, same 1/d^power values to 1e-12 relative)."""
    rng = np.random.default_rng(2)
    lat, lon = rng.uniform(25, 35, 3000), rng.uniform(110, 122, 3000)
    for cut in (15.0, 80.0):
        band = pw.distance_band(lat, lon, threshold_km=cut).to_scipy().toarray()
        inv = pw.inverse_distance(lat, lon, cutoff_km=cut, power=2.0, transform=None)
        inv = inv.to_scipy().toarray()
        want_band = np.zeros_like(band)
        want_inv = np.zeros_like(band)
        for i in range(lat.size):
            d = _haversine_row(lat, lon, i)
            m = (d <= cut) & (np.arange(lat.size) != i)
            want_band[i, m] = 1.0
            want_inv[i, m] = d[m] ** -2.0
        assert np.array_equal(band, want_band)
        assert np.array_equal(inv != 0, want_band != 0)
        nz = want_inv != 0
        assert np.max(np.abs(inv[nz] / want_inv[nz] - 1)) < 1e-12


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: pw.knn([91.0, 0.0, 1.0], [0.0, 1.0, 2.0], k=1), "latitude"),
        (lambda: pw.knn([0.0, 0.0, 1.0], [0.0, 400.0, 2.0], k=1), "longitude"),
        (lambda: pw.knn([0.0, np.nan, 1.0], [0.0, 1.0, 2.0], k=1), "row 1"),
        (lambda: pw.knn([0.0, 1.0, 1.0], [0.0, 1.0, 2.0], k=3), "option 'k'"),
        (lambda: pw.distance_band([0.0, 1.0], [0.0, 1.0], threshold_km=0.0), "threshold_km"),
        (lambda: pw.inverse_distance([0.0, 1.0], [0.0, 1.0], cutoff_km=0.0), "cutoff_km"),
        (
            lambda: pw.inverse_distance([0.0, 1.0, 0.0], [0.0, 1.0, 0.0], cutoff_km=50.0),
            "units 0 and 2 have identical coordinates",
        ),
    ],
)
def test_bad_coordinates_and_cutoffs_are_named(call, needle):
    """Coordinates out of range, a cutoff of zero, k too large: errors naming the problem."""
    with pytest.raises(PilotdidError, match=needle):
        call()


def _knn_sym(n, k=5, seed=0):
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(20, 40, n), rng.uniform(100, 120, n)
    d = pw.knn(lat, lon, k=k, transform=None).to_scipy()
    return pw.from_sparse(sp.coo_matrix(((d + d.T) > 0).astype(float))).row_standardise()


def _dense_moran(y, Wd):
    """Cliff and Ord (1981) moments of Moran's I from the dense matrix."""
    n = y.size
    z = y - y.mean()
    s0 = Wd.sum()
    s1 = 0.5 * ((Wd + Wd.T) ** 2).sum()
    s2 = ((Wd.sum(1) + Wd.sum(0)) ** 2).sum()
    i = n / s0 * z @ Wd @ z / (z @ z)
    ei = -1 / (n - 1)
    vn = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n * n - 1) * s0 * s0) - ei * ei
    k = (z**4).mean() / (z**2).mean() ** 2
    a = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
    b = k * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
    vr = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - ei * ei
    return i, vn, vr


@pytest.mark.parametrize("which", ["sym_row", "knn_binary", "inverse"])
def test_moran_equals_dense_formulas(which):
    """I, VI_norm, VI_rand from the CSR equal the dense formulas to 1e-10 relative, for a
    row-standardised symmetric W, a non-symmetric binary kNN W and an inverse-distance W."""
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(20, 40, 400), rng.uniform(100, 120, 400)
    W = {
        "sym_row": lambda: _knn_sym(400),
        "knn_binary": lambda: pw.knn(lat, lon, k=4, transform=None),
        "inverse": lambda: pw.inverse_distance(lat, lon, cutoff_km=400.0, transform=None),
    }[which]()
    y = rng.normal(size=W.n) + 0.3 * W.lag(rng.normal(size=W.n))
    ours = moran(y, W=W, reps=0)
    i, vn, vr = _dense_moran(y, W.to_dense())
    assert abs(ours["I"] / i - 1) < 1e-10
    assert abs(ours["VI_norm"] / vn - 1) < 1e-10
    assert abs(ours["VI_rand"] / vr - 1) < 1e-10


def _panel(W, t, seed=1):
    rng = np.random.default_rng(seed)
    n = W.n
    x = rng.normal(size=(t, n, 2))
    y = np.stack(
        [
            x[s] @ [1.0, -0.5] + 0.4 * W.lag(rng.normal(size=n)) + rng.normal(size=n)
            for s in range(t)
        ]
    )
    return pl.DataFrame(
        {
            "u": np.tile(np.arange(n), t),
            "t": np.repeat(np.arange(t), n),
            "y": y.ravel(),
            "x1": x[:, :, 0].ravel(),
            "x2": x[:, :, 1].ravel(),
        }
    )


def _dense_lm(df, Wd, effects):
    """LM / robust LM lag and error (Anselin 1988; Anselin et al. 1996; Elhorst 2014 panel
    form), dense numpy with T_W = tr(W'W + WW)."""
    n = Wd.shape[0]
    t = df["t"].n_unique()
    d = df.sort(["t", "u"])

    def dm(v):
        m = v.reshape(t, n)
        if effects in ("individual", "twoways"):
            m = m - m.mean(0, keepdims=True)
        if effects in ("time", "twoways"):
            m = m - m.mean(1, keepdims=True)
        return m.ravel()

    def lag(v):
        return (v.reshape(t, n) @ Wd.T).ravel()

    y0 = d["y"].to_numpy()
    X = np.column_stack([dm(d[c].to_numpy()) for c in ("x1", "x2")])
    y = dm(y0)
    wy = dm(lag(y0))
    M = lambda v: v - X @ np.linalg.solve(X.T @ X, X.T @ v)  # noqa: E731
    e = M(y)
    s2 = e @ e / (n * t)
    we = dm(lag(e))
    wxb = dm(lag(y - e))
    tt = t * np.trace(Wd.T @ Wd + Wd @ Wd)
    j = (wxb @ M(wxb) + tt * s2) / s2
    g_lag, g_err = e @ wy / s2, e @ we / s2
    return {
        "lm_lag": g_lag**2 / j,
        "lm_error": g_err**2 / tt,
        "rlm_lag": (g_lag - g_err) ** 2 / (j - tt),
        "rlm_error": (g_err - tt / j * g_lag) ** 2 / (tt * (1 - tt / j)),
    }


@pytest.mark.parametrize("effects", ["individual", "twoways"])
def test_lm_tests_equal_dense_numpy(effects):
    """The four LM statistics equal the dense numpy computation to 1e-10 relative (N = 300,
    T = 4, non-symmetric kNN W row-standardised so tr(WW) != tr(W'W))."""
    rng = np.random.default_rng(9)
    W = pw.knn(rng.uniform(20, 40, 300), rng.uniform(100, 120, 300), k=4)
    df = _panel(W, 4)
    ours = lm_tests("y ~ x1 + x2", df, W=W, unit="u", time="t", effects=effects)
    want = _dense_lm(df, W.to_dense(), effects)
    for key, v in want.items():
        assert abs(ours[key] / v - 1) < 1e-10, key


def test_lm_tests_and_moran_run_at_50k_units():
    """50,000 units (a dense W would need 20 GB): lm_tests and Moran's I run, and I equals
    the sparse numpy value (scipy CSR products) to 1e-10."""
    rng = np.random.default_rng(4)
    n = 50_000
    W = pw.knn(rng.uniform(20, 40, n), rng.uniform(100, 120, n), k=6)
    df = _panel(W, 2)
    r = lm_tests("y ~ x1 + x2", df, W=W, unit="u", time="t", effects="individual")
    assert all(np.isfinite(v) for v in r.values())
    y = df.filter(pl.col("t") == 0)["y"].to_numpy()
    ours = moran(y, W=W, reps=0)
    z = y - y.mean()
    Ws = W.to_scipy()
    want = n / Ws.sum() * (z @ (Ws @ z)) / (z @ z)
    assert abs(ours["I"] / want - 1) < 1e-10
    loc = moran_local(y, W=W, reps=0)
    assert loc.height == n


def test_unit_impacts_sparse_equal_dense_inverse():
    """N = 2,000 (> 1,500: the sparse per-unit path): direct_i = (S_k)_ii and total_i = row
    sums of S_k = (I - rho W)^-1 (beta_k I + theta_k W) equal numpy's dense inverse at the
    fitted rho to 1e-10; the unit averages equal the summary effects."""
    W = _knn_sym(2000)
    df = _panel(W, 3)
    fit = sdm("y ~ x1 + x2", df, W=W, unit="u", time="t", effects="individual", method="sparse")
    u = fit.unit_impacts()
    Wd = W.to_dense()
    A = np.linalg.inv(np.eye(W.n) - fit.rho * Wd)
    c = fit.coef()
    for name in ("x1", "x2"):
        S = A @ (c[name] * np.eye(W.n) + c["W*" + name] * Wd)
        sub = u.filter(pl.col("term") == name)
        assert np.max(np.abs(sub["direct"].to_numpy() - np.diag(S))) < 1e-10
        assert np.max(np.abs(sub["total"].to_numpy() - S.sum(1))) < 1e-10
    im = fit.impacts(reps=0)
    for name in ("x1", "x2"):
        sub = u.filter(pl.col("term") == name)
        assert abs(sub["direct"].mean() - im.direct[name]) < 1e-8


@pytest.mark.slow
def test_unit_impacts_at_10k_units():
    """N = 10,000 (refused before: above the 8,000-unit dense limit): per-unit effects run;
    their average equals the summary direct effect (exact traces) to 1e-8."""
    import time

    W = _knn_sym(10_000)
    df = _panel(W, 2)
    fit = sar("y ~ x1 + x2", df, W=W, unit="u", time="t", effects="individual", method="sparse")
    t0 = time.perf_counter()
    u = fit.unit_impacts()
    print(f"unit_impacts N=10,000: {time.perf_counter() - t0:.2f} s")
    im = fit.impacts(reps=0)
    sub = u.filter(pl.col("term") == "x1")
    assert sub.height == 10_000
    assert abs(sub["direct"].mean() - im.direct["x1"]) < 1e-8
    assert abs(sub["total"].mean() - im.total["x1"]) < 1e-8


def test_extreme_eigenvalues_equal_dense_spectrum():
    """W.eigenvalues(extremes=True) (Lanczos, no N x N matrix) equals the min and max of
    numpy's eigvalsh of the symmetrised matrix D^1/2 W D^-1/2 to 1e-9; a W that is not similar
    to a symmetric matrix is refused with a message that says why."""
    W = _knn_sym(800)
    Wd = W.to_dense()
    d = np.sqrt(np.asarray((Wd != 0).sum(1), dtype=float))
    S = d[:, None] * Wd / d[None, :]
    ev = np.linalg.eigvalsh(0.5 * (S + S.T))
    lo, hi = W.eigenvalues(extremes=True)
    assert abs(lo - ev[0]) < 1e-9 and abs(hi - ev[-1]) < 1e-9
    rng = np.random.default_rng(0)
    band = pw.distance_band(rng.uniform(20, 22, 500), rng.uniform(100, 102, 500), threshold_km=30.0)
    evb = np.linalg.eigvalsh(band.to_dense())
    lo, hi = band.eigenvalues(extremes=True)
    assert abs(lo - evb[0]) < 1e-9 * abs(evb[0]) and abs(hi - evb[-1]) < 1e-9 * evb[-1]
    with pytest.raises(PilotdidError, match="similar to a"):
        pw.knn(rng.uniform(20, 22, 50), rng.uniform(100, 102, 50), k=3).eigenvalues(extremes=True)
