"""Paper-ready figures (issue 15, "Figures"): the facts about each figure that can be
asserted, on the bundled study (SYNTHETIC YRD panel, ``pilotdid.run_study`` on the shipped
study.toml) and small hand-made inputs.

References: the results' own numbers (event times, reference periods, the placebo's
replicate count and (1 + k)/(1 + R), the Bacon TWFE, W's non-zero pattern and its row-wise
top-k computed here by hand); the report's PNG settings (save_figure's default dpi, 150).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

import pilotdid as pdid  # noqa: E402
from pilotdid import datasets  # noqa: E402
from pilotdid import figures as F  # noqa: E402
from pilotdid.output import _figure_base as FIGURE_BASE  # noqa: E402  (where the font is chosen)
from pilotdid.output import figure_captions, figure_weights  # noqa: E402
from pilotdid.results.event_study import DISPLAY_NAMES  # noqa: E402

CODES = {"twfe", "cs", "sa", "bjs", "did2s"}


@pytest.fixture(scope="module")
def study():
    spec = Path(pdid.__file__).parent / "datasets" / "yrd" / "study.toml"
    return pdid.run_study(spec)


@pytest.fixture(scope="module")
def events(study):
    return study.results["event_study"]


@pytest.fixture(scope="module")
def coords(study):
    return study.data.select("city", "lat", "lon").unique(maintain_order=True)


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _errorbars(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


# --- event study ----------------------------------------------------------------------------


def test_event_study_legend_names_ticks_and_markers(events):
    """The study's results are keyed by codes ("twfe", "cs", ...): the legend shows the
    estimators' names, then the reference-period marker and the treatment-start line; the
    legend title states the interval type; one x tick per event time (estimated or
    reference)."""
    fig = F.event_study_figure(events)
    ax = fig.axes[0]
    texts = _legend_texts(ax)
    names = [DISPLAY_NAMES[k] for k in events]
    assert texts == [*names, "Reference period (set to 0)", "Treatment starts"]
    assert not CODES & set(texts)
    assert ax.get_legend().get_title().get_text() == "Bars: 95% pointwise CI"
    times = sorted({int(e) for r in events.values() for e in (*r.event_time, *r.reference)})
    assert times == list(range(-5, 6))
    assert [int(round(x)) for x in ax.get_xticks()] == times
    assert len(ax.get_xticks()) == len(times)
    # the reference markers exist where a result has a reference period
    hollow = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white"]
    assert len(hollow) == sum(len(r.reference) for r in events.values())


def test_event_study_outcome_in_the_y_label(events):
    """y= names the outcome; without it, the outcome column a result keeps is used; without
    either, a neutral label."""
    fig = F.event_study_figure(events, y="Green TFP")
    assert fig.axes[0].get_ylabel() == "Effect on Green TFP"
    assert "effect on Green TFP" in F.figure_caption(fig)
    fig = F.event_study_figure(events)
    assert fig.axes[0].get_ylabel() == "Effect estimate"
    twfe = events["twfe"]
    twfe.y = "gtfp"  # a result that keeps its outcome column
    try:
        fig = F.event_study_figure([twfe])
    finally:
        del twfe.y
    assert fig.axes[0].get_ylabel() == "Effect on gtfp"
    with pytest.raises(pdid.PilotdidError, match="option 'y'"):
        F.event_study_figure(events, y="  ")


def test_event_study_states_uniform_bands(study):
    """A CS dynamic aggregation with a bootstrap uniform band next to a pointwise TWFE: each
    legend entry says which interval it draws; the caption says so too."""
    df = study.data
    dyn = pdid.aggte(
        pdid.att_gt(
            df,
            y="gtfp",
            time="year",
            unit="city",
            cohort="cohort",
            bstrap=True,
            cband=True,
            reps=199,
        ),
        type="dynamic",
    )
    cs = dyn.to_event_study()
    assert cs.band == "uniform"
    fig = F.event_study_figure({"twfe": study.results["event_study"]["twfe"], "cs": dyn})
    ax = fig.axes[0]
    texts = _legend_texts(ax)
    assert texts[:2] == ["TWFE (95% pointwise CI)", "Callaway-Sant'Anna (95% uniform band)"]
    assert ax.get_legend().get_title().get_text() == ""
    cap = F.figure_caption(fig)
    assert "95% uniform (simultaneous) confidence bands for Callaway-Sant'Anna" in cap
    assert "95% pointwise confidence intervals for TWFE" in cap


def test_event_study_caption(events):
    cap = F.figure_caption(F.event_study_figure(events, y="Green TFP"))
    for name in ("TWFE", "Callaway-Sant'Anna", "Sun-Abraham", "BJS imputation", "Gardner did2s"):
        assert name in cap
    assert "95% pointwise confidence intervals" in cap
    assert "e = -1 for TWFE, Sun-Abraham and Gardner did2s" in cap


# --- spatial effects ------------------------------------------------------------------------


def test_spatial_effects_one_axis_per_variable(study):
    """Default: the policy variable (first regressor) alone; "all": one panel per regressor,
    each with its own x axis, whose range is set by that variable's intervals (the policy's
    bars are not squashed by a control's)."""
    impacts = study.results["spatial"]["impacts"]
    fig = F.spatial_effects_figure(impacts)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["did"]
    fig = F.spatial_effects_figure(impacts, variables="all")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert (
        [ax.get_title() for ax in visible] == impacts.names == ["did", "ln_gdp_pc", "urbanization"]
    )
    tab = impacts.tidy()
    for ax, name in zip(visible, impacts.names):
        assert ax.get_shared_x_axes().get_siblings(ax) == [ax]
        sub = tab.filter(tab["term"] == name)
        lo, hi = float(sub["conf_low"].min()), float(sub["conf_high"].max())
        x0, x1 = ax.get_xlim()
        assert x0 <= lo and hi <= x1
        # the widest interval fills most of its own panel
        assert (hi - lo) / (x1 - x0) > 0.8
    fig = F.spatial_effects_figure(impacts, variables=["urbanization", "did"])
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["urbanization", "did"]
    with pytest.raises(pdid.PilotdidError, match="option 'variables'.*gdp"):
        F.spatial_effects_figure(impacts, variables="gdp")
    cap = F.figure_caption(F.spatial_effects_figure(impacts, labels={"did": "Pilot"}))
    assert "of Pilot" in cap and "delta-method" in cap and "ln_gdp_pc and urbanization" in cap


# --- placebo --------------------------------------------------------------------------------


def test_placebo_annotation_has_r_actual_and_p(study):
    """R = 1000 placebo replicates, none as extreme as the actual estimate: p = 1/1001
    rendered 0.001 (not 0.000); the actual estimate in the legend and the caption."""
    res = study.results["placebo"]
    assert res.n_valid == 1000 and res.n_exceed == 0
    assert res.p_value_ri == 1 / 1001
    fig = F.placebo_figure(res)
    ax = fig.axes[0]
    title = ax.get_legend().get_title().get_text()
    assert "R = 1000 placebo assignments" in title
    assert "Randomization p = 0.001 (= 1/1001)" in title
    assert any(t.startswith("Actual estimate 0.0619") for t in _legend_texts(ax))
    cap = F.figure_caption(fig)
    assert "R = 1000" in cap and "(1 + k)/(1 + R) = 1/1001 = 0.001" in cap
    assert "0.06192" in cap


def test_randomization_p_resolution():
    """As many decimals as 1/(1 + R) needs, at least three; never 0.000."""
    r = figure_captions.randomization_p
    assert r(1 / 1001, 1000) == "0.001"
    assert r(1 / 10000, 9999) == "0.0001"
    assert r(5 / 100, 99) == "0.050"


# --- Bacon ----------------------------------------------------------------------------------


def test_bacon_line_is_the_no_controls_twfe(study):
    """The dashed line's legend entry says which TWFE it is (no controls) and its value; the
    caption says a TWFE with controls differs."""
    b = study.results["bacon"]
    fig = F.bacon_figure(b)
    texts = _legend_texts(fig.axes[0])
    assert f"TWFE without controls = {figure_captions.number(b.twfe)} (weighted mean)" in texts
    cap = F.figure_caption(fig)
    assert "without controls" in cap and "with controls" in cap


# --- W --------------------------------------------------------------------------------------


def test_strongest_edges_by_hand():
    """Row-wise top-k, union over rows: row 0's strongest is 1, row 1's is 2, row 2's is
    1, row 3's is 0 -> edges {0-1, 1-2, 0-3}; k=None keeps every non-zero pair."""
    m = np.array(
        [
            [0.0, 0.6, 0.3, 0.1],
            [0.2, 0.0, 0.7, 0.1],
            [0.1, 0.8, 0.0, 0.1],
            [0.5, 0.2, 0.3, 0.0],
        ]
    )
    iu, ju, w = figure_weights.strongest_edges(m, 1)
    assert {(int(i), int(j)) for i, j in zip(iu, ju)} == {(0, 1), (1, 2), (0, 3)}
    np.testing.assert_allclose(w, [1.5, 0.8, 0.6])  # strongest first
    iu, ju, _ = figure_weights.strongest_edges(m, None)
    assert len(iu) == figure_weights.n_pairs(m) == 6


def test_weights_figure_is_readable_and_small(study, coords, tmp_path):
    """The study's inverse-distance W (41 units, 820 pairs): 3 strongest per unit (the
    union), labels that do not overlap each other, a PNG under 200 KB at the report's dpi."""
    W = study.results["spatial"]["W"]
    m = W.to_dense()
    fig = F.weights_figure(W, lat=coords["lat"], lon=coords["lon"], labels=coords["city"].to_list())
    ax = fig.axes[0]
    (lc,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    iu, _, _ = figure_weights.strongest_edges(m, 3)
    assert len(lc.get_segments()) == len(iu) < figure_weights.n_pairs(m) == 820
    assert [t.get_text() for t in ax.texts] == coords["city"].to_list()
    path = F.save_figure(fig, tmp_path / "weights", formats=("png",))[0]
    assert path.stat().st_size < 200_000
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]
    overlaps = [
        (ax.texts[i].get_text(), ax.texts[j].get_text())
        for i, j in itertools.combinations(range(len(boxes)), 2)
        if boxes[i].overlaps(boxes[j])
    ]
    assert overlaps == []
    cap = F.figure_caption(fig)
    assert "41 units" in cap and "3 strongest neighbours" in cap and f"{len(iu)} of 820" in cap


def test_weights_figure_spring_layout_and_no_labels_past_60():
    """Without coordinates: a deterministic spring layout (axes off); above 60 units the
    names are not drawn and the caption says so."""
    W = datasets.yrd_weights()
    a = F.weights_figure(W)
    b = F.weights_figure(W)
    seg_a = [c for c in a.axes[0].collections if isinstance(c, LineCollection)][0].get_segments()
    seg_b = [c for c in b.axes[0].collections if isinstance(c, LineCollection)][0].get_segments()
    np.testing.assert_array_equal(np.asarray(seg_a), np.asarray(seg_b))
    assert not a.axes[0].axison
    assert "spring layout" in F.figure_caption(a)
    rng = np.random.default_rng(0)
    big = rng.random((70, 70))
    fig = F.weights_figure(big, labels=[f"u{i}" for i in range(70)])
    assert len(fig.axes[0].texts) == 0
    assert "omitted" in F.figure_caption(fig)
    with pytest.raises(pdid.PilotdidError, match="'lat' and 'lon'"):
        F.weights_figure(W, lat=np.zeros(41))
    with pytest.raises(pdid.PilotdidError, match="'k'"):
        F.weights_figure(W, k=0)


def test_weights_figure_bytes_are_reproducible(study, coords, tmp_path):
    """Label placement is deterministic: two builds save to identical PNG bytes."""
    W = study.results["spatial"]["W"]
    paths = [
        F.save_figure(
            F.weights_figure(W, lat=coords["lat"], lon=coords["lon"], labels=coords["city"]),
            tmp_path / name,
            formats=("png",),
        )[0]
        for name in ("a", "b")
    ]
    assert paths[0].read_bytes() == paths[1].read_bytes()


# --- captions -------------------------------------------------------------------------------


def test_every_figure_has_a_caption_in_both_languages(study, coords, monkeypatch):
    """Each figure function attaches a caption (figure_caption); lang="zh" gives a Chinese
    one (a CJK font stand-in so that the test does not depend on installed fonts)."""
    monkeypatch.setattr(FIGURE_BASE, "cjk_font", lambda: "DejaVu Sans")
    r = study.results
    builders = {
        "event_study": lambda lang: F.event_study_figure(r["event_study"], lang=lang),
        "placebo": lambda lang: F.placebo_figure(r["placebo"], lang=lang),
        "bacon": lambda lang: F.bacon_figure(r["bacon"], lang=lang),
        "mechanisms": lambda lang: F.mechanism_figure(r["mechanisms"], lang=lang),
        "moderation": lambda lang: F.mechanism_figure(r["moderation"], lang=lang),
        "heterogeneity": lambda lang: F.mechanism_figure(
            next(iter(r["heterogeneity"].values())), lang=lang
        ),
        "spatial": lambda lang: F.spatial_effects_figure(r["spatial"]["impacts"], lang=lang),
        "weights": lambda lang: F.weights_figure(
            r["spatial"]["W"], lat=coords["lat"], lon=coords["lon"], lang=lang
        ),
    }
    for name, build in builders.items():
        en = F.figure_caption(build("en"))
        zh = F.figure_caption(build("zh"))
        assert len(en) > 80, name
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in en), name
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), name
    assert F.figure_caption(Figure()) == ""
