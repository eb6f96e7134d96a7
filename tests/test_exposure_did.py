"""Exposure-based spatial DID (Butts 2023, "Difference-in-Differences with Spatial Spillovers",
arXiv 2105.03737): exposure mappings against a brute-force haversine reference, the 2x2 direct
and spillover effects against hand-written means of differences, the staggered cells against
pilotdid.att_gt on hand-built exposure-clean samples, and a Monte Carlo (slow)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid
from pilotdid._core import PilotdidError
from pilotdid.spatial import weights as sw
from pilotdid.spatial.exposure import exposure_did, nearest_treated_km, ring_exposure

RINGS = (0, 50, 100, 200)
RING_EFFECTS = (0.8, 0.4, 0.2)  # spillover on untreated units by ring: decays with distance


def _grid(n_side: int, spacing_deg: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """n_side rows x 3 n_side columns; the pilot region is the western third."""
    la, lo = np.meshgrid(
        30 + spacing_deg * np.arange(n_side),
        110 + spacing_deg * np.arange(3 * n_side),
        indexing="ij",
    )
    return la.ravel(), lo.ravel()


def _ref_nearest(la, lo, treated_at):
    """Brute force: scalar haversine (math module) over all pairs, mean Earth radius."""
    n, T = treated_at.shape
    out = np.full((n, T), np.inf)
    for t in range(T):
        for i in range(n):
            best = math.inf
            for j in range(n):
                if j == i or not treated_at[j, t]:
                    continue
                p1, p2 = math.radians(la[i]), math.radians(la[j])
                a = (
                    math.sin((p2 - p1) / 2) ** 2
                    + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lo[j] - lo[i]) / 2) ** 2
                )
                best = min(best, 2 * 6371.0088 * math.asin(math.sqrt(a)))
            out[i, t] = best
    return out


def _ref_ring(d):
    k = np.zeros(d.shape, dtype=np.int64)
    for r in range(1, len(RINGS)):
        k[(d >= RINGS[r - 1]) & (d < RINGS[r])] = r
    return k


def simulate(seed, *, n_side=16, T=2, cohorts=(2,), share=0.15, direct=1.0, noise=1.0):
    """Units on a lat/lon grid (0.3 degree spacing, about 30 km); cohorts drawn at random in
    the western third (so the east has unexposed units);
    treated units get ``direct`` once treated, untreated units get RING_EFFECTS[k-1] while
    their nearest treated unit is in ring k of RINGS, nothing beyond 200 km."""
    rng = np.random.default_rng(seed)
    la, lo = _grid(n_side)
    n = len(la)
    u = rng.random(n)
    u[lo >= 110 + 0.3 * n_side] = 1.0  # only the western third can be treated
    coh = np.zeros(n, dtype=np.int64)
    edges = np.linspace(0, share, len(cohorts) + 1)
    for k, g in enumerate(cohorts):
        coh[(u >= edges[k]) & (u < edges[k + 1])] = g
    periods = np.arange(1, T + 1)
    treated_at = (coh[:, None] != 0) & (coh[:, None] <= periods[None, :])
    ring = ring_exposure(nearest_treated_km(la, lo, treated_at), RINGS)
    spill = np.where(ring > 0, np.array((0.0, *RING_EFFECTS))[ring], 0.0) * (~treated_at)
    y = (
        rng.normal(size=n)[:, None]
        + 0.5 * periods[None, :]
        + direct * treated_at
        + spill
        + noise * rng.normal(size=(n, T))
    )
    df = pl.DataFrame(
        {
            "id": np.repeat(np.arange(n), T),
            "t": np.tile(periods, n),
            "y": y.ravel(),
            "g": np.repeat(coh, T),
            "lat": np.repeat(la, T),
            "lon": np.repeat(lo, T),
        }
    )
    return df, dict(la=la, lo=lo, coh=coh, treated_at=treated_at, ring=ring, y=y, spill=spill)


def test_exposure_mapping_matches_bruteforce_haversine():
    """Reference: brute-force scalar haversine over all pairs (math module), rings by hand."""
    df, s = simulate(1, n_side=6, T=4, cohorts=(2, 3))
    ref = _ref_nearest(s["la"], s["lo"], s["treated_at"])
    got = nearest_treated_km(s["la"], s["lo"], s["treated_at"])
    fin = np.isfinite(ref)
    assert np.array_equal(fin, np.isfinite(got))
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-12, atol=1e-9)
    res = exposure_did(
        df, y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon", rings_km=RINGS
    )
    # units sort as strings in the grid; map back
    order = np.array([int(u) for u in res.grid["units"]])
    assert np.array_equal(res.grid["exposure"], _ref_ring(ref)[order])


def _two_by_two(s):
    dy = s["y"][:, 1] - s["y"][:, 0]
    treated = s["coh"] == 2
    clean = (~treated) & (s["ring"][:, 0] == 0) & (s["ring"][:, 1] == 0)
    return dy, treated, clean


def _hand(dy, a, b):
    """difference of means and its IF standard error sqrt(sum psi^2)/n (R did's convention)."""
    ma, mb = dy[a].mean(), dy[b].mean()
    se = math.sqrt(
        ((dy[a] - ma) ** 2).sum() / a.sum() ** 2 + ((dy[b] - mb) ** 2).sum() / b.sum() ** 2
    )
    return ma - mb, se


def test_two_by_two_equals_hand_means_of_differences():
    """Butts (2023) Sec. 3 2x2: direct = mean change of treated minus that of untreated units
    unexposed at t; spillover (ring k) = mean change of untreated units in ring k minus the
    same clean controls. Hand-written means to 1e-12 (estimates and IF SEs)."""
    df, s = simulate(2, n_side=10)
    res = exposure_did(
        df, y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon", rings_km=RINGS
    )
    dy, treated, clean = _two_by_two(s)
    tab = {r["term"]: r for r in res.tidy().iter_rows(named=True)}
    est, se = _hand(dy, treated, clean)
    assert tab["direct"]["estimate"] == pytest.approx(est, abs=1e-12)
    assert tab["direct"]["std_error"] == pytest.approx(se, abs=1e-12)
    exposed = (~treated) & (s["ring"][:, 1] > 0)
    est, se = _hand(dy, exposed, clean)
    assert tab["spillover"]["estimate"] == pytest.approx(est, abs=1e-12)
    assert tab["spillover"]["std_error"] == pytest.approx(se, abs=1e-12)
    for k, name in enumerate(("spillover[0,50)", "spillover[50,100)", "spillover[100,200)"), 1):
        est, se = _hand(dy, (~treated) & (s["ring"][:, 1] == k), clean)
        assert tab[name]["estimate"] == pytest.approx(est, abs=1e-12)
        assert tab[name]["std_error"] == pytest.approx(se, abs=1e-12)
    assert res.coef()["direct"] == pytest.approx(tab["direct"]["estimate"], abs=0)


def test_two_by_two_with_W_and_share_threshold():
    """W-based exposure: exposed if sum_j w_ij D_j > 0 (or the treated share of neighbours
    >= threshold); hand-written means of differences to 1e-12."""
    df, s = simulate(3, n_side=8)
    la, lo = s["la"], s["lo"]
    n = len(la)
    d = np.array([[math.dist((la[i], lo[i]), (la[j], lo[j])) for j in range(n)] for i in range(n)])
    adj = ((d > 0) & (d < 0.45)).astype(float)  # 8 neighbours in the interior
    W = sw.from_dense(adj, ids=[str(i) for i in range(n)])
    dy = s["y"][:, 1] - s["y"][:, 0]
    treated = s["coh"] == 2
    for thr in (None, 0.25):
        nb = adj @ treated
        expo = nb > 0 if thr is None else nb / adj.sum(1) >= thr
        res = exposure_did(df, y="y", unit="id", time="t", cohort="g", W=W, share_threshold=thr)
        clean = (~treated) & (~expo)
        tab = {r["term"]: r for r in res.tidy().iter_rows(named=True)}
        assert tab["direct"]["estimate"] == pytest.approx(_hand(dy, treated, clean)[0], abs=1e-12)
        assert tab["spillover"]["estimate"] == pytest.approx(
            _hand(dy, (~treated) & expo, clean)[0], abs=1e-12
        )
    # one W per period (here the same matrix): identical numbers
    res2 = exposure_did(df, y="y", unit="id", time="t", cohort="g", W={1: W, 2: W})
    res1 = exposure_did(df, y="y", unit="id", time="t", cohort="g", W=W)
    assert res2.coef() == res1.coef()


@pytest.mark.parametrize("control_group", ["never", "notyet"])
def test_staggered_cells_equal_att_gt_on_clean_samples(control_group):
    """Every ATT(g,t) (direct and per-ring spillover) equals pilotdid.att_gt (R did's CS, DR
    without covariates) on the hand-built clean sample of that cell: the group's units and the
    never (or not-yet) treated units unexposed in the base period and t, the two periods
    relabelled 1 and 2, the group as cohort 2. Estimates and IF SEs to 1e-8: the IF is the
    same because R did's SE sqrt(sum psi^2)/n does not depend on units outside the cell."""
    df, s = simulate(4, n_side=10, T=5, cohorts=(3, 4), share=0.3)
    res = exposure_did(
        df,
        y="y",
        unit="id",
        time="t",
        cohort="g",
        lat="lat",
        lon="lon",
        rings_km=RINGS,
        control_group=control_group,
    )
    order = np.array([int(u) for u in res.grid["units"]])
    y = s["y"][order]
    coh = s["coh"][order]
    ring = res.grid["exposure"]
    checked = 0
    for kind in ("direct", "spillover[0,50)", "spillover[50,100)"):
        fit = res.att_gt(kind)
        grp = (
            coh
            if kind == "direct"
            else res.grid["exposure_cohort"]
            * (res.grid["exposure_ring"] == (1 if kind.endswith("[0,50)") else 2))
        )
        for r in fit.tidy().iter_rows(named=True):
            g, t, b = r["group"], r["t"], r["base_t"]
            ti, bi = t - 1, b - 1
            untreated = (coh == 0) | ((control_group == "notyet") & (coh > max(t, b)))
            ctrl = untreated & (grp != g) & (ring[:, bi] == 0) & (ring[:, ti] == 0)
            keep = (grp == g) | ctrl
            idx = np.flatnonzero(keep)
            sample = pl.DataFrame(
                {
                    "id": np.repeat(idx, 2),
                    "t": np.tile([1, 2], len(idx)),
                    "y": np.column_stack([y[idx, bi], y[idx, ti]]).ravel(),
                    "g": np.repeat(np.where(grp[idx] == g, 2, 0), 2),
                }
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # few-units note of att_gt
                cs = pilotdid.att_gt(sample, y="y", time="t", unit="id", cohort="g")
            row = cs.tidy().row(0, named=True)
            assert r["estimate"] == pytest.approx(row["estimate"], abs=1e-8)
            assert r["std_error"] == pytest.approx(row["std_error"], abs=1e-8)
            assert r["n_control"] == row["n_control"]
            checked += 1
    assert checked >= 12  # 2 direct cohorts x 4 periods + ring cohorts
    # aggregations run through aggte's code (R's wif) and give an event study
    es = res.to_event_study("direct")
    assert set(es.event_time.tolist()) >= {-2, 0, 1}
    agg = res.aggte("spillover", type="group")
    assert np.all(np.isfinite(agg.se_egt))


def test_bootstrap_and_bands_reuse_multiplier():
    """bstrap=True: multiplier bootstrap (core/src/inference/multiplier.rs) SEs close to the
    analytic IF SEs (within 15% at 999 draws) and a uniform critical value above 1.96."""
    df, _ = simulate(5, n_side=10, T=4, cohorts=(3,), share=0.3)
    kw = dict(y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon", rings_km=RINGS)
    a = exposure_did(df, **kw)
    b = exposure_did(df, **kw, bstrap=True, cband=True, reps=999, seed=3)
    sa = a.att_gt("direct").tidy()["std_error"].to_numpy()
    sb = b.att_gt("direct").tidy()["std_error"].to_numpy()
    np.testing.assert_allclose(sb, sa, rtol=0.15)
    assert b.att_gt("direct").crit_val > 1.96
    es = b.to_event_study("direct")
    assert es.band_low is not None


def test_bad_inputs_are_clear_errors():
    """Rings not increasing / zero cutoffs / coordinates out of range / W_t with changing
    units / a cell without clean controls: errors that name the problem."""
    df, s = simulate(6, n_side=6)
    kw = dict(y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon")
    with pytest.raises(PilotdidError, match="strictly increasing"):
        exposure_did(df, **kw, rings_km=(0, 100, 50))
    with pytest.raises(PilotdidError, match="strictly increasing"):
        exposure_did(df, **kw, rings_km=(0, 0, 50))
    with pytest.raises(PilotdidError, match="first cutoff must be 0"):
        exposure_did(df, **kw, rings_km=(10, 50))
    with pytest.raises(PilotdidError, match="lat"):
        exposure_did(df.with_columns(pl.col("lat") + 100), **kw, rings_km=RINGS)
    n = len(s["la"])
    W1 = sw.from_dense(np.ones((n, n)) - np.eye(n), ids=[str(i) for i in range(n)])
    W2 = sw.from_dense(np.ones((n + 1, n + 1)) - np.eye(n + 1), ids=[str(i) for i in range(n + 1)])
    with pytest.raises(PilotdidError, match="different set of units"):
        exposure_did(df, y="y", unit="id", time="t", cohort="g", W={1: W1, 2: W2})
    # everyone within 10,000 km of a treated unit: no clean control for ATT(2,2)
    with pytest.raises(ValueError, match=r"no exposure-clean comparison unit for ATT\(g=2, t=2\)"):
        exposure_did(df, **kw, rings_km=(0, 10000))


def test_figure_in_chinese_uses_the_cjk_font(tmp_path):
    """exposure_figure(lang="zh") (as the Chinese study report draws it): Chinese labels, set
    in the installed CJK font, with no glyph missing; the figure is not left in pyplot."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pilotdid.output._figure_base import cjk_font
    from pilotdid.output.figure_exposure import exposure_figure

    if cjk_font() is None:
        pytest.skip("no CJK font installed (CI installs fonts-noto-cjk)")
    df, _ = simulate(7, n_side=10)
    res = exposure_did(
        df, y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon", rings_km=RINGS
    )
    before = plt.get_fignums()
    out = tmp_path / "exposure_zh.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = exposure_figure(res, path=out, lang="zh", title="暴露DID（Butts 2023）")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing
    assert plt.get_fignums() == before
    ax = fig.axes[0]
    assert ax.get_title() == "暴露DID（Butts 2023）"
    assert "距离" in ax.get_xlabel() and "置信区间" in ax.get_ylabel()
    assert ax.get_legend().get_texts()[0].get_text() == "直接效应（处理单位）"
    assert ax.title.get_fontfamily()[0] == cjk_font()
    assert out.stat().st_size > 5000


def test_plot_and_figure(tmp_path):
    """plot() draws the effects by ring; exposure_figure writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from pilotdid.output.figure_exposure import exposure_figure

    df, _ = simulate(7, n_side=10)
    res = exposure_did(
        df, y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon", rings_km=RINGS
    )
    ax = res.plot()
    assert len(ax.lines) + len(ax.collections) > 0
    out = tmp_path / "exposure.png"
    exposure_figure(res, path=out)
    assert out.stat().st_size > 5000
    tw = res.twfe_rings()
    assert set(tw.coef()) == {"treated_", "ring1_", "ring2_", "ring3_"}


def test_small_groups_warning_names_the_effects_and_counts():
    """The bundled YRD design has 3 exposure-clean comparison cities (never pilots, beyond
    200 km of every pilot) and late cohorts of 3 cities: a SmallGroupsWarning names each
    effect with its smallest counts; a 432-unit design does not warn."""
    df = pilotdid.datasets.yrd()
    with pytest.warns(pilotdid.SmallGroupsWarning) as rec:
        exposure_did(
            df, y="gtfp", unit="city", time="year", cohort="cohort", lat="lat", lon="lon",
            rings_km=(0, 100, 200),
        )  # fmt: skip
    msg = str(rec[0].message)
    assert "direct: as few as 3 exposure-clean comparison units and 3 units in a group" in msg
    assert "spillover[100,200): as few as 3 exposure-clean comparison units" in msg
    big, _ = simulate(3, n_side=12, share=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pilotdid.SmallGroupsWarning)
        exposure_did(big, y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon",
                     rings_km=RINGS)  # fmt: skip


def test_twfe_rings_equals_pyfixest_on_independently_built_ring_dummies():
    """twfe_rings() against pyfixest (installed for tests only): the ring dummies are rebuilt
    here from a dense numpy haversine (nearest *other* unit treated at t; ring k when
    cutoff_{k-1} <= d < cutoff_k; untreated rows only) on the YRD panel, and
    pyfixest.feols("y ~ treated + ring1 + ring2 | unit + year", CRV1 by unit) gives the same
    coefficients (1e-10) and clustered SEs (1e-8)."""
    pf = pytest.importorskip("pyfixest")
    df = pilotdid.datasets.yrd()
    rings = (0.0, 100.0, 200.0)
    res = exposure_did(
        df, y="gtfp", unit="city", time="year", cohort="cohort", lat="lat", lon="lon",
        rings_km=rings,
    )  # fmt: skip
    ours = res.twfe_rings()
    units = df.select("city", "lat", "lon", "cohort").unique("city", maintain_order=True)
    lat, lon = np.radians(units["lat"].to_numpy()), np.radians(units["lon"].to_numpy())
    h = (
        np.sin((lat[:, None] - lat) / 2) ** 2
        + np.cos(lat)[:, None] * np.cos(lat) * np.sin((lon[:, None] - lon) / 2) ** 2
    )
    km = 2 * 6371.0 * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    np.fill_diagonal(km, np.inf)
    g = units["cohort"].to_numpy()
    pos = {c: i for i, c in enumerate(units["city"].to_list())}
    i = np.array([pos[c] for c in df["city"].to_list()])
    t = df["year"].to_numpy()
    treated_at = (g[None, :] > 0) & (g[None, :] <= t[:, None])  # rows x units
    nearest = np.where(treated_at, km[i], np.inf).min(axis=1)
    treated = ((g[i] > 0) & (g[i] <= t)).astype(float)
    d = df.select("city", "year", "gtfp").with_columns(
        pl.Series("treated", treated),
        *[
            pl.Series(f"ring{k}", ((nearest >= lo) & (nearest < hi) & (treated == 0)) * 1.0)
            for k, (lo, hi) in enumerate(zip(rings, rings[1:]), start=1)
        ],
    )
    ref = pf.feols(
        "gtfp ~ treated + ring1 + ring2 | city + year", d.to_pandas(), vcov={"CRV1": "city"}
    )
    b, se = ref.coef(), ref.se()
    for mine, theirs in (("treated_", "treated"), ("ring1_", "ring1"), ("ring2_", "ring2")):
        np.testing.assert_allclose(ours.coef()[mine], b[theirs], rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.se()[mine], se[theirs], rtol=1e-8)


@pytest.mark.slow
def test_monte_carlo_bias_coverage_and_naive_bias():
    """MC (2000 draws; 432 units, about 43 treated; fixed geography, random assignment and
    noise): |bias| < 0.05 sd and 95% coverage in [0.93, 0.97] for the direct effect (truth
    1.0) and the spillover of every ring (truths RING_EFFECTS, decaying with distance); a
    naive DID of treated against all untreated units is biased downwards (its controls carry
    the spillover) by more than 0.05 and more than 3 MC s.e."""
    R = 2000
    ring_terms = [f"spillover[{lo:g},{hi:g})" for lo, hi in zip(RINGS, RINGS[1:])]
    truth = {"direct": 1.0, **dict(zip(ring_terms, RING_EFFECTS))}
    est = {k: [] for k in truth}
    se = {k: [] for k in est}
    naive = []
    for r in range(R):
        df, s = simulate(1000 + r, n_side=12, share=0.3)
        res = exposure_did(
            df, y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon", rings_km=RINGS
        )
        t = {row["term"]: row for row in res.tidy().iter_rows(named=True)}
        for k in est:
            est[k].append(t[k]["estimate"])
            se[k].append(t[k]["std_error"])
        dy = s["y"][:, 1] - s["y"][:, 0]
        tr = s["coh"] == 2
        naive.append(dy[tr].mean() - dy[~tr].mean())
    for k in est:
        e, v = np.array(est[k]), np.array(se[k])
        bias = e.mean() - truth[k]
        cover = np.mean(np.abs(e - truth[k]) <= 1.959964 * v)
        print(
            f"{k}: bias {bias:.4f} sd {e.std():.4f} bias/sd {bias / e.std():.3f} "
            f"coverage {cover:.3f}"
        )
        assert abs(bias) < 0.05 * e.std()
        assert 0.93 <= cover <= 0.97
    nv = np.array(naive)
    nb = nv.mean() - 1.0
    print(f"naive DID: bias {nb:.4f} (MC s.e. {nv.std() / math.sqrt(R):.4f})")
    assert nb < -0.05 and abs(nb) > 3 * nv.std() / math.sqrt(R)


def test_etable_reads_exposure_result():
    """etable adapter: one column with the tidy() terms and estimates."""
    df, _ = simulate(8, n_side=8)
    res = exposure_did(
        df, y="y", unit="id", time="t", cohort="g", lat="lat", lon="lon", rings_km=RINGS
    )
    from pilotdid.output._adapters import _adapt

    col = _adapt(res, "en")[0]
    assert list(col.coefs) == res.tidy()["term"].to_list()
    assert col.coefs["direct"].estimate == pytest.approx(res.coef()["direct"], abs=0)
