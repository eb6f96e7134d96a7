"""Result of the continuous-dose DID (``pilotdid.cont_did``): ``DoseResult``, the dose-response
curves ATT(d|d) and ACRT(d|d) with pointwise intervals and uniform bands, their averages
ATT^o and ACRT^o, the group-time cells, and event studies of the level or the slope."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_choice, check_int, check_level, check_window
from pilotdid._core import PilotdidError
from pilotdid.results._inference import coef_table as inference_columns
from pilotdid.results._inference import normal_pvalue
from pilotdid.results._protocol import ResultProtocol
from pilotdid.results.event_study import EventStudyResult

_KINDS = ("level", "slope")
_LABEL = {"level": "ATT(d|d)", "slope": "ACRT(d|d)"}


def _dose_term(prefix: str, d: float) -> str:
    return f"{prefix}(d={d:.6g})"


def _band(
    est: np.ndarray, se: np.ndarray, crit: float, df: np.ndarray, satterthwaite: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The uniform band est -+ crit * se; under df="satterthwaite" each point's half-width is
    the Student t quantile (its df) at the pointwise level the bootstrap's sup-t value has
    under the normal, 2 Phi(crit) - 1: the band keeps its multiplicity allowance and is never
    narrower than the t intervals at the fit's level."""
    if not satterthwaite or not np.isfinite(crit):
        return est - crit * se, est + crit * se
    pointwise = 1.0 - normal_pvalue(crit)
    _, _, lo, hi = inference_columns(est, se, pointwise, df)
    return lo, hi


class DoseResult(ResultProtocol):
    """Difference-in-differences with a continuous treatment (Callaway, Goodman-Bacon &
    Sant'Anna 2024).

    ``tidy()`` rows: ``ATT^o`` and ``ACRT^o`` (the averages over the treated units), then
    ``ATT(d=...)`` and ``ACRT(d=...)`` for every dose of the grid; the protocol's columns
    (statistic, p-value and pointwise interval: normal, or Student t with the row's ``df`` under
    ``df="satterthwaite"``), then ``dose`` (NaN for the averages), ``df`` (inf: normal) and,
    with the bootstrap at the fit's level, ``band_low``/``band_high``, the uniform band over the
    grid (NaN otherwise). ``curve("level" | "slope")`` gives one curve as a frame, ``plot()``
    draws it, ``event_study("level" | "slope")`` the event-time aggregation as an
    ``EventStudyResult``, ``cells`` the group-time cells. ``nobs`` counts units.
    """

    result_name = "continuous-dose DID (Callaway, Goodman-Bacon & Sant'Anna 2024)"

    def __init__(
        self, core: Any, params: dict[str, Any], dropped_rows: dict[str, int] | None = None
    ) -> None:
        self._core = core
        self.params = params
        #: rows / units not used, by reason: "missing" rows (outcome or dose), units treated
        #: in the first period ("already_treated_units"), units missing a period
        #: ("unbalanced_units")
        self.dropped_rows: dict[str, int] = dict(dropped_rows or {})
        self.notes: list[str] = list(core.notes)
        self.dvals = np.asarray(core.dvals, dtype=float)
        self.knots = np.asarray(core.knots, dtype=float)
        self._att = core.att_d
        self._acrt = core.acrt_d
        o = core.overall
        self.overall_att, self.overall_att_se = float(o[0]), float(o[1])
        self.overall_acrt, self.overall_acrt_se = float(o[2]), float(o[3])
        #: degrees of freedom of the ATT^o and ACRT^o intervals (inf: normal)
        self.overall_att_df, self.overall_acrt_df = (float(v) for v in core.overall_df)

    # --- accessors ------------------------------------------------------------------------
    @property
    def _satterthwaite(self) -> bool:
        return self.params.get("df") == "satterthwaite"

    @property
    def level(self) -> float:
        return float(self.params["level"])

    @property
    def nobs(self) -> int:
        """Units in the estimation sample (the n of the influence functions)."""
        return int(self._core.n_units)

    @property
    def n_treated_units(self) -> int:
        return int(self._core.n_treated_units)

    @property
    def periods(self) -> list[int]:
        return list(self._core.periods)

    def _series(self, kind: str) -> Any:
        kind = check_choice("kind", kind, _KINDS)
        return self._att if kind == "level" else self._acrt

    def estimate(self, kind: str = "level") -> np.ndarray:
        """ATT(d|d) ("level") or ACRT(d|d) ("slope") on the grid ``dvals``."""
        return np.asarray(self._series(kind).est, dtype=float)

    def std_error(self, kind: str = "level") -> np.ndarray:
        return np.asarray(self._series(kind).se, dtype=float)

    def df(self, kind: str = "level") -> np.ndarray:
        """Degrees of freedom of the curve's pointwise intervals (inf: normal; see
        ``cont_did(df=...)``)."""
        return np.asarray(self._series(kind).df, dtype=float)

    def crit_val(self, kind: str = "level") -> float:
        """Critical value of the uniform band over the grid (pointwise z without bootstrap)."""
        return float(self._series(kind).crit)

    def influence(self, kind: str = "level") -> np.ndarray:
        """Influence functions of the curve, n_units x grid (estimate - truth ~ sum / n)."""
        return np.asarray(self._series(kind).influence, dtype=float)

    @property
    def overall_influence(self) -> np.ndarray:
        """Influence functions of (ATT^o, ACRT^o), n_units x 2."""
        return np.asarray(self._core.overall_influence, dtype=float)

    @property
    def cells(self) -> pl.DataFrame:
        """The group-time cells: group, time, base_time, event, status ("estimated",
        "no_curve": binary ATT only, "reference", "skipped"), reason, att (binary ATT(g,t)),
        acrt (the cell's average ACRT), n_treated, n_control."""
        return pl.DataFrame(self._core.cells)

    # --- curves ---------------------------------------------------------------------------
    def curve(self, kind: str = "level", level: float | None = None) -> pl.DataFrame:
        """One dose-response curve: dose, estimate, std_error, conf_low/conf_high (pointwise;
        Student t with ``df`` under ``df="satterthwaite"``), df and band_low/band_high (uniform
        over the grid; at the fit's level with the bootstrap, else NaN)."""
        lv = self.level if level is None else check_level(level)
        est = self.estimate(kind)
        se = self.std_error(kind)
        df = self.df(kind)
        _, _, lo, hi = inference_columns(est, se, lv, df)
        uniform = self.params["bstrap"] and abs(lv - self.level) < 1e-12
        c = self.crit_val(kind) if uniform else np.nan
        band_low, band_high = _band(est, se, c, df, self._satterthwaite)
        return pl.DataFrame(
            {
                "dose": self.dvals,
                "estimate": est,
                "std_error": se,
                "conf_low": lo,
                "conf_high": hi,
                "df": df,
                "band_low": band_low,
                "band_high": band_high,
            }
        )

    def _tidy(self, level: float) -> pl.DataFrame:
        rows = []
        for name, est, se, df in (
            ("ATT^o", self.overall_att, self.overall_att_se, self.overall_att_df),
            ("ACRT^o", self.overall_acrt, self.overall_acrt_se, self.overall_acrt_df),
        ):
            rows.append((name, est, se, np.nan, np.nan, np.nan, df))
        for kind, prefix in (("level", "ATT"), ("slope", "ACRT")):
            cv = self.curve(kind, level)
            for r in cv.iter_rows(named=True):
                rows.append(
                    (
                        _dose_term(prefix, r["dose"]),
                        r["estimate"],
                        r["std_error"],
                        r["dose"],
                        r["band_low"],
                        r["band_high"],
                        r["df"],
                    )
                )
        est = np.array([r[1] for r in rows], dtype=float)
        se = np.array([r[2] for r in rows], dtype=float)
        df = np.array([r[6] for r in rows], dtype=float)
        stat, p, lo, hi = inference_columns(est, se, level, df)
        return pl.DataFrame(
            {
                "term": [r[0] for r in rows],
                "estimate": est,
                "std_error": se,
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
                "dose": np.array([r[3] for r in rows], dtype=float),
                "df": df,
                "band_low": np.array([r[4] for r in rows], dtype=float),
                "band_high": np.array([r[5] for r in rows], dtype=float),
            }
        )

    def vcov(self) -> np.ndarray:
        """Covariance of the ``tidy()`` terms from the influence functions (Psi'Psi / n^2,
        unit clusters), with the diagonal set to the reported squared standard errors."""
        psi = np.column_stack(
            [self.overall_influence, self.influence("level"), self.influence("slope")]
        )
        n = float(psi.shape[0])
        v = psi.T @ psi / n**2
        se = self._tidy(0.95)["std_error"].to_numpy()
        np.fill_diagonal(v, se**2)
        return v

    # --- event studies ----------------------------------------------------------------------
    def event_study(
        self,
        kind: str = "level",
        *,
        window: tuple[int, int] | None = None,
        balance_e: int | None = None,
    ) -> EventStudyResult:
        """Event-study aggregation: the binary ATT(g,t) ("level") or the cells' average ACRT
        ("slope") averaged over cohorts at each event time with cohort-share weights (and the
        weights' influence-function term); ``extra["overall_att"]`` averages the event times
        >= 0. ``window=(lo, hi)`` keeps event times lo..hi; ``balance_e`` keeps only cohorts
        observed through that event time (R did / moderndid's balance_e)."""
        kind = check_choice("kind", kind, _KINDS)
        if window is None and balance_e is None:
            es = self._core.es_level if kind == "level" else self._core.es_slope
        else:
            lo, hi = (-np.inf, np.inf) if window is None else check_window(window)
            be = None if balance_e is None else check_int("balance_e", balance_e, lo=0)
            es = self._core.event_study(kind, min_e=float(lo), max_e=float(hi), balance_e=be)
        if es is None:
            raise PilotdidError(
                "event_study('slope'): no cell's doses identify the spline; see result.cells"
            )
        s = es.series
        e = np.asarray(es.event, dtype=np.int64)
        a = np.asarray(s.est, dtype=float)
        se = np.asarray(s.se, dtype=float)
        df = np.asarray(s.df, dtype=float)
        _, _, lo, hi = inference_columns(a, se, self.level, df)
        bstrap = self.params["bstrap"]
        band = _band(a, se, float(s.crit), df, self._satterthwaite)
        psi = np.asarray(s.influence, dtype=float)
        vc = psi.T @ psi / float(psi.shape[0]) ** 2
        out = EventStudyResult(
            estimator="cont_did",
            event_time=e,
            estimate=a,
            std_error=se,
            conf_low=lo,
            conf_high=hi,
            level=self.level,
            band_low=band[0] if bstrap else None,
            band_high=band[1] if bstrap else None,
            vcov=None if bstrap else vc,
            nobs=self.nobs,
            extra={
                "kind": kind,
                "overall_att": float(es.overall),
                "overall_se": float(es.overall_se),
                "overall_df": float(es.overall_df),
                "df_rows": df,
                "notes": list(self.notes),
            },
            dropped_rows=self.dropped_rows,
        )
        return out

    # --- display ----------------------------------------------------------------------------
    def _summary_text(self, level: float) -> str:
        p = self.params
        satterthwaite = self._satterthwaite
        pct = f"{level * 100:g}"
        se_kind = (
            f"multiplier bootstrap ({p['reps']} draws, seed {p['seed']})"
            if p["bstrap"]
            else "analytic (influence function)"
        )
        periods = self.periods
        lines = [
            "Continuous-dose DID (Callaway, Goodman-Bacon & Sant'Anna 2024)",
            f"Outcome: {p['y']}   dose: {p['dose']}   units: {self.nobs} "
            f"({self.n_treated_units} treated)   periods: {periods[0]}-{periods[-1]} "
            f"({len(periods)})",
            f"B-spline degree {p['degree']}, {p['num_knots']} interior knots; control group: "
            f"{p['control_group']}; base period: {p['base_period']}",
            f"Standard errors: {se_kind}, clustered by {p['cluster'] or p['unit']}"
            + (f"; small_sample={p['small_sample']}" if p["small_sample"] != "none" else ""),
            "",
            f"{'':10}{'estimate':>11}{'std.err':>11}   [{pct}% CI]"
            + ("        df" if satterthwaite else ""),
        ]
        overall = self._tidy(level).head(2)
        for r in overall.iter_rows(named=True):
            lines.append(
                f"{r['term']:10}{r['estimate']:11.4f}{r['std_error']:11.4f}   "
                f"[{r['conf_low']:.4f}, {r['conf_high']:.4f}]"
                + (f"{r['df']:10.2f}" if satterthwaite else "")
            )
        if satterthwaite:
            lines.append(
                "Intervals: Student t, Welch-Satterthwaite degrees of freedom (df='satterthwaite')"
            )
        d = self.dvals
        if d.size:
            pick = np.unique(np.linspace(0, d.size - 1, min(5, d.size)).round().astype(int))
            band = "uniform band" if p["bstrap"] and abs(level - self.level) < 1e-12 else ""
            lines += [
                "",
                f"Dose-response at {len(pick)} of {d.size} grid doses"
                + (f" (intervals pointwise; {band} in tidy()/plot())" if band else ""),
                f"{'dose':>10}{'ATT(d|d)':>11}{'std.err':>11}{'ACRT(d|d)':>11}{'std.err':>11}",
            ]
            att, ase = self.estimate("level"), self.std_error("level")
            acr, cse = self.estimate("slope"), self.std_error("slope")
            for k in pick:
                lines.append(
                    f"{d[k]:10.4g}{att[k]:11.4f}{ase[k]:11.4f}{acr[k]:11.4f}{cse[k]:11.4f}"
                )
        drops = {k: v for k, v in self.dropped_rows.items() if v}
        if drops:
            lines.append("Dropped: " + ", ".join(f"{k} {v}" for k, v in drops.items()))
        lines += [f"Note: {n}" for n in self.notes]
        lines.append(
            "ACRT(d|d) is a causal response only under strong parallel trends (CGBS 2024)."
        )
        return "\n".join(lines)

    def plot(
        self,
        kind: str = "level",
        *,
        ax: Any = None,
        level: float | None = None,
        title: str | None = None,
    ) -> Any:
        """Draw ATT(d|d) ("level") or ACRT(d|d) ("slope") against the dose: the estimate, the
        pointwise interval (darker) and, with the bootstrap, the uniform band over the grid
        (lighter); a zero line and the overall average as a dotted line.
        Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        kind = check_choice("kind", kind, _KINDS)
        lv = self.level if level is None else check_level(level)
        cv = self.curve(kind, lv)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
        d = cv["dose"].to_numpy()
        pct = f"{lv * 100:g}"
        if np.isfinite(cv["band_low"].to_numpy()).any():
            ax.fill_between(
                d,
                cv["band_low"].to_numpy(),
                cv["band_high"].to_numpy(),
                color="C0",
                alpha=0.15,
                lw=0,
                label=f"{pct}% uniform band",
            )
        ax.fill_between(
            d,
            cv["conf_low"].to_numpy(),
            cv["conf_high"].to_numpy(),
            color="C0",
            alpha=0.3,
            lw=0,
            label=f"{pct}% pointwise CI",
        )
        ax.plot(d, cv["estimate"].to_numpy(), color="C0", lw=2, label=_LABEL[kind])
        overall = self.overall_att if kind == "level" else self.overall_acrt
        ax.axhline(
            overall,
            color="C1",
            ls=":",
            lw=1.2,
            label=("ATT$^o$" if kind == "level" else "ACRT$^o$") + f" = {overall:.3g}",
        )
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xlabel(f"Dose ({self.params['dose']})")
        ax.set_ylabel(
            f"{_LABEL[kind]} on {self.params['y']}"
            if kind == "level"
            else f"{_LABEL[kind]}: d {self.params['y']} / d dose"
        )
        if title:
            ax.set_title(title)
        ax.legend(fontsize="small", frameon=False)
        return ax
