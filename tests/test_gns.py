"""General nesting spatial model (GNS; SAC with Durbin terms), issue 18 item 5.

y = rho W y + X beta + W X theta + FE + u, u = lambda M u + e.

References:
- an independent numpy/scipy maximisation of the concentrated likelihood written here
  (numpy slogdet, nested scipy bounded Brent searches over rho and lambda), with M = W and
  with a separate M: coefficients and log-likelihood to 1e-5;
- identities: lambda fixed at 0 is the SDM likelihood (pilotdid's sdm), theta = 0
  (durbin=[]) is the SAC model (pilotdid's sac, bit for bit);
- effects: LeSage-Pace summaries of (I - rho W)^-1 (beta I + theta W) with a dense inverse.

Fixed effects are removed by demeaning (direct approach; lee_yu=False in the oracle
comparisons), and every lag of a demeaned series is demeaned again, as in pilotdid's SAC.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize_scalar

import pilotdid.weights as pw
from pilotdid._core import PilotdidError
from pilotdid.spatial.models import gns, sac, sdm

N, T = 30, 6

# Weak identification of GNS is the expected finding here (Gibbons and Overman 2012).
pytestmark = pytest.mark.filterwarnings(
    "ignore::pilotdid.results.spatial.WeakIdentificationWarning"
)


def _ring(n: int, k: int) -> np.ndarray:
    m = np.zeros((n, n))
    for i in range(n):
        for d in range(1, k + 1):
            m[i, (i + d) % n] = 1.0
            m[i, (i - d) % n] = 1.0
    return m / m.sum(axis=1, keepdims=True)


def _grid_w(side: int) -> np.ndarray:
    """Row-standardised rook contiguity on a side x side grid."""
    n = side * side
    m = np.zeros((n, n))
    for i in range(side):
        for j in range(side):
            a = i * side + j
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                p, q = i + di, j + dj
                if 0 <= p < side and 0 <= q < side:
                    m[a, p * side + q] = 1.0
    return m / m.sum(axis=1, keepdims=True)


W_DENSE = _ring(N, 2)
M_DENSE = _ring(N, 1)


def _simulate(w, m, rho=0.35, lam=0.3, beta=(1.0, -0.5), theta=(0.4, 0.2), seed=5):
    n = w.shape[0]
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    a_inv = np.linalg.inv(np.eye(n) - rho * w)
    b_inv = np.linalg.inv(np.eye(n) - lam * m)
    rows = []
    for t in range(T):
        x = rng.normal(size=(n, 2))
        u = b_inv @ (rng.normal(size=n) * 0.8)
        y = a_inv @ (x @ np.asarray(beta) + (w @ x) @ np.asarray(theta) + mu + 0.2 * t + u)
        for i in range(n):
            rows.append({"unit": i, "year": 2000 + t, "y": y[i], "x1": x[i, 0], "x2": x[i, 1]})
    return pl.DataFrame(rows)


def _demean(v, effects):
    if effects == "individual":
        return v - v.mean(axis=0, keepdims=True)
    if effects == "twoways":
        return v - v.mean(axis=0, keepdims=True) - v.mean(axis=1, keepdims=True) + v.mean()
    raise ValueError(effects)


def oracle_gns(d, w, m, effects):
    """Concentrated GNS likelihood: e = B A y - B Z beta, each lag demeaned; nested Brent."""
    d = d.sort(["year", "unit"])
    y = d["y"].to_numpy().reshape(T, N)
    x = [d[c].to_numpy().reshape(T, N) for c in ("x1", "x2")]

    def lag(mat, v):
        return _demean(v @ mat.T, effects)

    cols = [_demean(c, effects) for c in x] + [_demean(c @ w.T, effects) for c in x]
    yd = _demean(y, effects)
    wy, my = lag(w, yd), lag(m, yd)
    mwy = lag(m, wy)
    mz = [lag(m, c) for c in cols]
    nt = N * T
    eig_w = np.linalg.eigvals(w).real
    eig_m = np.linalg.eigvals(m).real

    def ld(eig, r):
        return np.sum(np.log(np.abs(1 - r * eig)))

    def resid(r, lam):
        ys = (yd - r * wy - lam * my + r * lam * mwy).ravel()
        xs = np.column_stack([(c - lam * mc).ravel() for c, mc in zip(cols, mz)])
        b = np.linalg.lstsq(xs, ys, rcond=None)[0]
        return ys - xs @ b, b

    def negll(r, lam):
        e, _ = resid(r, lam)
        return 0.5 * nt * np.log(e @ e) - T * ld(eig_w, r) - T * ld(eig_m, lam)

    lo_w, lo_m = 1 / eig_w.min() + 1e-6, 1 / eig_m.min() + 1e-6
    opts = {"xatol": 1e-11}

    def best_lam(r):
        return minimize_scalar(
            lambda lm: negll(r, lm), bounds=(lo_m, 1 - 1e-6), method="bounded", options=opts
        ).x

    r = minimize_scalar(
        lambda r: negll(r, best_lam(r)), bounds=(lo_w, 1 - 1e-6), method="bounded", options=opts
    ).x
    lam = best_lam(r)
    e, b = resid(r, lam)
    s2 = e @ e / nt
    ll = -0.5 * nt * np.log(2 * np.pi * s2) + T * ld(eig_w, r) + T * ld(eig_m, lam) - 0.5 * nt
    return np.r_[b, r, lam, s2], ll


@pytest.mark.parametrize("effects", ["individual", "twoways"])
@pytest.mark.parametrize("separate_m", [False, True])
def test_gns_matches_numpy_maximiser(effects, separate_m):
    """GNS equals the numpy nested maximiser: coefficients (beta, theta, rho, lambda,
    sigma2) and log-likelihood to 1e-5."""
    m = M_DENSE if separate_m else W_DENSE
    d = _simulate(W_DENSE, m)
    kw = {"M": pw.from_dense(m)} if separate_m else {}
    res = gns(
        "y ~ x1 + x2",
        d,
        W=pw.from_dense(W_DENSE),
        unit="unit",
        time="year",
        effects=effects,
        lee_yu=False,
        **kw,
    )
    assert list(res.coef()) == ["x1", "x2", "W*x1", "W*x2", "rho", "lambda", "sigma2"]
    coef, ll = oracle_gns(d, W_DENSE, m, effects)
    np.testing.assert_allclose(np.array(list(res.coef().values())), coef, atol=1e-5, rtol=0)
    assert res.loglik == pytest.approx(ll, abs=1e-5)
    assert np.isfinite(list(res.se().values())).all()


@pytest.mark.parametrize("lee_yu", [False, True])
def test_lambda_zero_is_sdm(lee_yu):
    """GNS with lambda fixed at 0 maximises the SDM likelihood: loglik to 1e-9, coef to 1e-6,
    SEs of (beta, theta, rho, sigma2) to 1e-6 relative (lambda's row dropped)."""
    grid = _grid_w(6)
    w = pw.from_dense(grid)
    d = _simulate(grid, grid)
    kw = {"unit": "unit", "time": "year", "lee_yu": lee_yu}
    g = gns("y ~ x1 + x2", d, W=w, fixed_lambda=0.0, **kw)
    s = sdm("y ~ x1 + x2", d, W=w, **kw)
    assert g.loglik == pytest.approx(s.loglik, abs=1e-9)
    assert g.coef()["lambda"] == 0.0
    for k, v in s.coef().items():
        assert g.coef()[k] == pytest.approx(v, abs=1e-6), k
        assert g.se()[k] == pytest.approx(s.se()[k], rel=1e-6), k
    assert g.se()["lambda"] == 0.0


def test_theta_zero_is_sac():
    """GNS without Durbin terms (durbin=[]) is the SAC model, bit for bit."""
    d = _simulate(W_DENSE, W_DENSE)
    w = pw.from_dense(W_DENSE)
    g = gns("y ~ x1 + x2", d, W=w, unit="unit", time="year", durbin=[])
    s = sac("y ~ x1 + x2", d, W=w, unit="unit", time="year")
    assert g.coef() == s.coef()
    assert g.se() == s.se()
    assert g.loglik == s.loglik


def test_gns_effects_are_those_of_the_sdm_part():
    """Direct = tr((I - rho W)^-1 (beta I + theta W))/N, total = (beta + theta)/(1 - rho)
    (row-standardised W), to 1e-10."""
    d = _simulate(W_DENSE, W_DENSE)
    res = gns("y ~ x1 + x2", d, W=pw.from_dense(W_DENSE), unit="unit", time="year")
    im = res.impacts(reps=0)
    c, r = res.coef(), res.rho
    a_inv = np.linalg.inv(np.eye(N) - r * W_DENSE)
    for k in ("x1", "x2"):
        s = a_inv @ (c[k] * np.eye(N) + c[f"W*{k}"] * W_DENSE)
        assert im.direct[k] == pytest.approx(np.trace(s) / N, abs=1e-10)
        assert im.total[k] == pytest.approx((c[k] + c[f"W*{k}"]) / (1 - r), abs=1e-10)


def test_gns_bad_input():
    d = _simulate(W_DENSE, W_DENSE)
    w = pw.from_dense(W_DENSE)
    with pytest.raises(PilotdidError, match="M"):
        gns("y ~ x1 + x2", d, W=w, M=pw.from_dense(_ring(N - 1, 1)), unit="unit", time="year")
    with pytest.raises(PilotdidError, match="fixed_lambda.*outside"):
        gns("y ~ x1 + x2", d, W=w, fixed_lambda=1.5, unit="unit", time="year")
