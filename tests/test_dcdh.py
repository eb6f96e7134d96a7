"""De Chaisemartin & D'Haultfœuille (2024) DID_l (``pilotdid.dcdh``) against moderndid 0.4.1's
``did_multiplegt`` (a port of R/Stata ``did_multiplegt_dyn``) on generated panels: effects,
placebos and the average total effect to 1e-8, their SEs to 1e-6, switcher and observation
counts exactly, on 10 binary, 10 discrete and 10 continuous designs (staggered first switches,
switches back off, unbalanced baselines, units that go above and below their baseline, rows
missing, a baseline held by one unit, a baseline whose units all switch early).

Where moderndid and the R reference differ: moderndid has no test that all effects are zero
(R's ``p_jointeffects``); R computes it, with two or more effects and only when every effect
is estimable, as the Wald statistic b' V^+ b with V the influence-function covariance
(did_multiplegt_dyn.R, "Performing a test to see whether all effects are jointly equal to 0").
We test ours against moderndid's own ``compute_joint_test`` applied to moderndid's effect
influence functions, which is that formula. Rows with a missing outcome or treatment are
dropped before estimation (counted); moderndid keeps them as empty cells, which changes
where it detects switches, so the oracle is run on the frame without those rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError

md = pytest.importorskip("moderndid")
mdvar = pytest.importorskip("moderndid.didinter.variance")


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _design(seed: int, kind: str, n: int = 90, periods: int = 9) -> pl.DataFrame:
    """A panel with staggered first switches of a binary / discrete / continuous treatment."""
    rng = np.random.default_rng(1000 * seed + {"binary": 1, "discrete": 2, "continuous": 3}[kind])
    rows = []
    for i in range(n):
        alpha = rng.normal()
        if kind == "binary":
            base = float(rng.random() < 0.3)
        elif kind == "discrete":
            base = float(rng.integers(0, 4))
        else:
            base = float(rng.choice([0.0, 0.5, 2.0]))
        first = int(rng.integers(2, periods + 3))
        special = i >= n - 4
        if special and i < n - 1:  # a baseline whose units all switch early (no late controls)
            base, first = 7.0, 3 + (i - (n - 4))
        elif special:  # a baseline held by one unit only
            base, first = 11.0, 4
        d = np.full(periods, base)
        if first <= periods:
            if kind == "binary" and not special:
                new = 1.0 - base
            elif kind == "discrete" or special:
                new = max(0.0, base + float(rng.choice([-2, -1, 1, 2])))
                new = base + 1.0 if new == base else new
            else:
                new = max(0.0, base + rng.uniform(-1.5, 2.0))
            d[first - 1 :] = new
            u = rng.random()
            if u < 0.3 and first + 1 < periods:  # switch back off
                d[int(rng.integers(first + 1, periods + 1)) - 1 :] = base
            elif u < 0.45 and first + 1 < periods and kind != "binary":  # cross the baseline
                d[int(rng.integers(first + 1, periods + 1)) - 1 :] = max(0.0, 2 * base - new)
            elif u < 0.6 and first + 1 < periods and kind != "binary":  # move further
                d[int(rng.integers(first + 1, periods + 1)) - 1 :] = new + 0.5 * (new - base)
        w = rng.uniform(0.5, 2.0)
        for t in range(1, periods + 1):
            if rng.random() < 0.05:
                continue  # unbalanced panel
            y = alpha + 0.3 * t + 0.8 * d[t - 1] + 0.3 * d[max(t - 2, 0)] + rng.normal()
            rows.append((f"u{i:03d}", i, 2000 + 2 * t, y, d[t - 1], i % 15, w))
    df = pl.DataFrame(
        rows, schema=["id", "nid", "year", "y", "d", "cl", "w"], orient="row"
    )
    holes = rng.random(df.height) < 0.02
    return df.with_columns(pl.when(pl.Series(holes)).then(None).otherwise(pl.col("y")).alias("y"))


OPTIONS = [
    {},
    {"cluster": "cl", "normalized": True},
    {"weights": "w"},
    {"only_never_switchers": True, "normalized": True},
    {"switchers": "in", "cluster": "cl"},
    {"switchers": "out"},
]
DESIGNS = [(kind, seed) for kind in ("binary", "discrete", "continuous") for seed in range(10)]


_PREPROCESSED: list = []


@pytest.fixture(autouse=True)
def _keep_preprocessed(monkeypatch):
    """Keep moderndid's estimation sample (its groups and their clusters, in its order)."""
    mod = pytest.importorskip("moderndid.didinter.did_multiplegt")
    compute = mod.compute_did_multiplegt

    def keep(preprocessed, *args, **kwargs):
        _PREPROCESSED.append(preprocessed)
        return compute(preprocessed, *args, **kwargs)

    monkeypatch.setattr(mod, "compute_did_multiplegt", keep)


def _oracle(df: pl.DataFrame, effects: int, placebo: int, opts: dict):
    kw = {k: v for k, v in opts.items() if k != "weights"}
    if "weights" in opts:
        kw["weightsname"] = opts["weights"]
    clean = df.drop_nulls("y")
    return _quiet(
        md.did_multiplegt, clean, yname="y", idname="nid", tname="year", dname="d",
        effects=effects, placebo=placebo, **kw,
    )


@pytest.mark.parametrize("kind,seed", DESIGNS)
def test_matches_moderndid(kind, seed):
    """moderndid 0.4.1 did_multiplegt(effects=4, placebo=3, options by seed) on _design(seed)."""
    df = _design(seed, kind)
    opts = OPTIONS[seed % len(OPTIONS)]
    ref = _oracle(df, 4, 3, opts)
    ne = len(ref.effects.estimates)
    npl = 0 if ref.placebos is None else len(ref.placebos.estimates)
    assert ne >= 3 and npl >= 2
    res = pdid.dcdh(df, y="y", unit="id", time="year", treatment="d", window=(-npl, ne), **opts)

    eff, plc = res.effects, res.placebos
    np.testing.assert_allclose(eff["estimate"], ref.effects.estimates, rtol=0, atol=1e-8)
    np.testing.assert_allclose(eff["std_error"], ref.effects.std_errors, rtol=0, atol=1e-6)
    np.testing.assert_allclose(plc["estimate"], ref.placebos.estimates, rtol=0, atol=1e-8)
    np.testing.assert_allclose(plc["std_error"], ref.placebos.std_errors, rtol=0, atol=1e-6)
    assert eff["n_switchers"].to_list() == [int(v) for v in ref.effects.n_switchers]
    assert eff["n_obs"].to_list() == [int(v) for v in ref.effects.n_observations]
    assert plc["n_switchers"].to_list() == [int(v) for v in ref.placebos.n_switchers]
    assert plc["n_obs"].to_list() == [int(v) for v in ref.placebos.n_observations]

    ate = res.average_total_effect
    assert ate["estimate"] == pytest.approx(ref.ate.estimate, abs=1e-8)
    assert ate["std_error"] == pytest.approx(ref.ate.std_error, abs=1e-6)
    assert ate["n_obs"] == int(ref.ate.n_observations)
    assert ate["n_switchers"] == int(ref.ate.n_switchers)

    assert res.nobs == ref.n_units
    assert res.n_switchers == ref.n_switchers
    assert res.n_never_switchers == ref.n_never_switchers
    assert res.dropped_rows["missing"] == df["y"].null_count()

    jp = res.joint_tests["placebos"]
    assert jp["df"] == ref.placebo_joint_test["df"]
    assert jp["chi2"] == pytest.approx(ref.placebo_joint_test["chi2_stat"], rel=1e-6)
    assert jp["p_value"] == pytest.approx(ref.placebo_joint_test["p_value"], abs=1e-6)
    # all effects zero (R's p_jointeffects): moderndid's Wald formula on its own influence
    # functions and clusters
    clusters = None
    if "cluster" in opts:
        # a unit's cluster from its observed rows (the sample's first row may be a filled-in one)
        groups = _PREPROCESSED[-1].time_invariant_data.select("nid").sort("nid")
        cl = df.group_by("nid").agg(pl.col("cl").first())
        clusters = groups.join(cl, on="nid", how="left")["cl"].rank("dense")
    inf = ref.influence_effects
    sums = mdvar.compute_cluster_influence(inf, clusters)
    v = sums.T @ sums / ref.n_units**2
    je = mdvar.compute_joint_test(ref.effects.estimates, v)
    assert res.joint_tests["effects"]["chi2"] == pytest.approx(je["chi2_stat"], rel=1e-6)
    assert res.joint_tests["effects"]["p_value"] == pytest.approx(je["p_value"], abs=1e-6)
    # the covariance blocks of vcov() reproduce the SEs
    np.testing.assert_allclose(
        np.sqrt(np.diag(res.vcov())), np.concatenate([plc["std_error"][::-1], eff["std_error"]]),
        rtol=1e-10,
    )


@pytest.mark.parametrize("kind", ["binary", "discrete", "continuous"])
def test_filters_are_exercised_and_counted(kind):
    """The designs reach every sample rule of the reference (counts are the rows removed)."""
    df = _design(0, kind)
    res = pdid.dcdh(df, y="y", unit="id", time="year", treatment="d", window=(-2, 3))
    d = res.dropped_rows
    assert d["no_switch_date_variation"] > 0  # the one-unit baseline 11
    assert d["no_not_yet_switched"] > 0  # baseline 7 after its last unit switched
    if kind != "binary":
        assert d["bidirectional_switch"] > 0
    assert d["missing"] == df["y"].null_count() > 0
