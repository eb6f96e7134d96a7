"""Robustness battery and sample/measurement helpers (pilotdid.robustness).

References: each battery row equals the separate call (identity, 1e-12); winsorizing equals
numpy clipping at np.quantile (linear interpolation) pooled and by year; exclusion helpers
against hand-built masks.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
import pilotdid.datasets as ds
from pilotdid._core import PilotdidError
from pilotdid.robust.battery import Check, robustness
from pilotdid.robust.psm import psm_did
from pilotdid.robust.randomization import placebo
from pilotdid.robust.sample import (
    add_controls,
    drop_units,
    exclude_units,
    restrict_window,
    swap_outcome,
    winsorize,
)

FML = "gtfp ~ did + ln_gdp_pc + urbanization + fin_dev | city + year"
VCOV = {"CR1": "city"}
# Illustrative "other pilot" table (unit x start year) - NOT a verified list.
OTHER = pl.DataFrame(
    {
        "city": ["Hangzhou", "Ningbo", "Wenzhou", "Chizhou", "Huaian"],
        "start": [2010, 2012, 2012, 2012, 2012],
    }
)
CAPITALS = ["Shanghai", "Nanjing", "Hangzhou", "Hefei"]


@pytest.fixture(scope="module")
def yrd():
    df = ds.yrd()
    return df.with_columns(pl.col("gtfp").log().alias("ln_gtfp"))


@pytest.fixture(scope="module")
def base(yrd):
    return pdid.feols(FML, yrd, vcov=VCOV)


def test_battery_rows_equal_separate_calls(yrd, base):
    """Nine checks on the bundled YRD panel; every row equals its separate call."""
    checks = [
        Check("exclude_units", table=OTHER, label="drop other pilots"),
        Check("exclude_units", table=OTHER, mode="control", label="control other pilots"),
        Check("exclude_units", flags="district_only", label="drop district-only pilots"),
        Check("drop_units", units=CAPITALS, label="drop capitals"),
        {"kind": "winsorize", "lower": 0.01, "upper": 0.99, "by": "year"},
        ("window", {"start": 2008, "end": 2019}),
        Check("outcome", y="ln_gtfp"),
        Check("controls", controls=["gov_exp_share", "human_capital"]),
        Check(
            "psm", treatment="treat", controls=["ln_gdp_pc", "urbanization", "fin_dev"], by="year"
        ),
        Check("placebo", reps=200, seed=3),
    ]
    res = robustness(base, checks=checks, data=yrd)
    t = res.table
    assert t.height == 1 + len(checks) >= 7
    assert t.get_column("baseline_estimate").to_list() == [base.coef()["did"]] * t.height
    row = {r["check"]: r for r in t.iter_rows(named=True)}

    def same(label, fit):
        assert row[label]["estimate"] == pytest.approx(fit.coef()["did"], rel=1e-12)
        assert row[label]["std_error"] == pytest.approx(fit.se()["did"], rel=1e-12)
        assert row[label]["nobs"] == fit.nobs

    same(
        "drop other pilots",
        pdid.feols(FML, exclude_units(yrd, unit="city", table=OTHER), vcov=VCOV),
    )
    same(
        "control other pilots",
        pdid.feols(
            add_controls(FML, "other_pilot"),
            exclude_units(yrd, unit="city", table=OTHER, mode="control", time="year"),
            vcov=VCOV,
        ),
    )
    same(
        "drop district-only pilots",
        pdid.feols(FML, exclude_units(yrd, unit="city", flags="district_only"), vcov=VCOV),
    )
    same("drop capitals", pdid.feols(FML, drop_units(yrd, unit="city", units=CAPITALS), vcov=VCOV))
    cols = ["gtfp", "ln_gdp_pc", "urbanization", "fin_dev"]
    same(
        "winsorize 0.01/0.99 by year",
        pdid.feols(FML, winsorize(yrd, columns=cols, lower=0.01, upper=0.99, by="year"), vcov=VCOV),
    )
    same(
        "window 2008-2019",
        pdid.feols(FML, restrict_window(yrd, time="year", start=2008, end=2019), vcov=VCOV),
    )
    same("outcome ln_gtfp", pdid.feols(swap_outcome(FML, "ln_gtfp"), yrd, vcov=VCOV))
    same(
        "add controls",
        pdid.feols(add_controls(FML, ["gov_exp_share", "human_capital"]), yrd, vcov=VCOV),
    )
    psm = psm_did(
        yrd,
        treatment="treat",
        controls=["ln_gdp_pc", "urbanization", "fin_dev"],
        by="year",
        fml=FML,
        vcov=VCOV,
    )
    same("PSM-DID", psm.did)
    pl_res = placebo(base, data=yrd, reps=200, seed=3)
    r = row["placebo (units)"]
    assert r["p_value"] == pl_res.p_value_ri
    assert r["estimate"] == pytest.approx(np.mean(pl_res.estimates), rel=1e-12)
    assert set(res.models) == set(t.get_column("check").to_list())
    assert "Robustness checks" in res.summary()


def test_winsorize_equals_numpy_clip(yrd):
    """Pooled and by-year winsorizing = np.clip at np.quantile (linear), input untouched."""
    before = yrd.get_column("gtfp").to_numpy().copy()
    w = winsorize(yrd, columns="gtfp", lower=0.05, upper=0.95)
    x = before
    np.testing.assert_allclose(
        w.get_column("gtfp").to_numpy(),
        np.clip(x, np.quantile(x, 0.05), np.quantile(x, 0.95)),
        rtol=1e-14,
    )
    wy = winsorize(yrd, columns=["gtfp"], lower=0.1, upper=0.9, by="year")
    yr = yrd.get_column("year").to_numpy()
    ref = x.copy()
    for v in np.unique(yr):
        m = yr == v
        ref[m] = np.clip(x[m], np.quantile(x[m], 0.1), np.quantile(x[m], 0.9))
    np.testing.assert_allclose(wy.get_column("gtfp").to_numpy(), ref, rtol=1e-14)
    assert np.array_equal(yrd.get_column("gtfp").to_numpy(), before)


def test_exclusion_helpers(yrd):
    """Hand masks: drop table units; control dummy = 1{year >= start}; flagged units."""
    d = exclude_units(yrd, unit="city", table=OTHER)
    assert set(d.get_column("city").unique()) == set(yrd.get_column("city").unique()) - set(
        OTHER.get_column("city")
    )
    c = exclude_units(yrd, unit="city", table=OTHER, mode="control", time="year")
    hz = c.filter(pl.col("city") == "Hangzhou")
    assert (
        hz.get_column("other_pilot").to_numpy() == (hz.get_column("year").to_numpy() >= 2010)
    ).all()
    assert c.filter(pl.col("city") == "Shanghai").get_column("other_pilot").sum() == 0
    f = exclude_units(yrd, unit="city", flags=["district_only"])
    assert f.get_column("district_only").sum() == 0


def test_bad_input_messages(yrd, base):
    """Unknown units in an exclusion table or drop list; unknown check kind; bad quantiles."""
    bad = pl.DataFrame({"city": ["Atlantis"], "start": [2012]})
    with pytest.raises(PilotdidError, match="'Atlantis' is not a value of column 'city'"):
        exclude_units(yrd, unit="city", table=bad)
    with pytest.raises(PilotdidError, match="'Gotham'"):
        drop_units(yrd, unit="city", units=["Gotham"])
    with pytest.raises(PilotdidError, match="unknown kind"):
        robustness(base, checks=[Check("bootstrap")], data=yrd)
    with pytest.raises(PilotdidError, match="lower"):
        winsorize(yrd, columns="gtfp", lower=0.9, upper=0.1)
    # The base fit keeps a reference to its data, so data= may be omitted (same table).
    checks = [Check("drop_units", units=["Shanghai"])]
    assert robustness(base, checks=checks).table.equals(
        robustness(base, checks=checks, data=yrd).table
    )
