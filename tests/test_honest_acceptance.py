"""Issue 16 acceptance for HonestDiD: robust CIs on real event studies equal independent
implementations, endpoint by endpoint, on M̄ and M grids of five values.

Event studies (13): TWFE on ehec_data.csv with the HonestDiD README's specification (Medicaid
expansion, `dins`, 2008-2015 without the 2015 cohort, D = first treated in 2014, reference 2013,
clustered by state); CS on the full ehec panel; TWFE, SA, did2s, CS (varying and universal base)
and TWFE with reference period -2 on mpdta; TWFE, SA, did2s and CS on the bundled synthetic YRD
panel (event times -4..4), and BJS there too: its leads come from the pre-trend regression on
untreated observations, with their covariance with the horizons (`joint_vcov()`), which
honest_did uses.

Oracles and tolerances:
- `honestdid` 0.1.1 (a port of the R package) for Δ^RM and Δ^SDRM, ARP conditional and
  conditional-LF hybrid, and for the FLCI. The test inversion runs on the same numpy.linspace
  grid in both (HonestDiD's `grid.lb`/`grid.ub` = our `grid_bounds`), so equal decisions give
  equal endpoints; asserted to 1e-10, i.e. far inside the issue's 1e-4 (one differing decision
  would move an endpoint by a grid step, 0.01-0.2 sd here). The grid is a 30-point window
  around the CI (the CI found first on a coarse default-style grid, padded by half an sd, or 2,
  8, 32 sd while the fine CI touches an edge; the CI must be inside) rather than 1000 points on
  ±20 sd, because the oracle solves ~6 HiGHS LPs per grid point per (s, ±) and the sweep would
  take hours. The hybrid's least-favourable critical value uses our draws in the oracle's own
  formula (`test_honest_did._lf_with_our_draws`); with its own numpy draws it could differ in
  the third digit, by design.
- FLCI (Δ^SD): honestdid with its 10^6-draw folded-normal quantile replaced by the exact one
  (which we compute), the same bisection on h as R/flci.R: endpoints to 1e-4 (measured 1e-9 to
  3e-5 across the 13 studies), except where the bisection stops at the smallest sd h_min
  (M = 0 and small M). There the bias program's feasible set is the single minimum-variance
  point, which honestdid's solver only approaches: its centres are off the exact closed form
  (the minimum-variance affine estimator unbiased under linear trends, a KKT system) by up to
  2.05e-4 (yrd:cs, average target) and 1.0e-4 (yrd:bjs); ours take that point from the
  minimum-variance QP and equal the closed form to 1e-11. The paper's definition (M = 0 admits
  exactly the linear violations) supports the closed form, so at h_min the test holds ours to
  it at 1e-8, honestdid to its solver accuracy (1e-3), and the half-lengths to each other at
  1e-4.
- diff-diff 3.13's `_compute_optimal_flci` minimises the half-length chi(h) to numerical
  precision, while R/flci.R (and honestdid, and we by default) stop the bisection on h at a
  tolerance, (h0 - hmin)/100, and return h_min when the finite-difference slope there is
  positive. R's interval is therefore never shorter than diff-diff's and measured up to 0.36%
  longer (yrd:cs and yrd:bjs, average target, small M, where chi's minimum lies inside the
  first step). The paper defines the FLCI as the minimiser of chi (section 4.1), so diff-diff
  is closer to the formula by that much; we keep R's stopping rule by default so that our
  numbers are HonestDiD's. Run to precision (numPoints 10^6), ours equals diff-diff's length
  to 1e-6 (measured 6e-8) and its centre to 0.1% of the half-length (measured 5e-4: chi is flat
  near its minimum while the centre still moves with h, an ill-conditioned argmin).
- diff-diff's Δ^RM and Δ^SDRM are not the paper's CIs: diff-diff 3.13 reports for Δ^RM the
  identified set widened by z_{1-alpha/2} sd(l'beta_post) (its code: "ARP ... disabled pending
  calibration") and for Δ^SDRM the same on the intersection of the two sets. The paper
  (Rambachan & Roth 2023, section 3.2 and Proposition 4.2, the FLCI is not consistent for
  Δ^RM-type classes) and the R package (R/deltarm.R: `computeConditionalCS_DeltaRM` inverts the ARP
  test, union over s and the sign of the max pre-period difference) support honestdid's
  numbers, and ours equal them. The naive widening ignores that the bound M̄ max|pre-period
  difference| is itself estimated, so it is not the paper's CI; diff-diff is compared here only
  for the FLCI.
- The README's own printed numbers (R HonestDiD, its C-LF with R's random draws and its
  simulated folded-normal quantile) are matched to their printed digits: C-LF to one grid step
  (0.04 sd) where R's least-favourable draws can move a decision, FLCI to 3e-4 (< 1% of the CI
  length; honestdid 0.1.1 with its own simulated quantile is as far from the print).
- honestdid 0.1.1 itself departs from R/deltarm.R with a single post period (it drops the
  pre-period-only moments there, R keeps them): we follow R, see
  test_honest_did.test_single_post_period_matches_honestdid.

Default run: the README study and CS on mpdta (< 60 s). The full 13-study sweep is marked
`slow` (pyproject: `-m slow`): 96 tests, an hour or more of oracle LPs on a busy 2-core
machine; it prints each comparison.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import pytest

from pilotdid import _core
from pilotdid.did import event_study
from pilotdid.did.sensitivity import _split, honest_did

hd = pytest.importorskip("honestdid.core")
dd = pytest.importorskip("diff_diff.honest_did")

from conftest import REFERENCE_DIR  # noqa: E402
from test_honest_did import (  # noqa: E402
    _exact_folded,
    _lf_with_our_draws,
    _min_variance_weights,
    _numpy2_compatible,
)

EHEC = REFERENCE_DIR.parent / "acceptance-data" / "ehec_data.csv"
MBARS = [0.0, 0.5, 1.0, 1.5, 2.0]
M_SCALES = [0.0, 0.05, 0.1, 0.25, 0.5]  # M grid, in units of sd(l'beta_post)
FINE = 30


def _ehec_readme() -> pd.DataFrame:
    """The README's sample: years < 2016, the 2015 cohort dropped, D = first treated in 2014
    (later adopters are untreated in the sample window, as `D = case_when(yexp2 == 2014)`)."""
    df = pd.read_csv(EHEC)
    df = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))].copy()
    df["cohort"] = np.where(df.yexp2 == 2014, 2014, 0)
    return df


@functools.cache
def _study(name: str):
    """An event study by name: (betahat, sigma, n_pre, n_post) without the reference period."""
    mp = dict(y="lemp", time="year", unit="countyreal", cohort="first.treat")
    yk = dict(y="ln_green_patents", time="year", unit="city_id", cohort="cohort", window=(-4, 4))
    source, est = name.split(":")
    if source == "ehec_readme":
        es = event_study(
            _ehec_readme(), y="dins", unit="stfips", time="year", cohort="cohort", estimator=est
        )
    elif source == "ehec":
        df = pd.read_csv(EHEC)
        df["cohort"] = df.yexp2.fillna(0).astype(int)
        es = event_study(
            df, y="dins", unit="stfips", time="year", cohort="cohort", estimator=est, window=(-4, 3)
        )
    elif source == "mpdta":
        data = pd.read_csv(REFERENCE_DIR / "mpdta.csv")
        if est == "cs_universal":
            from pilotdid.did.staggered import aggte, att_gt

            es = aggte(att_gt(data, base_period="universal", **mp), type="dynamic").to_event_study()
        elif est == "twfe_ref2":
            es = event_study(data, estimator="twfe", ref_period=-2, **mp)
        else:
            es = event_study(data, estimator=est, **mp)
    else:
        from pilotdid import datasets

        es = event_study(pd.DataFrame(datasets.yrd().to_dict(as_series=False)), estimator=est, **yk)
    beta, sigma, n_pre, n_post, _ = _split(es)
    return beta, sigma, n_pre, n_post


STUDIES = [
    "ehec_readme:twfe",
    "ehec:cs",
    "mpdta:twfe",
    "mpdta:sa",
    "mpdta:did2s",
    "mpdta:cs",
    "mpdta:cs_universal",
    "mpdta:twfe_ref2",
    "yrd:twfe",
    "yrd:sa",
    "yrd:did2s",
    "yrd:cs",
    "yrd:bjs",
]


def _targets(n_post: int) -> list[np.ndarray]:
    return [np.eye(n_post)[0], np.full(n_post, 1.0 / n_post)]


def _window(beta, sigma, n_pre, n_post, lv, delta, mbar, hybrid, fine):
    """A fine grid's bounds that hold the whole CI, and our CI on it: the CI from a coarse ±20 sd
    grid (HonestDiD's default span), padded by half an sd, more while the fine CI touches an
    edge (an accepted region need not be an interval, so the coarse grid can miss a piece)."""
    sd = float(np.sqrt(lv @ sigma[n_pre:, n_pre:] @ lv))

    def ci(points, bounds):
        lb, ub, _ = _core.honest_relative(
            list(beta),
            sigma.tolist(),
            n_pre,
            n_post,
            list(lv),
            [mbar],
            delta=delta,
            shape="none",
            hybrid=hybrid,
            alpha=0.05,
            grid_points=points,
            sims=1000,
            seed=0,
            breakdown_iters=None,
            grid_bounds=bounds,
        )
        return lb[0], ub[0]

    lb, ub = ci(201, (-20 * sd, 20 * sd))
    if not np.isfinite(lb):
        return (-20 * sd, 20 * sd), ci(fine, (-20 * sd, 20 * sd))
    for pad in (0.5, 2.0, 8.0, 32.0):
        bounds = (lb - pad * sd, ub + pad * sd)
        ours = ci(fine, bounds)
        if bounds[0] < ours[0] and ours[1] < bounds[1]:
            break
    return bounds, ours


def _compare_relative(name, delta, hybrid, l_index, monkeypatch, mbars=MBARS, fine=FINE):
    monkeypatch.setattr(hd, "_compute_least_favorable_cv", _lf_with_our_draws)
    _numpy2_compatible(monkeypatch)
    beta, sigma, n_pre, n_post = _study(name)
    if delta == "sdrm" and n_pre < 2:
        pytest.skip("Δ^SDRM needs two pre-periods")
    lv = _targets(n_post)[l_index]
    oracle = {"rm": hd.computeConditionalCS_DeltaRM, "sdrm": hd.computeConditionalCS_DeltaSDRM}[
        delta
    ]
    for mbar in mbars:
        (lo, hi), ours = _window(beta, sigma, n_pre, n_post, lv, delta, mbar, hybrid, fine)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = oracle(
                beta,
                sigma,
                n_pre,
                n_post,
                l_vec=lv,
                Mbar=mbar,
                hybrid_flag="LF" if hybrid else "ARP",
                gridPoints=fine,
                grid_lb=lo,
                grid_ub=hi,
            )
        acc = df[df.accept == 1].grid
        theirs = (acc.min(), acc.max()) if len(acc) else (np.nan, np.nan)
        print(
            f"{name} {delta} {'C-LF' if hybrid else 'ARP'} l{l_index} M̄={mbar}: "
            f"ours {ours[0]:.6g} {ours[1]:.6g} honestdid {theirs[0]:.6g} {theirs[1]:.6g}"
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-10, rtol=0)
        if np.isfinite(theirs[0]):  # the window held the whole CI
            assert lo < theirs[0] and theirs[1] < hi


def _compare_flci(name, l_index, monkeypatch):
    monkeypatch.setattr(hd, "_qfoldednormal", _exact_folded)
    # which h honestdid's bisection chose, per M (NaN: it fell back to its grid search)
    chosen: list[tuple[float, float]] = []
    bisect = hd._find_optimal_ci_derivative_bisection

    def recording(a, b, *args, **kwargs):
        h = bisect(a, b, *args, **kwargs)
        chosen.append((a, h))
        return h

    monkeypatch.setattr(hd, "_find_optimal_ci_derivative_bisection", recording)
    beta, sigma, n_pre, n_post = _study(name)
    lv = _targets(n_post)[l_index]
    sd = float(np.sqrt(lv @ sigma[n_pre:, n_pre:] @ lv))
    ms = [k * sd for k in M_SCALES]

    def ours(num_points):
        lbs, ubs, _ = _core.honest_flci(
            list(beta),
            sigma.tolist(),
            n_pre,
            n_post,
            list(lv),
            ms,
            alpha=0.05,
            num_points=num_points,
            breakdown_iters=None,
        )
        return np.asarray(lbs), np.asarray(ubs)

    lbs, ubs = ours(100)  # R/flci.R's numPoints: the bisection on h stops at (h0 - h_min)/100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = hd.createSensitivityResults(
            beta, sigma, n_pre, n_post, method="FLCI", Mvec=ms, l_vec=lv
        )
        ddiff = np.array(
            [
                dd._compute_optimal_flci(
                    beta[:n_pre], beta[n_pre:], sigma, lv, n_pre, n_post, m, 0.05
                )
                for m in ms
            ]
        )
    assert len(chosen) == len(ms)
    lb_hd, ub_hd = df.lb.to_numpy(), df.ub.to_numpy()
    # Where the bisection stops at h_min (M at or near 0), the bias program's feasible set is
    # one point, which honestdid's solver only approaches: its centre can be off the exact
    # closed form by ~2e-4 (yrd:cs, average target), ours is on it (module docstring). There
    # the exact centre is the reference and honestdid is held to its solver's accuracy; the
    # half-length (insensitive to that point to first order) still to 1e-4.
    corner = np.array([h == a for a, h in chosen])
    exact = float(_min_variance_weights(sigma, n_pre, n_post, lv) @ beta)
    centre, half = (lbs + ubs) / 2, (ubs - lbs) / 2
    centre_hd, half_hd = (lb_hd + ub_hd) / 2, (ub_hd - lb_hd) / 2
    print(
        f"{name} FLCI l{l_index}: honestdid at h_min for M index {np.flatnonzero(corner)}; "
        f"max |ours - honestdid| elsewhere "
        f"{np.max(np.abs(np.c_[lbs, ubs] - np.c_[lb_hd, ub_hd])[~corner], initial=0):.2e}; "
        f"at h_min |ours - exact| {np.max(np.abs(centre - exact)[corner], initial=0):.2e}, "
        f"|honestdid - exact| {np.max(np.abs(centre_hd - exact)[corner], initial=0):.2e}"
    )
    np.testing.assert_allclose(lbs[~corner], lb_hd[~corner], atol=1e-4, rtol=0)
    np.testing.assert_allclose(ubs[~corner], ub_hd[~corner], atol=1e-4, rtol=0)
    np.testing.assert_allclose(centre[corner], exact, atol=1e-8, rtol=0)
    np.testing.assert_allclose(centre_hd[corner], exact, atol=1e-3, rtol=0)
    np.testing.assert_allclose(half[corner], half_hd[corner], atol=1e-4, rtol=0)
    # diff-diff minimises the half-length chi(h) itself; R's bisection stops at a tolerance
    # ((h0 - h_min)/100 on the bracket) and returns h_min when the finite-difference slope
    # there is positive, although chi's minimum can lie inside that first step: R's interval
    # (ours, honestdid's) is never shorter than diff-diff's, and measured up to 0.4% longer
    # (yrd:cs and yrd:bjs, average target, small M). Run to precision (numPoints 10^6) ours
    # minimises chi too and the lengths agree to 1e-6: that is the cross-check. The centres
    # then still differ a little, because chi is flat near its minimum while the centre moves
    # with h (an ill-conditioned argmin): asserted within 0.1% of the half-length.
    length, length_dd = ubs - lbs, ddiff[:, 1] - ddiff[:, 0]
    assert np.all(length_dd <= length * (1 + 1e-9))
    print(
        f"  R's stopping rule: longest excess over diff-diff {np.max(length / length_dd - 1):.1e}"
    )
    lbs_p, ubs_p = ours(10**6)
    np.testing.assert_allclose(length_dd, ubs_p - lbs_p, rtol=1e-6)
    centre_gap = np.abs(lbs_p + ubs_p - ddiff.sum(axis=1)) / 2
    print(
        f"  precise bisection: max |length - diff-diff| / length "
        f"{np.max(np.abs(length_dd / (ubs_p - lbs_p) - 1)):.1e}, centre gap / half-length "
        f"{np.max(centre_gap / ((ubs_p - lbs_p) / 2)):.1e}"
    )
    assert np.all(centre_gap <= 1e-3 * (ubs_p - lbs_p) / 2)


# ------------------------------------------------------------------------------------------
# default run: the README study and CS on mpdta
# ------------------------------------------------------------------------------------------
def test_readme_event_study_equals_fixest():
    """Our TWFE betahat / clustered sigma for the README's specification equal pyfixest's
    `dins ~ i(year, D, ref=2013) | stfips + year`, vcov CRV1 by state (fixest's default)."""
    pf = pytest.importorskip("pyfixest")
    beta, sigma, n_pre, n_post = _study("ehec_readme:twfe")
    assert (n_pre, n_post) == (5, 2)
    df = _ehec_readme()
    df["D"] = (df.cohort == 2014).astype(int)
    for yr in range(2008, 2016):
        if yr != 2013:
            df[f"y{yr}"] = ((df.year == yr) & (df.D == 1)).astype(int)
    cols = [f"y{yr}" for yr in range(2008, 2016) if yr != 2013]
    fit = pf.feols(f"dins ~ {' + '.join(cols)} | stfips + year", data=df, vcov={"CRV1": "stfips"})
    np.testing.assert_allclose(beta, fit.coef()[cols].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sigma, fit._vcov, rtol=1e-7, atol=1e-14)


def test_readme_printed_numbers():
    """The R README's printed tables: Δ^RM C-LF at M̄ = 0.5..2 and Δ^SD FLCI at M = 0..0.05."""
    es = event_study(
        _ehec_readme(), y="dins", unit="stfips", time="year", cohort="cohort", estimator="twfe"
    )
    rm = honest_did(es, m_bar=[0.5, 1.0, 1.5, 2.0], breakdown=False)
    readme_rm = [(0.0240, 0.0672), (0.0170, 0.0720), (0.00824, 0.0797), (-0.000916, 0.0881)]
    step = 40 * float(np.sqrt(es.vcov()[5, 5])) / 999
    printed = np.array(readme_rm)
    half_digit = 0.5 * 10.0 ** (np.floor(np.log10(np.abs(printed))) - 2)  # 3 significant digits
    # R's own least-favourable draws may move an endpoint by one grid step (M̄ = 1.5 here)
    assert np.all(np.abs(np.c_[rm.lb, rm.ub] - printed) <= step + half_digit)
    sd = honest_did(es, delta="sd", m=[0, 0.01, 0.02, 0.03, 0.04, 0.05], breakdown=False)
    readme_sd = [
        (0.0259, 0.0607),
        (0.0132, 0.0787),
        (0.00286, 0.0907),
        (-0.00714, 0.101),
        (-0.0171, 0.111),
        (-0.0271, 0.121),
    ]
    # the README's R run drew its folded-normal quantile (10^6 draws) and printed 3 digits;
    # honestdid 0.1.1 with its own draws is off the printed values by as much as we are
    # (2.6e-4 at M = 0.04): the exact comparisons are the oracle tests below
    np.testing.assert_allclose(np.c_[sd.lb, sd.ub], readme_sd, atol=3e-4, rtol=0)


@pytest.mark.parametrize("name", ["ehec_readme:twfe", "mpdta:cs"])
def test_rm_conditional_equals_honestdid(name, monkeypatch):
    _compare_relative(name, "rm", False, 0, monkeypatch, fine=20)


@pytest.mark.parametrize("name", ["ehec_readme:twfe", "mpdta:cs"])
def test_rm_hybrid_equals_honestdid(name, monkeypatch):
    _compare_relative(name, "rm", True, 1, monkeypatch, fine=20)


@pytest.mark.parametrize(("name", "l_index"), [("ehec_readme:twfe", 0), ("mpdta:cs", 1)])
def test_flci_equals_honestdid_and_diff_diff(name, l_index, monkeypatch):
    _compare_flci(name, l_index, monkeypatch)


# ------------------------------------------------------------------------------------------
# the full sweep (-m slow): 12 event studies x 5 M̄ x {ARP, C-LF} x {first, average}, SDRM
# ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("l_index", [0, 1])
@pytest.mark.parametrize("hybrid", [False, True])
@pytest.mark.parametrize("name", STUDIES)
def test_sweep_rm(name, hybrid, l_index, monkeypatch):
    _compare_relative(name, "rm", hybrid, l_index, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("hybrid", [False, True])
@pytest.mark.parametrize("name", STUDIES)
def test_sweep_sdrm(name, hybrid, monkeypatch):
    _compare_relative(name, "sdrm", hybrid, 0, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("l_index", [0, 1])
@pytest.mark.parametrize("name", STUDIES)
def test_sweep_flci(name, l_index, monkeypatch):
    _compare_flci(name, l_index, monkeypatch)
