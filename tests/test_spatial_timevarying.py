"""Time-varying W (one W per period) in SAR / SDM / SEM / SDEM / SAC panels (issue 18, item 4).

References:
- every W_t equal: the static model, bit for bit (coef, se, vcov, loglik, effects);
- W_t changing: an independent numpy/scipy maximisation of the same concentrated likelihood
  written here (numpy slogdet per period, scipy's bounded Brent), coefficients and log-
  likelihood to 1e-6; the analytic information matrix re-derived in numpy with dense
  G_t = W_t (I - rho W_t)^-1 (SEs to 1e-6 relative); effects = period average of the
  per-period LeSage-Pace summaries with dense (I - rho W_t)^-1;
- bad input: changing unit sets, a missing period, a wrong count (errors that name them).

Likelihood conventions (those of the static models, applied per period): the fixed effects
are removed by demeaning every series (y, W_t y_t, X, W_t X_t) in the unit and / or period
dimension (the direct approach, Elhorst 2014; Lee-Yu's transformation assumes one W and is
off); the error models apply B_t = I - lambda W_t to the demeaned series and demean again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize_scalar

import pilotdid.weights as pw
from pilotdid._core import PilotdidError
from pilotdid.spatial.models import sac, sar, sdem, sdm, sem

REF = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"


# --------------------------------------------------------------------------------------
# data


def _ring(n: int, k: int) -> np.ndarray:
    """Row-standardised ring: k neighbours on each side."""
    m = np.zeros((n, n))
    for i in range(n):
        for d in range(1, k + 1):
            m[i, (i + d) % n] = 1.0
            m[i, (i - d) % n] = 1.0
    return m / m.sum(axis=1, keepdims=True)


def _random_w(n: int, seed: int) -> np.ndarray:
    """Row-standardised symmetric random contiguity (density ~0.2, ring added: no islands)."""
    rng = np.random.default_rng(seed)
    c = (rng.random((n, n)) < 0.2).astype(float)
    c = np.triu(c, 1)
    c = c + c.T + (_ring(n, 1) > 0)
    c = (c > 0).astype(float)
    np.fill_diagonal(c, 0.0)
    return c / c.sum(axis=1, keepdims=True)


N, T = 24, 5


@pytest.fixture(scope="module")
def periods_w():
    """Three distinct W over five periods (2001-2005): ring(1), ring(2), random, random, ring(1)."""
    a, b, c = _ring(N, 1), _ring(N, 2), _random_w(N, 7)
    return [a, b, c, c, a]


def _simulate(ws, rho=0.4, lam=0.0, beta=(1.0, -0.5), theta=(0.3, 0.0), seed=1):
    """y_t = (I - rho W_t)^-1 (X_t beta + W_t X_t theta + mu + tau_t + u_t),
    u_t = (I - lam W_t)^-1 e_t."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=N)
    rows = []
    for t, w in enumerate(ws):
        x = rng.normal(size=(N, 2))
        e = rng.normal(size=N) * 0.7
        u = np.linalg.solve(np.eye(N) - lam * w, e)
        xb = x @ np.asarray(beta) + (w @ x) @ np.asarray(theta) + mu + 0.3 * t + u
        y = np.linalg.solve(np.eye(N) - rho * w, xb)
        for i in range(N):
            rows.append({"unit": i, "year": 2001 + t, "y": y[i], "x1": x[i, 0], "x2": x[i, 1]})
    return pl.DataFrame(rows)


# --------------------------------------------------------------------------------------
# the numpy oracle


def _demean(v: np.ndarray, effects: str) -> np.ndarray:
    """v is T x N."""
    if effects == "individual":
        return v - v.mean(axis=0, keepdims=True)
    if effects == "time":
        return v - v.mean(axis=1, keepdims=True)
    if effects == "twoways":
        return v - v.mean(axis=0, keepdims=True) - v.mean(axis=1, keepdims=True) + v.mean()
    return v - v.mean()


def _panel(d: pl.DataFrame):
    d = d.sort(["year", "unit"])
    y = d["y"].to_numpy().reshape(T, N)
    x = np.stack([d["x1"].to_numpy().reshape(T, N), d["x2"].to_numpy().reshape(T, N)])
    return y, x


def _lag(ws, v):
    return np.stack([ws[t] @ v[t] for t in range(T)])


def _logdet(ws, r):
    return sum(np.linalg.slogdet(np.eye(N) - r * w)[1] for w in ws)


def _bounds(ws):
    lo = max(1 / np.linalg.eigvals(w).real.min() for w in ws)
    return lo, 1.0


def _ols(z, y):
    return np.linalg.lstsq(z, y, rcond=None)[0]


def oracle_lag(d, ws, effects, durbin):
    """SAR (durbin=False) / SDM: max over rho of -NT/2 ln e'e + sum_t ln|I - rho W_t|."""
    y, x = _panel(d)
    cols = [x[0], x[1]] + ([_lag(ws, x[0]), _lag(ws, x[1])] if durbin else [])
    z = np.column_stack([_demean(c, effects).ravel() for c in cols])
    yd = _demean(y, effects).ravel()
    wyd = _demean(_lag(ws, y), effects).ravel()
    nt = N * T

    def negll(r):
        e = yd - r * wyd
        e = e - z @ _ols(z, e)
        return 0.5 * nt * np.log(e @ e) - _logdet(ws, r)

    lo, hi = _bounds(ws)
    r = minimize_scalar(
        negll, bounds=(lo + 1e-6, hi - 1e-6), method="bounded", options={"xatol": 1e-12}
    ).x
    e = yd - r * wyd
    b = _ols(z, e)
    e = e - z @ b
    s2 = e @ e / nt
    ll = -0.5 * nt * np.log(2 * np.pi * s2) + _logdet(ws, r) - 0.5 * nt
    # Expected information of (beta, rho, sigma2) with block-diagonal G = diag(G_t).
    gs = [w @ np.linalg.inv(np.eye(N) - r * w) for w in ws]
    zb = (z @ b).reshape(T, N)
    gz = _demean(np.stack([gs[t] @ zb[t] for t in range(T)]), effects).ravel()
    k = z.shape[1]
    info = np.zeros((k + 2, k + 2))
    info[:k, :k] = z.T @ z / s2
    info[:k, k] = info[k, :k] = z.T @ gz / s2
    info[k, k] = gz @ gz / s2 + sum(np.trace(g @ g) + np.sum(g * g) for g in gs)
    info[k, k + 1] = info[k + 1, k] = sum(np.trace(g) for g in gs) / s2
    info[k + 1, k + 1] = nt / (2 * s2**2)
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    return np.r_[b, r, s2], se, ll


def oracle_error(d, ws, effects, durbin):
    """SEM / SDEM: e(lam) = demean(B_t y~) - demean(B_t X~) beta(lam)."""
    y, x = _panel(d)
    cols = [x[0], x[1]] + ([_lag(ws, x[0]), _lag(ws, x[1])] if durbin else [])
    zs = [_demean(c, effects) for c in cols]
    yd = _demean(y, effects)
    nt = N * T

    def parts(lam):
        ys = _demean(yd - lam * _lag(ws, yd), effects).ravel()
        xs = np.column_stack([_demean(c - lam * _lag(ws, c), effects).ravel() for c in zs])
        b = _ols(xs, ys)
        return ys - xs @ b, b

    def negll(lam):
        e, _ = parts(lam)
        return 0.5 * nt * np.log(e @ e) - _logdet(ws, lam)

    lo, hi = _bounds(ws)
    lam = minimize_scalar(
        negll, bounds=(lo + 1e-6, hi - 1e-6), method="bounded", options={"xatol": 1e-12}
    ).x
    e, b = parts(lam)
    s2 = e @ e / nt
    ll = -0.5 * nt * np.log(2 * np.pi * s2) + _logdet(ws, lam) - 0.5 * nt
    # Expected information of (beta, lambda, sigma2), H_t = W_t (I - lambda W_t)^-1.
    xs = np.column_stack([_demean(c - lam * _lag(ws, c), effects).ravel() for c in zs])
    hs = [w @ np.linalg.inv(np.eye(N) - lam * w) for w in ws]
    k = xs.shape[1]
    info = np.zeros((k + 2, k + 2))
    info[:k, :k] = xs.T @ xs / s2
    info[k, k] = sum(np.trace(h @ h) + np.sum(h * h) for h in hs)
    info[k, k + 1] = info[k + 1, k] = sum(np.trace(h) for h in hs) / s2
    info[k + 1, k + 1] = nt / (2 * s2**2)
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    return np.r_[b, lam, s2], se, ll


EFFECTS = ["twoways", "individual"]


# --------------------------------------------------------------------------------------
# every W_t equal: the static model, bit for bit


@pytest.fixture(scope="module")
def cigar():
    d = pl.read_csv(REF / "cigar.csv")
    m = np.loadtxt(REF / "usa46.csv", delimiter=",", skiprows=1)
    ids = sorted(d["state"].unique().to_list())
    return d, pw.from_dense(m, ids=ids).row_standardise()


def _same(a, b):
    assert list(a.coef()) == list(b.coef())
    for k in a.coef():
        assert a.coef()[k] == b.coef()[k], k
        assert a.se()[k] == b.se()[k], k
    assert np.array_equal(a.vcov(), b.vcov())
    assert a.loglik == b.loglik
    ia, ib = a.impacts(reps=50, seed=3), b.impacts(reps=50, seed=3)
    for e in ("direct", "indirect", "total"):
        assert getattr(ia, e) == getattr(ib, e), e
    assert ia.se() == ib.se()


@pytest.mark.parametrize("model", [sar, sdm, sem, sdem, sac])
@pytest.mark.parametrize("as_dict", [True, False])
def test_equal_w_t_is_the_static_model_bit_for_bit(cigar, model, as_dict):
    """Cigar (46 states, 30 years), usa46 row-standardised: a W per period, all equal
    (as copies, so the objects differ), equals W given once, float for float, with the
    default options (two-way effects, Lee-Yu)."""
    d, W = cigar
    years = sorted(d["year"].unique().to_list())
    copies = [pw.from_dense(W.to_dense(), ids=list(W.ids)) for _ in years]
    Wt = dict(zip(years, copies)) if as_dict else copies
    kw = {"unit": "state", "time": "year"}
    a = model("logc ~ logp + logy", d, W=W, **kw)
    b = model("logc ~ logp + logy", d, W=Wt, **kw)
    _same(a, b)


# --------------------------------------------------------------------------------------
# W_t changing: the numpy oracle


@pytest.mark.parametrize("effects", EFFECTS)
@pytest.mark.parametrize("model", ["sar", "sdm"])
def test_lag_models_match_numpy_likelihood(periods_w, model, effects):
    """SAR / SDM with a W per period equal a numpy maximisation of the concentrated
    likelihood (coef and loglik 1e-6) and its expected information matrix (SE 1e-6 rel)."""
    ws = periods_w
    d = _simulate(ws)
    Wt = {2001 + t: pw.from_dense(w) for t, w in enumerate(ws)}
    fn = sar if model == "sar" else sdm
    res = fn("y ~ x1 + x2", d, W=Wt, unit="unit", time="year", effects=effects)
    assert res.lee_yu is False
    assert res.w_note == "W varies by period (3 distinct W_t over 5 periods)"
    coef, se, ll = oracle_lag(d, ws, effects, durbin=model == "sdm")
    got = np.array(list(res.coef().values()))
    np.testing.assert_allclose(got, coef, atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.array(list(res.se().values())), se, rtol=1e-6)
    assert res.loglik == pytest.approx(ll, abs=1e-6)
    # The fit differs from the static fit with any one of the W_t.
    static = fn(
        "y ~ x1 + x2",
        d,
        W=pw.from_dense(ws[0]),
        unit="unit",
        time="year",
        effects=effects,
        lee_yu=False,
    )
    assert abs(static.rho - res.rho) > 1e-3


@pytest.mark.parametrize("effects", EFFECTS)
@pytest.mark.parametrize("model", ["sem", "sdem"])
def test_error_models_match_numpy_likelihood(periods_w, model, effects):
    """SEM / SDEM with a W per period equal the numpy concentrated likelihood (coef and
    loglik 1e-6) and its expected information matrix (SE 1e-6 rel)."""
    ws = periods_w
    d = _simulate(ws, rho=0.0, lam=0.5)
    Wt = [pw.from_dense(w) for w in ws]
    fn = sem if model == "sem" else sdem
    res = fn("y ~ x1 + x2", d, W=Wt, unit="unit", time="year", effects=effects)
    coef, se, ll = oracle_error(d, ws, effects, durbin=model == "sdem")
    got = np.array(list(res.coef().values()))
    np.testing.assert_allclose(got, coef, atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.array(list(res.se().values())), se, rtol=1e-6)
    assert res.loglik == pytest.approx(ll, abs=1e-6)


def test_sdm_effects_are_period_averages(periods_w):
    """impacts() = (1/T) sum_t of the LeSage-Pace summaries of S_t = (I - rho W_t)^-1
    (beta I + theta W_t): direct tr(S_t)/N, total iota'S_t iota/N (1e-10)."""
    ws = periods_w
    d = _simulate(ws)
    Wt = {2001 + t: pw.from_dense(w) for t, w in enumerate(ws)}
    res = sdm("y ~ x1 + x2", d, W=Wt, unit="unit", time="year")
    im = res.impacts(reps=0)
    c = res.coef()
    for name in ("x1", "x2"):
        b, th, r = c[name], c[f"W*{name}"], res.rho
        s = [np.linalg.inv(np.eye(N) - r * w) @ (b * np.eye(N) + th * w) for w in ws]
        direct = np.mean([np.trace(m) / N for m in s])
        total = np.mean([m.sum() / N for m in s])
        assert im.direct[name] == pytest.approx(direct, abs=1e-10)
        assert im.total[name] == pytest.approx(total, abs=1e-10)
        assert im.indirect[name] == pytest.approx(total - direct, abs=1e-10)
    with pytest.raises(PilotdidError, match="time-varying W"):
        res.unit_impacts()


def test_sac_time_varying_runs_and_nests_sar(periods_w):
    """SAC with a W per period: its likelihood at lambda's estimate is at least SAR's
    maximum (SAR is SAC with lambda = 0) and rho stays in the common interval."""
    ws = periods_w
    d = _simulate(ws, rho=0.3, lam=0.3)
    Wt = [pw.from_dense(w) for w in ws]
    a = sac("y ~ x1 + x2", d, W=Wt, unit="unit", time="year")
    s = sar("y ~ x1 + x2", d, W=Wt, unit="unit", time="year")
    assert a.loglik >= s.loglik - 1e-9
    assert np.isfinite(list(a.se().values())).all()


# --------------------------------------------------------------------------------------
# bad input


def test_changing_unit_set_is_named(periods_w):
    d = _simulate(periods_w)
    ids = list(range(N))
    w0 = pw.from_dense(periods_w[0], ids=ids)
    other = pw.from_dense(periods_w[1], ids=ids[:-1] + [99])
    Wt = {2001: w0, 2002: other, 2003: w0, 2004: w0, 2005: w0}
    with pytest.raises(
        PilotdidError, match=r"period 2002 has a different unit set.*lacks 23.*adds 99"
    ):
        sar("y ~ x1 + x2", d, W=Wt, unit="unit", time="year")
    shuffled = pw.from_dense(periods_w[1], ids=ids[::-1])
    Wt[2002] = shuffled
    with pytest.raises(PilotdidError, match="period 2002 has the units .* in a different order"):
        sar("y ~ x1 + x2", d, W=Wt, unit="unit", time="year")


def test_missing_period_is_named(periods_w):
    d = _simulate(periods_w)
    Wt = {2001 + t: pw.from_dense(w) for t, w in enumerate(periods_w) if t != 2}
    with pytest.raises(PilotdidError, match="no W for period.*2003"):
        sdm("y ~ x1 + x2", d, W=Wt, unit="unit", time="year")


def test_wrong_count_is_named(periods_w):
    d = _simulate(periods_w)
    with pytest.raises(PilotdidError, match="4 period matrices for the 5 periods"):
        sem("y ~ x1 + x2", d, W=[pw.from_dense(w) for w in periods_w[:4]], unit="unit", time="year")


def test_lee_yu_refused_with_time_varying_w(periods_w):
    d = _simulate(periods_w)
    Wt = [pw.from_dense(w) for w in periods_w]
    with pytest.raises(PilotdidError, match="lee_yu.*one W for all periods"):
        sar("y ~ x1 + x2", d, W=Wt, unit="unit", time="year", lee_yu=True)


def test_nested_list_is_one_dense_w(periods_w):
    """A nested list of numbers is one dense W, not a W per period."""
    d = _simulate(periods_w)
    a = sar("y ~ x1 + x2", d, W=periods_w[0].tolist(), unit="unit", time="year")
    b = sar("y ~ x1 + x2", d, W=pw.from_dense(periods_w[0]), unit="unit", time="year")
    assert a.coef() == b.coef()


@pytest.mark.parametrize("model", [sar, sdm, sem])
def test_sparse_path_equals_dense_path(periods_w, model):
    """The sparse engine per distinct W_t (exact sparse Cholesky log-determinants) gives the
    dense path's estimates: coef 1e-6, loglik 1e-8 (the tolerances of test_spatial_sparse)."""
    d = _simulate(periods_w, rho=0.3, lam=0.2)
    Wt = [pw.from_dense(w) for w in periods_w]
    kw = {"W": Wt, "unit": "unit", "time": "year"}
    a = model("y ~ x1 + x2", d, method="dense", **kw)
    b = model("y ~ x1 + x2", d, method="sparse", **kw)
    assert b.method == "sparse"
    for k, v in a.coef().items():
        assert b.coef()[k] == pytest.approx(v, abs=1e-6), k
    assert b.loglik == pytest.approx(a.loglik, abs=1e-8)


def test_gns_lambda_zero_is_sdm_with_time_varying_w(periods_w):
    """GNS (sac.rs's per-period path) with lambda fixed at 0 and a W per period maximises
    the time-varying SDM likelihood: loglik 1e-9, coef 1e-6."""
    from pilotdid.spatial.models import gns

    d = _simulate(periods_w)
    Wt = [pw.from_dense(w) for w in periods_w]
    kw = {"W": Wt, "unit": "unit", "time": "year", "effects": "individual"}
    s = sdm("y ~ x1 + x2", d, **kw)
    # With lambda = 0 the error weights drop out: M = W_t or a separate static M.
    for extra in ({}, {"M": pw.from_dense(_ring(N, 3))}):
        g = gns("y ~ x1 + x2", d, fixed_lambda=0.0, **kw, **extra)
        assert g.loglik == pytest.approx(s.loglik, abs=1e-9)
        for k, v in s.coef().items():
            assert g.coef()[k] == pytest.approx(v, abs=1e-6), k


def test_drop_units_subsets_every_w_t(periods_w):
    """incomplete="drop_units" drops the unit from every W_t and row-standardises each
    again: the fit equals the one on the complete units with those W_t given directly."""
    d = _simulate(periods_w)
    gone = 5
    holed = d.filter(~((pl.col("unit") == gone) & (pl.col("year") == 2003)))
    Wt = [pw.from_dense(w) for w in periods_w]
    a = sdm("y ~ x1 + x2", holed, W=Wt, unit="unit", time="year", incomplete="drop_units")
    keep = [i for i in range(N) if i != gone]
    sub = [pw.from_dense(w[np.ix_(keep, keep)], ids=keep).row_standardise() for w in periods_w]
    b = sdm("y ~ x1 + x2", d.filter(pl.col("unit") != gone), W=sub, unit="unit", time="year")
    assert a.dropped_units == [gone]
    assert "every W_t subset" in a.w_note
    for k, v in b.coef().items():
        assert a.coef()[k] == pytest.approx(v, abs=1e-12), k


def test_sac_sparse_with_time_varying_w_is_refused(periods_w):
    """The SAC / GNS sparse traces assume one W: a W per period needs the dense path."""
    d = _simulate(periods_w)
    Wt = [pw.from_dense(w) for w in periods_w]
    with pytest.raises(PilotdidError, match="method='dense'"):
        sac("y ~ x1 + x2", d, W=Wt, unit="unit", time="year", method="sparse")


def test_lm_tests_refuses_a_w_per_period(periods_w):
    """lm_tests takes one W; a dict of W_t is an error naming the option."""
    from pilotdid.spatial.models import lm_tests

    d = _simulate(periods_w)
    Wt = {2001 + t: pw.from_dense(w) for t, w in enumerate(periods_w)}
    with pytest.raises(PilotdidError, match="option 'W': a W per period"):
        lm_tests("y ~ x1 + x2", d, W=Wt, unit="unit", time="year")
