"""SAC / SARAR panel (y = rho W y + X beta + FE + u, u = lambda W u + e): pilotdid.sac.

References:
- an independent numpy/scipy implementation written here: the full log-likelihood of the
  fixed-effects-demeaned panel, -(NT/2) ln(2 pi s2) + T ln|I - rho W| + T ln|I - lambda W|
  - e'e / (2 s2), maximised over (beta, rho, lambda, log s2) with scipy.optimize;
- the analytic expected information matrix re-implemented in numpy from Anselin (1988) /
  Elhorst (2014) (SEs to 1e-6), and the numerical Hessian of the numpy log-likelihood
  (observed information; it differs from the expected information by O(1/sqrt(NT)), so
  the SEs agree to 10% (6% seen for lambda with two-way FE), not to 1e-3);
- nesting: SAC's maximised log-likelihood is >= those of SAR and SEM on the same data;
- a small Monte Carlo (simulated truth) for recovery;
- the sparse path (method="sparse") against the dense one on N = 900.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import optimize

import pilotdid.datasets as ds
import pilotdid.weights as pw
from pilotdid._core import PilotdidError
from pilotdid.spatial.models import sac, sar, sem


def _w():
    c = ds.yrd_cities()
    return pw.knn(c["lat"], c["lon"], k=5, ids=np.arange(41))


def _sym_w():
    W = _w()
    d = W.to_dense()
    return pw.from_dense(((d + d.T) > 0).astype(float), transform="row")


def _sim(Wd, T, rho, lam, beta, rng, fe="individual"):
    n = Wd.shape[0]
    A = np.linalg.inv(np.eye(n) - rho * Wd)
    B = np.linalg.inv(np.eye(n) - lam * Wd)
    al, ga = rng.normal(size=n), rng.normal(size=T)
    X = rng.normal(size=(T, n, 2))
    Y = np.empty((T, n))
    for t in range(T):
        u = B @ rng.normal(size=n)
        Y[t] = A @ (X[t] @ beta + al + (ga[t] if fe == "twoways" else 0.0) + u)
    return pl.DataFrame(
        {
            "u": np.tile(np.arange(n), T),
            "t": np.repeat(np.arange(T), n),
            "y": Y.ravel(),
            "x1": X[:, :, 0].ravel(),
            "x2": X[:, :, 1].ravel(),
        }
    )


def _demeaned(df, n, T, fe):
    def dm(v):
        m = v.reshape(T, n)
        if fe in ("individual", "twoways"):
            m = m - m.mean(axis=0, keepdims=True)
        if fe == "twoways":
            m = m - m.mean(axis=1, keepdims=True)
        return m

    return dm(df["y"].to_numpy()), np.stack([dm(df[c].to_numpy()) for c in ("x1", "x2")], -1)


def _numpy_fit(Wd, y, X, fe="individual"):
    """Maximises the full log-likelihood; returns params, negll, and the function. With time
    effects the residual B(Ay - Xb) is cross-sectionally demeaned (the within transformation
    of B(Ay - Xb - alpha - gamma_t iota) removes gamma_t, which B maps to (1-lambda)gamma_t)."""
    T, n = y.shape
    eye = np.eye(n)

    def negll(p):
        b, rho, lam, ls2 = p[:2], p[2], p[3], p[4]
        A, B = eye - rho * Wd, eye - lam * Wd
        s1, ld_a = np.linalg.slogdet(A)
        s2, ld_b = np.linalg.slogdet(B)
        if s1 <= 0 or s2 <= 0:
            return np.inf
        e = (y @ A.T - X @ b) @ B.T
        if fe == "twoways":
            e = e - e.mean(axis=1, keepdims=True)
        s2v = np.exp(ls2)
        return -(
            -0.5 * n * T * np.log(2 * np.pi * s2v)
            + T * ld_a
            + T * ld_b
            - 0.5 * float((e * e).sum()) / s2v
        )

    x0 = np.array([0.5, 0.5, 0.1, 0.1, 0.0])
    r = optimize.minimize(negll, x0, method="Nelder-Mead", options={"maxiter": 20000})
    r = optimize.minimize(negll, r.x, method="BFGS", options={"gtol": 1e-9})
    return r.x, negll


def _num_hessian(f, x, h=1e-4):
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            H[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * h * h
            )
    return H


def _expected_info(Wd, X, b, rho, lam, s2, T):
    n = Wd.shape[0]
    eye = np.eye(n)
    Ai = np.linalg.inv(eye - rho * Wd)
    B = eye - lam * Wd
    Bi = np.linalg.inv(B)
    G, H = Wd @ Ai, Wd @ Bi
    Gt = B @ G @ Bi
    Xs = np.einsum("ij,tjk->tik", B, X)
    bgxb = np.einsum("ij,tj->ti", B @ G, X @ b)
    k = len(b)
    info = np.zeros((k + 3, k + 3))
    xs = Xs.reshape(-1, k)
    info[:k, :k] = xs.T @ xs / s2
    info[:k, k] = info[k, :k] = xs.T @ bgxb.ravel() / s2
    info[k, k] = (bgxb**2).sum() / s2 + T * (np.trace(Gt.T @ Gt) + np.trace(G @ G))
    info[k, k + 1] = info[k + 1, k] = T * (np.trace(H.T @ Gt) + np.trace(H @ G))
    info[k + 1, k + 1] = T * (np.trace(H.T @ H) + np.trace(H @ H))
    info[k, k + 2] = info[k + 2, k] = T * np.trace(G) / s2
    info[k + 1, k + 2] = info[k + 2, k + 1] = T * np.trace(H) / s2
    info[k + 2, k + 2] = n * T / (2 * s2**2)
    return info


@pytest.mark.parametrize("fe", ["individual", "twoways"])
def test_sac_matches_numpy_likelihood(fe):
    """N=41 (symmetrised 5-NN, row-standardised), T=10, rho=0.4, lambda=0.3: (rho, lambda,
    beta) equal the numpy/scipy maximiser of the full log-likelihood to 1e-5, sigma2 and the
    log-likelihood to 1e-6; SEs equal the numpy expected information to 1e-6 (unit FE) and
    the numerical-Hessian (observed-information) SEs to 10%."""
    W = _sym_w()
    Wd = W.to_dense()
    df = _sim(Wd, 10, 0.4, 0.3, np.array([1.0, -0.5]), np.random.default_rng(3), fe)
    f = sac("y ~ x1 + x2", df, W=W, unit="u", time="t", effects=fe, lee_yu=False)
    y, X = _demeaned(df, 41, 10, fe)
    p, negll = _numpy_fit(Wd, y, X, fe)
    c = f.coef()
    np.testing.assert_allclose([c["x1"], c["x2"], c["rho"], c["lambda"]], p[:4], atol=1e-5)
    assert f.rho == c["rho"] and f.lambda_ == c["lambda"]
    assert c["sigma2"] == pytest.approx(np.exp(p[4]), rel=1e-6)
    assert f.loglik == pytest.approx(-negll(p), rel=1e-8)
    b = np.array([c["x1"], c["x2"]])
    info = _expected_info(Wd, X, b, c["rho"], c["lambda"], c["sigma2"], 10)
    se_ref = np.sqrt(np.diag(np.linalg.inv(info)))
    se = f.se()
    if fe == "individual":
        np.testing.assert_allclose(
            [se["x1"], se["x2"], se["rho"], se["lambda"], se["sigma2"]], se_ref, rtol=1e-6
        )
    # Observed information in (beta, rho, lambda, sigma2).
    q = np.r_[b, c["rho"], c["lambda"], c["sigma2"]]

    def nll_s2(v):
        return negll(np.r_[v[:4], np.log(v[4])])

    se_h = np.sqrt(np.diag(np.linalg.inv(_num_hessian(nll_s2, q, 1e-4))))
    np.testing.assert_allclose(
        [se["x1"], se["x2"], se["rho"], se["lambda"], se["sigma2"]], se_h, rtol=0.1
    )


def test_sac_nests_sar_and_sem_and_effects():
    """Nesting identity: max loglik(SAC) >= max loglik(SAR), max loglik(SEM) (up to 1e-9);
    effects of SAC are the SAR effects at (rho, beta): direct + indirect = total and
    total = beta / (1 - rho) for a row-standardised W (exact identity)."""
    W = _sym_w()
    df = _sim(W.to_dense(), 8, 0.3, 0.4, np.array([1.0, -0.5]), np.random.default_rng(9))
    kw = dict(unit="u", time="t")
    f = sac("y ~ x1 + x2", df, W=W, **kw)
    assert f.loglik >= sar("y ~ x1 + x2", df, W=W, **kw).loglik - 1e-9
    assert f.loglik >= sem("y ~ x1 + x2", df, W=W, **kw).loglik - 1e-9
    im = f.impacts(reps=200, seed=1)
    c = f.coef()
    for v in ("x1", "x2"):
        assert im.total[v] == pytest.approx(c[v] / (1 - c["rho"]), rel=1e-10)
        assert im.direct[v] + im.indirect[v] == pytest.approx(im.total[v], rel=1e-12)
    assert f.method == "dense"
    with pytest.raises(PilotdidError, match="method"):
        sac("y ~ x1 + x2", df, W=W, method="fast", **kw)


def test_sac_monte_carlo_recovery():
    """Monte Carlo (simulated truth): N=41, T=10, rho=0.4, lambda=0.3, unit FE, 100
    replications: |mean bias| of rho, lambda, beta < 0.03 and the mean SE of rho is within
    25% of the replication SD."""
    W = _sym_w()
    Wd = W.to_dense()
    rng = np.random.default_rng(11)
    est = []
    for _ in range(100):
        df = _sim(Wd, 10, 0.4, 0.3, np.array([1.0, -0.5]), rng)
        f = sac("y ~ x1 + x2", df, W=W, unit="u", time="t")
        c, s = f.coef(), f.se()
        est.append((c["rho"], c["lambda"], c["x1"], c["x2"], s["rho"]))
    a = np.array(est)
    bias = a[:, :4].mean(0) - np.array([0.4, 0.3, 1.0, -0.5])
    assert np.all(np.abs(bias) < 0.03), bias
    assert abs(a[:, 4].mean() / a[:, 0].std(ddof=1) - 1) < 0.25


@pytest.mark.parametrize(("fe", "lee_yu"), [("individual", False), ("twoways", True)])
def test_sac_sparse_equals_dense(fe, lee_yu):
    """N=900 (symmetrised 6-NN of random points, row-standardised), T=5: the sparse path
    (exact sparse-Cholesky log-determinants; traces by log-determinant derivatives, partial
    fractions and control-variate Hutchinson estimates) equals the dense path: coefficients
    1e-6, log-likelihood 1e-10, SEs 1e-3, effects 1e-6."""
    import scipy.sparse as sps

    rng = np.random.default_rng(2)
    n = 900
    lat, lon = rng.uniform(20, 40, n), rng.uniform(100, 120, n)
    d = pw.knn(lat, lon, k=6, transform=None).to_scipy()
    W = pw.from_sparse(sps.coo_matrix(((d + d.T) > 0).astype(float))).row_standardise()
    df = _sim(W.to_dense(), 5, 0.4, 0.3, np.array([1.0, -0.5]), rng, "twoways")
    kw = dict(unit="u", time="t", effects=fe, lee_yu=lee_yu)
    fd = sac("y ~ x1 + x2", df, W=W, method="dense", **kw)
    fs = sac("y ~ x1 + x2", df, W=W, method="sparse", **kw)
    assert (fd.method, fs.method) == ("dense", "sparse")
    assert fs.loglik == pytest.approx(fd.loglik, rel=1e-10)
    for k, v in fd.coef().items():
        assert fs.coef()[k] == pytest.approx(v, rel=1e-6, abs=1e-7), k
    for k, v in fd.se().items():
        assert fs.se()[k] == pytest.approx(v, rel=1e-3), k
    np.testing.assert_allclose(
        fs.impacts(reps=0).tidy()["estimate"], fd.impacts(reps=0).tidy()["estimate"], rtol=1e-6
    )
