"""Moran's I (global and local) against esda 2.9 / libpysal 4.14 (test-only references), on
the bundled YRD coordinates (inverse-distance W) and the Cigar / usa46 contiguity W."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import pilotdid.datasets as ds
import pilotdid.weights as pw
from pilotdid.spatial.autocorrelation import moran, moran_local

esda = pytest.importorskip("esda")
libpysal = pytest.importorskip("libpysal")

REF = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"


def _cases():
    c = ds.yrd_cities()
    W1 = pw.inverse_distance(c["lat"], c["lon"])
    panel = ds.yrd().filter(pl.col("year") == 2015).sort("city_id")
    y1 = panel["gtfp"].to_numpy()
    m = np.loadtxt(REF / "usa46.csv", delimiter=",", skiprows=1)
    W2 = pw.from_dense(m).row_standardise()
    d = pl.read_csv(REF / "cigar.csv").filter(pl.col("year") == 80).sort("state")
    y2 = d["logc"].to_numpy()
    W3 = pw.from_dense(m)  # binary, not standardised
    return [(W1, y1), (W2, y2), (W3, y2)]


def _pysal_w(W):
    return libpysal.weights.WSP(W.to_scipy().tocsr()).to_W(silence_warnings=True)


@pytest.mark.parametrize("case", range(3))
def test_global_moran_matches_esda(case):
    """I, E[I], Var[I] (normal and randomisation) and z-scores agree with esda to 1e-10."""
    W, y = _cases()[case]
    ours = moran(y, W=W, reps=0)
    ref = esda.Moran(y, _pysal_w(W), transformation="O", permutations=0)
    assert abs(ours["I"] - ref.I) < 1e-10
    assert abs(ours["EI"] - ref.EI) < 1e-12
    assert abs(ours["VI_norm"] - ref.VI_norm) < 1e-10
    assert abs(ours["VI_rand"] - ref.VI_rand) < 1e-10
    assert abs(ours["z_norm"] - ref.z_norm) < 1e-8
    assert abs(ours["z_rand"] - ref.z_rand) < 1e-8
    assert abs(ours["p_norm"] - ref.p_norm) < 1e-10


def test_permutation_inference_is_seeded_and_consistent():
    """Permutation: same seed same p; the permutation mean of I is close to E[I] = -1/(n-1)
    and its SD close to sqrt(VI_rand) (randomisation moments, Cliff-Ord)."""
    W, y = _cases()[1]
    a = moran(y, W=W, reps=4999, seed=11)
    b = moran(y, W=W, reps=4999, seed=11)
    assert a["p_sim"] == b["p_sim"]
    assert abs(a["EI_sim"] - a["EI"]) < 0.005
    assert abs(a["seI_sim"] / np.sqrt(a["VI_rand"]) - 1) < 0.05


@pytest.mark.parametrize("case", range(2))
def test_local_moran_matches_esda(case):
    """LISA statistics and quadrants agree with esda.Moran_Local to 1e-10."""
    W, y = _cases()[case]
    ours = moran_local(y, W=W, reps=0)
    ref = esda.Moran_Local(y, _pysal_w(W), transformation="O", permutations=0)
    assert np.max(np.abs(ours["Is"].to_numpy() - ref.Is)) < 1e-10
    assert np.array_equal(ours["q"].to_numpy(), ref.q)


def test_moran_panel_per_period_and_pooled():
    """Per-period rows equal the single-period call; a pooled row is present."""
    W, _ = _cases()[1]
    d = pl.read_csv(REF / "cigar.csv")
    ids = sorted(d["state"].unique().to_list())
    Wi = pw.from_dense(W.to_dense(), ids=ids)
    tab = moran(d, W=Wi, y="logc", unit="state", time="year", reps=0)
    assert tab.height == 31 and tab["period"][-1] == "pooled"
    y80 = d.filter(pl.col("year") == 80).sort("state")["logc"].to_numpy()
    one = moran(y80, W=Wi, reps=0)
    assert abs(tab.filter(pl.col("period") == "80")["I"][0] - one["I"]) < 1e-14
