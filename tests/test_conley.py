"""Conley (1999) spatial HAC standard errors for ``feols`` (issue 18).

References: a dense numpy sandwich written here from Conley (1999, J. Econometrics 92:1-45)
and Hsiang (2010, PNAS 107:15367) (spatial part within a period, Bartlett-in-lag serial part
within a unit, the own-period term counted once), and spreg's HAC (Kelejian & Prucha 2007)
for the cross-sectional Bartlett case.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import polars as pl
import pytest

import pilotdid
from pilotdid import PilotdidError, datasets

R_EARTH = 6371.0


def _haversine(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    dla = la[:, None] - la[None, :]
    dlo = lo[:, None] - lo[None, :]
    a = np.sin(dla / 2) ** 2 + np.cos(la)[:, None] * np.cos(la)[None, :] * np.sin(dlo / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def _dense_conley(df, y, xs, fes, lat, lon, unit, time, cutoff, lag, kernel):
    """Dense sandwich: FWL-demeaned regressors via dummies, N x N kernel, fixest's
    (N-1)/(N-K) factor with K = k + sum(levels) - (n_fe - 1)."""
    n = df.height
    X = np.column_stack([df[c].to_numpy().astype(float) for c in xs])
    Y = df[y].to_numpy().astype(float)
    if fes:
        D = np.column_stack(
            [np.ones(n)]
            + [
                (df[f].to_numpy()[:, None] == np.unique(df[f].to_numpy())[None, 1:]).astype(float)
                for f in fes
            ]
        )
        proj = D @ np.linalg.pinv(D)
        X = X - proj @ X
        Y = Y - proj @ Y
    else:
        X = np.column_stack([np.ones(n), X])
    bread = np.linalg.inv(X.T @ X)
    u = Y - X @ (bread @ X.T @ Y)
    d = _haversine(df[lat].to_numpy(), df[lon].to_numpy())
    w = np.where(d <= cutoff, 1.0 - d / cutoff if kernel == "bartlett" else 1.0, 0.0)
    if time is not None:
        t = df[time].to_numpy()
        same_t = t[:, None] == t[None, :]
        w = np.where(same_t, w, 0.0)
        if lag > 0:
            uu = df[unit].to_numpy()
            gap = np.abs(t[:, None] - t[None, :])
            serial = (uu[:, None] == uu[None, :]) & (gap > 0) & (gap <= lag)
            w = w + np.where(serial, 1.0 - gap / (lag + 1), 0.0)
    s = X * u[:, None]
    meat = s.T @ w @ s
    k_fe = sum(df[f].n_unique() for f in fes) - max(len(fes) - 1, 0)
    df_k = X.shape[1] + k_fe
    v = bread @ meat @ bread * (n - 1) / (n - df_k)
    return v


@pytest.fixture(scope="module")
def yrd():
    return datasets.yrd()


@pytest.fixture(scope="module")
def random_panel():
    rng = np.random.default_rng(18)
    units, years = 60, 6
    lat = rng.uniform(25, 40, units)
    lon = rng.uniform(100, 125, units)
    rows = {
        "unit": np.repeat(np.arange(units), years),
        "year": np.tile(np.arange(2000, 2000 + years), units),
        "lat": np.repeat(lat, years),
        "lon": np.repeat(lon, years),
    }
    n = units * years
    x1 = rng.normal(size=n) + 0.3 * np.repeat(lat - lat.mean(), years) / 5
    x2 = rng.normal(size=n)
    y = 1 + 0.5 * x1 - 0.2 * x2 + rng.normal(size=n)
    return pl.DataFrame({**rows, "x1": x1, "x2": x2, "y": y})


@pytest.mark.parametrize("kernel", ["bartlett", "uniform"])
@pytest.mark.parametrize("cutoff", [50.0, 200.0, 1000.0])
@pytest.mark.parametrize("lag", [0, 3])
def test_yrd_panel_twfe_equals_dense_sandwich(yrd, kernel, cutoff, lag):
    """Dense numpy sandwich (module docstring), two-way FE, to 1e-10 relative."""
    spec = {"cutoff_km": cutoff, "lag": lag, "kernel": kernel}
    r = pilotdid.feols("gtfp ~ did + ln_gdp_pc | city_id + year", yrd, vcov={"conley": spec})
    ref = _dense_conley(
        yrd, "gtfp", ["did", "ln_gdp_pc"], ["city_id", "year"], "lat", "lon",
        "city_id", "year", cutoff, lag, kernel,
    )  # fmt: skip
    np.testing.assert_allclose(r.vcov(), ref, rtol=1e-10, atol=0)
    name = {"bartlett": "Bartlett", "uniform": "uniform"}[kernel]
    assert r.vcov_type == f"Conley ({cutoff:g} km, lag {lag}, {name})"


@pytest.mark.parametrize("kernel", ["bartlett", "uniform"])
@pytest.mark.parametrize("cutoff", [50.0, 200.0, 1000.0])
def test_cross_section_without_fe_equals_dense_sandwich(yrd, kernel, cutoff):
    """One year of the YRD panel as a cross-section, no fixed effects, intercept: dense
    sandwich to 1e-10."""
    cs = yrd.filter(pl.col("year") == 2015)
    r = pilotdid.feols(
        "gtfp ~ ln_gdp_pc + urbanization",
        cs,
        vcov={"conley": {"cutoff_km": cutoff, "kernel": kernel}},
    )
    ref = _dense_conley(
        cs, "gtfp", ["ln_gdp_pc", "urbanization"], [], "lat", "lon", None, None, cutoff, 0, kernel
    )
    d_max = _haversine(cs["lat"].to_numpy(), cs["lon"].to_numpy()).max()
    if kernel == "uniform" and d_max <= cutoff:
        # Every pair weighted 1: the meat is (X'u)(X'u)' = 0 by the normal equations, so both
        # sides are rounding noise; check that against the heteroskedastic scale instead.
        hc = pilotdid.feols("gtfp ~ ln_gdp_pc + urbanization", cs, vcov="hetero").vcov()
        assert np.abs(r.vcov()).max() < 1e-12 * np.abs(hc).max()
        return
    np.testing.assert_allclose(r.vcov(), ref, rtol=1e-10, atol=0)


@pytest.mark.parametrize("kernel", ["bartlett", "uniform"])
@pytest.mark.parametrize("cutoff,lag", [(50.0, 0), (200.0, 2), (1000.0, 5)])
def test_random_panel_equals_dense_sandwich(random_panel, kernel, cutoff, lag):
    """Random design (60 units x 6 years), one FE with explicit unit/time keys, and no FE."""
    spec = {"cutoff_km": cutoff, "lag": lag, "kernel": kernel, "unit": "unit", "time": "year"}
    r = pilotdid.feols("y ~ x1 + x2 | unit", random_panel, vcov={"conley": spec})
    ref = _dense_conley(
        random_panel, "y", ["x1", "x2"], ["unit"], "lat", "lon", "unit", "year", cutoff, lag, kernel
    )
    np.testing.assert_allclose(r.vcov(), ref, rtol=1e-10, atol=0)
    r0 = pilotdid.feols("y ~ x1 + x2", random_panel, vcov={"conley": spec})
    ref0 = _dense_conley(
        random_panel, "y", ["x1", "x2"], [], "lat", "lon", "unit", "year", cutoff, lag, kernel
    )
    np.testing.assert_allclose(r0.vcov(), ref0, rtol=1e-10, atol=0)


def test_cross_section_bartlett_equals_spreg_hac(yrd):
    """spreg.OLS(robust="hac", gwk=libpysal Kernel(triangular, fixed bandwidth, arc distance,
    radius 6371, diagonal=True)) is the same Bartlett meat sum_ij K(d_ij) s_i s_j'. Where they
    differ: spreg applies no small-sample factor (its V = (X'X)^-1 meat (X'X)^-1), pilotdid
    follows fixest's (N-1)/(N-K); libpysal's arc distance is the chord converted to an arc,
    equal to the haversine up to rounding. So V_pilotdid = (N-1)/(N-K) * V_spreg."""
    spreg = pytest.importorskip("spreg")
    from libpysal.weights import Kernel

    cs = yrd.filter(pl.col("year") == 2015)
    cutoff = 300.0
    pts = np.column_stack([cs["lon"].to_numpy(), cs["lat"].to_numpy()])
    gwk = Kernel(
        pts, bandwidth=cutoff, fixed=True, function="triangular", diagonal=True,
        distance_metric="arc", radius=R_EARTH,
    )  # fmt: skip
    y = cs["gtfp"].to_numpy()[:, None]
    X = cs.select("ln_gdp_pc", "urbanization").to_numpy()
    m = spreg.OLS(y, X, robust="hac", gwk=gwk)
    r = pilotdid.feols(
        "gtfp ~ ln_gdp_pc + urbanization", cs, vcov={"conley": {"cutoff_km": cutoff}}
    )
    n, k = X.shape[0], X.shape[1] + 1
    np.testing.assert_allclose(r.vcov(), m.vm * (n - 1) / (n - k), rtol=1e-10, atol=0)


def test_thread_count_does_not_change_the_result():
    """1 and 2 rayon threads give bit-identical Conley variances (fixed blocks, ordered sum)."""
    code = textwrap.dedent(
        """
        import numpy as np, polars as pl, pilotdid
        rng = np.random.default_rng(3)
        u, t = 3000, 4
        lat = np.repeat(rng.uniform(20, 45, u), t); lon = np.repeat(rng.uniform(95, 125, u), t)
        n = u * t
        df = pl.DataFrame({"unit": np.repeat(np.arange(u), t), "year": np.tile(np.arange(t), u),
                           "lat": lat, "lon": lon, "x": rng.normal(size=n),
                           "y": rng.normal(size=n)})
        r = pilotdid.feols("y ~ x | unit + year", df, vcov={"conley": {"cutoff_km": 300, "lag": 2}})
        print(r.vcov().tobytes().hex())
        """
    )
    out = []
    for threads in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        out.append(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    assert out[0] and out[0] == out[1]


def test_default_columns_and_label(yrd):
    """lat/lon detected by name; unit/time from the two fixed effects; label in the summary."""
    spec = {"cutoff_km": 200, "lag": 3}
    a = pilotdid.feols("gtfp ~ did | city_id + year", yrd, vcov={"conley": spec})
    b = pilotdid.feols(
        "gtfp ~ did | city_id + year",
        yrd,
        vcov={"conley": {**spec, "lat": "lat", "lon": "lon", "unit": "city_id", "time": "year"}},
    )
    np.testing.assert_array_equal(a.vcov(), b.vcov())
    assert a.vcov_type == "Conley (200 km, lag 3, Bartlett)"
    assert "Conley (200 km, lag 3, Bartlett)" in a.summary()


@pytest.mark.parametrize(
    "spec,match",
    [
        ({"cutoff_km": 0}, "cutoff_km"),
        ({"cutoff_km": -5}, "cutoff_km"),
        ({}, "cutoff_km"),
        ({"cutoff_km": 100, "lag": -1}, "lag"),
        ({"cutoff_km": 100, "kernel": "gaussian"}, "kernel"),
        ({"cutoff_km": 100, "radius": 3}, "unknown key 'radius'"),
        ({"cutoff_km": 100, "lat": "nope"}, "nope"),
    ],
)
def test_bad_options(yrd, spec, match):
    with pytest.raises(PilotdidError, match=match):
        pilotdid.feols("gtfp ~ did | city_id + year", yrd, vcov={"conley": spec})


def test_bad_coordinates(random_panel):
    """Out-of-range or missing coordinates, coordinates moving within a unit, a lag without
    unit/time: errors naming the key and the allowed range."""
    bad = random_panel.with_columns(
        pl.when(pl.col("unit") == 3).then(95.0).otherwise(pl.col("lat")).alias("lat")
    )
    with pytest.raises(PilotdidError, match=r"lat.*\[-90, 90\]"):
        pilotdid.feols("y ~ x1", bad, vcov={"conley": {"cutoff_km": 100}})
    bad = random_panel.with_columns(
        pl.when(pl.col("unit") == 3).then(200.0).otherwise(pl.col("lon")).alias("lon")
    )
    with pytest.raises(PilotdidError, match=r"lon.*\[-180, 180\]"):
        pilotdid.feols("y ~ x1", bad, vcov={"conley": {"cutoff_km": 100}})
    bad = random_panel.with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(None).otherwise(pl.col("lat")).alias("lat")
    )
    with pytest.raises(PilotdidError, match=r"lat"):
        pilotdid.feols("y ~ x1", bad, vcov={"conley": {"cutoff_km": 100}})
    moving = random_panel.with_columns((pl.col("lat") + pl.col("year") * 0.01).alias("lat"))
    with pytest.raises(PilotdidError, match="constant within a unit"):
        pilotdid.feols("y ~ x1 | unit + year", moving, vcov={"conley": {"cutoff_km": 100}})
    with pytest.raises(PilotdidError, match="needs the panel's unit and time"):
        pilotdid.feols("y ~ x1", random_panel, vcov={"conley": {"cutoff_km": 100, "lag": 2}})
    two = random_panel.rename({"lat": "latitude"}).with_columns(pl.col("latitude").alias("lat"))
    with pytest.raises(PilotdidError, match="several columns"):
        pilotdid.feols("y ~ x1", two, vcov={"conley": {"cutoff_km": 100}})


def test_split_and_etable_label(yrd):
    """Each sample of ``split`` gets its own Conley variance (equal to fitting that sample
    alone), and etable shows the label."""
    spec = {"cutoff_km": 300, "lag": 2}
    multi = pilotdid.feols(
        "gtfp ~ ln_gdp_pc | city_id + year", yrd, vcov={"conley": spec}, split="treat"
    )
    alone = pilotdid.feols(
        "gtfp ~ ln_gdp_pc | city_id + year",
        yrd.filter(pl.col("treat") == 1),
        vcov={"conley": spec},
    )
    fit = [m for name, m in multi.models.items() if name.endswith("treat = 1)")][0]
    np.testing.assert_allclose(fit.vcov(), alone.vcov(), rtol=1e-12, atol=0)
    assert "Conley (300 km, lag 2, Bartlett)" in str(pilotdid.etable(alone))


def test_other_event_study_estimators_refuse_conley_and_name_those_that_take_it(yrd):
    """The imputation and CS/SA variances are built from cluster scores: a clear error that
    names the estimators with a Conley variance."""
    with pytest.raises(PilotdidError, match=r"'conley' is available for the TWFE event study"):
        pilotdid.imputation(
            yrd, y="gtfp", unit="city_id", time="year", cohort="cohort",
            vcov={"conley": {"cutoff_km": 200}},
        )  # fmt: skip


@pytest.mark.parametrize(("kernel", "lag", "window"), [
    ("bartlett", 0, None), ("bartlett", 3, (-4, 4)), ("uniform", 2, (-3, 5)),
])  # fmt: skip
def test_twfe_event_study_conley_equals_the_feols_i_route(yrd, kernel, lag, window):
    """twfe_event_study(vcov={"conley": ...}) = feols("y ~ i(rel, ref=[-1, never]) | unit +
    year") with the same Conley request (itself = the dense sandwich, above) on the same
    rows (window applied by hand): estimates and vcov to 1e-12."""
    cv = {"conley": {"cutoff_km": 250, "lag": lag, "kernel": kernel}}
    es = pilotdid.twfe_event_study(
        yrd, y="gtfp", unit="city_id", time="year", cohort="cohort", vcov=cv, window=window
    )
    d = yrd.with_columns(
        pl.when(pl.col("cohort") > 0)
        .then(pl.col("year") - pl.col("cohort"))
        .otherwise(-1000)
        .alias("rel")
    )
    if window is not None:
        d = d.filter((pl.col("cohort") == 0) | pl.col("rel").is_between(*window))
    m = pilotdid.feols("gtfp ~ i(rel, ref=[-1, -1000]) | city_id + year", d, vcov=cv)
    terms = m.tidy()["term"].to_list()
    idx = [terms.index(f"rel::{e}") for e in es.event_time]
    assert len(idx) == len(terms)  # no control, no other regressor
    np.testing.assert_allclose(es.estimate, m.tidy()["estimate"].to_numpy()[idx], atol=1e-12)
    np.testing.assert_allclose(es.vcov(), m.vcov()[np.ix_(idx, idx)], rtol=1e-12, atol=0)
    label = "Bartlett" if kernel == "bartlett" else "uniform"
    assert es.extra["vcov"] == f"Conley (250 km, lag {lag}, {label})"


def _did2s_dense_conley(df, cutoff, lag, kernel, event):
    """Butts & Gardner's GMM sandwich written densely: first stage unit + year dummies on the
    untreated rows (never treated, or t < cohort), Ytilde = y - X1 gamma, second stage on
    event-time dummies (ref -1) or the post indicator; row scores psi_r = x2_r e2_r -
    [X2'X1 (X10'X10)^+ x10_r] e1_r; meat psi' W psi with the dense Conley kernel W of
    ``_dense_conley`` (spatial within a period, Bartlett-in-lag within a unit); no factor."""
    n = df.height
    g = df["cohort"].to_numpy().astype(float)
    t = df["year"].to_numpy()
    u = df["city_id"].to_numpy()
    y = df["gtfp"].to_numpy().astype(float)
    treated_unit = g > 0
    untreated = ~treated_unit | (t < g)
    X1 = np.column_stack(
        [(u[:, None] == np.unique(u)[None, :]).astype(float)]
        + [(t[:, None] == np.unique(t)[None, 1:]).astype(float)]
    )
    X10 = X1 * untreated[:, None]
    gamma = np.linalg.lstsq(X10, y * untreated, rcond=None)[0]
    ytil = y - X1 @ gamma
    if event:
        e = np.where(treated_unit, t - g, np.nan)
        evs = sorted(int(v) for v in np.unique(e[np.isfinite(e)]) if v != -1)
        X2 = np.column_stack([(e == v).astype(float) for v in evs])
    else:
        X2 = (treated_unit & (t >= g)).astype(float)[:, None]
    bread = np.linalg.inv(X2.T @ X2)
    beta = bread @ X2.T @ ytil
    e2 = ytil - X2 @ beta
    e1 = np.where(untreated, ytil, 0.0)
    corr = X2.T @ X1 @ np.linalg.pinv(X10.T @ X10)  # k x p
    psi = X2 * e2[:, None] - (X10 @ corr.T) * e1[:, None]
    d = _haversine(df["lat"].to_numpy(), df["lon"].to_numpy())
    w = np.where(d <= cutoff, 1.0 - d / cutoff if kernel == "bartlett" else 1.0, 0.0)
    w = np.where(t[:, None] == t[None, :], w, 0.0)
    if lag > 0:
        gap = np.abs(t[:, None] - t[None, :])
        serial = (u[:, None] == u[None, :]) & (gap > 0) & (gap <= lag)
        w = w + np.where(serial, 1.0 - gap / (lag + 1), 0.0)
    assert n == w.shape[0]
    return beta, bread @ (psi.T @ w @ psi) @ bread


@pytest.mark.parametrize(("kernel", "lag", "event"), [
    ("bartlett", 0, False), ("bartlett", 3, True), ("uniform", 2, True),
])  # fmt: skip
def test_did2s_conley_equals_dense_gmm_sandwich(yrd, kernel, lag, event):
    """did2s(vcov={"conley": ...}): the GMM bread with the Conley meat of the row scores,
    against the dense numpy sandwich above: estimates 1e-10, vcov 1e-10."""
    cv = {"conley": {"cutoff_km": 300, "lag": lag, "kernel": kernel}}
    r = pilotdid.did2s(
        yrd, y="gtfp", unit="city_id", time="year", cohort="cohort", vcov=cv, event=event
    )
    beta, v = _did2s_dense_conley(yrd, 300.0, lag, kernel, event)
    np.testing.assert_allclose(r.estimate, beta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.vcov(), v, rtol=1e-10, atol=1e-18)
    assert r.extra["df_t"] is None and "Conley (300 km" in r.extra["vcov"]
    with pytest.raises(PilotdidError, match="needs a clustered did2s fit"):
        r.wild_bootstrap(int(r.event_time[-1]) if event else 0, reps=99)


def test_did2s_conley_identity_with_the_clustered_variance(yrd):
    """Uniform kernel and a cutoff below every inter-city distance: the spatial part is each
    row with itself, and the serial part pairs a city's own periods with Bartlett weights
    1 - gap / (lag + 1). With lag = 1e9 those weights are 1 up to 1.5e-8 (gaps <= 15), so
    the meat is the clustered GMM meat by city; neither variance has a factor, so they agree
    to 1e-7 (the Bartlett weights' distance from 1, not a tolerance on the code)."""
    kw = dict(y="gtfp", unit="city_id", time="year", cohort="cohort")
    with pytest.warns(pilotdid.FewClustersWarning):
        cl = pilotdid.did2s(yrd, **kw)
    cv = pilotdid.did2s(yrd, **kw, vcov={"conley": {"cutoff_km": 1, "lag": 10**9,
                                                    "kernel": "uniform"}})  # fmt: skip
    np.testing.assert_allclose(cv.estimate, cl.estimate, rtol=0, atol=0)
    scale = np.abs(cl.vcov()).max()
    np.testing.assert_allclose(cv.vcov(), cl.vcov(), rtol=1e-7, atol=1e-7 * scale)


def test_twfe_event_study_via_feols_i_equals_dense_sandwich(yrd):
    """The feols route for a TWFE event study with Conley SEs: i(year, treat) dummies, dense
    numpy sandwich to 1e-10."""
    spec = {"cutoff_km": 200, "lag": 3}
    r = pilotdid.feols(
        "gtfp ~ i(year, treat, ref=2013) | city_id + year", yrd, vcov={"conley": spec}
    )
    years = sorted(y for y in yrd["year"].unique().to_list() if y != 2013)
    ev = yrd.with_columns(
        [((pl.col("year") == y) * pl.col("treat")).cast(pl.Float64).alias(f"e{y}") for y in years]
    )
    ref = _dense_conley(
        ev, "gtfp", [f"e{y}" for y in years], ["city_id", "year"], "lat", "lon",
        "city_id", "year", 200.0, 3, "bartlett",
    )  # fmt: skip
    np.testing.assert_allclose(r.vcov(), ref, rtol=1e-10, atol=0)
