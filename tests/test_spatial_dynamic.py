"""Dynamic spatial panels (sar/sdm with dlag=): bias-corrected QML, effects, bad input.

References: Yu, de Jong & Lee (2008, J. Econometrics 146) -- the QML of the within-transformed
likelihood and its bias correction theta1 = theta + Sigma^-1 a / T (unit effects); Lee & Yu
(2010, Econometric Theory 26) -- the extra time-effects term Sigma^-1 b / n (two-way, direct
approach), as implemented by Jihai Yu's Matlab code and its R port SDPDmod 0.0.5 (SDPDm with
LYtrans / DIRtrans). The oracle below rewrites the likelihood, its maximisation (scipy) and the
correction in numpy; effects are checked against dense closed forms; Monte Carlo against the
simulated truth.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize_scalar

import pilotdid.weights as pw
from pilotdid import _core
from pilotdid._core import PilotdidError
from pilotdid.spatial.models import sar, sdm

REF = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"


# ----------------------------------------------------------------------------- helpers
def rook_grid(side: int) -> np.ndarray:
    """Row-standardised rook contiguity on a side x side lattice."""
    n = side * side
    w = np.zeros((n, n))
    for i in range(side):
        for j in range(side):
            k = i * side + j
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = i + di, j + dj
                if 0 <= a < side and 0 <= b < side:
                    w[k, a * side + b] = 1.0
    return w / w.sum(axis=1, keepdims=True)


def simulate(w, t_used, *, rho, tau, eta, beta, theta, twoway, rng, burn=50, x=None):
    """y_t = rho W y_t + tau y_{t-1} + eta W y_{t-1} + x beta + W x theta + mu (+ alpha_t) + e,
    started at 0 and run `burn` periods before the T + 1 kept (time-major rows). `x`
    ((burn + T + 1) x n) is drawn unless given."""
    n = w.shape[0]
    s_inv = np.linalg.inv(np.eye(n) - rho * w)
    mu = rng.standard_normal(n)
    total = burn + t_used + 1
    if x is None:
        x = rng.standard_normal((total, n))
    alpha = rng.standard_normal(total) if twoway else np.zeros(total)
    y = np.zeros(n)
    ys = []
    for s in range(total):
        rhs = tau * y + eta * w @ y + beta * x[s] + theta * w @ x[s] + mu + alpha[s]
        y = s_inv @ (rhs + rng.standard_normal(n))
        if s >= burn:
            ys.append(y)
    return np.concatenate(ys), x[burn:].ravel()


def demean(v, n, t, twoway):
    m = v.reshape(t, n)
    out = m - m.mean(axis=0, keepdims=True)
    if twoway:
        out = out - m.mean(axis=1, keepdims=True) + m.mean()
    return out.ravel()


def correction_np(z, w, names, theta, t, twoway):
    """c(theta) = Sigma^-1 a / T (+ Sigma^-1 b / n two-way): YDJL (2008) a-vector with
    sum_h A^h S^-1 built as an explicit inverse, Lee & Yu (2010) b-vector."""
    n = w.shape[0]
    nt = n * t
    kz = z.shape[1]
    delta, rho, sige = theta[:kz], theta[kz], theta[kz + 1]
    s_inv = np.linalg.inv(np.eye(n) - rho * w)
    g = w @ s_inv
    gz = ((z @ delta).reshape(t, n) @ g.T).ravel()
    sig = np.zeros((kz + 2, kz + 2))
    sig[:kz, :kz] = z.T @ z / sige
    sig[:kz, kz] = sig[kz, :kz] = z.T @ gz / sige
    sig[kz, kz] = gz @ gz / sige + t * np.trace(g @ g + g.T @ g)
    sig[kz, kz + 1] = sig[kz + 1, kz] = t * np.trace(g) / sige
    sig[kz + 1, kz + 1] = nt / (2 * sige**2)
    sig /= nt
    tau = delta[names.index("tau")] if "tau" in names else 0.0
    eta = delta[names.index("eta")] if "eta" in names else 0.0
    a_mat = s_inv @ (tau * np.eye(n) + eta * w)
    b_mat = np.linalg.inv(np.eye(n) - a_mat) @ s_inv  # sum_h A^h S^-1
    a = np.zeros(kz + 2)
    if "tau" in names:
        a[names.index("tau")] = np.trace(b_mat) / n
    if "eta" in names:
        a[names.index("eta")] = np.trace(w @ b_mat) / n
    a[kz] = tau * np.trace(g @ b_mat) / n + eta * np.trace(g @ w @ b_mat) / n + np.trace(g) / n
    a[kz + 1] = 1 / (2 * sige)
    sig_inv = np.linalg.inv(sig)
    c = sig_inv @ a / t
    if twoway:
        b = np.zeros(kz + 2)
        b[kz] = 1 / (1 - rho)
        b[kz + 1] = 1 / (2 * sige)
        c = c + sig_inv @ b / n
    return c


def oracle(y, x, w, *, lags, durbin, twoway):
    """Independent numpy/scipy QML + bias correction (module docs of src/spatial/dynamic.rs;
    YDJL 2008 a-vector, Lee & Yu 2010 b-vector). Returns (theta_qml, theta_corrected, names).
    `y`, `x` are time-major over T + 1 periods; `lags` a subset of {"tau", "eta"}."""
    n = w.shape[0]
    t = y.size // n - 1
    ym = y.reshape(t + 1, n)
    xm = x.reshape(t + 1, n)
    cur, lag = ym[1:], ym[:-1]
    cols, names = [], []
    if "tau" in lags:
        cols.append(lag.ravel())
        names.append("tau")
    if "eta" in lags:
        cols.append((lag @ w.T).ravel())
        names.append("eta")
    cols.append(xm[1:].ravel())
    names.append("x")
    if durbin:
        cols.append((xm[1:] @ w.T).ravel())
        names.append("W*x")
    z = np.column_stack([demean(c, n, t, twoway) for c in cols])
    yt = demean(cur.ravel(), n, t, twoway)
    wyt = demean((cur @ w.T).ravel(), n, t, twoway)
    ev = np.linalg.eigvals(w).real
    lo, hi = 1 / ev.min(), 1 / ev.max()
    nt = n * t

    def negll(r):
        d = np.linalg.lstsq(z, yt - r * wyt, rcond=None)[0]
        e = yt - r * wyt - z @ d
        return 0.5 * nt * np.log(e @ e) - t * np.linalg.slogdet(np.eye(n) - r * w)[1]

    span = hi - lo
    opt = minimize_scalar(
        negll,
        bounds=(lo + 1e-9 * span, hi - 1e-9 * span),
        method="bounded",
        options={"xatol": 1e-13, "maxiter": 2000},
    )
    rho = opt.x
    delta = np.linalg.lstsq(z, yt - rho * wyt, rcond=None)[0]
    e = yt - rho * wyt - z @ delta
    sige = e @ e / nt
    theta = np.concatenate([delta, [rho, sige]])
    corrected = theta + correction_np(z, w, names, theta, t, twoway)
    return theta, corrected, [*names, "rho", "sigma2"]


def frame(y, x, n):
    t1 = y.size // n
    return pl.DataFrame(
        {
            "id": np.tile(np.arange(n), t1),
            "year": np.repeat(np.arange(2000, 2000 + t1), n),
            "y": y,
            "x": x,
        }
    )


DLAGS = {1: ("tau",), 2: ("eta",), 3: ("tau", "eta")}


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(18)
    w = rook_grid(6)
    y, x = simulate(w, 8, rho=0.3, tau=0.4, eta=0.15, beta=1.0, theta=0.5, twoway=False, rng=rng)
    return w, y, x


# ----------------------------------------------------------------- the numpy oracle
@pytest.mark.parametrize("model", ["sar", "sdm"])
@pytest.mark.parametrize("dlag", [1, 2, 3])
@pytest.mark.parametrize("effects", ["individual", "twoways"])
def test_bias_corrected_qml_equals_numpy_oracle(panel, model, dlag, effects):
    """YDJL (2008) / Lee & Yu (2010) QML and bias correction rewritten in numpy + scipy
    (concentrated likelihood, bounded Brent to 1e-13): corrected and uncorrected estimates
    agree to 1e-6."""
    w, y, x = panel
    n = w.shape[0]
    fn = sar if model == "sar" else sdm
    fit = fn(
        "y ~ x",
        frame(y, x, n),
        W=pw.from_dense(w, ids=list(range(n))),
        unit="id",
        time="year",
        effects=effects,
        dlag=dlag,
    )
    qml, corr, names = oracle(
        y, x, w, lags=DLAGS[dlag], durbin=model == "sdm", twoway=effects == "twoways"
    )
    assert fit.coefnames == names
    np.testing.assert_allclose(list(fit.coef_qml().values()), qml, rtol=0, atol=1e-6)
    np.testing.assert_allclose(list(fit.coef().values()), corr, rtol=0, atol=1e-6)
    # The correction moves the estimate (it is not a no-op) by O(1/T).
    assert np.max(np.abs(corr - qml)) > 1e-3
    assert fit.nobs == n * 8


def test_variance_equals_numpy_sandwich(panel):
    """YDJL (2008) Theorem 3 variance (Sigma^-1 + Sigma^-1 Omega Sigma^-1)/(nT) at the
    corrected estimate, Omega from the residuals' fourth moment, rewritten in numpy (1e-8
    relative); the reported vcov is J V_f J' (delta method through the correction, V_f with
    T' - 1 periods in the log-determinant and sigma2 terms; 1e-6)."""
    w, y, x = panel
    n = w.shape[0]
    fit = sdm(
        "y ~ x",
        frame(y, x, n),
        W=pw.from_dense(w, ids=list(range(n))),
        unit="id",
        time="year",
        effects="individual",
        dlag=3,
    )
    t = 8
    th = np.array(list(fit.coef().values()))
    tau, eta, b, th_, rho, sige = th
    ym, xm = y.reshape(t + 1, n), x.reshape(t + 1, n)
    cols = [ym[:-1].ravel(), (ym[:-1] @ w.T).ravel(), xm[1:].ravel(), (xm[1:] @ w.T).ravel()]
    z = np.column_stack([demean(c, n, t, False) for c in cols])
    yt = demean(ym[1:].ravel(), n, t, False)
    wyt = demean((ym[1:] @ w.T).ravel(), n, t, False)
    delta = th[:4]
    e = yt - rho * wyt - z @ delta
    np.testing.assert_allclose(fit._core.residuals, e, atol=1e-10)
    g = w @ np.linalg.inv(np.eye(n) - rho * w)
    gz = ((z @ delta).reshape(t, n) @ g.T).ravel()

    def sandwich(periods):
        """(Sigma^-1 + Sigma^-1 Omega Sigma^-1)/(n periods): the log-determinant and sigma2
        terms count `periods` (t = T' direct approach; t - 1 transformation approach)."""
        nt = n * periods
        sig = np.zeros((6, 6))
        sig[:4, :4] = z.T @ z / sige
        sig[:4, 4] = sig[4, :4] = z.T @ gz / sige
        sig[4, 4] = gz @ gz / sige + periods * np.trace(g @ g + g.T @ g)
        sig[4, 5] = sig[5, 4] = periods * np.trace(g) / sige
        sig[5, 5] = nt / (2 * sige**2)
        sig /= nt
        mu4 = np.mean(e**4)
        kappa = (mu4 - 3 * sige**2) / sige**2
        om = np.zeros((6, 6))
        om[4, 4] = np.sum(np.diag(g) ** 2) / n
        om[4, 5] = om[5, 4] = np.trace(g) / (2 * sige * n)
        om[5, 5] = 1 / (4 * sige**2)
        si = np.linalg.inv(sig)
        return (si + si @ (kappa * om) @ si) / nt

    v = sandwich(t)
    v_f = sandwich(t - 1)
    np.testing.assert_allclose(fit._core.vcov_asymptotic, v, rtol=1e-8, atol=1e-14)
    # Reported variance: the delta method through the correction, J V_f J', J = I + dc/dtheta
    # at the QML estimate (numpy central differences of correction_np), V_f counting T' - 1
    # periods in the log-determinant and sigma2 terms (transformation approach).
    names = ["tau", "eta", "x", "W*x"]
    q = np.array(list(fit.coef_qml().values()))
    jac = np.eye(6)
    for j in range(6):
        h = 1e-5 * max(abs(q[j]), 1e-2)
        up, dn = q.copy(), q.copy()
        up[j] += h
        dn[j] -= h
        jac[:, j] += (
            correction_np(z, w, names, up, t, False) - correction_np(z, w, names, dn, t, False)
        ) / (2 * h)
    np.testing.assert_allclose(fit.vcov(), jac @ v_f @ jac.T, rtol=1e-6, atol=1e-12)
    # The refinement is O(1/T) but not negligible at T = 8: the tau SE grows.
    assert fit.se()["tau"] > np.sqrt(v[0, 0]) * 1.01


# ------------------------------------------------------------------------- effects
@pytest.mark.parametrize("model", ["sar", "sdm"])
def test_short_and_long_run_effects_equal_closed_forms(panel, model):
    """Short run (I - rho W)^-1 (b I + th W), long run ((1 - tau) I - (rho + eta) W)^-1
    (b I + th W) (Elhorst 2014; xsmle dlag effects): direct = mean diagonal, total = mean row
    sum, by dense inverses (1e-10). Delta-method SEs of the long-run effects equal the
    numpy gradient (central differences in all of tau, eta, beta, theta, rho) times vcov."""
    w, y, x = panel
    n = w.shape[0]
    fn = sar if model == "sar" else sdm
    fit = fn(
        "y ~ x",
        frame(y, x, n),
        W=pw.from_dense(w, ids=list(range(n))),
        unit="id",
        time="year",
        effects="twoways",
        dlag=3,
    )
    c = fit.coef()
    names = fit.coefnames

    def effects(p, long_run):
        q = dict(zip(names, p))
        th = q.get("W*x", 0.0)
        m = q["x"] * np.eye(n) + th * w
        if long_run:
            s = np.linalg.inv((1 - q["tau"]) * np.eye(n) - (q["rho"] + q["eta"]) * w) @ m
        else:
            s = np.linalg.inv(np.eye(n) - q["rho"] * w) @ m
        d = np.trace(s) / n
        tot = s.sum() / n
        return np.array([d, tot - d, tot])

    p0 = np.array([c[k] for k in names])
    for horizon, long_run in (("short", False), ("long", True)):
        imp = fit.impacts(horizon=horizon, reps=0)
        got = np.array([imp.direct["x"], imp.indirect["x"], imp.total["x"]])
        np.testing.assert_allclose(got, effects(p0, long_run), rtol=1e-10, atol=1e-12)
        grad = np.zeros((3, len(p0)))
        for j in range(len(p0) - 1):  # sigma2 does not enter
            h = 1e-6 * max(abs(p0[j]), 1e-2)
            up, dn = p0.copy(), p0.copy()
            up[j] += h
            dn[j] -= h
            grad[:, j] = (effects(up, long_run) - effects(dn, long_run)) / (2 * h)
        se = np.sqrt(np.einsum("ij,jk,ik->i", grad, fit.vcov(), grad))
        tab = imp.tidy()
        np.testing.assert_allclose(tab["std_error"].to_numpy(), se, rtol=1e-5)
    # Row-standardised W: totals are (b + th)/(1 - rho) and (b + th)/(1 - tau - rho - eta).
    bt = c["x"] + c.get("W*x", 0.0)
    short = fit.impacts(horizon="short", reps=0).total["x"]
    long = fit.impacts(horizon="long", reps=0).total["x"]
    assert short == pytest.approx(bt / (1 - c["rho"]), rel=1e-10)
    assert long == pytest.approx(bt / (1 - c["tau"] - c["rho"] - c["eta"]), rel=1e-10)


def test_simulated_effects_seeded(panel):
    """Simulation draws are seeded (same seed, same numbers) and their interval brackets the
    point effect."""
    w, y, x = panel
    n = w.shape[0]
    fit = sdm(
        "y ~ x",
        frame(y, x, n),
        W=pw.from_dense(w, ids=list(range(n))),
        unit="id",
        time="year",
        effects="individual",
        dlag=3,
    )
    a = fit.impacts(horizon="long", reps=400, seed=3).tidy(method="simulation")
    b = fit.impacts(horizon="long", reps=400, seed=3).tidy(method="simulation")
    assert a.equals(b)
    est = a["estimate"].to_numpy()
    # The 2.5-97.5% simulation interval brackets the point effect.
    assert np.all(a["sim_low"].to_numpy() < est) and np.all(est < a["sim_high"].to_numpy())


# ------------------------------------------------------------ static model unchanged
def test_dlag_none_is_the_static_model():
    """dlag=None (the default) leaves sar / sdm exactly as before (same call, same numbers)."""
    d = pl.read_csv(REF / "cigar.csv")
    m = np.loadtxt(REF / "usa46.csv", delimiter=",", skiprows=1)
    ids = sorted(d["state"].unique().to_list())
    W = pw.from_dense(m, ids=ids).row_standardise()
    a = sdm("logc ~ logp + logy", d, W=W, unit="state", time="year", effects="individual")
    b = sdm(
        "logc ~ logp + logy", d, W=W, unit="state", time="year", effects="individual", dlag=None
    )
    assert type(a) is type(b)
    assert a.coef() == b.coef() and a.se() == b.se()


def test_cigar_dynamic_sdm_runs_and_is_stationary():
    """Cigar (46 states x 30 years, row-standardised usa46), dynamic SDM with both lags:
    consumption is persistent; asserted: tau in (0, 1), a stationary estimate, and the
    correction moves tau up (the Nickell-type O(1/T) bias of the QML is downward)."""
    d = pl.read_csv(REF / "cigar.csv")
    m = np.loadtxt(REF / "usa46.csv", delimiter=",", skiprows=1)
    ids = sorted(d["state"].unique().to_list())
    W = pw.from_dense(m, ids=ids).row_standardise()
    fit = sdm("logc ~ logp + logy", d, W=W, unit="state", time="year", effects="twoways", dlag=3)
    assert 0 < fit.tau < 1
    assert fit.spectral_radius < 1
    assert fit.tau > fit.coef_qml()["tau"]
    assert fit.nobs == 46 * 29
    text = fit._summary_text(0.95)
    assert "Bias correction" in text and "tau" in text


# --------------------------------------------------------------------- bad input
def test_bad_input_dynamic(panel):
    """T < 3, unbalanced panel (names the unit), static-only options, effects, dlag codes,
    missing W, non-row-standardised W with two-way effects: clear errors."""
    w, y, x = panel
    n = w.shape[0]
    df = frame(y, x, n)
    W = pw.from_dense(w, ids=list(range(n)))
    kw = dict(W=W, unit="id", time="year", effects="individual")
    with pytest.raises(PilotdidError, match="at least 3 periods"):
        sar("y ~ x", df.filter(pl.col("year") < 2002), dlag=1, **kw)
    with pytest.raises(PilotdidError, match="balanced.*7"):
        sar("y ~ x", df.filter(~((pl.col("id") == 7) & (pl.col("year") == 2003))), dlag=1, **kw)
    with pytest.raises(PilotdidError, match="dlag"):
        sar("y ~ x", df, dlag=4, **kw)
    with pytest.raises(PilotdidError, match="dlag"):
        sar("y ~ x", df, dlag=True, **kw)
    with pytest.raises(PilotdidError, match="fixed_rho"):
        sar("y ~ x", df, dlag=1, fixed_rho=0.1, **kw)
    with pytest.raises(PilotdidError, match="method"):
        sar("y ~ x", df, dlag=1, method="sparse", **kw)
    with pytest.raises(PilotdidError, match="effects"):
        sar("y ~ x", df, W=W, unit="id", time="year", effects="time", dlag=1)
    with pytest.raises(PilotdidError, match="'W'"):
        sar("y ~ x", df, W=None, unit="id", time="year", effects="individual", dlag=2)
    raw = pw.from_dense((w > 0).astype(float), ids=list(range(n)))
    with pytest.raises(PilotdidError, match="row-standardised"):
        sar("y ~ x", df, W=raw, unit="id", time="year", effects="twoways", dlag=2)
    # Non-stationary estimate: warned at the fit, long-run effects refused.
    rng = np.random.default_rng(5)
    yy, xx = simulate(
        w, 8, rho=0.3, tau=0.75, eta=0.2, beta=1.0, theta=0.0, twoway=False, rng=rng, burn=0
    )
    with pytest.warns(UserWarning, match="stationarity"):
        fit = sar("y ~ x", frame(yy, xx, n), dlag=3, **kw)
    with pytest.raises(PilotdidError, match="stationary"):
        fit.impacts(horizon="long", reps=0)


# --------------------------------------------------------------------- Monte Carlo
@pytest.mark.slow
@pytest.mark.parametrize(
    ("t_used", "effects"),
    [
        (10, "individual"),
        (20, "individual"),
        (10, "twoways"),
        (20, "twoways"),
    ],
)
def test_monte_carlo_bias_and_coverage(t_used, effects):
    """Monte Carlo, N = 100 (10 x 10 rook, row-standardised), T = 10 and 20 periods after the
    lag, 1000 draws of the dynamic SDM (rho 0.2, tau 0.4, eta 0.1, beta 1, theta 0.5, normal
    errors; x, unit effects (and period effects for two-way) redrawn each draw): |bias| of
    the corrected rho, tau, eta < 0.02 and 95% Wald coverage in [0.93, 0.97] (the Monte
    Carlo design class of YDJL 2008 and Lee & Yu 2010). Prints the
    uncorrected (QML) bias too. (sp_dynamic_many fits many outcomes on one shared X in
    parallel; with X redrawn per draw it is called once per draw.)"""
    reps = 1000
    start = time.time()
    w = rook_grid(10)
    n = w.shape[0]
    truth = {"tau": 0.4, "eta": 0.1, "x": 1.0, "W*x": 0.5, "rho": 0.2}
    rng = np.random.default_rng(1800 + t_used + (1 if effects == "twoways" else 0))
    t1 = t_used + 1
    unit = np.tile(np.arange(n), t1).astype(np.uint32)
    tcode = np.repeat(np.arange(t1), n).astype(np.uint32)
    wsp = pw.from_dense(w, ids=list(range(n)))._sparse()
    coef, se, coef_q = [], [], []
    for _ in range(reps):
        # x, the unit effects (and period effects) and the errors are all redrawn per draw.
        y, x = simulate(
            w,
            t_used,
            rho=truth["rho"],
            tau=truth["tau"],
            eta=truth["eta"],
            beta=truth["x"],
            theta=truth["W*x"],
            twoway=effects == "twoways",
            rng=rng,
        )
        c, s, cq, _ = _core.sp_dynamic_many(
            [y], [x], unit, tcode, wsp, model="sdm", dlag=3, effects=effects
        )
        coef.append(c[0])
        se.append(s[0])
        coef_q.append(cq[0])
    coef, se, coef_q = np.array(coef), np.array(se), np.array(coef_q)
    names = ["tau", "eta", "x", "W*x", "rho", "sigma2"]
    elapsed = time.time() - start
    print(f"\nMC dynamic SDM, N={n}, T={t_used}, {effects}, {reps} draws, {elapsed:.1f} s")
    for k in ("rho", "tau", "eta", "x", "W*x"):
        j = names.index(k)
        bias = coef[:, j].mean() - truth[k]
        bias_q = coef_q[:, j].mean() - truth[k]
        cover = np.mean(np.abs(coef[:, j] - truth[k]) <= 1.959964 * se[:, j])
        print(
            f"  {k:>4}: bias corrected {bias:+.4f}  uncorrected {bias_q:+.4f}  "
            f"sd {coef[:, j].std():.4f}  mean se {se[:, j].mean():.4f}  coverage {cover:.3f}"
        )
        if k in ("rho", "tau", "eta"):
            assert abs(bias) < 0.02, (k, bias)
            assert 0.93 <= cover <= 0.97, (k, cover)


def test_dynamic_model_refuses_a_w_per_period():
    """A W per period (the static models' time-varying W) is refused with dlag, by name."""
    wt = pw.from_dense(rook_grid(4), ids=list(range(16)))
    rng = np.random.default_rng(0)
    df = pl.DataFrame(
        {
            "unit": np.tile(np.arange(16), 5),
            "t": np.repeat(np.arange(5), 16),
            "y": rng.normal(size=80),
            "x": rng.normal(size=80),
        }
    )
    with pytest.raises(PilotdidError, match="option 'dlag': the dynamic model takes one W"):
        sdm("y ~ x", df, W={t: wt for t in range(5)}, unit="unit", time="t", dlag=1)
