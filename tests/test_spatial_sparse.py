"""The sparse large-N path of the spatial models (method="sparse") against the dense exact
path (method="dense": W's eigenvalues and dense (I - rho W)^-1), on N = 600-1,200.

References: the dense exact path (itself validated against SDPDmod and spreg in
test_spatial_models.py) and numpy's slogdet / dense traces (independent implementations).
Tolerances (documented in src/spatial/sparse.rs): the log-determinant is exact, so the
log-likelihood agrees to 1e-10 and rho, beta, sigma2 to 1e-6 (both paths stop Brent's
search at ~1e-8 in rho); SEs use tr(G), tr(GG) from finite
differences of the exact log-determinant (1e-9) and a Hutchinson estimate of the small
antisymmetric part of tr(G'G): SEs agree to 1e-4 relative; point effects and delta SEs are
anchored at the exact traces (1e-6 / 1e-4); the simulation summaries use the tr(W^k) series
(1e-3 relative).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

import pilotdid.weights as pw
from pilotdid._core import PilotdidError
from pilotdid.spatial.models import sar, sdem, sdm, sem


def _knn_sym_w(n: int, k: int = 6, seed: int = 0):
    """Symmetrised k-NN graph of random points, row-standardised (W = D^-1 C, C symmetric)."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(20, 40, n), rng.uniform(100, 120, n)
    d = pw.knn(lat, lon, k=k, transform=None).to_scipy()
    sym = ((d + d.T) > 0).astype(float)
    return pw.from_sparse(sp.coo_matrix(sym)).row_standardise()


def _panel(W, t: int, rho: float = 0.45, seed: int = 1) -> pl.DataFrame:
    n = W.n
    Wd = W.to_dense()
    rng = np.random.default_rng(seed)
    A = np.linalg.inv(np.eye(n) - rho * Wd)
    x = rng.normal(size=(t, n, 2))
    al, ga = rng.normal(size=n), rng.normal(size=t)
    y = np.empty((t, n))
    for s in range(t):
        u = x[s] @ [1.0, -0.5] + Wd @ x[s] @ [0.5, 0.3] + al + ga[s] + rng.normal(size=n)
        y[s] = A @ u
    return pl.DataFrame(
        {
            "u": np.tile(np.arange(n), t),
            "t": np.repeat(np.arange(t), n),
            "y": y.ravel(),
            "x1": x[:, :, 0].ravel(),
            "x2": x[:, :, 1].ravel(),
        }
    )


@pytest.fixture(scope="module")
def data():
    W = _knn_sym_w(900)
    return W, _panel(W, 6)


def _compare(fd, fs, se_rtol=1e-4):
    assert fd.method == "dense" and fs.method == "sparse"
    cd, cs = fd.coef(), fs.coef()
    for k in cd:
        assert cs[k] == pytest.approx(cd[k], rel=1e-6, abs=1e-7), k
    assert fs.loglik == pytest.approx(fd.loglik, rel=1e-10)
    sd, ss = fd.se(), fs.se()
    for k in sd:
        assert ss[k] == pytest.approx(sd[k], rel=se_rtol), k


@pytest.mark.parametrize(
    ("effects", "lee_yu"),
    [("individual", False), ("twoways", True), ("time", True), ("twoways", False)],
)
def test_sdm_sparse_equals_dense(data, effects, lee_yu):
    """SDM on N=900 (symmetrised 6-NN, row-standardised), T=6: the sparse path equals the
    dense exact path (coefficients, rho, sigma2 1e-6; SEs 1e-4; effects and delta SEs 1e-6 /
    1e-4; simulated SDs 1e-3)."""
    W, df = data
    kw = dict(unit="u", time="t", effects=effects, lee_yu=lee_yu)
    fd = sdm("y ~ x1 + x2", df, W=W, method="dense", **kw)
    fs = sdm("y ~ x1 + x2", df, W=W, method="sparse", **kw)
    _compare(fd, fs)
    assert fs.trace_se is not None and fs.trace_se >= 0
    idn, isp = fd.impacts(reps=400, seed=3), fs.impacts(reps=400, seed=3)
    td, ts = idn.tidy(), isp.tidy()
    np.testing.assert_allclose(ts["estimate"], td["estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ts["std_error"], td["std_error"], rtol=1e-4)
    for e in range(3):
        np.testing.assert_allclose(isp._get("sim_sd", e), idn._get("sim_sd", e), rtol=1e-3)
        np.testing.assert_allclose(isp._get("sim_mean", e), idn._get("sim_mean", e), rtol=1e-5)


def test_sar_and_error_models_sparse_equal_dense(data):
    """SAR, SEM and SDEM (unit FE) on N=900: sparse = dense (coefficients 1e-6, SEs 1e-4)."""
    W, df = data
    kw = dict(unit="u", time="t", effects="individual")
    _compare(
        sar("y ~ x1 + x2", df, W=W, method="dense", **kw),
        sar("y ~ x1 + x2", df, W=W, method="sparse", **kw),
    )
    _compare(
        sem("y ~ x1 + x2", df, W=W, method="dense", **kw),
        sem("y ~ x1 + x2", df, W=W, method="sparse", **kw),
    )
    fd = sdem("y ~ x1 + x2", df, W=W, method="dense", **kw)
    fs = sdem("y ~ x1 + x2", df, W=W, method="sparse", **kw)
    _compare(fd, fs)
    np.testing.assert_allclose(
        fs.impacts(reps=0).tidy()["estimate"], fd.impacts(reps=0).tidy()["estimate"], rtol=1e-6
    )


def test_symmetric_w_has_exact_traces():
    """Identity: for a symmetric W (here a 0/1 ring scaled by 1/2, row-standardised and
    symmetric) G is symmetric, so tr(G'G) = tr(GG) exactly and the Monte Carlo part is
    zero (trace_se ~ 0); the sparse SEs then equal the dense ones to 1e-6."""
    n = 1200
    c = np.zeros((n, n))
    i = np.arange(n)
    c[i, (i + 1) % n] = 0.5
    c[i, (i - 1) % n] = 0.5
    W = pw.from_dense(c)
    df = _panel(W, 4, rho=0.3, seed=4)
    kw = dict(unit="u", time="t", effects="individual")
    fd = sdm("y ~ x1 + x2", df, W=W, method="dense", **kw)
    fs = sdm("y ~ x1 + x2", df, W=W, method="sparse", **kw)
    assert fs.trace_se < 1e-20
    _compare(fd, fs, se_rtol=1e-6)


def test_auto_method_and_errors(data):
    """method="auto" keeps the dense path at small N (all published-reference tests are
    unchanged) and picks the sparse one above 1,500 units; per-unit effects stay available on
    the sparse path below 8,000 units; bad options are errors."""
    W, df = data
    f = sar("y ~ x1", df, W=W, unit="u", time="t")
    assert f.method == "dense"
    W2 = _knn_sym_w(1600, seed=2)
    df2 = _panel(W2, 2, seed=5)
    f2 = sar("y ~ x1", df2, W=W2, unit="u", time="t")
    assert f2.method == "sparse"
    assert f2.unit_impacts().height == 1600
    with pytest.raises(PilotdidError, match="method"):
        sar("y ~ x1", df, W=W, unit="u", time="t", method="fast")
    with pytest.raises(PilotdidError, match="dense"):
        sar("y ~ x1", df, W=W, unit="u", time="t", method="sparse", rho_search="sdpdmod")


def test_sparse_results_are_thread_count_invariant(data):
    """The Hutchinson probes are seeded per probe and reduced in index order: the same fit
    and effects in a 1-thread and the default pool (exact identity)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.path.insert(0, 'tests');"
        "from test_spatial_sparse import _knn_sym_w, _panel;"
        "from pilotdid.spatial import sdm;"
        "W = _knn_sym_w(900); df = _panel(W, 6);"
        "f = sdm('y ~ x1 + x2', df, W=W, unit='u', time='t', effects='twoways', lee_yu=True,"
        " method='sparse');"
        "i = f.impacts(reps=200, seed=1);"
        "print(repr(list(f.se().values()) + list(i.tidy(method='simulation')['std_error'])))"
    )
    out = []
    for threads in ("1", "2"):
        env = dict(__import__("os").environ, RAYON_NUM_THREADS=threads)
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        out.append(r.stdout)
    assert out[0] == out[1]


def test_asymmetric_w_sparse_lu_equals_dense():
    """A W not similar to a symmetric matrix (plain 5-NN, row-standardised, N=900) takes the
    sparse LU path: SDM with two-way FE (Lee-Yu) equals the dense path (complex eigenvalues):
    coefficients 1e-6, log-likelihood 1e-10, SEs 1e-3, effects 1e-6 (rho interval (-1, 1)
    on the sparse path)."""
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(20, 40, 900), rng.uniform(100, 120, 900)
    W = pw.knn(lat, lon, k=5, ids=np.arange(900))
    df = _panel(W, 5, seed=8)
    kw = dict(unit="u", time="t", effects="twoways", lee_yu=True)
    fd = sdm("y ~ x1 + x2", df, W=W, method="dense", **kw)
    fs = sdm("y ~ x1 + x2", df, W=W, method="sparse", **kw)
    _compare(fd, fs, se_rtol=1e-3)
    assert fs.rho_bounds == (-1.0, 1.0)
    np.testing.assert_allclose(
        fs.impacts(reps=0).tidy()["estimate"], fd.impacts(reps=0).tidy()["estimate"], rtol=1e-6
    )
