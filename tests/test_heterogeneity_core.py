"""The core's heterogeneity permutation test (`_core.heterogeneity_permutation_test`).

Reference: the Python implementation it replaced (pilotdid.heterogeneity before the move):
each group's coefficient from its own `pilotdid.feols("y ~ d + controls | unit + year")`, the
statistic `np.sum((b - b.mean()) ** 2)`, and labels permuted across units with numpy's
`default_rng([seed, r])`. The observed statistic must keep its bits; the permutation draws come
from another generator now, so their distribution is compared (same null distribution).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from pilotdid import _core, feols


def make_panel(seed: int, n_units: int, n_years: int, n_groups: int, n_controls: int):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units) * 7 + 3, n_years)
    year = np.tile(np.arange(2000, 2000 + n_years), n_units)
    group = np.repeat(rng.permutation(np.arange(n_units) % n_groups), n_years)
    first = np.repeat(rng.choice([2003, 2004, 2005, 9999], n_units), n_years)
    d = (year >= first).astype(float)
    data = {"unit": unit, "year": year, "grp": group, "d": d}
    effect = 1.0 + 0.5 * group
    y = 0.2 * (unit % 5) + 0.1 * (year - 2000) + effect * d + rng.normal(0, 1, len(unit))
    for j in range(n_controls):
        c = rng.normal(0, 1, len(unit))
        data[f"c{j}"] = c
        y = y + 0.3 * c
    data["y"] = y
    return pl.DataFrame(data)


def python_statistic(df: pl.DataFrame, label: str, controls: list[str]) -> float:
    """The statistic as the Python implementation computed it."""
    groups = df.get_column(label).unique().sort().to_list()
    fml = "y ~ " + " + ".join(["d", *controls]) + " | unit + year"
    b = np.array([feols(fml, df.filter(pl.col(label) == g)).coef()["d"] for g in groups])
    return float(np.sum((b - b.mean()) ** 2))


def core_inputs(df: pl.DataFrame, label: str, controls: list[str]):
    """Columns as feols gets them: the regressors, unit and year ids, CR1 by unit."""
    unit_codes = _core.factorize_ids(df.get_column("unit").to_numpy().astype(np.int64)).codes
    per_unit = df.group_by("unit", maintain_order=True).agg(pl.col(label).first())
    groups = sorted(per_unit.get_column(label).unique().to_list())
    unit_group = np.array(
        [groups.index(g) for g in per_unit.get_column(label).to_list()], dtype=np.uint32
    )
    ids = [df.get_column(c).to_numpy().astype(np.int64) for c in ("unit", "year")]
    args = (
        df.get_column("y").to_numpy(),
        [df.get_column(c).to_numpy().astype(float) for c in ["d", *controls]],
        ids,
        unit_codes,
        unit_group,
    )
    kwargs = {
        "x_names": ["d", *controls],
        "treatment": "d",
        "n_groups": len(groups),
        "fe_names": ["unit", "year"],
        "clusters": [ids[0]],
        "cluster_names": ["unit"],
        "vcov": "cluster",
    }
    return args, kwargs


@pytest.mark.parametrize(
    "seed,n_groups,n_controls",
    [(1, 2, 0), (2, 2, 1), (3, 3, 0), (4, 3, 2), (5, 2, 2), (6, 3, 1)],
)
def test_observed_statistic_is_bitwise_the_python_one(seed, n_groups, n_controls):
    """Observed T equals np.sum((b - b.mean())**2) over the groups' own feols fits, to the bit."""
    df = make_panel(seed, n_units=24, n_years=6, n_groups=n_groups, n_controls=n_controls)
    controls = [f"c{j}" for j in range(n_controls)]
    args, kwargs = core_inputs(df, "grp", controls)
    res = _core.heterogeneity_permutation_test(*args, reps=0, seed=0, **kwargs)
    assert float(res.observed).hex() == python_statistic(df, "grp", controls).hex()
    assert res.permuted.shape == (0,) and res.n_failed == 0 and res.p_value == 1.0


def numpy_permutations(df: pl.DataFrame, controls: list[str], reps: int, seed: int) -> np.ndarray:
    """The Python implementation's permutation loop (numpy default_rng([seed, r]))."""
    units = df.get_column("unit").unique(maintain_order=True)
    labels = df.group_by("unit", maintain_order=True).agg(pl.col("grp").first())
    labels = labels.get_column("grp").to_numpy()
    out = np.full(reps, np.nan)
    for r in range(reps):
        rng = np.random.default_rng([seed, r])
        mapping = pl.DataFrame({"unit": units, "__perm": rng.permutation(labels)})
        pf = df.join(mapping, on="unit", how="left")
        out[r] = python_statistic(pf, "__perm", controls)
    return out


@pytest.mark.slow
def test_permutation_distribution_matches_the_numpy_loop():
    """Same null distribution: mean and sd of 2,000 core draws and 2,000 numpy-loop draws agree
    within Monte Carlo error, and so do the p-values."""
    df = make_panel(11, n_units=20, n_years=5, n_groups=2, n_controls=1)
    args, kwargs = core_inputs(df, "grp", ["c0"])
    reps = 2000
    res = _core.heterogeneity_permutation_test(*args, reps=reps, seed=5, **kwargs)
    core = res.permuted[np.isfinite(res.permuted)]
    ref = numpy_permutations(df, ["c0"], reps, seed=5)
    ref = ref[np.isfinite(ref)]
    assert len(core) > 0.95 * reps and len(ref) > 0.95 * reps
    se_mean = np.sqrt(core.var() / len(core) + ref.var() / len(ref))
    assert abs(core.mean() - ref.mean()) < 4 * se_mean
    assert abs(core.std() / ref.std() - 1) < 0.15
    t = res.observed
    p_ref = (1 + np.sum(ref >= t - 1e-12 * abs(t))) / (1 + len(ref))
    p_se = np.sqrt(2 * p_ref * (1 - p_ref) / reps) + 1e-3
    assert abs(res.p_value - p_ref) < 4 * p_se


def test_p_value_and_failures_follow_the_draws():
    """p = (1 + #{T* >= T - 1e-12|T|}) / (1 + #finite); n_failed = #non-finite draws."""
    df = make_panel(8, n_units=16, n_years=5, n_groups=3, n_controls=0)
    args, kwargs = core_inputs(df, "grp", [])
    res = _core.heterogeneity_permutation_test(*args, reps=300, seed=2, **kwargs)
    draws = res.permuted
    ok = draws[np.isfinite(draws)]
    t = res.observed
    assert res.n_failed == 300 - len(ok)
    assert res.p_value == (1 + np.sum(ok >= t - 1e-12 * abs(t))) / (1 + len(ok))
    again = _core.heterogeneity_permutation_test(*args, reps=300, seed=2, **kwargs)
    assert draws.tobytes() == again.permuted.tobytes()


SCRIPT = """
import sys, numpy as np
sys.path.insert(0, {tests!r})
from test_heterogeneity_core import make_panel, core_inputs
from pilotdid import _core
df = make_panel(21, n_units=18, n_years=5, n_groups=3, n_controls=1)
args, kwargs = core_inputs(df, "grp", ["c0"])
res = _core.heterogeneity_permutation_test(*args, reps=200, seed=9, **kwargs)
sys.stdout.write(res.permuted.tobytes().hex() + " " + float(res.observed).hex())
"""


def test_results_do_not_depend_on_threads():
    """RAYON_NUM_THREADS=1 and 2 give the same draws, bit for bit (separate processes)."""
    code = SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)))
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outs.append(out.stdout)
    assert outs[0] == outs[1] and len(outs[0]) > 100


def test_bad_inputs_are_errors():
    df = make_panel(3, n_units=8, n_years=4, n_groups=2, n_controls=0)
    args, kwargs = core_inputs(df, "grp", [])
    with pytest.raises(_core.PilotdidError, match="not among the regressors"):
        _core.heterogeneity_permutation_test(*args, reps=1, seed=0, **{**kwargs, "treatment": "z"})
    with pytest.raises(_core.PilotdidError, match="nothing to compare"):
        _core.heterogeneity_permutation_test(*args, reps=1, seed=0, **{**kwargs, "n_groups": 1})
    with pytest.raises(TypeError):
        _core.heterogeneity_permutation_test(*args, 1, 0, **kwargs)
