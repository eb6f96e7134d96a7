"""One result shape for every event-study estimator (TWFE, CS, SA, BJS, did2s), so that
estimates can be tabulated and overlaid on one plot. It follows the package's result protocol
(``coef``, ``se``, ``vcov``, ``pvalue``, ``confint``, ``tidy``, ``summary``, ``plot``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import (
    check_choice,
    check_float,
    check_int,
    check_level,
    check_reps,
    check_seed,
)
from pilotdid._core import PilotdidError
from pilotdid.results._inference import coef_table as inference_columns
from pilotdid.results._protocol import ResultProtocol

#: Legend names of the estimator codes used in ``EventStudyResult.estimator``.
DISPLAY_NAMES = {
    "twfe": "TWFE",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "bjs": "BJS imputation",
    "bjs imputation": "BJS imputation",
    "did2s": "Gardner did2s",
    "ddd": "Triple differences (DDD)",
    "cont_did": "Continuous-dose DID (CGBS)",
    "dcdh": "de Chaisemartin-D'Haultfoeuille DID_l",
}


def display_name(estimator: str) -> str:
    return DISPLAY_NAMES.get(estimator.lower(), estimator)


def event_term(e: int) -> str:
    """The term of event time e in every event-study table (fixest's ``rel::e``)."""
    return f"rel::{int(e)}"


class FewClustersWarning(UserWarning):
    """A cluster-robust Wald test of q restrictions with few clusters G relative to q: its
    chi2 / F reference distribution overstates significance (see ``few_clusters_note``)."""


def few_clusters_note(test: str, q: int, n_clusters: int | None) -> str | None:
    """The warning text when a cluster-robust Wald test of ``q`` restrictions rests on
    ``n_clusters`` = G clusters with q > G / 3; None otherwise (or without clusters).

    Why q relative to G: the cluster-robust covariance is a sum of G outer products of
    cluster scores, so its rank is at most G - 1 once the (unit) effects are absorbed; the
    Wald statistic of q restrictions needs q <= G - 1 and becomes ill-conditioned as q
    approaches it (Cameron & Miller 2015, J. Human Resources 50(2), sec. VI.A). Well before
    that, the chi2(q) and F(q, G - 1) references over-reject, and more so as q grows
    relative to G (Pustejovsky & Tipton 2018, J. Business & Economic Statistics 36(4),
    whose simulations motivate their small-sample corrected Wald tests). The cut q > G / 3
    (at least three clusters per tested restriction) is our conservative rule of thumb: it
    flags the issue's case (15 restrictions, 30 clusters) and stays silent for the usual
    few leads with dozens of clusters."""
    if n_clusters is None or q < 1 or 3 * q <= n_clusters:
        return None
    return (
        f"{test}: {q} restrictions tested with {n_clusters} clusters (more than G/3 = "
        f"{n_clusters / 3:.3g}); the cluster-robust Wald test is oversized with so few "
        "clusters per restriction (singular as q reaches G - 1), so read its p-value as "
        "indicative only; test fewer leads (window=) or use more clusters"
    )


#: Below this many clusters the analytic cluster-robust SE of a robust event-study
#: estimator is flagged (FewClustersWarning): the threshold of Angrist & Pischke's
#: "42 clusters" rule of thumb, under which MacKinnon & Webb (2017, J. Applied Econometrics
#: 32(2)) find cluster-robust t tests over-reject, more so with unbalanced clusters.
FEW_CLUSTERS = 42


def analytic_se_note(estimator: str, n_clusters: int | None, remedy: str) -> str | None:
    """The FewClustersWarning text when an analytic cluster-robust SE rests on fewer than
    FEW_CLUSTERS clusters (None otherwise); ``remedy`` names the bootstrap option to use."""
    if n_clusters is None or n_clusters >= FEW_CLUSTERS:
        return None
    return (
        f"{display_name(estimator)}: analytic cluster-robust standard errors with only "
        f"{n_clusters} clusters (fewer than {FEW_CLUSTERS}) over-reject; use {remedy}"
    )


def warn_analytic_se(
    estimator: str, n_clusters: int | None, remedy: str, stacklevel: int = 3
) -> str | None:
    """Issue the analytic-SE FewClustersWarning once for this fit (see analytic_se_note);
    silence it with ``warnings.simplefilter("ignore", FewClustersWarning)``."""
    note = analytic_se_note(estimator, n_clusters, remedy)
    if note is not None:
        warnings.warn(note, FewClustersWarning, stacklevel=stacklevel + 1)
    return note


def event_weights(param: Any, event_time: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The event-time weights a of the hypothesis sum_e a_e beta_e = r named by ``param``
    and its label: an event time (int, "e=2" or "rel::2"); "average post" (the equal-weight
    mean of the e >= 0 coefficients); "att" (the estimator's overall ATT: None weights);
    a dict {event time: weight}; or a vector with one weight per event time."""
    times = [int(e) for e in event_time]

    def one(e: int) -> np.ndarray:
        if e not in times:
            raise PilotdidError(
                f"option 'param': no coefficient for event time {e}; event times: {times}"
            )
        a = np.zeros(len(times))
        a[times.index(e)] = 1.0
        return a

    if isinstance(param, (bool, np.bool_)):
        raise PilotdidError(f"option 'param': expected an event time, got {param!r}")
    if isinstance(param, (int, np.integer)):
        return one(int(param)), f"rel::{int(param)}"
    if isinstance(param, str):
        text = param.strip().lower().replace(" ", "")
        if text in ("averagepost", "average_post", "avgpost"):
            post = [i for i, e in enumerate(times) if e >= 0]
            if not post:
                raise PilotdidError("option 'param': 'average post': no event time e >= 0")
            a = np.zeros(len(times))
            a[post] = 1.0 / len(post)
            return a, "average of rel::e, e >= 0"
        if text == "att":
            return None, "ATT"
        for prefix in ("e=", "rel::"):
            if text.startswith(prefix):
                try:
                    e = int(text[len(prefix) :])
                except ValueError:
                    break
                return one(e), f"rel::{e}"
        raise PilotdidError(
            f"option 'param': {param!r} is not 'e=<event time>', 'rel::<event time>', "
            "'average post' or 'att'"
        )
    if isinstance(param, dict):
        a = np.zeros(len(times))
        for e, w in param.items():
            a += check_float(f"param[{e!r}]", w) * one(check_int("param key", e))
        label = " + ".join(f"{check_float('w', w):g}*rel::{int(e)}" for e, w in param.items())
        return a, label
    a = np.asarray(param, dtype=float).ravel()
    if a.size != len(times) or not np.all(np.isfinite(a)):
        raise PilotdidError(
            f"option 'param': a weight vector needs {len(times)} finite weights (one per event "
            f"time {times}), got {a.size}"
        )
    label = " + ".join(f"{w:g}*rel::{e}" for e, w in zip(times, a) if w != 0.0)
    return a, label or "0"


def did2s_wild_bootstrap(
    core: Any, event_time: np.ndarray, n_obs: Sequence[int], static: bool
) -> Any:
    """The did2s fit's restricted wild cluster bootstrap as a method (``wild_bootstrap`` of an
    ``EventStudyResult`` with estimator "did2s" delegates to it)."""

    def wild_bootstrap(
        param: Any = "average post",
        *,
        reps: int = 9999,
        seed: int = 0,
        weight_type: str = "rademacher",
        r: float = 0.0,
        level: float = 0.95,
    ) -> Any:
        """Restricted wild cluster bootstrap (WCR) of sum_e a_e beta_e = ``r`` for Gardner's
        two-stage DID, clustered as the fit, re-running BOTH stages on every draw.

        Scheme: with Y~ the first-stage residuals, the null is imposed on the second stage
        (restricted least squares of Y~ on the event-time dummies; with leads, on the
        combination the two-stage estimator actually estimates), giving residuals u~; draw b
        sets Y* = Y - u~ + v_c u~ (one Rademacher or Webb weight v_c per cluster), re-fits the
        first stage (unit + period effects on Y*'s untreated rows) and the second stage, and
        takes t* = (a'b* - r) / se*, se* the Butts-Gardner GMM standard error of Y*'s fit. The
        p-value is the share of |t*| >= |t| (t on the analytic GMM SE); the interval inverts
        the test with the same draws. A wild (not pairs) bootstrap: every draw keeps the
        design, so it works with few (treated) clusters, where R did2s's pairs bootstrap
        (``bootstrap = TRUE``) can draw samples without treated or untreated clusters.
        ``param``: an event time (``2``, ``"e=2"``), ``"average post"``, ``"att"`` (the
        observation-weighted mean of the e >= 0 effects, the static ATT's weights), a dict
        ``{e: weight}`` or one weight per event time."""
        from pilotdid.results.feols import WILD_BOOT_BYTES_PER_REP, WildBootResult

        a, label = event_weights(param, event_time)
        if a is None:
            post = np.asarray(event_time) >= 0
            counts = np.asarray(n_obs, dtype=float) * post
            if counts.sum() <= 0:
                raise PilotdidError("option 'param': 'att': no event time e >= 0")
            a = counts / counts.sum()
            label = "ATT" if static else "ATT (observation-weighted e >= 0)"
        reps = check_reps("reps", reps, bytes_per_rep=WILD_BOOT_BYTES_PER_REP)
        seed = check_seed(seed)
        kind = check_choice(
            "weight_type",
            weight_type.lower() if isinstance(weight_type, str) else weight_type,
            ("rademacher", "webb"),
        )
        r = check_float("r", r)
        level = check_level(level)
        out = core.wild_bootstrap(
            [float(v) for v in a], r, reps=reps, weights=kind, seed=seed, level=level
        )
        return WildBootResult.from_core(
            out, hypothesis=f"{label} = {r:g}", level=level, weight_type=kind, seed=seed
        )

    return wild_bootstrap


def _same_level(a: float, b: float) -> bool:
    return abs(a - b) < 1e-12


class EventStudyResult(ResultProtocol):
    """Dynamic treatment effects by event time e = period - cohort.

    ``conf_low``/``conf_high`` are pointwise intervals at ``level``; ``band_low``/``band_high``
    a simultaneous (uniform) band when the estimator provides one (``plot()`` draws the band
    then). ``reference`` lists event times normalised to zero (not estimated). ``vcov()`` is
    the covariance of the estimates, in ``event_time`` order, when the estimator gives one.
    ``att``/``att_se``: the overall ATT where the estimator has one (CS, SA, BJS); ``pretrend``
    the joint test of the leads; ``dropped_rows`` the rows not used, by reason.

    ``tidy()`` has one row per event time (term ``rel::e``): the protocol's columns, then
    ``estimator``, ``event_time`` and, with a uniform band, ``band_low``/``band_high``. At the
    fit's ``level`` the intervals are the estimator's own; at another level they are pointwise
    (Student t with ``extra["df_t"]`` df where the estimator uses t intervals, or with
    ``extra["df_rows"]``, one per event time, else normal).
    """

    def __init__(
        self,
        estimator: str,
        event_time: np.ndarray,
        estimate: np.ndarray,
        std_error: np.ndarray,
        conf_low: np.ndarray,
        conf_high: np.ndarray,
        level: float = 0.95,
        band_low: np.ndarray | None = None,
        band_high: np.ndarray | None = None,
        vcov: np.ndarray | None = None,
        reference: Sequence[int] = (),
        nobs: int | None = None,
        extra: dict[str, Any] | None = None,
        dropped_rows: dict[str, int] | None = None,
        cohort_derived: int = 0,
    ) -> None:
        self.estimator = estimator
        self.event_time = np.asarray(event_time, dtype=np.int64)
        self.estimate = np.asarray(estimate, dtype=float)
        self.std_error = np.asarray(std_error, dtype=float)
        self.conf_low = np.asarray(conf_low, dtype=float)
        self.conf_high = np.asarray(conf_high, dtype=float)
        self.level = level
        self.band_low = band_low
        self.band_high = band_high
        self._vcov = vcov
        self.reference = reference
        self.nobs = nobs
        self.extra: dict[str, Any] = dict(extra or {})
        self.dropped_rows: dict[str, int] = dict(dropped_rows or {})
        #: units whose cohort was derived from a 0/1 ``treatment`` column (0: cohort given)
        self.cohort_derived = int(cohort_derived)
        #: cautions about the inference (e.g. few clusters for the pre-trend test), shown by
        #: summary(); the estimator also issued each as a warning
        self.cautions: list[str] = []

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return f"{display_name(self.estimator)} event study, {len(self.event_time)} event times"

    # --- the protocol ---------------------------------------------------------------------
    @property
    def df_t(self) -> int | None:
        """Student-t degrees of freedom of the intervals (None: normal intervals)."""
        df = self.extra.get("df_t", self.extra.get("ci_df"))
        return None if df is None else int(df)

    @property
    def band(self) -> str:
        """Which band ``plot()`` draws: 'uniform' or 'pointwise'."""
        return (
            "uniform" if self.band_low is not None and self.band_high is not None else ("pointwise")
        )

    def _tidy(self, level: float) -> pl.DataFrame:
        # Per-row (fractional) degrees of freedom where the estimator gives them
        # (cont_did's df="satterthwaite"), else the one df_t or the normal.
        rows = self.extra.get("df_rows")
        df = np.asarray(rows, dtype=float) if rows is not None else self.df_t
        stat, p, lo, hi = inference_columns(self.estimate, self.std_error, level, df)
        if _same_level(level, self.level):
            lo, hi = self.conf_low, self.conf_high  # the estimator's own intervals
        out: dict[str, Any] = {
            "term": [event_term(e) for e in self.event_time],
            "estimate": self.estimate,
            "std_error": self.std_error,
            "statistic": stat,
            "p_value": p,
            "conf_low": lo,
            "conf_high": hi,
            "estimator": [self.estimator] * len(self.event_time),
            "event_time": self.event_time,
        }
        if self.band == "uniform" and _same_level(level, self.level):
            out["band_low"], out["band_high"] = self.band_low, self.band_high
        return pl.DataFrame(out)

    def vcov(self) -> np.ndarray:
        """Covariance of the event-time estimates, in ``event_time`` order."""
        if self._vcov is None:
            raise PilotdidError(
                f"vcov(): the {display_name(self.estimator)} event study has no joint covariance "
                "of its event-time estimates (bootstrap SEs, or leads from a separate test "
                "regression); use se() or tidy()"
            )
        return np.array(self._vcov, copy=True)

    def joint_vcov(self) -> np.ndarray:
        """Covariance of every event-time estimate, leads included, in ``event_time`` order:
        ``vcov()`` where the estimator has one; for BJS with ``pretrends`` the joint
        covariance of the pre-trend regression's leads and the horizons (both linear in Y:
        sum over clusters of the stacked cluster scores' outer products)."""
        if self._vcov is None and self.extra.get("_joint_vcov") is not None:
            return np.array(self.extra["_joint_vcov"], copy=True)
        return self.vcov()

    @property
    def pretrend(self) -> dict[str, Any] | None:
        """Joint Wald test of the leads (e < 0) = 0, when the estimator provides one:
        dict with ``f``, ``df1``, ``df2``, ``p_f``, ``chi2``, ``p_chi2``, ``event_time``."""
        return self.extra.get("pretrend")

    @property
    def att(self) -> float | None:
        """Overall ATT where the estimator gives one (CS, SA, BJS; did2s static)."""
        v = self.extra.get("att", self.extra.get("overall_att"))
        return None if v is None else float(v)

    @property
    def att_se(self) -> float | None:
        v = self.extra.get("att_se", self.extra.get("overall_se"))
        return None if v is None else float(v)

    def wild_bootstrap(
        self,
        event_time: int,
        r: float = 0.0,
        reps: int = 9999,
        weights: str = "rademacher",
        seed: int = 0,
        level: float | None = None,
        *,
        weight_type: str | None = None,
    ) -> Any:
        """Restricted wild cluster bootstrap (WCR) of one event-time coefficient = ``r``.
        TWFE: returns a dict (t_stat, p_value, conf_int, ...). Sun-Abraham and did2s: the
        estimator's own WCR (``event_time`` may then also be "average post", "att", a dict or
        a weight vector, see ``event_weights``), returning a ``WildBootResult``.
        ``weight_type`` is the estimators' own spelling of ``weights`` (it wins if given)."""
        if weight_type is not None:
            weights = weight_type
        core = self.extra.get("_core")
        delegate = self.extra.get("_wild_bootstrap")
        if (core is None or not hasattr(core, "wild_bootstrap")) and delegate is not None:
            # SA / did2s: the estimator's own WCR, returning a WildBootResult
            return delegate(
                event_time,
                r=r,
                reps=reps,
                weight_type=weights,
                seed=seed,
                level=self.level if level is None else level,
            )
        if core is None or not hasattr(core, "wild_bootstrap"):
            raise PilotdidError(
                f"wild_bootstrap: not available for estimator '{self.estimator}' "
                "(TWFE, Sun-Abraham and did2s only)"
            )
        e = check_int("event_time", event_time)
        r = check_float("r", r)
        # each replicate keeps one bootstrap t statistic
        reps = check_reps("reps", reps, bytes_per_rep=8)
        seed = check_seed(seed)
        lvl = check_level(self.level if level is None else level)
        out = core.wild_bootstrap(e, r, reps=reps, weights=weights, seed=seed, level=lvl)
        keys = ("t_stat", "p_value", "conf_int", "reps", "estimate", "fe_exact")
        return {k: getattr(out, k) for k in keys}

    def wild_bootstrap_band(
        self,
        *,
        reps: int = 999,
        seed: int = 0,
        weight_type: str = "rademacher",
        level: float | None = None,
    ) -> pl.DataFrame:
        """Uniform (sup-t) band across event times from the estimator's wild cluster
        bootstrap (Sun-Abraham and did2s). Each event time's bootstrap is run at r = its own
        estimate (+1e-6 SE: the null then imposes nothing, unrestricted residuals), with the same
        cluster weights for every event time (replicate b draws from stream (seed, b)), so
        the draws keep the estimates' joint dependence; the critical value is the ``level``
        quantile over b of max_e |t*_be| and the band estimate +/- crit * SE (the SE on which
        the bootstrap t is computed). Returns event_time, estimate, std_error, band_low,
        band_high, crit_val. Costs one bootstrap per event time (with its test-inversion
        interval, which the band does not use)."""
        delegate = self.extra.get("_wild_bootstrap")
        if delegate is None:
            raise PilotdidError(
                f"wild_bootstrap_band: not available for estimator '{self.estimator}' "
                "(Sun-Abraham and did2s only)"
            )
        lvl = check_level(self.level if level is None else level)
        t_boot, se = [], []
        for e, b, s in zip(self.event_time, self.estimate, self.std_error):
            # r a millionth of an SE from the estimate: the null imposes nothing (to 1e-6),
            # and the fit's t scale stays defined (the feols WCR rescales its t* by
            # t_fit / t_boot-scale, a 0/0 at r = estimate exactly)
            wb = delegate(
                int(e),
                r=float(b) + 1e-6 * float(s),
                reps=reps,
                weight_type=weight_type,
                seed=seed,
                level=lvl,
            )
            t_boot.append(np.asarray(wb.t_boot))
            se.append(float(s))
        sup = np.max(np.abs(np.vstack(t_boot)), axis=0)
        crit = float(np.quantile(sup, lvl, method="inverted_cdf"))
        est = np.asarray(self.estimate, dtype=float)
        se_arr = np.asarray(se)
        return pl.DataFrame(
            {
                "event_time": np.asarray(self.event_time, dtype=np.int64),
                "estimate": est,
                "std_error": se_arr,
                "band_low": est - crit * se_arr,
                "band_high": est + crit * se_arr,
                "crit_val": np.full(est.size, crit),
            }
        )

    def _summary_text(self, level: float) -> str:
        pct = f"{level * 100:g}"
        t = self._tidy(level)
        lines = [
            f"Event study: {display_name(self.estimator)}"
            + (f"  (N = {self.nobs})" if self.nobs else ""),
            f"{'e':>5} {'estimate':>11} {'std.err':>10} {'p':>8} {'[' + pct + '% conf.':>12}"
            f" {'int.]':>10}",
        ]
        for row in t.iter_rows(named=True):
            lines.append(
                f"{row['event_time']:>5} {row['estimate']:>11.5f} {row['std_error']:>10.5f}"
                f" {row['p_value']:>8.4f} {row['conf_low']:>12.5f} {row['conf_high']:>10.5f}"
            )
        if self.reference:
            lines.append(f"reference event time(s): {', '.join(str(r) for r in self.reference)}")
        if "vcov" in self.extra:
            lines.append(f"standard errors: {self.extra['vcov']}")
        elif "vcov_type" in self.extra:
            lines.append(f"standard errors: {self.extra['vcov_type']}")
        if self.df_t:
            lines.append(f"intervals: Student t with {self.df_t} df")
        rows = np.asarray(self.extra.get("df_rows", []), dtype=float)
        finite = rows[np.isfinite(rows)]
        if finite.size:
            lines.append(
                "intervals: Student t, Welch-Satterthwaite df per event time "
                f"({finite.min():.2f} to {finite.max():.2f})"
            )
        if self.att is not None and self.att_se is not None:
            lines.append(f"overall ATT: {self.att:.5f} (se {self.att_se:.5f})")
        pt = self.pretrend
        if pt and "f" in pt:
            lines.append(
                f"pre-trend test (leads = 0): F({pt['df1']}, {pt['df2']}) = {pt['f']:.4f},"
                f" p = {pt['p_f']:.4g}; chi2({pt['df1']}) = {pt['chi2']:.4f},"
                f" p = {pt['p_chi2']:.4g}"
            )
        elif pt:
            lines.append(
                f"pre-trend test ({pt.get('test', 'leads = 0')}): chi2({pt['df1']}) ="
                f" {pt['chi2']:.4f}, p = {pt['p_chi2']:.4g}"
            )
        else:
            lines.append("pre-trend test: not available for this estimator or window")
        drawn = (
            f"uniform band at {self.level * 100:g}%"
            if self.band == "uniform"
            else f"pointwise intervals at {self.level * 100:g}%"
        )
        lines.append(f"plot() draws: {drawn}")
        dropped = {k: v for k, v in self.dropped_rows.items() if v}
        lines.append(
            "dropped rows: "
            + (", ".join(f"{k} {v}" for k, v in dropped.items()) if dropped else "none")
        )
        if self.cohort_derived:
            lines.append(f"cohort derived from the 0/1 treatment for {self.cohort_derived} units")
        for note in self.extra.get("notes", []):
            lines.append(f"note: {note}")
        for caution in self.cautions:
            lines.append(f"warning: {caution}")
        return "\n".join(lines)

    def _caution_few_clusters(self, n_clusters: int | None, stacklevel: int = 3) -> None:
        """Warn (FewClustersWarning) and keep the caution when the pre-trend Wald test has
        few clusters for its number of restrictions (``few_clusters_note``)."""
        pt = self.pretrend
        if not pt:
            return
        note = few_clusters_note("pre-trend test", int(pt["df1"]), n_clusters)
        if note is not None:
            self.cautions.append(note)
            warnings.warn(note, FewClustersWarning, stacklevel=stacklevel + 1)

    def plot(self, ax=None, offset: float = 0.0, **kwargs):
        """Point estimates with intervals (uniform band if available), a zero line and a
        marker before treatment starts. Returns the matplotlib Axes."""
        return plot_event_studies([self], ax=ax, offsets=[offset], **kwargs)


def plot_event_studies(
    results: Sequence[EventStudyResult],
    *,
    ax=None,
    offsets: Sequence[float] | None = None,
    title: str | None = None,
    labels: Sequence[str] | None = None,
):
    """Overlay several event studies (e.g. TWFE, CS, SA, BJS) on one Axes.

    Estimators are shifted horizontally by ``offsets`` (default: evenly spread within ±0.15·(n−1))
    so intervals do not overlap; ``labels`` overrides the legend entries (default: each
    result's ``estimator``). Hollow points mark reference event times; the dashed line marks
    the start of treatment (between e = −1 and e = 0)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    n = len(results)
    if offsets is None:
        offsets = [0.0] if n == 1 else list(np.linspace(-0.15 * (n - 1), 0.15 * (n - 1), n))
    labels_ = list(labels) if labels is not None else None
    for i, (res, off) in enumerate(zip(results, offsets)):
        e = np.asarray(res.event_time, dtype=float) + off
        lo, hi = (
            (res.band_low, res.band_high)
            if res.band_low is not None and res.band_high is not None
            else (res.conf_low, res.conf_high)
        )
        err = np.vstack([res.estimate - lo, hi - res.estimate])
        ax.errorbar(
            e,
            res.estimate,
            yerr=err,
            fmt="o",
            capsize=3,
            label=labels_[i] if labels_ else display_name(res.estimator),
        )
        for r in res.reference:
            ax.plot([r + off], [0.0], marker="o", mfc="white", color="grey")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", ls="--", lw=0.8, label="_treatment starts")
    ax.set_xlabel("Periods since treatment")
    ax.set_ylabel("Effect estimate")
    if title:
        ax.set_title(title)
    if n > 1:
        ax.legend()
    return ax
