"""Goodman-Bacon (2021) decomposition: published castle numbers, exact identities, bad input.

References: R ``bacondecomp`` vignette numbers in ``../shared/reference/README.md`` (castle
three-type weights and averages); the identity of Theorem 1 (weights sum to one and the weighted
sum of the 2×2 estimates equals the TWFE coefficient); each 2×2 estimate equals the TWFE
regression on its two groups and window (how bacondecomp computes it), fitted by pyfixest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid.did.decomposition import bacon

PUBLISHED = {  # bacondecomp vignette (castle): type -> (weight, avg_est)
    "Earlier vs Later Treated": (0.05976, -0.00554),
    "Later vs Earlier Treated": (0.03190, 0.07032),
    "Treated vs Untreated": (0.90834, 0.08796),
}


@pytest.fixture(scope="module")
def castle_bacon(castle):
    return bacon(castle, y="l_homicide", time="year", unit="sid", treatment="post")


def test_castle_three_types_match_bacondecomp(castle_bacon):
    """bacondecomp vignette: weights and average 2×2 estimates by type, to 1e-4."""
    tab = castle_bacon.summary_table()
    assert tab["type"].to_list() == list(PUBLISHED)
    for row in tab.iter_rows(named=True):
        w, est = PUBLISHED[row["type"]]
        assert row["weight"] == pytest.approx(w, abs=1e-4)
        assert row["avg_est"] == pytest.approx(est, abs=1e-4)


def test_castle_identity_with_feols(castle, castle_bacon):
    """Theorem 1 identity: sum(w) = 1 (1e-12); sum(w * DD) = TWFE of pilotdid.feols (1e-10)."""
    t = castle_bacon.tidy()
    assert t["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    twfe = pdid.feols("l_homicide ~ post | sid + year", castle).coef()["post"]
    assert float((t["weight"] * t["estimate"]).sum()) == pytest.approx(twfe, abs=1e-10)
    assert castle_bacon.twfe == pytest.approx(twfe, abs=1e-10)
    assert castle_bacon.twfe == pytest.approx(0.0818116, abs=1e-6)  # published TWFE
    # 5 cohorts (2005-2009) vs never treated + 5*4 timing comparisons
    assert t.height == 25
    assert castle_bacon.n_never_treated == 29 and castle_bacon.n_always_treated == 0


def test_castle_each_2x2_is_twfe_on_its_subsample(castle, castle_bacon, pyfixest_reference):
    """Each 2×2 estimate = TWFE of y ~ D | unit + year on the two groups over the window
    (bacondecomp's lm on the subset), fitted by pyfixest 0.60; 1e-10."""
    g = castle["effyear"].fillna(0).astype(int)
    for row in castle_bacon.tidy().iter_rows(named=True):
        ctrl = 0 if row["control"] is None else row["control"]
        sub = castle[
            g.isin([row["treated"], ctrl])
            & castle["year"].between(row["window_start"], row["window_end"])
        ]
        ref = pyfixest_reference("l_homicide ~ post | sid + year", sub, "iid")
        assert row["estimate"] == pytest.approx(ref.coef()["post"], abs=1e-10)


def test_formula_call_and_polars_input(castle, castle_bacon, polars_frame):
    """Same numbers from the bacondecomp-style formula call and a polars frame (identity)."""
    data = polars_frame(castle)
    assert isinstance(data, pl.DataFrame)
    res = bacon(data, fml="l_homicide ~ post", time="year", unit="state")
    np.testing.assert_allclose(res.estimates, castle_bacon.estimates, rtol=0, atol=1e-14)
    np.testing.assert_allclose(res.weights, castle_bacon.weights, rtol=0, atol=1e-14)


def test_always_treated_group(castle, pyfixest_reference):
    """Castle from 2005 on: the 2005 cohort is always treated. bacondecomp then adds 'Later vs
    Always Treated' rows; the Theorem 1 identity still holds exactly against pyfixest's TWFE."""
    sub = castle[castle["year"] >= 2005]
    res = bacon(sub, y="l_homicide", time="year", unit="sid", treatment="post")
    t = res.tidy()
    assert res.n_always_treated == int((sub.groupby("sid")["effyear"].first() == 2005).sum())
    assert "Later vs Always Treated" in t["type"].to_list()
    assert 2005 not in t["treated"].to_list()  # the always treated are only controls
    twfe = pyfixest_reference("l_homicide ~ post | sid + year", sub, "iid").coef()["post"]
    assert t["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert float((t["weight"] * t["estimate"]).sum()) == pytest.approx(twfe, abs=1e-10)


def test_no_never_treated(castle, pyfixest_reference):
    """Only treated states: timing comparisons only; identity against pyfixest TWFE (1e-10)."""
    sub = castle[castle["effyear"].notna()]
    res = bacon(sub, y="l_homicide", time="year", unit="sid", treatment="post")
    t = res.tidy()
    assert set(t["type"].to_list()) == {"Earlier vs Later Treated", "Later vs Earlier Treated"}
    twfe = pyfixest_reference("l_homicide ~ post | sid + year", sub, "iid").coef()["post"]
    assert float((t["weight"] * t["estimate"]).sum()) == pytest.approx(twfe, abs=1e-10)


def test_summary_prints_and_plot(castle_bacon, capsys):
    """print(summary()) prints the three-type table; plot() draws one point per 2×2 and the
    TWFE line."""
    import matplotlib

    matplotlib.use("Agg")
    print(castle_bacon.summary())
    assert "Treated vs Untreated" in capsys.readouterr().out
    assert castle_bacon.summary_table().height == 3
    ax = castle_bacon.plot()
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == 25
    assert any(np.allclose(line.get_ydata(), castle_bacon.twfe) for line in ax.get_lines())


def test_caller_frame_not_modified(castle):
    before = castle.copy()
    bacon(castle, y="l_homicide", time="year", unit="sid", treatment="post")
    pd.testing.assert_frame_equal(castle, before)


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda d: d.iloc[1:], ["unbalanced"]),
        (lambda d: d.assign(post=np.where(d.index == 7, 0, d["post"])), ["absorbing", "alabama"]),
        (lambda d: d.assign(post=d["post"] * 0.5), ["'post'", "binary"]),
        (
            lambda d: d.assign(l_homicide=np.where(d.index == 3, np.nan, d["l_homicide"])),
            ["'l_homicide'", "missing"],
        ),
        (lambda d: d.assign(post=0), ["no 2×2 comparisons"]),
    ],
)
def test_bad_input(castle, mutate, fragments):
    """Unbalanced panel, non-absorbing or non-binary treatment, missing outcome, no treated."""
    data = mutate(castle.copy())
    with pytest.raises(pdid.PilotdidError) as exc:
        bacon(data, y="l_homicide", time="year", unit="state", treatment="post")
    msg = str(exc.value).lower()
    for f in fragments:
        assert f.lower() in msg, msg


def test_bad_options(castle):
    with pytest.raises(pdid.PilotdidError, match="'zz'"):
        bacon(castle, y="zz", time="year", unit="sid", treatment="post")
    with pytest.raises(pdid.PilotdidError, match="formula"):
        bacon(castle, fml="l_homicide ~ post + x", time="year", unit="sid")
