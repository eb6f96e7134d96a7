"""Result of :func:`pilotdid.exposure_did` (Butts 2023): direct and spillover effects with
exposure-clean comparisons, each a set of ATT(g,t) with the CS aggregations."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_choice, check_level
from pilotdid.results._inference import coef_table as inference_columns
from pilotdid.results._protocol import ResultProtocol
from pilotdid.results.event_study import EventStudyResult
from pilotdid.results.staggered import AggteResult, AttGtResult

_TYPES = ("simple", "dynamic", "group", "calendar")


class SmallGroupsWarning(UserWarning):
    """An exposure DID whose exposure-clean comparison group (or a treated / exposed group)
    has few units: its influence-function standard errors, clustered by unit, rest on those
    few units' changes and are unreliable (a design problem, not a numerical one)."""


#: Below these counts of units per post-period cell the fit warns (rules of thumb: the
#: cluster-robust variance of a mean of changes needs tens of clusters on each side).
MIN_COMPARISON_UNITS = 10
MIN_GROUP_UNITS = 5


def small_groups_note(cells: dict[str, tuple[int, int, int]]) -> str | None:
    """The warning text from {effect: (post cells, min treated units, min comparison units)};
    None when every effect has enough units on both sides."""
    parts = []
    for kind, (n_cells, n_tr, n_co) in cells.items():
        bits = []
        if n_co < MIN_COMPARISON_UNITS:
            bits.append(f"{n_co} exposure-clean comparison units")
        if n_tr < MIN_GROUP_UNITS:
            bits.append(f"{n_tr} units in a group")
        if bits:
            parts.append(f"{kind}: as few as {' and '.join(bits)} ({n_cells} post cells)")
    if not parts:
        return None
    return (
        "exposure DID with small groups: "
        + "; ".join(parts)
        + f". Influence-function SEs need more units (rules of thumb: >= {MIN_COMPARISON_UNITS} "
        f"comparison units, >= {MIN_GROUP_UNITS} per group); the unexposed comparison units are "
        "those beyond the outer ring that are not treated: fewer or narrower rings, "
        "control_group='notyet', or a larger sample of units give more."
    )


#: Labels of the exposure plots by language (also used by ``exposure_figure``).
PLOT_WORDS = {
    "en": {
        "direct_label": "direct (treated units)",
        "ring_label": "spillover (untreated units, by ring)",
        "spill_label": "spillover (exposed untreated units)",
        "distance": "distance to nearest treated unit (km; ring midpoints)",
        "direct": "direct",
        "spillover": "spillover",
        "ylabel": "effect on {y} ({level}% CI)",
        "title": "Direct and spillover effects (Butts 2023)",
    },
    "zh": {
        "direct_label": "直接效应（处理单位）",
        "ring_label": "溢出效应（未处理单位，按距离环）",
        "spill_label": "溢出效应（受暴露的未处理单位）",
        "distance": "到最近处理单位的距离（公里，距离环中点）",
        "direct": "直接效应",
        "spillover": "溢出效应",
        "ylabel": "对 {y} 的效应（{level}% 置信区间）",
        "title": "直接效应与溢出效应（Butts 2023）",
    },
}


class ExposureDidResult(ResultProtocol):
    """Direct and spillover effects (Butts 2023, arXiv 2105.03737).

    ``tidy()`` has one row per effect: "direct", "spillover" (any exposure) and, with rings,
    "spillover[a,b)" per ring, each the simple aggregate of its ATT(g,t) (R ``did``'s
    ``aggte(type="simple")``, with the weight influence function). ``att_gt(kind)`` gives the
    cells as an :class:`AttGtResult`, ``aggte(kind, type=...)`` any aggregation,
    ``to_event_study(kind)`` the dynamic one. ``nobs`` counts units.
    """

    result_name = "exposure DID: direct and spillover effects (Butts 2023)"

    def __init__(
        self,
        fits: dict[str, AttGtResult],
        params: dict[str, Any],
        grid: dict[str, Any],
        ring_names: list[str],
        data: pl.DataFrame,
        aggregate: Any,
    ) -> None:
        self._fits = fits
        # pilotdid.aggte, handed in by the family (results sit below the families)
        self._aggregate = aggregate
        self.params = params
        #: the balanced grid: units, periods, cohort, exposure (n x T), exposure_cohort/ring
        self.grid = grid
        self.ring_names = list(ring_names)
        self._data = data
        self._simple: dict[str, AggteResult] = {}
        self.dropped_rows: dict[str, int] = {}
        self.cautions: list[str] = []

    @property
    def kinds(self) -> list[str]:
        """Estimated effects, in tidy order."""
        return list(self._fits)

    @property
    def level(self) -> float:
        return float(self.params["level"])

    @property
    def nobs(self) -> int:
        return len(self.grid["units"])

    def _kind(self, kind: str) -> str:
        return check_choice("kind", kind, tuple(self._fits))

    def att_gt(self, kind: str = "direct") -> AttGtResult:
        """The ATT(g,t) cells of one effect (groups: treatment cohorts for "direct", first
        exposure periods for the spillovers)."""
        return self._fits[self._kind(kind)]

    def aggte(self, kind: str = "direct", *, type: str = "simple", **options: Any) -> AggteResult:  # noqa: A002
        """Aggregate one effect with :func:`pilotdid.aggte` ("simple", "dynamic", "group",
        "calendar"; options as there)."""
        type = check_choice("type", type, _TYPES)  # noqa: A001
        return self._aggregate(self.att_gt(kind), type=type, **options)

    def _overall(self, kind: str) -> AggteResult:
        if kind not in self._simple:
            self._simple[kind] = self.aggte(kind, type="simple")
        return self._simple[kind]

    def to_event_study(self, kind: str = "direct", **options: Any) -> EventStudyResult:
        """Event study of one effect ("direct" or a spillover): event time relative to the
        treatment (direct) or to the first exposure (spillover)."""
        return self.aggte(kind, type="dynamic", **options).to_event_study()

    def _tidy(self, level: float) -> pl.DataFrame:
        est, se, ng = [], [], []
        for k in self._fits:
            a = self._overall(k)
            est.append(a.overall_att)
            se.append(a.overall_se)
            ng.append(len(self._fits[k].groups))
        e, s = np.array(est), np.array(se)
        stat, p, lo, hi = inference_columns(e, s, level, None)
        return pl.DataFrame(
            {
                "term": self.kinds,
                "estimate": e,
                "std_error": s,
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
                "n_groups": np.array(ng, dtype=np.int64),
            }
        )

    def rings(self, level: float | None = None) -> pl.DataFrame:
        """Spillover by distance ring: lower/upper cutoff (km), estimate, interval."""
        lv = self.level if level is None else check_level(level)
        t = self.tidy(lv).filter(pl.col("term").str.starts_with("spillover["))
        cut = self.params["rings_km"] or []
        bounds = {n: (cut[k], cut[k + 1]) for k, n in enumerate(self.ring_names)}
        lo_hi = [bounds[x] for x in t["term"]]
        return t.with_columns(
            pl.Series("ring_low_km", [float(a) for a, _ in lo_hi]),
            pl.Series("ring_high_km", [float(b) for _, b in lo_hi]),
        )

    def twfe_rings(self) -> Any:
        """TWFE "rings" regression for comparison: y on the treated dummy and one dummy per
        ring of exposure (untreated units only) with unit and period fixed effects, SEs
        clustered by unit (:func:`pilotdid.feols`). Biased under heterogeneous staggered
        effects; shown for comparison with the exposure-clean estimates."""
        from pilotdid.regression import feols

        g = self.grid
        n, T = g["exposure"].shape
        coh = g["cohort"]
        per = g["periods"]
        treated = ((coh[:, None] != 0) & (coh[:, None] <= per[None, :])).astype(float)
        cols: dict[str, Any] = {
            "unit_": np.repeat(np.arange(n), T),
            "time_": np.tile(per, n),
            "treated_": treated.ravel(),
        }
        names = []
        expo = g["exposure"]
        labels = self.ring_names or ["exposed"]
        for k, _ in enumerate(labels, start=1):
            nm = f"ring{k}_"
            cols[nm] = ((expo == k) & (treated == 0)).astype(float).ravel()
            if cols[nm].any():
                names.append(nm)
        ymat = np.full((n, T), np.nan)  # every cell is filled: the panel is balanced
        d = self._data
        # the grid's units are the id codes of exposure_did's frame (pilotdid._frame.ids) as
        # sorted strings: encode the stored frame the same way and look each row's code up
        from pilotdid._frame import ids

        codes = ids(d, self.params["unit"])[0].astype(str)
        ui = np.searchsorted(g["units"], codes)
        ti = np.searchsorted(per, d[self.params["time"]].to_numpy().astype(np.int64))
        ymat[ui, ti] = d[self.params["y"]].to_numpy()
        cols["y_"] = ymat.ravel()
        fml = "y_ ~ " + " + ".join(["treated_", *names]) + " | unit_ + time_"
        return feols(fml, pl.DataFrame(cols), vcov={"CRV1": "unit_"})

    def _summary_text(self, level: float) -> str:
        p = self.params
        t = self.tidy(level)
        pct = f"{level * 100:g}"
        mapping = f"rings {p['rings_km']} km" if p["rings_km"] else "W (treated neighbours)"
        lines = [
            self.result_name,
            f"outcome {p['y']}, {self.nobs} units, {len(self.grid['periods'])} periods; "
            f"exposure: {mapping}; comparison: {p['control_group']}-treated and unexposed",
            f"{'term':<24}{'estimate':>12}{'std.err':>12}   {pct}% CI",
        ]
        for r in t.iter_rows(named=True):
            lines.append(
                f"{r['term']:<24}{r['estimate']:>12.4f}{r['std_error']:>12.4f}   "
                f"[{r['conf_low']:.4f}, {r['conf_high']:.4f}]"
            )
        lines.append("SEs: influence functions clustered by unit (Butts 2023; CS aggregation)")
        return "\n".join(lines)

    def plot(
        self,
        *,
        ax: Any = None,
        level: float | None = None,
        title: str | None = None,
        lang: str = "en",
    ) -> Any:
        """Effects by distance ring: the spillover per ring (points with intervals at the ring
        midpoints) and the direct effect at distance 0. ``lang="zh"`` labels in Chinese (the
        caller sets the CJK font; :func:`pilotdid.figures.exposure_figure` does). Returns the
        matplotlib Axes."""
        import matplotlib.pyplot as plt

        lv = self.level if level is None else check_level(level)
        lang = check_choice("lang", lang, tuple(PLOT_WORDS))
        w = PLOT_WORDS[lang]
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
        t = self.tidy(lv)
        direct = t.filter(pl.col("term") == "direct").row(0, named=True)
        ax.errorbar(
            [0.0],
            [direct["estimate"]],
            yerr=[
                [direct["estimate"] - direct["conf_low"]],
                [direct["conf_high"] - direct["estimate"]],
            ],
            fmt="s",
            color="C3",
            capsize=4,
            label=w["direct_label"],
        )
        if self.ring_names:
            r = self.rings(lv)
            mid = 0.5 * (r["ring_low_km"].to_numpy() + r["ring_high_km"].to_numpy())
            e = r["estimate"].to_numpy()
            ax.errorbar(
                mid,
                e,
                yerr=[e - r["conf_low"].to_numpy(), r["conf_high"].to_numpy() - e],
                fmt="o-",
                color="C0",
                capsize=4,
                label=w["ring_label"],
            )
            ax.set_xlabel(w["distance"])
        else:
            s = t.filter(pl.col("term") == "spillover")
            if s.height:
                row = s.row(0, named=True)
                ax.errorbar(
                    [1.0],
                    [row["estimate"]],
                    yerr=[
                        [row["estimate"] - row["conf_low"]],
                        [row["conf_high"] - row["estimate"]],
                    ],
                    fmt="o",
                    color="C0",
                    capsize=4,
                    label=w["spill_label"],
                )
            ax.set_xticks([0.0, 1.0], [w["direct"], w["spillover"]])
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_ylabel(w["ylabel"].format(y=self.params["y"], level=f"{lv * 100:g}"))
        ax.set_title(title or w["title"])
        ax.legend(frameon=False)
        return ax
