"""TWFE on the castle-doctrine panel (Cheng & Hoekstra 2013), published numbers.

Reference: R ``bacondecomp`` README (``../shared/reference/README.md`` rounds it to 0.0818,
clustered-by-state SE 0.0589): ``l_homicide ~ post | sid + year`` = 0.0818116, SE 0.0588742 with
fixest's CR1 small-sample correction; pyfixest 0.60 reproduces 0.08181162 / 0.05887422.
"""

from __future__ import annotations

import numpy as np
import pytest

import pilotdid as pdid

FML = "l_homicide ~ post | sid + year"


def test_castle_twfe_published(castle):
    """bacondecomp README: TWFE coef 0.0818116, CR1(sid) SE 0.0588742 (abs 1e-6)."""
    fit = pdid.feols(FML, castle, vcov={"CR1": "sid"})
    assert fit.coefnames == ["post"]
    assert fit.coef()["post"] == pytest.approx(0.0818116, abs=1e-6)
    assert fit.se()["post"] == pytest.approx(0.0588742, abs=1e-6)
    assert fit.nobs == 550
    assert fit.n_clusters == [50]
    assert fit.dropped_rows == {"missing": 0, "singletons": 0}
    assert fit.n_singletons == 0


@pytest.mark.parametrize("frame", ["pandas", "polars"])
def test_castle_twfe_matches_pyfixest(castle, frame, pyfixest_reference, polars_frame):
    """pyfixest 0.60 feols on the same call: coef, SE, vcov, r2, r2_within to 1e-8 relative."""
    ref = pyfixest_reference(FML, castle, {"CR1": "sid"})
    data = castle if frame == "pandas" else polars_frame(castle)
    fit = pdid.feols(FML, data, vcov={"CR1": "sid"})
    assert fit.coef()["post"] == pytest.approx(ref.coef()["post"], rel=1e-8)
    assert fit.se()["post"] == pytest.approx(ref.se()["post"], rel=1e-8)
    np.testing.assert_allclose(np.asarray(fit.vcov()), ref._vcov, rtol=1e-8)
    assert fit.r2 == pytest.approx(ref._r2, rel=1e-8)
    assert fit.r2_within == pytest.approx(ref._r2_within, rel=1e-8)
    assert fit.nobs == ref._N


def test_castle_default_vcov_clusters_by_first_fe(castle):
    """api.md default vcov {"CR1": first FE} = {"CR1": "sid"} here: same published SE."""
    fit = pdid.feols(FML, castle)
    assert fit.se()["post"] == pytest.approx(0.0588742, abs=1e-6)


def test_castle_state_name_ids(castle, pyfixest_reference):
    """pyfixest 0.60: string unit ids (state names) give the same TWFE as numeric sid."""
    fml = "l_homicide ~ post | state + year"
    ref = pyfixest_reference(fml, castle, {"CR1": "state"})
    fit = pdid.feols(fml, castle, vcov={"CR1": "state"})
    assert fit.coef()["post"] == pytest.approx(ref.coef()["post"], rel=1e-8)
    assert fit.se()["post"] == pytest.approx(ref.se()["post"], rel=1e-8)
    assert fit.coef()["post"] == pytest.approx(0.0818116, abs=1e-6)
