"""Global (Oh 2010) and contemporaneous (Chung-Färe-Grosskopf 1997) Malmquist-Luenberger
indices on SBM scores: exact identities, a hand computation, and an independent rebuild of
every efficiency with scipy's HiGHS (test-only) through the raw-unit LPs of test_green_sbm."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_green_sbm import make_panel, ref_sbm, ref_super

import pilotdid as pdid
from pilotdid._core import PilotdidError


def test_two_units_three_periods_by_hand():
    """One input (x = 1), one output, CRS. For 1-in-1-out CRS the SBM score is (y/x)/k with k
    the frontier slope (see test_green_sbm). Unit A: y = 1, 2, 2; unit B: y = 1, 1, 4.
    Period frontiers: k1 = 1, k2 = 2, k3 = 4; global k = 4.
    E^G: A .25 .5 .5, B .25 .25 1.   E^t: A 1 1 .5, B 1 .5 1.
    GML: A (2002) .5/.25 = 2, (2003) 1; B 1, 4.   EC: A 1, .5; B .5, 2.
    TC = GML/EC: A 2, 2; B 2, 2.   GTFP (base 1): A 1, 2, 2; B 1, 1, 4."""
    df = pl.DataFrame(
        {
            "u": ["A"] * 3 + ["B"] * 3,
            "t": [2001, 2002, 2003] * 2,
            "x": [1.0] * 6,
            "y": [1.0, 2.0, 2.0, 1.0, 1.0, 4.0],
        }
    )
    g = pdid.green.gml(df, inputs="x", good="y", unit="u", time="t")
    assert g["gml"].to_list()[0] is None and g["status"][0] == "base"
    assert np.allclose(g["gml"].to_numpy()[[1, 2, 4, 5]], [2, 1, 1, 4], atol=1e-12)
    assert np.allclose(g["ec"].to_numpy()[[1, 2, 4, 5]], [1, 0.5, 0.5, 2], atol=1e-12)
    assert np.allclose(g["tc"].to_numpy()[[1, 2, 4, 5]], [2, 2, 2, 2], atol=1e-12)
    assert np.allclose(g["gtfp"].to_numpy(), [1, 2, 2, 1, 1, 4], atol=1e-12)
    assert np.allclose(g["eff_global"].to_numpy(), [0.25, 0.5, 0.5, 0.25, 0.25, 1], atol=1e-12)


@pytest.mark.parametrize("super_efficiency", [False, True])
@pytest.mark.parametrize("rts", ["crs", "vrs"])
def test_gml_identities(rts, super_efficiency):
    """Exact identities to 1e-10: GML = EC x TC; circularity (the product of GML over the
    intermediate periods equals the direct comparison E^G(t)/E^G(s) for every s < t);
    GTFP = running product of GML with base 1. (VRS super-SBM with bad outputs can be
    infeasible for a few globally efficient unit-years: those units are flagged and left out.)"""
    df, *_, (xs, ys), bs = make_panel(3, n_units=15, n_years=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = pdid.green.gml(
            df,
            inputs=xs,
            good=ys,
            bad=bs,
            unit="unit",
            time="year",
            rts=rts,
            super_efficiency=super_efficiency,
        )
    if not (rts == "vrs" and super_efficiency):
        assert (g["status"].is_in(["ok", "base"])).all()
    ok = g.filter(pl.col("status") == "ok")
    assert np.allclose(ok["gml"], ok["ec"] * ok["tc"], rtol=1e-10, atol=0)
    n_checked = 0
    for _, grp in g.group_by("unit"):
        grp = grp.sort("year")
        if not grp["status"].is_in(["ok", "base"]).all():
            assert (grp["eff_global"].is_nan() | grp["eff_contemporaneous"].is_nan()).any()
            continue
        n_checked += 1
        eg = grp["eff_global"].to_numpy()
        idx = grp["gml"].to_numpy()
        for s in range(5):
            for t in range(s + 1, 5):
                assert np.prod(idx[s + 1 : t + 1]) == pytest.approx(eg[t] / eg[s], rel=1e-10)
        assert np.allclose(
            grp["gtfp"].to_numpy(), np.concatenate([[1.0], np.cumprod(idx[1:])]), rtol=1e-10
        )
    assert n_checked >= 10


def _ref_score(x, y, b, o, ref, vrs, sup):
    s = ref_sbm(x, y, b, o, ref, vrs)[0]
    if sup and (np.isnan(s) or s >= 1 - 1e-9):
        s = ref_super(x, y, b, o, ref[ref != o], vrs)[0]
    return s


@pytest.mark.parametrize("rts", ["crs", "vrs"])
def test_gml_efficiencies_match_independent_lp(rts):
    """E^G and E^t of every unit-year equal the HiGHS optimum of the raw-unit SBM LP (1e-7)."""
    df, x, y, b, (xs, ys), bs = make_panel(5, n_units=10, n_years=3)
    g = pdid.green.gml(df, inputs=xs, good=ys, bad=bs, unit="unit", time="year", rts=rts)
    years = df["year"].to_numpy()
    for o in range(df.height):
        eg = _ref_score(x, y, b, o, np.arange(df.height), rts == "vrs", False)
        et = _ref_score(x, y, b, o, np.flatnonzero(years == years[o]), rts == "vrs", False)
        assert g["eff_global"][o] == pytest.approx(eg, abs=1e-7)
        assert g["eff_contemporaneous"][o] == pytest.approx(et, abs=1e-7)


@pytest.mark.parametrize("super_efficiency", [False, True])
def test_contemporaneous_ml_matches_independent_lp(super_efficiency):
    """ML = sqrt([E^{t-1}(t)/E^{t-1}(t-1)] [E^t(t)/E^t(t-1)]) rebuilt from HiGHS solves;
    cross-period programs that are infeasible give NaN + status 'infeasible' + a warning."""
    df, x, y, b, (xs, ys), bs = make_panel(9, n_units=10, n_years=3)
    years = df["year"].to_numpy()
    with pytest.warns(UserWarning) if not super_efficiency else _no_warning():
        g = pdid.green.gml(
            df,
            inputs=xs,
            good=ys,
            bad=bs,
            unit="unit",
            time="year",
            frontier="contemporaneous",
            super_efficiency=super_efficiency,
        )
    n_inf = 0
    for o in range(df.height):
        if years[o] == 2010:
            assert g["status"][o] == "base"
            continue
        r = o - 1  # rows are unit-major, consecutive years
        cur, prev = np.flatnonzero(years == years[o]), np.flatnonzero(years == years[r])
        e = {
            k: _ref_score(x, y, b, i, ref, False, super_efficiency)
            for k, (i, ref) in {
                "tt": (o, cur),
                "pp": (r, prev),
                "pt": (o, prev),
                "tp": (r, cur),
            }.items()
        }
        ml = np.sqrt(e["pt"] / e["pp"] * e["tt"] / e["tp"])
        if np.isnan(ml):
            n_inf += 1
            assert g["status"][o] == "infeasible" and np.isnan(g["ml"][o])
        else:
            assert g["status"][o] == "ok"
            assert g["ml"][o] == pytest.approx(ml, rel=1e-7)
            assert g["ec"][o] == pytest.approx(e["tt"] / e["pp"], rel=1e-7)
    assert (n_inf > 0) != super_efficiency
    assert (g["status"] == "infeasible").sum() == n_inf


class _no_warning:
    def __enter__(self):
        self._c = warnings.catch_warnings()
        self._c.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *a):
        self._c.__exit__(*a)


def test_gap_and_duplicates():
    """A unit missing the previous year gets status 'gap' (NaN index); gtfp of the global
    index still compares with the base year. Duplicate (unit, time) rows are an error."""
    df = pl.DataFrame(
        {
            "u": ["A", "A", "B", "B", "B"],
            "t": [1, 3, 1, 2, 3],
            "x": [1.0, 1.0, 1.0, 1.0, 1.0],
            "y": [1.0, 2.0, 2.0, 1.0, 1.0],
        }
    )
    g = pdid.green.gml(df, inputs="x", good="y", unit="u", time="t")
    assert g["status"].to_list() == ["base", "gap", "base", "ok", "ok"]
    assert np.isnan(g["gml"][1]) and g["gtfp"][1] == pytest.approx(2.0)
    dup = pl.concat([df, df.head(1)])
    with pytest.raises(PilotdidError, match="appears twice"):
        pdid.green.gml(dup, inputs="x", good="y", unit="u", time="t")
    with pytest.raises(PilotdidError, match="option 'frontier'"):
        pdid.green.gml(df, inputs="x", good="y", unit="u", time="t", frontier="fixed")
    with pytest.raises(TypeError, match="'kind' is now called 'frontier'"):
        pdid.green.gml(df, inputs="x", good="y", unit="u", time="t", kind="global")
    with pytest.raises(TypeError, match="keyword-only"):
        pdid.green.gml(df, "x", "y", unit="u", time="t")


def test_thread_count_invariance():
    """RAYON_NUM_THREADS=1 and =2 give bit-identical GML frames (each program is solved
    independently and collected in row order)."""
    import os
    import subprocess
    import sys

    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r});"
        "from test_green_sbm import make_panel; import pilotdid as pdid;"
        "df, *_, (xs, ys), bs = make_panel(4, n_units=30, n_years=4);"
        "g = pdid.green.gml(df, inputs=xs, good=ys, bad=bs, unit='unit', time='year', "
        "super_efficiency=True);"
        "print(g.select('gml', 'ec', 'tc', 'gtfp').fill_null(0).to_numpy().tobytes().hex())"
    )
    out = []
    for threads in ("1", "2"):
        env = {**os.environ, "RAYON_NUM_THREADS": threads}
        res = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        out.append(res.stdout)
    assert out[0] == out[1] and len(out[0]) > 100
