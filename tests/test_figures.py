"""Publication figures (``pilotdid.figures``) built from real results on the bundled
synthetic YRD panel.

References: the results' own numbers (estimates, CIs, the placebo's actual estimate, the
Bacon TWFE coefficient, W's non-zero pattern) read back from the matplotlib artists; exact
byte identity of two saves (PNG and PDF) for determinism.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

import pilotdid as pdid  # noqa: E402
from pilotdid import datasets  # noqa: E402
from pilotdid import figures as F  # noqa: E402
from pilotdid.output import _figure_base as FIGURE_BASE  # noqa: E402  (where the font is chosen)

CTRL = ["ln_gdp_pc", "urbanization", "gov_exp_share", "fdi_share", "fin_dev"]


@pytest.fixture(scope="module")
def df():
    return datasets.yrd()


@pytest.fixture(scope="module")
def fit(df):
    return pdid.feols(
        "gtfp ~ did + " + " + ".join(CTRL) + " | city + year", df, vcov={"CR1": "city"}
    )


@pytest.fixture(scope="module")
def events(df):
    out = {
        k: pdid.event_study(
            df,
            y="gtfp",
            time="year",
            unit="city",
            cohort="cohort",
            estimator=k,
            window=(-4, 4),
        )
        for k in ("twfe", "cs", "bjs")
    }
    out["sa"] = pdid.sunab(df, y="gtfp", time="year", unit="city", cohort="cohort")
    return out


@pytest.fixture(scope="module")
def placebo(df, fit):
    return pdid.placebo(fit, data=df, reps=99, seed=2)


@pytest.fixture(scope="module")
def W():
    return pdid.weights.from_dense(datasets.yrd_weights(), ids=list(range(1, 42)))


@pytest.fixture(scope="module")
def impacts(df, W):
    fit = pdid.sdm("gtfp ~ did + ln_gdp_pc", df, W=W, unit="city_id", time="year")
    return fit.impacts(reps=50, seed=0)


@pytest.fixture(scope="module")
def cities():
    return datasets.yrd_cities()


def _errorbars(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _xy(container):
    line = container.lines[0]
    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


def test_event_study_figure_one_series_per_estimator(events):
    """One error-bar series per estimator, legend = the estimators' names (dict keys that
    are estimator codes are translated), points = the estimates (shifted within ±0.3), the
    treatment-start line at -0.5."""
    fig = F.event_study_figure(events, title="Dynamic effects")
    ax = fig.axes[0]
    bars = _errorbars(ax)
    assert len(bars) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()][:4] == [
        "TWFE",
        "Callaway-Sant'Anna",
        "BJS imputation",
        "Sun-Abraham",
    ]
    for bar, res in zip(bars, events.values()):
        es = res.to_event_study() if hasattr(res, "to_event_study") else res
        x, y = _xy(bar)
        np.testing.assert_allclose(y, es.estimate)
        assert np.all(np.abs(x - es.event_time) <= 0.3 + 1e-12)
    vlines = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [-0.5, -0.5]]
    assert len(vlines) == 1
    assert ax.get_title() == "Dynamic effects"


def test_event_study_figure_accepts_dynamic_aggte_and_lists(df, events):
    """A dynamic AggteResult is drawn via to_event_study(); list input uses display names."""
    dyn = pdid.aggte(
        pdid.att_gt(df, y="gtfp", time="year", unit="city", cohort="cohort"), type="dynamic"
    )
    fig = F.event_study_figure([events["twfe"], dyn])
    ax = fig.axes[0]
    assert len(_errorbars(ax)) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        "TWFE",
        "Callaway-Sant'Anna",
    ]
    np.testing.assert_allclose(_xy(_errorbars(ax)[1])[1], dyn.to_event_study().estimate)
    with pytest.raises(pdid.PilotdidError, match="not an event study"):
        F.event_study_figure([3.0])


def test_placebo_figure_marks_the_actual_estimate(placebo):
    """The vertical line sits at PlaceboResult.actual; the histogram has `bins` bars; the
    legend's title gives R and the randomization p (1 + k)/(1 + R)."""
    fig = F.placebo_figure(placebo, bins=30)
    ax = fig.axes[0]
    vlines = [ln for ln in ax.get_lines() if len(set(ln.get_xdata())) == 1]
    assert len(vlines) == 1
    assert vlines[0].get_xdata()[0] == pytest.approx(placebo.actual, abs=0)
    assert len(ax.patches) == 30
    title = ax.get_legend().get_title().get_text()
    assert f"R = {placebo.n_valid}" in title
    assert f"p = {placebo.pvalue_plus_one:.3f}" in title


def test_bacon_figure(df):
    """One scatter per comparison type; the dashed line at BaconResult.twfe."""
    b = pdid.bacon(df, y="gtfp", time="year", unit="city", treatment="did")
    fig = F.bacon_figure(b)
    ax = fig.axes[0]
    types = b.tidy()["type"].unique().to_list()
    assert len(ax.collections) == len(types)
    twfe = [ln for ln in ax.get_lines() if list(ln.get_ydata()) == [b.twfe, b.twfe]]
    assert len(twfe) == 1
    np.testing.assert_allclose(
        np.sort(np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])),
        np.sort(b.estimates),
    )


def test_mechanism_figure_mediation_and_two_step(df):
    """Mediation: left panel = a-path coefficients (feols of each mediator), right = the
    indirect effects with bootstrap CIs; two-step: one panel of MechanismEffects.table."""
    meds = ["ind_upgrade", "energy_intensity"]
    med = pdid.mediation(
        df,
        y="gtfp",
        treatment="did",
        mediators=meds,
        controls=CTRL,
        fixef="city + year",
        vcov={"CR1": "city"},
        reps=19,
        seed=0,
    )  # fmt: skip
    fig = F.mechanism_figure(med, labels={"ind_upgrade": "Industrial upgrading"})
    ax1, ax2 = fig.axes
    x, _ = _xy(_errorbars(ax1)[0])
    np.testing.assert_allclose(x, [med.a_fits[m].coef()["did"] for m in meds])
    x2, _ = _xy(_errorbars(ax2)[0])
    np.testing.assert_allclose(x2, med.table["indirect"].to_numpy())
    seg = _errorbars(ax2)[0].lines[2][0].get_segments()
    np.testing.assert_allclose([s[0][0] for s in seg], med.table["ci_low"].to_numpy())
    assert [t.get_text() for t in ax1.get_yticklabels()] == ["Industrial upgrading", meds[1]]
    two = pdid.mediation(
        df,
        y="gtfp",
        treatment="did",
        mediators=meds,
        fixef="city + year",
        method="two_step",
    )
    fig = F.mechanism_figure(two)
    np.testing.assert_allclose(_xy(_errorbars(fig.axes[0])[0])[0], two.table["estimate"])


def test_mechanism_figure_heterogeneity_and_moderation(df):
    """Heterogeneity: each group's split-sample coefficient; moderation: the marginal
    effects of ModerationResult."""
    sub = df.filter(pl.col("province") != "Shanghai")
    het = pdid.heterogeneity(
        sub,
        y="gtfp",
        treatment="did",
        by="province",
        fixef="city + year",
        vcov={"CR1": "city"},
        reps=9,
    )  # fmt: skip
    fig = F.mechanism_figure(het)
    x, _ = _xy(_errorbars(fig.axes[0])[0])
    np.testing.assert_allclose(x, het.table["estimate"].to_numpy())
    mod = pdid.moderation(
        df,
        y="gtfp",
        treatment="did",
        moderator="human_capital",
        fixef="city + year",
    )
    fig = F.mechanism_figure(mod)
    _, y = _xy(_errorbars(fig.axes[0])[0])
    np.testing.assert_allclose(y, mod.marginal_effects["estimate"].to_numpy())
    with pytest.raises(pdid.PilotdidError, match="not supported"):
        F.mechanism_figure(3)


def test_spatial_effects_figure(impacts):
    """One panel per regressor (variables="all"), each with three series (direct,
    indirect, total) at SpatialImpacts' point effects, the effect types on the y axis."""
    fig = F.spatial_effects_figure(impacts, variables="all")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == impacts.names
    for ax, name in zip(axes, impacts.names):
        bars = _errorbars(ax)
        assert len(bars) == 3
        for bar, eff in zip(bars, (impacts.direct, impacts.indirect, impacts.total)):
            np.testing.assert_allclose(_xy(bar)[0], [eff[name]])
    # a shared y axis: the effect types are named once, on the first panel
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["Direct", "Indirect", "Total"]


def test_weights_figure_edges(W, cities):
    """k=None: one edge per unordered pair with w_ij + w_ji > 0 (kNN W: its symmetrised
    pattern); max_edges keeps the strongest; labels annotate the points."""
    knn = pdid.weights.knn(cities["lat"], cities["lon"], k=4)
    m = knn.to_dense()
    n_pairs = int(np.count_nonzero(np.triu(m + m.T, k=1)))
    fig = F.weights_figure(
        knn, lat=cities["lat"], lon=cities["lon"], labels=cities["city_en"].to_list(), k=None
    )
    ax = fig.axes[0]
    lc = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lc) == 1 and len(lc[0].get_segments()) == n_pairs
    assert len(ax.texts) == 41
    fig = F.weights_figure(W, lat=cities["lat"], lon=cities["lon"], max_edges=100, k=None)
    lc = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    assert len(lc[0].get_segments()) == 100
    with pytest.raises(pdid.PilotdidError, match="lat/lon"):
        F.weights_figure(W, lat=cities["lat"][:5], lon=cities["lon"])


def test_chinese_falls_back_to_english_without_cjk_font(monkeypatch, placebo, cities, W):
    """No CJK font: a warning, English axis labels, Chinese point labels replaced (no tofu).
    With a CJK font available: the Chinese labels are used."""
    monkeypatch.setattr(FIGURE_BASE, "cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="CJK font"):
        fig = F.weights_figure(
            W, lat=cities["lat"], lon=cities["lon"], labels=cities["city_zh"].to_list(), lang="zh"
        )
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Longitude"
    assert [t.get_text() for t in ax.texts] == [str(i) for i in range(41)]
    with pytest.warns(UserWarning, match="CJK font"):
        fig = F.placebo_figure(placebo, lang="zh")
    assert fig.axes[0].get_ylabel() == "Density"
    monkeypatch.setattr(FIGURE_BASE, "cjk_font", lambda: "DejaVu Sans")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = F.placebo_figure(placebo, lang="zh")
    assert fig.axes[0].get_ylabel() == "密度"


def test_save_figure_is_byte_identical(tmp_path, events, placebo):
    """Two saves of one figure, and saves of two separately built figures, give identical
    PNG and PDF bytes; no dates or software versions in the metadata."""
    fig = F.event_study_figure(events)
    a = F.save_figure(fig, tmp_path / "a" / "es")
    b = F.save_figure(fig, tmp_path / "b" / "es")
    c = F.save_figure(F.event_study_figure(events), tmp_path / "c" / "es")
    assert [p.name for p in a] == ["es.png", "es.pdf"]
    for pa, pb, pc in zip(a, b, c):
        assert pa.read_bytes() == pb.read_bytes() == pc.read_bytes()
    pdf = a[1].read_bytes()
    assert b"CreationDate" not in pdf and b"Producer" not in pdf and b"matplotlib" not in pdf
    png = a[0].read_bytes()
    assert b"Software" not in png and b"matplotlib" not in png.lower()
    p1 = F.save_figure(F.placebo_figure(placebo), tmp_path / "p1", formats=("png",), dpi=80)
    p2 = F.save_figure(F.placebo_figure(placebo), tmp_path / "p2", formats=("png",), dpi=80)
    assert p1[0].read_bytes() == p2[0].read_bytes()
    with pytest.raises(pdid.PilotdidError, match="formats"):
        F.save_figure(fig, tmp_path / "x", formats=("jpg",))
