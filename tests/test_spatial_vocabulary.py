"""The spatial family speaks the package vocabulary (issue 14).

References: the vocabulary table and result protocol of STYLE.md; pilotdid._args (option
checks that name the option; replicate counts bounded by MAX_REPS and by the memory their
draws need); pilotdid.results._protocol (the protocol every result follows). Old spellings
raise a TypeError naming the new one; bad option values raise PilotdidError naming the option
before any work starts; SpatialResult and SpatialImpacts follow the protocol.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
import pilotdid._args as args
import pilotdid.weights as pw
from pilotdid._core import PilotdidError
from pilotdid.results._protocol import REPR_LIMIT, TIDY_COLUMNS
from pilotdid.spatial.autocorrelation import moran, moran_local
from pilotdid.spatial.did import spatial_did, spatial_event_study
from pilotdid.spatial.models import gns, lm_tests, sac, sar, sdem, sdm, sem

N_UNITS, N_PERIODS = 12, 6
MODELS = {"sar": sar, "sdm": sdm, "sem": sem, "sdem": sdem, "sac": sac, "gns": gns}


@pytest.fixture(scope="module")
def coords():
    rng = np.random.default_rng(3)
    return rng.uniform(30, 32, N_UNITS), rng.uniform(118, 121, N_UNITS)


@pytest.fixture(scope="module")
def W(coords):
    return pw.knn(*coords, k=3)


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(5)
    unit = np.repeat(np.arange(N_UNITS), N_PERIODS)
    period = np.tile(np.arange(N_PERIODS), N_UNITS)
    first = np.where(np.arange(N_UNITS) % 3 == 0, 3, 99)[unit]
    d = (period >= first).astype(float)
    x = rng.normal(size=unit.size)
    y = 0.5 * d + 0.3 * x + rng.normal(size=unit.size)
    return pl.DataFrame({"u": unit, "t": period, "d": d, "x": x, "y": y})


@pytest.fixture(scope="module")
def fit(panel, W):
    return sdm("y ~ d + x", panel, W=W, unit="u", time="t")


@pytest.fixture(scope="module")
def impacts(fit):
    return fit.impacts(reps=50, seed=1)


# ------------------------------------------------------------------------------------------
# (a) old spellings raise a TypeError that names the new one
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS) + ["lm_tests"])
def test_models_formula_is_fml_and_W_is_keyword_only(name, panel, W):
    """formula -> fml; W after the data is keyword-only."""
    fn = MODELS.get(name, lm_tests)
    with pytest.raises(TypeError, match="'formula' is now called 'fml'"):
        fn(formula="y ~ x", data=panel, W=W, unit="u", time="t")
    with pytest.raises(TypeError, match="keyword-only"):
        fn("y ~ x", panel, W, unit="u", time="t")


def test_moran_old_spellings(W):
    v = np.arange(N_UNITS, dtype=float)
    with pytest.raises(TypeError, match="'permutations' is now called 'reps'"):
        moran(v, W=W, permutations=9)
    with pytest.raises(TypeError, match="'permutations' is now called 'reps'"):
        moran_local(v, W=W, permutations=9)
    with pytest.raises(TypeError, match="keyword-only"):
        moran(v, W)
    with pytest.raises(TypeError, match="keyword-only"):
        moran_local(v, W)


@pytest.mark.parametrize("fn", [spatial_did, spatial_event_study])
@pytest.mark.parametrize(("old", "new"), [("covariates", "controls"), ("draws", "reps")])
def test_spatial_did_old_spellings(fn, old, new, panel, W):
    kw = dict(y="y", treatment="d", unit="u", time="t", W=W)
    value = ["x"] if old == "covariates" else 0
    with pytest.raises(TypeError, match=f"'{old}' is now called '{new}'"):
        fn(panel, **kw, **{old: value})


def test_impacts_draws_is_reps(fit):
    with pytest.raises(TypeError, match="'draws' is now called 'reps'"):
        fit.impacts(draws=10)
    with pytest.raises(TypeError, match="keyword-only"):
        fit.impacts(10)


def test_weights_constructors_keyword_only_after_geometry(coords):
    """Weights take coordinates, not data: the geometry stays positional, the rest not."""
    lat, lon = coords
    with pytest.raises(TypeError, match="keyword-only"):
        pw.knn(lat, lon, 3)
    with pytest.raises(TypeError, match="keyword-only"):
        pw.distance_band(lat, lon, 100.0)
    with pytest.raises(TypeError, match="keyword-only"):
        pw.inverse_distance(lat, lon, None)
    with pytest.raises(TypeError, match="keyword-only"):
        pw.from_dense(np.zeros((2, 2)), ["a", "b"])
    with pytest.raises(TypeError, match="keyword-only"):
        pw.economic([1.0, 2.0], ["a", "b"])
    with pytest.raises(TypeError, match="keyword-only"):
        pw.from_adjacency({"a": ["b"]}, ["a", "b"])
    with pytest.raises(TypeError, match="keyword-only"):
        pw.contiguity({"type": "FeatureCollection", "features": []}, "name")
    with pytest.raises(TypeError, match="positional argument"):
        pw.from_dense(np.array([[0.0, 1.0], [1.0, 0.0]])).row_standardise(True)


# ------------------------------------------------------------------------------------------
# (b) bad option values: PilotdidError naming the option, before any work
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "opts", "match"),
    [
        ("sar", {"effects": "both"}, "option 'effects'"),
        ("sar", {"method": "fast"}, "option 'method'"),
        ("sar", {"rho_search": "grid"}, "option 'rho_search'"),
        ("sar", {"lee_yu": 1}, "option 'lee_yu'"),
        ("sar", {"fixed_rho": float("nan")}, "option 'fixed_rho'"),
        ("sdm", {"fixed_rho": "0.1"}, "option 'fixed_rho'"),
        ("sdm", {"durbin": 3}, "option 'durbin'"),
        ("sem", {"fixed_lambda": float("inf")}, "option 'fixed_lambda'"),
        ("sdem", {"unit": 3}, "option 'unit'"),
        ("sac", {"time": None}, "option 'time'"),
    ],
)
def test_model_options_are_checked(name, opts, match, panel, W):
    kw = {"W": W, "unit": "u", "time": "t", **opts}
    with pytest.raises(PilotdidError, match=match):
        MODELS[name]("y ~ x", panel, **kw)


def test_fml_must_be_a_formula(panel, W):
    with pytest.raises(PilotdidError, match="option 'fml'"):
        sar(None, panel, W=W, unit="u", time="t")
    with pytest.raises(PilotdidError, match="option 'W'"):
        sar("y ~ x", panel, W=None, unit="u", time="t")


def test_lm_tests_refuses_non_finite_values_naming_the_column(panel, W):
    """inf (and a missing value) in y or X made every statistic NaN; now an error that
    names the column."""
    for bad, word in [(np.inf, "infinite"), (np.nan, "missing")]:
        for col in ["y", "x"]:
            df = panel.with_columns(
                pl.when(pl.int_range(pl.len()) == 4).then(bad).otherwise(pl.col(col)).alias(col)
            )
            with pytest.raises(PilotdidError, match=f"column '{col}': row 4 is {word}"):
                lm_tests("y ~ x", df, W=W, unit="u", time="t")
    with pytest.raises(PilotdidError, match="option 'effects'"):
        lm_tests("y ~ x", panel, W=W, unit="u", time="t", effects="unit")


def test_moran_of_a_constant_variable_is_an_error(panel, W):
    """A constant variable gave I = NaN with a 'significant' p_sim; now an error naming it."""
    with pytest.raises(PilotdidError, match="the variable is constant"):
        moran(np.full(N_UNITS, 2.0), W=W)
    with pytest.raises(PilotdidError, match="the variable is constant"):
        moran_local(np.full(N_UNITS, 2.0), W=W)
    flat = panel.with_columns(pl.lit(1.5).alias("y"))
    with pytest.raises(PilotdidError, match="column 'y' in period 0 is constant"):
        moran(flat, W=W, y="y", unit="u", time="t")
    one = flat.filter(pl.col("t") == 0)
    with pytest.raises(PilotdidError, match="column 'y' is constant"):
        moran(one, W=W, y="y", unit="u")
    with pytest.raises(PilotdidError, match="column 'y' is constant"):
        moran_local(one, W=W, y="y")


def test_moran_data_first(panel, W):
    """An array is the variable; a frame needs y (and unit); the per-period table is kept."""
    one = panel.filter(pl.col("t") == 0).sort("u")
    v = one["y"].to_numpy()
    a = moran(v, W=W, reps=0)
    b = moran(one, W=W, y="y", unit="u", reps=0)
    assert a["I"] == b["I"]
    tab = moran(panel, W=W, y="y", unit="u", time="t", reps=0)
    assert tab.height == N_PERIODS + 1 and tab["period"][-1] == "pooled"
    assert tab["I"][0] == a["I"]
    loc = moran_local(one, W=W, y="y", reps=0)
    assert np.array_equal(loc["Is"].to_numpy(), moran_local(v, W=W, reps=0)["Is"].to_numpy())
    with pytest.raises(PilotdidError, match="y="):
        moran(panel, W=W)
    with pytest.raises(PilotdidError, match="unit="):
        moran(panel, W=W, y="y")
    with pytest.raises(PilotdidError, match="y="):
        moran_local(panel, W=W)


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"reps": 2**63}, "option 'reps'"),
        ({"reps": -1}, "option 'reps'"),
        ({"reps": 2.5}, "option 'reps'"),
        ({"reps": True}, "option 'reps'"),
        ({"seed": -1}, "option 'seed'"),
        ({"seed": None}, "option 'seed'"),
    ],
)
def test_moran_replicate_and_seed_checks(opts, match, W):
    v = np.arange(N_UNITS, dtype=float)
    _refused(lambda: moran(v, W=W, **opts), match)
    _refused(lambda: moran_local(v, W=W, **opts), match)


def _refused(fn, match):
    """Refused up front: a PilotdidError matching ``match`` well within two seconds."""
    start = time.perf_counter()
    with pytest.raises(PilotdidError, match=match):
        fn()
    assert time.perf_counter() - start < 2.0


def test_absurd_replicate_counts_are_refused_up_front(fit, panel, W):
    """reps=2**63 (beyond MAX_REPS = 2**40) for moran, moran_local, impacts and spatial_did:
    refused at once, before a permutation or a draw runs. (A count that fits in memory, such
    as moran reps=10**9, is allowed: its loop is interruptible, tests/test_interrupts_memory.py.)"""
    v = np.arange(N_UNITS, dtype=float)
    kw = dict(y="y", treatment="d", unit="u", time="t", W=W)
    _refused(lambda: moran(v, W=W, reps=2**63), "option 'reps'")
    _refused(lambda: moran_local(v, W=W, reps=2**63), "option 'reps'")
    _refused(lambda: fit.impacts(reps=2**63), "option 'reps'")
    _refused(lambda: fit.impacts(reps=-1), "option 'reps'")
    _refused(lambda: fit.impacts(reps=10, seed=-3), "option 'seed'")
    _refused(lambda: spatial_did(panel, **kw, reps=2**63), "option 'reps'")
    _refused(lambda: spatial_event_study(panel, **kw, reps=2**63), "option 'reps'")


def test_impacts_reps_bounded_by_memory(fit, panel, W, monkeypatch):
    """With 1 GB available, 10**7 simulated effect draws (hundreds of bytes each in the core)
    do not fit in half of it: refused with the memory message; 1000 draws pass the check."""
    monkeypatch.setattr(args, "available_memory", lambda: 10**9)
    _refused(lambda: fit.impacts(reps=10**7), "would need .* of memory")
    _refused(
        lambda: spatial_did(panel, y="y", treatment="d", unit="u", time="t", W=W, reps=10**7),
        "would need .* of memory",
    )
    assert fit.impacts(reps=1000, seed=0).reps == 1000


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"window": (0, 3)}, "option 'window'"),
        ({"window": (3, -3)}, "option 'window'"),
        ({"window": (-2.5, 2)}, r"option 'window\[0\]'"),
        ({"window": 4}, "option 'window'"),
        ({"controls": 3}, "option 'controls'"),
        ({"effects": "fe"}, "option 'effects'"),
        ({"lee_yu": "yes"}, "option 'lee_yu'"),
        ({"method": "fast"}, "option 'method'"),
        ({"y": 1}, "option 'y'"),
        ({"treatment": None}, "option 'treatment'"),
    ],
)
def test_spatial_event_study_options(opts, match, panel, W):
    kw = {"y": "y", "treatment": "d", "unit": "u", "time": "t", "W": W, "reps": 0, **opts}
    with pytest.raises(PilotdidError, match=match):
        spatial_event_study(panel, **kw)
    if "window" not in opts:
        with pytest.raises(PilotdidError, match=match):
            spatial_did(panel, **kw)


# --- weights ------------------------------------------------------------------------------
def test_from_sparse_indices_are_whole_numbers_and_n_bounded():
    """rows=[0.5, 1.7] was truncated to [0, 1]; n=10**12 tried to allocate 8 TB of ids."""
    with pytest.raises(PilotdidError, match="option 'rows': entry 0 is 0.5, not a whole"):
        pw.from_sparse(rows=[0.5, 1.7], cols=[1, 0], n=3)
    with pytest.raises(PilotdidError, match="option 'cols'"):
        pw.from_sparse(rows=[0, 1], cols=[1, np.nan], n=3)
    with pytest.raises(PilotdidError, match="option 'rows'"):
        pw.from_sparse(rows=["a", "b"], cols=[1, 0], n=3)
    _refused(lambda: pw.from_sparse(rows=[0, 1], cols=[1, 0], n=10**12), "option 'n'")
    _refused(
        lambda: pw.from_sparse(rows=[0, 1], cols=[1, 0], n=10**12, ids=["a", "b", "c"]),
        "option 'n'",
    )
    with pytest.raises(PilotdidError, match="option 'n'"):
        pw.from_sparse(rows=[0, 1], cols=[1, 0], n=0)
    with pytest.raises(PilotdidError, match="option 'n'"):
        pw.from_sparse(rows=[0, 1], cols=[1, 0], n=2.5)
    with pytest.raises(PilotdidError, match="rows has 2 entries and cols has 1"):
        pw.from_sparse(rows=[0, 1], cols=[1], n=3)
    with pytest.raises(PilotdidError, match="values has 1 entries"):
        pw.from_sparse(rows=[0, 1], cols=[1, 0], values=[1.0], n=3)
    for bad in [np.nan, np.inf]:
        with pytest.raises(PilotdidError, match="option 'values'"):
            pw.from_sparse(rows=[0, 1], cols=[1, 0], values=[1.0, bad], n=3)
    # whole numbers stored as floats are fine
    w = pw.from_sparse(rows=[0.0, 1.0], cols=[1.0, 0.0], n=2)
    assert np.array_equal(w.to_dense(), [[0, 1], [1, 0]])


def test_empty_weights_are_refused():
    for build in [
        lambda: pw.from_adjacency({}),
        lambda: pw.economic([]),
        lambda: pw.from_dense(np.zeros((0, 0))),
        lambda: pw.knn([], [], k=1),
    ]:
        with pytest.raises(PilotdidError, match="no units"):
            build()


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda la, lo: pw.knn(la, lo, k=0), "option 'k'"),
        (lambda la, lo: pw.knn(la, lo, k=2.5), "option 'k'"),
        (lambda la, lo: pw.knn(la, lo, k=3, transform="col"), "option 'transform'"),
        (lambda la, lo: pw.inverse_distance(la, lo, power=0), "option 'power'"),
        (lambda la, lo: pw.inverse_distance(la, lo, power=np.nan), "option 'power'"),
        (lambda la, lo: pw.inverse_distance(la, lo, cutoff_km=-1.0), "option 'cutoff_km'"),
        (lambda la, lo: pw.inverse_distance(la, lo, radius_km=0.0), "option 'radius_km'"),
        (lambda la, lo: pw.distance_band(la, lo, threshold_km=np.inf), "option 'threshold_km'"),
        (lambda la, lo: pw.distance_band(la, lo, threshold_km=0.0), "option 'threshold_km'"),
        (lambda la, lo: pw.knn(la[:3], lo, k=1), "lat has 3 values"),
        (lambda la, lo: pw.knn(np.c_[la, lo], lo, k=1), "'lat'"),
        (lambda la, lo: pw.economic(la, ids=["a"]), "ids has 1 entries"),
        (lambda la, lo: pw.nested(np.eye(2), [1.0, 2.0]), "'geo' must be a Weights"),
        (
            lambda la, lo: pw.from_dense(np.array([[0.0, np.nan], [1.0, 0.0]])),
            "missing or infinite",
        ),
        (
            lambda la, lo: pw.from_adjacency({"a": ["b"]}, symmetric="yes"),
            "option 'symmetric'",
        ),
        (
            lambda la, lo: pw.contiguity(
                {"type": "FeatureCollection", "features": []}, id_field="n", kind="bishop"
            ),
            "option 'kind'",
        ),
        (
            lambda la, lo: pw.contiguity(
                {"type": "FeatureCollection", "features": []}, id_field="n", tolerance=np.nan
            ),
            "option 'tolerance'",
        ),
    ],
)
def test_weights_options_are_checked(build, match, coords):
    with pytest.raises(PilotdidError, match=match):
        build(*coords)


def test_row_standardise_allow_islands_is_checked():
    w = pw.from_adjacency({"a": ["b"], "c": []})
    with pytest.raises(PilotdidError, match="option 'allow_islands'"):
        w.row_standardise(allow_islands="yes")


# ------------------------------------------------------------------------------------------
# (c) the result protocol
# ------------------------------------------------------------------------------------------
def _check_protocol(res, capsys, n_rows):
    coef, se, p = res.coef(), res.se(), res.pvalue()
    assert isinstance(coef, dict) and len(coef) == n_rows
    assert list(coef) == list(se) == list(p)
    assert all(isinstance(v, float) for v in coef.values())
    t = res.tidy()
    assert isinstance(t, pl.DataFrame) and set(TIDY_COLUMNS) <= set(t.columns)
    assert t.height == n_rows
    assert res.tidy(as_pandas=True).shape == t.shape
    ci = res.confint(level=0.9)
    assert {"term", "conf_low", "conf_high"} <= set(ci.columns)
    assert (ci["conf_low"] <= ci["conf_high"]).all()
    wide, narrow = res.confint(level=0.99), res.confint(level=0.9)
    assert (wide["conf_high"] - wide["conf_low"] >= narrow["conf_high"] - narrow["conf_low"]).all()
    with pytest.raises(PilotdidError, match="option 'level'"):
        res.tidy(level=95)
    capsys.readouterr()
    s = res.summary()
    assert isinstance(s, str) and s
    assert capsys.readouterr().out == ""
    assert len(repr(res)) < REPR_LIMIT
    assert isinstance(res._repr_html_(), str)
    assert isinstance(res.dropped_rows, dict)


def test_spatial_result_protocol(fit, capsys):
    """SDM: d, x, W*d, W*x, rho, sigma2; vcov() is the information-matrix inverse whose
    diagonal gives se(); p-values are normal."""
    _check_protocol(fit, capsys, 6)
    assert list(fit.coef()) == ["d", "x", "W*d", "W*x", "rho", "sigma2"]
    v = fit.vcov()
    assert v.shape == (6, 6)
    np.testing.assert_allclose(np.sqrt(np.diag(v)), list(fit.se().values()), rtol=1e-12)
    t = fit.tidy()
    np.testing.assert_allclose(t["statistic"], t["estimate"] / t["std_error"], rtol=1e-14)
    assert fit.nobs == N_UNITS * N_PERIODS
    assert fit.fml == fit.formula == "y ~ d + x"
    assert "SDM" in fit.summary() and "rho" in fit.summary()


def test_spatial_impacts_protocol(impacts, fit, capsys):
    """Rows per (effect, term): coef() keys 'direct:d', ...; tidy() keeps the effect column
    (as etable and the figure read it); confint() keeps it too."""
    _check_protocol(impacts, capsys, 6)
    keys = [f"{e}:{t}" for e in ("direct", "indirect", "total") for t in ("d", "x")]
    assert list(impacts.coef()) == keys
    assert impacts.coef()["direct:d"] == impacts.direct["d"]
    assert impacts.coef()["total:x"] == impacts.total["x"]
    t = impacts.tidy()
    assert t["effect"].to_list() == ["direct"] * 2 + ["indirect"] * 2 + ["total"] * 2
    assert impacts.confint().columns == ["effect", "term", "conf_low", "conf_high"]
    sim = impacts.tidy(method="simulation")
    np.testing.assert_array_equal(sim["std_error"], t["sim_sd"])
    with pytest.raises(PilotdidError, match="option 'method'"):
        impacts.tidy(method="bootstrap")
    with pytest.raises(PilotdidError, match="covariance"):
        impacts.vcov()
    assert impacts.reps == impacts.draws == 50 and impacts.seed == 1
    assert impacts.nobs == fit.nobs
    assert "LeSage-Pace" in impacts.summary()


def test_impacts_same_numbers_by_either_spelling_of_the_seed(fit):
    """reps/seed reach the core unchanged: same seed, same draws, same table."""
    a = fit.impacts(reps=40, seed=9).tidy(method="simulation")
    b = fit.impacts(reps=40, seed=9).tidy(method="simulation")
    assert a.equals(b)


def test_etable_reads_spatial_results(fit, impacts):
    """etable still labels the effects 'Direct: d' (read through tidy()'s effect column)."""
    md = pdid.etable([fit, impacts]).to_markdown()
    assert "Direct: d" in md and "W×d" in md


def test_impacts_plot(impacts):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    fig = impacts.plot(title="effects")
    assert fig is not None
    plt.close(fig)


def test_spatial_did_returns_the_treatment_rows(panel, W):
    fit, tab = spatial_did(
        panel, y="y", treatment="d", unit="u", time="t", W=W, controls=["x"], reps=0
    )
    assert tab["term"].to_list() == ["d"] * 3
    assert tab["effect"].to_list() == ["direct", "indirect", "total"]
    fit2, tab2 = spatial_event_study(
        panel, y="y", treatment="d", unit="u", time="t", W=W, window=(-3, 1), reps=0
    )
    assert sorted(set(tab2["event_time"].to_list())) == [-3, -2, 0, 1]
