"""Moderation (pilotdid.mechanisms.moderation): marginal effects with delta-method se."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pilotdid._core import PilotdidError
from pilotdid.mechanisms.interaction import moderation
from pilotdid.regression import feols


def _sim(seed: int = 0, g: int = 40, t: int = 8) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(g), t)
    year = np.tile(np.arange(t), g)
    d = ((year >= 4) & (unit % 2 == 0)).astype(float)
    z = rng.normal(size=g * t)
    size = np.where(unit % 3 == 0, "large", np.where(unit % 3 == 1, "medium", "small"))
    eff = np.where(size == "large", 1.0, np.where(size == "medium", 0.5, 0.0))
    y = d * (0.5 + 0.8 * z) + d * eff + 0.2 * z + rng.normal(size=g)[unit] + rng.normal(size=g * t)
    return pl.DataFrame({"unit": unit, "year": year, "d": d, "z": z, "size": size, "y": y})


def test_continuous_marginal_effects_delta_method():
    """Reference: feols of y ~ d + d*z + z | unit + year (CR1) and the delta method by hand,
    me(v) = b_d + v b_dz, se = sqrt(V_dd + 2v V_d,dz + v^2 V_dz,dz); tolerance 1e-10."""
    df = _sim()
    r = moderation(
        df,
        y="y",
        treatment="d",
        moderator="z",
        fixef="unit + year",
        vcov={"CR1": "unit"},
        at=[-1, 0, 2],
    )
    ref = feols(
        "y ~ d + dz + z | unit + year",
        df.with_columns((pl.col("d") * pl.col("z")).alias("dz")),
        vcov={"CR1": "unit"},
    )
    b, v, names = ref.coef(), ref.vcov(), ref.coefnames
    i, j = names.index("d"), names.index("dz")
    for k, at in enumerate([-1.0, 0.0, 2.0]):
        est = b["d"] + at * b["dz"]
        se = np.sqrt(v[i, i] + 2 * at * v[i, j] + at**2 * v[j, j])
        assert abs(r.marginal_effects["estimate"][k] - est) < 1e-10
        assert abs(r.marginal_effects["std_error"][k] - se) < 1e-10
    assert abs(r.marginal_effects["std_error"][1] - ref.se()["d"]) < 1e-10


def test_categorical_marginal_effects():
    """Reference: feols with hand-made level dummies; me(level) = b_d + b_{d x level},
    base level = first in sort order; tolerance 1e-10."""
    df = _sim(1)
    r = moderation(
        df, y="y", treatment="d", moderator="size", fixef="unit + year", vcov={"CR1": "unit"}
    )
    w = df.with_columns(
        (pl.col("d") * (pl.col("size") == "medium")).alias("dm"),
        (pl.col("d") * (pl.col("size") == "small")).alias("ds"),
    )
    ref = feols("y ~ d + dm + ds | unit + year", w, vcov={"CR1": "unit"})
    b, v, names = ref.coef(), ref.vcov(), ref.coefnames
    me = r.marginal_effects
    assert me["at"].to_list() == ["large", "medium", "small"]
    assert abs(me["estimate"][0] - b["d"]) < 1e-10
    assert abs(me["estimate"][1] - (b["d"] + b["dm"])) < 1e-10
    i, j = names.index("d"), names.index("ds")
    se = np.sqrt(v[i, i] + 2 * v[i, j] + v[j, j])
    assert abs(me["std_error"][2] - se) < 1e-10


def test_plot_and_bad_input():
    """Smoke test of .plot(); one-level moderator and unknown level give PilotdidError."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    df = _sim(2)
    r = moderation(
        df, y="y", treatment="d", moderator="z", fixef="unit + year", vcov={"CR1": "unit"}
    )
    assert r.plot() is not None
    one = df.with_columns(pl.lit("a").alias("lvl"))
    with pytest.raises(PilotdidError, match="'lvl'.*single level"):
        moderation(one, y="y", treatment="d", moderator="lvl", fixef="unit + year")
    with pytest.raises(PilotdidError, match="'at'"):
        moderation(df, y="y", treatment="d", moderator="size", fixef="unit + year", at=["huge"])
