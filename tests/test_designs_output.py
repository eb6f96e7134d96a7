"""Synthetic DID and triple differences in the paper outputs: the synthdid figures (what they
draw, their captions, their errors) and etable's DDD columns."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import datasets
from pilotdid._core import PilotdidError
from pilotdid.output.figures import figure_caption, synthdid_figure


@pytest.fixture(scope="module")
def yrd():
    return datasets.yrd()


@pytest.fixture(scope="module")
def sdid(yrd):
    return pdid.synthdid(yrd, y="gtfp", unit="city", time="year", cohort="cohort", reps=20, seed=1)


def test_trajectories_figure_draws_each_cohort_and_its_time_weights(sdid):
    fig = synthdid_figure(sdid, y="Green TFP")
    cohorts = sdid.cohorts()["cohort"].to_list()
    main = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in main] == [f"Cohort {g}" for g in cohorts]
    traj = sdid.trajectories()
    for ax, g in zip(main, cohorts):
        part = traj.filter(pl.col("cohort") == g)
        treated, synthetic = ax.get_lines()[:2]
        np.testing.assert_array_equal(treated.get_ydata(), part["treated"].to_numpy())
        np.testing.assert_array_equal(synthetic.get_ydata(), part["synthetic"].to_numpy())
    # one bar per pre-period on the twin axes, heights = lambda
    twins = [ax for ax in fig.axes if not ax.get_title()]
    tw = sdid.time_weights()
    for ax, g in zip(twins, cohorts):
        heights = [p.get_height() for p in ax.patches]
        np.testing.assert_allclose(heights, tw.filter(pl.col("cohort") == g)["weight"])
    cap = figure_caption(fig)
    assert "3 adoption cohort(s)" in cap and "placebo standard error" in cap


def test_weights_figure_sorts_units_and_sums_to_one_per_cohort(sdid):
    fig = synthdid_figure(sdid, kind="weights", lang="zh")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == sorted(str(c) for c in sdid.unit_weights()["city"].unique())
    total = sum(p.get_width() for p in ax.patches)
    assert total == pytest.approx(len(sdid.cohorts()), abs=1e-9)  # each cohort's omega sums to 1
    assert "单位权重" in figure_caption(fig)


def test_synthdid_figure_errors_name_the_problem(yrd, sdid):
    did = pdid.synthdid(
        yrd, y="gtfp", unit="city", time="year", cohort="cohort", method="did", vcov="jackknife"
    )
    with pytest.raises(PilotdidError, match="kind='weights' needs method 'sdid' or 'sc'"):
        synthdid_figure(did, kind="weights")
    with pytest.raises(PilotdidError, match="kind"):
        synthdid_figure(sdid, kind="trajectory")
    with pytest.raises(PilotdidError, match="expected the result of pilotdid.synthdid"):
        synthdid_figure(object())


def test_etable_names_ddd_and_leaves_out_the_reference_period(yrd):
    first = yrd.filter(pl.col("year") == 2006).select("city", "human_capital")
    high = first.with_columns(
        (pl.col("human_capital") > pl.col("human_capital").median()).cast(pl.Int64).alias("hi")
    ).select("city", "hi")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pdid.ddd(
            yrd.join(high, on="city"),
            y="gtfp",
            unit="city",
            time="year",
            partition="hi",
            cohort="cohort",
        )
    dyn = res.aggregate(type="dynamic", min_e=-3, max_e=2)
    t = dyn.tidy()
    assert -1 in t["egt"].to_list()  # the universal base's reference row, estimate 0
    md = pdid.etable([dyn]).to_markdown()
    assert "Triple differences (DDD)" in md and "Callaway" not in md
    assert "e = -1" not in md and "()" not in md
    for e in (-3, -2, 0, 1, 2):
        assert f"e = {e}" in md


@pytest.fixture(scope="module")
def dose_result(yrd):
    dosed = yrd.with_columns(
        pl.when(pl.col("year") == pl.col("cohort"))
        .then(pl.col("intensity_latent"))
        .otherwise(None)
        .max()
        .over("city")
        .fill_null(0.0)
        .alias("dose")
    )
    return pdid.cont_did(
        dosed,
        y="gtfp_dose",
        unit="city",
        time="year",
        dose="dose",
        cohort="cohort",
        degree=1,
        reps=99,
        seed=3,
    )


def test_dose_figure_draws_both_curves_with_their_bands(dose_result):
    from pilotdid.output.figures import dose_figure

    fig = dose_figure(dose_result, y="Green TFP")
    left, right = fig.axes
    for ax, kind in ((left, "level"), (right, "slope")):
        curve = dose_result.curve(kind)
        line = next(ln for ln in ax.get_lines() if len(ln.get_xdata()) == curve.height)
        np.testing.assert_array_equal(line.get_ydata(), curve["estimate"].to_numpy())
        assert len(ax.collections) == 2  # uniform band and pointwise interval
    assert left.get_ylabel() == "ATT(d|d): effect on Green TFP"
    cap = figure_caption(fig)
    assert "uniform band" in cap and "99 draws" in cap and "strong parallel trends" in cap
    with pytest.raises(PilotdidError, match="expected the result of pilotdid.cont_did"):
        dose_figure(object())


def test_etable_shows_dose_averages_and_dcdh_event_times(yrd, dose_result):
    md = pdid.etable({"dose": dose_result}).to_markdown()
    assert "ATT (overall)" in md and "ACRT (overall)" in md
    assert "ATT(d=" not in md and "^" not in md  # the curve is a figure; no caret labels
    assert "Continuous-dose DID (CGBS)" in md
    r = pdid.dcdh(yrd, y="gtfp", unit="city", time="year", treatment="did", window=(-2, 3))
    md = pdid.etable([r]).to_markdown()
    # the shared convention: the reference's effect l at e = l - 1, placebo l at e = -l - 1
    for e in (-3, -2, 0, 1, 2):
        assert f"| e = {e} |" in md
    assert "| e = -1 |" not in md and "rel" not in md
    ate = r.average_total_effect
    assert f"| ATE | {ate['estimate']:.3f}" in md
