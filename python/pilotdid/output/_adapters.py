"""Result objects to uniform table columns, read through the result protocol only
(``tidy()``, ``nobs`` and documented fit statistics); one small adapter per result class."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import polars as pl

from pilotdid._core import PilotdidError
from pilotdid.output._text import _words
from pilotdid.output.numbers import rand_pvalue


@dataclass
class _Coef:
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    conf_low: float
    conf_high: float
    bracket: str | None = None  # text shown instead of the stat (placebo p-value)


@dataclass
class _Column:
    """One table column: coefficient rows (term -> _Coef, in model order), statistic rows
    (key -> value; floats are formatted with ``digits``), fixed effects (names, possibly
    ``a^b``), and a default title."""

    title: str
    coefs: dict[str, _Coef]
    stats: dict[str, Any] = field(default_factory=dict)
    fe: list[str] = field(default_factory=list)
    level: float = 0.95
    placebo: bool = False
    #: the outcome column (None: the result does not name it; ``etable(y=...)`` does)
    depvar: str | None = None
    #: how the standard errors were computed, as the result says it ("CR1 by city", "HC1",
    #: "multiplier bootstrap (999 draws), clustered by city"); None when it does not say
    vcov: str | None = None
    #: number of clusters ("41", or "41 × 16" for two-way clustering)
    n_clusters: str | None = None
    #: sentences the table's notes must carry for this column (said once however many
    #: columns share them): what a robust-CI row means, for instance
    notes: list[str] = field(default_factory=list)


def _coef_of_row(r: dict) -> _Coef:
    """A tidy-frame row (estimate, std_error, statistic, p_value, conf_low, conf_high)."""
    keys = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")
    return _Coef(*(float(r[k]) for k in keys))


def _from_tidy(t: pl.DataFrame, names: Sequence[str] | None = None) -> dict[str, _Coef]:
    terms = names if names is not None else t["term"].to_list()
    return {str(term): _coef_of_row(r) for term, r in zip(terms, t.iter_rows(named=True))}


def _follows_protocol(res: Any) -> bool:
    from pilotdid.results._protocol import ResultProtocol

    return isinstance(res, ResultProtocol)


def _own_level(res: Any) -> float:
    """The level a result's stored intervals were computed at (tables show those)."""
    level = getattr(res, "level", None)
    if isinstance(level, (int, float)) and 0 < level < 1:
        return float(level)
    alp = getattr(res, "alp", None)
    if isinstance(alp, (int, float)) and 0 < alp < 1:
        return 1.0 - float(alp)
    return 0.95


_INT_AT_END = re.compile(r"(-?\d+)\s*$")


def _event_times(res: Any, t: pl.DataFrame) -> list[int] | None:
    """Event times of an event study's tidy rows: its ``event_time`` column, else the result's
    ``event_time`` attribute (rows in that order), else the integer ending each term
    (``e=-2``, ``rel::-2``, ``-2``). None when they cannot be read."""
    if "event_time" in t.columns:
        return [int(e) for e in t["event_time"].to_list()]
    et = getattr(res, "event_time", None)
    if et is not None and len(et) == t.height:
        return [int(e) for e in et]
    out = []
    for term in t["term"].to_list():
        m = _INT_AT_END.search(str(term))
        if m is None:
            return None
        out.append(int(m.group(1)))
    return out


def _vcov_label(label: str, lang: str) -> str:
    if lang != "zh":
        return label
    low = label.lower()
    if low.startswith("cr") or "cluster" in low:
        return "聚类稳健"
    if low.startswith("hc") or "hetero" in low:
        return "异方差稳健"
    if low == "iid":
        return "普通"
    return label


def _clusters_text(n: Any) -> str | None:
    if not n:
        return None
    return " × ".join(str(int(k)) for k in (n if isinstance(n, (list, tuple)) else [n]))


def _adapt_feols(res: Any, lang: str) -> list[_Column]:
    stats: dict[str, Any] = {"nobs": res.nobs, "r2": res.r2}
    if res.r2_within is not None:
        stats["r2_within"] = res.r2_within
    clusters = _clusters_text(res.n_clusters)
    if clusters:
        stats["clusters"] = clusters
    stats["vcov"] = _vcov_label(res.vcov_type, lang)
    col = _Column(res.depvar, _from_tidy(res.tidy(0.95)), stats, list(res.fixef))
    col.depvar, col.vcov, col.n_clusters = res.depvar, res.vcov_type, clusters
    return [col]


def _event_term(e: int) -> str:
    return f"e={int(e)}"


def _event_coefs(res: Any) -> dict[str, _Coef]:
    """Event-time rows ``e=k`` of an event study, from its own tidy() at its own level."""
    t = res.tidy(_own_level(res))
    times = _event_times(res, t)
    names = [_event_term(e) for e in times] if times is not None else None
    return _from_tidy(t, names)


def _adapt_event_study(res: Any, lang: str) -> list[_Column]:
    from pilotdid.results.event_study import display_name

    coefs = _event_coefs(res)
    stats: dict[str, Any] = {"estimator": display_name(res.estimator)}
    if res.nobs:
        # Callaway-Sant'Anna counts units (the n of its influence functions), not rows
        stats["units" if res.estimator == "cs" else "nobs"] = int(res.nobs)
    if "r2" in res.extra and res.extra["r2"] is not None:
        stats["r2"] = float(res.extra["r2"])
    clusters = _clusters_text(res.extra.get("n_clusters"))
    if clusters:
        stats["clusters"] = clusters
    if res.reference:
        stats["reference"] = ", ".join(str(int(r)) for r in res.reference)
    col = _Column(display_name(res.estimator), coefs, stats, [], level=_own_level(res))
    # "vcov" (TWFE, BJS, did2s, CS) or "vcov_type" (Sun-Abraham via to_event_study)
    vcov = res.extra.get("vcov") or res.extra.get("vcov_type")
    col.vcov = str(vcov) if isinstance(vcov, str) else None
    col.n_clusters = clusters
    return [col]


def _adapt_sunab(res: Any, lang: str) -> list[_Column]:
    coefs = _event_coefs(res)
    stats: dict[str, Any] = {"estimator": "Sun-Abraham", "nobs": res.nobs}
    clusters = _clusters_text(res.n_clusters)
    if clusters:
        stats["clusters"] = clusters
    stats["vcov"] = _vcov_label(res.vcov_type, lang)
    if res.reference:
        stats["reference"] = ", ".join(str(int(r)) for r in res.reference)
    col = _Column("Sun-Abraham", coefs, stats, [], level=_own_level(res))
    col.vcov, col.n_clusters = res.vcov_type, clusters
    return [col]


_OVERALL_TERMS = ("att", "overall", "overall att", "average", "simple")


def _aggte_coefs(res: Any) -> dict[str, _Coef]:
    """An AggteResult's rows from its own tidy(): the overall ATT as ``ATT``; event times as
    ``e=k`` (dynamic), groups as ``g=k``, periods as ``t=k`` (read from the integer ending
    the term); other terms keep their names."""
    t = res.tidy(_own_level(res))
    if getattr(res, "type", "simple") != "simple" and hasattr(res, "overall"):
        top = res.overall(_own_level(res))
        t = pl.concat([top, t.select(top.columns)])
    prefix = {"dynamic": "e", "group": "g", "calendar": "t"}.get(getattr(res, "type", ""), "")
    # the reference period of a universal base (estimate 0 by construction, no standard
    # error) is not an estimate: left out, as fixest's etable leaves out the omitted period
    ref = (t["estimate"] == 0.0) & ~t["std_error"].is_finite().fill_null(False)
    t = t.filter(~ref)
    names = []
    for term in t["term"].to_list():
        text = str(term)
        m = _INT_AT_END.search(text)
        if text.strip().lower() in _OVERALL_TERMS:
            names.append("ATT")
        elif prefix and m is not None:
            names.append(f"{prefix}={int(m.group(1))}")
        else:
            names.append(text)
    return _from_tidy(t, names)


def _adapt_aggte(res: Any, lang: str) -> list[_Column]:
    from pilotdid.results.event_study import display_name

    coefs = _aggte_coefs(res)
    # an aggregation of another family's ATT(g,t) (triple differences) names its estimator
    name = display_name(getattr(res, "estimator", None) or "cs")
    stats = {"estimator": name, "units": res.n_units}
    return [_Column(name, coefs, stats, [], level=_own_level(res))]


def _adapt_placebo(res: Any, lang: str) -> list[_Column]:
    row = res.tidy(0.95).row(0, named=True)
    term, actual, p = str(row["term"]), float(row["estimate"]), float(row["p_value"])
    finite = np.asarray(res.estimates)[np.isfinite(res.estimates)]
    nan = float("nan")
    reps = int(finite.size)
    # the bracket shows the randomization p-value as computed, with the decimals its
    # resolution 1/(R + 1) needs; R itself is in the "Placebo p-value" row and the note
    coefs = {
        term: _Coef(actual, nan, nan, p, nan, nan, bracket=rand_pvalue(p, reps, 3, with_reps=False))
    }
    stats = {"placebo_p": p, "placebo_reps": reps}
    return [_Column("Placebo", coefs, stats, [], placebo=True)]


def _adapt_psm(res: Any, lang: str) -> list[_Column]:
    if res.did is None:
        raise PilotdidError("etable: this PsmDidResult has no DID regression (formula=None)")
    col = _adapt_feols(res.did, lang)[0]
    col.stats["matching"] = res.method
    col.title = "PSM-DID"
    return [col]


def _adapt_mediation(res: Any, lang: str) -> list[_Column]:
    # the step is the column title (equal neighbours share one header); the
    # dependent-variable row above names the outcome or mediator of each column
    w = _words(lang)
    cols = []
    total = _adapt_feols(res.total_fit, lang)[0]
    total.title = w["step1"]
    cols.append(total)
    for m in res.mediators:
        a = _adapt_feols(res.a_fits[m], lang)[0]
        a.title = w["step2"]
        cols.append(a)
    seen: set[int] = set()
    for m in res.mediators:
        fit = res.b_fits[m]
        if id(fit) in seen:
            continue
        seen.add(id(fit))
        b = _adapt_feols(fit, lang)[0]
        b.title = w["step3"]
        cols.append(b)
    return cols


def _adapt_fits(fits: Mapping[str, Any], lang: str) -> list[_Column]:
    cols = []
    for name, fit in fits.items():
        for c in _adapt(fit, lang):
            c.title = str(name)
            cols.append(c)
    return cols


def _adapt_mechanism(res: Any, lang: str) -> list[_Column]:
    from pilotdid.results import FeolsResult

    step = _words(lang)["step2"]
    if all(isinstance(f, FeolsResult) for f in res.fits.values()):
        cols = _adapt_fits(res.fits, lang)
    else:
        # robust estimators (CS/SA/BJS/did2s): one column per mediator, the treatment's ATT
        # on it (tidy() names the mediator in ``term``)
        tab = res.tidy(0.95).rename({"term": "mediator"})
        cols = [
            _Column(str(r["mediator"]), {res.treatment: _coef_of_row(r)}, {}, [])
            for r in tab.iter_rows(named=True)
        ]
    for c in cols:
        c.stats["step"] = step
        c.depvar = c.depvar or c.title
    return cols


def _adapt_moderation(res: Any, lang: str) -> list[_Column]:
    """The interacted regression; its generated names become readable terms:
    ``__d_x_z`` -> ``d:z``; categorical levels ``__z_i`` -> ``z=level``."""
    col = _adapt_feols(res.fit, lang)[0]
    d, z = res.treatment, res.moderator
    rename = {f"__{d}_x_{z}": f"{d}:{z}"}
    if res.categorical:
        for i, lv in enumerate(res.marginal_effects["at"].to_list()):
            rename[f"__{z}_{i}"] = f"{z}={lv}"
            rename[f"__{z}_{i}_x_{d}"] = f"{d}:{z}={lv}"
    col.coefs = {rename.get(k, k): v for k, v in col.coefs.items()}
    return [col]


def _adapt_heterogeneity(res: Any, lang: str) -> list[_Column]:
    cols = _adapt_fits(res.fits, lang)
    for c in cols:
        c.stats["group"] = c.title
    return cols


def _adapt_robustness(res: Any, lang: str) -> list[_Column]:
    return _adapt_fits(res.models, lang)


def _spatial_fe(res: Any) -> list[str]:
    unit = getattr(res, "unit", None) or "unit"
    time = getattr(res, "time", None) or "time"
    return {"individual": [unit], "time": [time], "twoways": [unit, time]}.get(res.effects, [])


def _adapt_spatial(res: Any, lang: str) -> list[_Column]:
    t = res.tidy(0.95).filter(pl.col("term") != "sigma2")
    stats: dict[str, Any] = {"nobs": res.nobs, "loglik": res.loglik, "sigma2": res.sigma2}
    col = _Column(res.model.upper(), _from_tidy(t), stats, _spatial_fe(res))
    formula = str(getattr(res, "formula", "") or "")
    if "~" in formula:
        col.depvar = formula.split("~", 1)[0].strip() or None
    return [col]


def _adapt_impacts(res: Any, lang: str) -> list[_Column]:
    t = res.tidy(0.95)
    if "effect" in t.columns:  # rows named by (effect, term): "direct:x"
        names = [f"{e}:{term}" for e, term in zip(t["effect"].to_list(), t["term"].to_list())]
    else:  # terms already "direct:x"
        names = [str(term) for term in t["term"].to_list()]
    stats: dict[str, Any] = {"draws": res.draws} if res.draws > 1 else {}
    return [_Column("Effects", _from_tidy(t, names), stats, [])]


def _adapt_protocol(res: Any, lang: str) -> list[_Column]:
    """Any other result that follows the protocol: its tidy() rows and its nobs."""
    stats: dict[str, Any] = {}
    n = getattr(res, "nobs", None)
    if isinstance(n, (int, np.integer)):
        stats["nobs"] = int(n)
    title = type(res).__name__.removesuffix("Result")
    return [_Column(title, _from_tidy(res.tidy(_own_level(res))), stats, level=_own_level(res))]


def sensitivity_shown(res: Any) -> tuple[float, float, float]:
    """The grid value a table shows a sensitivity result at, and its robust CI: M̄ = 1 (a
    post-period violation as large as the largest pre-period one, Rambachan & Roth's
    benchmark) or the grid value nearest to it for relative magnitudes; the grid's middle
    value for smoothness, whose M is in the outcome's units."""
    grid = np.asarray(res.grid, dtype=float)
    if res.delta == "sd":
        j = int(np.argsort(grid)[(grid.size - 1) // 2])
    else:
        j = int(np.argmin(np.abs(grid - 1.0)))
    return float(grid[j]), float(res.lb[j]), float(res.ub[j])


def _target_text(res: Any, lang: str) -> str:
    """The target of a sensitivity result in words: the first / average / a combination."""
    lv = np.asarray(res.l_vec, dtype=float)
    post = [int(e) for e in np.asarray(res.event_time)[-lv.size :]]
    if lv.size >= 1 and lv[0] == 1.0 and np.all(lv[1:] == 0.0):
        return f"e = {post[0]}" if lang == "en" else f"第{post[0]}期"
    if lv.size > 1 and np.allclose(lv, 1.0 / lv.size):
        return (
            f"average of e = {post[0]}..{post[-1]}"
            if lang == "en"
            else f"第{post[0]}至{post[-1]}期的平均"
        )
    terms = " + ".join(f"{w:g}·e{e}" for w, e in zip(lv, post) if w != 0.0)
    return terms if lang == "en" else f"加权组合 {terms}"


def _adapt_sensitivity(res: Any, lang: str) -> list[_Column]:
    """The event study the sensitivity analysis was run on, with two more rows: the robust
    CI of its target at one grid value, and the breakdown value; the notes say which."""
    study = getattr(res, "study", None)
    if study is None:
        raise PilotdidError(
            "etable: this SensitivityResult does not carry its event study; pass the result of "
            "honest_did(event_study_result, ...)"
        )
    col = _adapt(study, lang)[0]
    value, lo, hi = sensitivity_shown(res)
    par = "M" if res.delta == "sd" else "M̄"
    col.stats["robust_ci"] = (lo, hi)
    bd = res.breakdown if getattr(res, "_computed_breakdown", True) else None
    if bd is None:
        col.stats["breakdown"] = "—" if lang == "en" else "无"
    elif np.isinf(bd):
        col.stats["breakdown"] = f"> {float(np.max(res.grid)):g}"
    else:
        col.stats["breakdown"] = float(bd)
    pct = f"{res.level * 100:g}%"
    target = _target_text(res, lang)
    cls = {"rm": "Δ^RM", "sdrm": "Δ^SDRM", "sd": "Δ^SD"}[res.delta]
    if lang == "zh":
        note = (
            f"稳健置信区间：Rambachan & Roth (2023) 的{pct}稳健置信集（{target}），"
            f"约束 {cls}，{par} = {value:g}，方法 {res.method}；临界值：稳健置信区间仍不含0的"
            f"最大{par}。"
        )
    else:
        what = (
            f"post-period violations at most {par} times the largest pre-period one"
            if res.delta == "rm"
            else f"changes in slope at most {par} per period"
            if res.delta == "sd"
            else f"post-period changes in slope at most {par} times the largest pre-period one"
        )
        note = (
            f"Robust CI: Rambachan & Roth (2023) {pct} confidence set for {target} under "
            f"{cls} with {par} = {value:g} ({what}), method {res.method}; breakdown value: "
            f"the largest {par} at which it excludes 0."
        )
    col.notes.append(note)
    return [col]


def _adapt_dcdh(res: Any, lang: str) -> list[_Column]:
    """DID_l: its effects and placebos as event times (e = l, placebos negative, reference 0),
    then the average total effect per unit of treatment (row ``ATE``)."""
    from pilotdid.results._inference import normal_pvalue

    col = _adapt_event_study(res.to_event_study(), lang)[0]
    col.stats.pop("nobs", None)
    col.stats["units"] = int(res.nobs)
    ate = res.average_total_effect
    if ate is not None:
        est, se = ate["estimate"], ate["std_error"]
        stat = est / se if se > 0 else float("nan")
        p = normal_pvalue(stat)
        col.coefs["ATE"] = _Coef(est, se, stat, p, ate["conf_low"], ate["conf_high"])
    return [col]


def _adapt_dose(res: Any, lang: str) -> list[_Column]:
    """Continuous dose: the averages ATT^o and ACRT^o (the dose-response curve is a figure,
    not a table column: ``res.plot()``, ``res.tidy()``)."""
    from pilotdid.results.event_study import display_name

    t = res.tidy(_own_level(res))
    t = t.filter(pl.col("term").is_in(["ATT^o", "ACRT^o"]))
    # the paper's ATT^o / ACRT^o, named in words: a caret is not a table label
    names = [{"ATT^o": "ATT (overall)", "ACRT^o": "ACRT (overall)"}[x] for x in t["term"]]
    stats = {"estimator": display_name("cont_did"), "units": int(res.nobs)}
    coefs = _from_tidy(t, names)
    return [_Column(display_name("cont_did"), coefs, stats, [], level=_own_level(res))]


def _adapt_exposure(res: Any, lang: str) -> list[_Column]:
    """Exposure DID (Butts 2023): the direct effect, the pooled spillover and one row per ring
    (simple aggregates of the exposure-clean ATT(g,t))."""
    t = res.tidy(_own_level(res))
    stats = {"estimator": "Exposure DID (Butts 2023)", "units": int(res.nobs)}
    coefs = _from_tidy(t, list(t["term"]))
    return [_Column("Exposure DID", coefs, stats, [], level=_own_level(res))]


def _adapter_table() -> dict[type, Callable[[Any, str], list[_Column]]]:
    from pilotdid import results as r
    from pilotdid.results.exposure import ExposureDidResult

    return {
        r.FeolsResult: _adapt_feols,
        r.EventStudyResult: _adapt_event_study,
        r.SunAbrahamResult: _adapt_sunab,
        r.AggteResult: _adapt_aggte,
        r.PlaceboResult: _adapt_placebo,
        r.PsmDidResult: _adapt_psm,
        r.MediationResult: _adapt_mediation,
        r.MechanismEffects: _adapt_mechanism,
        r.ModerationResult: _adapt_moderation,
        r.HeterogeneityResult: _adapt_heterogeneity,
        r.RobustnessResult: _adapt_robustness,
        r.SpatialResult: _adapt_spatial,
        r.SpatialImpacts: _adapt_impacts,
        r.SensitivityResult: _adapt_sensitivity,
        r.DcdhResult: _adapt_dcdh,
        r.DoseResult: _adapt_dose,
        ExposureDidResult: _adapt_exposure,
    }


def _adapt(res: Any, lang: str) -> list[_Column]:
    table = _adapter_table()
    for cls in type(res).__mro__:
        if cls in table:
            return table[cls](res, lang)
    if _follows_protocol(res):
        return _adapt_protocol(res, lang)
    supported = ", ".join(sorted(c.__name__ for c in table))
    raise PilotdidError(
        f"etable: results of type {type(res).__name__} cannot be tabulated (supported: {supported})"
    )
