"""One runner per analysis of a study (baseline, event study, Bacon, placebo, PSM-DID,
robustness, mechanisms, heterogeneity, moderation; the spatial models in spatial_models.py,
the designs in designs.py, the exposure DID in spillovers.py): each reads its spec table,
calls the public API and stores results, tables and figures on the :class:`Study`."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid._core import PilotdidError
from pilotdid.did import bacon, event_study
from pilotdid.mechanisms import heterogeneity, mediation, moderation
from pilotdid.regression import feols
from pilotdid.robust import placebo, psm_did
from pilotdid.robust.battery import robustness
from pilotdid.study._kit import (
    _controls,
    _etable,
    _label,
    _labels,
    _lang,
    _title,
    _unit_median_split,
)
from pilotdid.study._study import Study, _fe_string, _formula
from pilotdid.study.designs import _run_dcdh, _run_ddd, _run_dose, _run_sdid
from pilotdid.study.spatial_models import _run_spatial
from pilotdid.study.spec import _ES_COLS, EVER_TREATED
from pilotdid.study.spillovers import _run_exposure


# -- analyses -------------------------------------------------------------------------------
def _run_descriptives(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.output.summary_stats import describe

    rep = study.spec["report"]
    tab = describe(
        study.data,
        columns=sub["columns"],
        labels=_labels(study) or None,
        lang=rep["lang"],
        digits=rep["digits"],
        title=_title(study, "Descriptive statistics", "描述性统计"),
    )
    study.tables["descriptives"] = tab
    d = study.data
    study.frames["descriptives"] = pl.DataFrame(
        {
            "variable": sub["columns"],
            "n": [int(d.get_column(c).drop_nulls().len()) for c in sub["columns"]],
            "mean": [_num(d.get_column(c).cast(pl.Float64).mean()) for c in sub["columns"]],
            "sd": [_num(d.get_column(c).cast(pl.Float64).std()) for c in sub["columns"]],
            "min": [_num(d.get_column(c).cast(pl.Float64).min()) for c in sub["columns"]],
            "max": [_num(d.get_column(c).cast(pl.Float64).max()) for c in sub["columns"]],
        }
    )


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _baseline_steps(study: Study, steps: str) -> list[list[str]]:
    ctrls = study.spec["model"]["controls"]
    if steps == "full" or not ctrls:
        return [list(ctrls)]
    if steps == "endpoints":
        return [[], list(ctrls)]
    return [list(ctrls[:j]) for j in range(len(ctrls) + 1)]


def _run_baseline(study: Study, sub: dict, progress: bool) -> None:

    fits = {}
    for j, ctrls in enumerate(_baseline_steps(study, sub["steps"])):
        fits[f"({j + 1})"] = feols(_formula(study.spec, ctrls), study.data, vcov=study.vcov)
    study.results["baseline"] = fits
    full = list(fits.values())[-1]
    study.results["baseline_model"] = full
    treat = study.spec["treatment"]["name"]
    study.tables["baseline"] = _etable(
        study,
        fits,
        controls=_controls(study),
        title=_title(study, "Baseline DID", "基准回归"),
    )
    frames = [fit.tidy().with_columns(pl.lit(name).alias("model")) for name, fit in fits.items()]
    study.frames["baseline"] = pl.concat(frames).select("model", pl.exclude("model"))
    if sub["reps"] > 0:
        seed = sub["wildboot_seed"]
        boot = full.wildboottest(treat, reps=sub["reps"], seed=seed)
        study.seeds["baseline.wildboot"] = seed
        study.results["baseline_wildboot"] = boot
        ci = boot.conf_int or (float("nan"), float("nan"))
        study.frames["baseline_wildboot"] = pl.DataFrame(
            {
                "term": [treat],
                "estimate": [boot.estimate],
                "t_stat": [boot.t_stat],
                "p_value": [boot.p_value],
                "conf_low": [ci[0]],
                "conf_high": [ci[1]],
                "reps": [boot.reps],
                "weights": [boot.weight_type],
                "seed": [boot.seed],
            }
        )


def _run_event_study(study: Study, sub: dict, progress: bool) -> None:

    s = study.spec
    controls = s["model"]["controls"] if sub["controls"] else None
    res = {}
    for est in sub["estimators"]:
        kw: dict[str, Any] = {"controls": controls, "window": sub["window"]}
        if est in ("twfe", "did2s", "sa"):
            kw["ref_period"] = sub["ref_period"]
        if est != "cs":
            kw["vcov"] = study.vcov
        res[est] = event_study(
            study.data,
            y=s["model"]["y"],
            time=s["data"]["time"],
            unit=s["data"]["unit"],
            cohort=s["treatment"]["cohort_name"],
            estimator=est,
            **kw,
        )
    study.results["event_study"] = res
    study.frames["event_study"] = pl.concat(
        [r.tidy().select(pl.lit(k).alias("method"), *_ES_COLS) for k, r in res.items()]
    )
    # a list: each column is titled by its estimator's name (the codes stay in the frame)
    study.tables["event_study"] = _etable(
        study,
        list(res.values()),
        y=s["model"]["y"],
        title=_title(study, "Event study", "事件研究"),
    )
    from pilotdid.output.figures import event_study_figure

    # a list, not the {code: result} dict: the legend names each estimator (not its code)
    study.figures["event_study"] = event_study_figure(
        list(res.values()),
        title=_title(study, "Event study", "事件研究"),
        y=_label(study, s["model"]["y"]),
        lang=_lang(study),
    )


def _run_sensitivity(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.did.sensitivity import honest_did
    from pilotdid.output.figures import sensitivity_figure
    from pilotdid.results.event_study import display_name

    if "event_study" in study.failures or "event_study" not in study.results:
        raise PilotdidError(
            "the sensitivity analysis needs the event study, which did not run (see "
            "[analyses.event_study])"
        )
    est = sub["estimator"]
    es = study.results["event_study"][est]
    res = honest_did(
        es,
        delta=sub["delta"],
        method=sub["method"],
        m_bar=sub["m_bar"] if sub["delta"] != "sd" else None,
        m=sub["m"] if sub["delta"] == "sd" else None,
        l_vec=sub["l_vec"],
        restriction=sub["restriction"],
        level=sub["level"],
        seed=sub["seed"],
    )
    study.seeds["sensitivity"] = sub["seed"]
    study.results["sensitivity"] = res
    study.frames["sensitivity"] = res.tidy().with_columns(
        pl.lit(est).alias("estimator"),
        pl.lit(res.breakdown if res.breakdown is not None else float("nan"), pl.Float64).alias(
            "breakdown"
        ),
    )
    y = study.spec["model"]["y"]
    study.tables["sensitivity"] = _etable(
        study,
        {display_name(est): res},
        y=y,
        title=_title(
            study,
            "Event study with a robust CI for violations of parallel trends",
            "事件研究与平行趋势偏离的稳健置信区间",
        ),
    )
    study.figures["sensitivity"] = sensitivity_figure(
        res,
        title=_title(
            study, "Sensitivity to violations of parallel trends", "对平行趋势偏离的敏感性分析"
        ),
        y=_label(study, y),
        lang=_lang(study),
    )


def _run_bacon(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.output.figures import bacon_figure

    s = study.spec
    res = bacon(
        study.data,
        y=s["model"]["y"],
        time=s["data"]["time"],
        unit=s["data"]["unit"],
        treatment=s["treatment"]["name"],
    )
    study.results["bacon"] = res
    study.frames["bacon"] = res.comparisons()
    study.frames["bacon_summary"] = res.summary_table()
    study.figures["bacon"] = bacon_figure(
        res,
        title=_title(study, "Goodman-Bacon decomposition", "Goodman-Bacon 分解"),
        lang=_lang(study),
    )


def _baseline_model(study: Study) -> Any:
    """The full baseline model (fitted here if the baseline analysis is off)."""
    if "baseline_model" not in study.results:
        study.results["baseline_model"] = feols(study.formula, study.data, vcov=study.vcov)
    return study.results["baseline_model"]


def _run_placebo(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.output.figures import placebo_figure

    s = study.spec
    res = placebo(
        _baseline_model(study),
        data=study.data,
        reps=sub["reps"],
        scheme=sub["scheme"],
        seed=sub["seed"],
        treatment=s["treatment"]["name"],
        unit=s["data"]["unit"],
        time=s["data"]["time"],
        progress=progress,
        statistic=None if sub["statistic"] == "twfe" else sub["statistic"],
    )
    study.seeds["placebo"] = sub["seed"]
    study.results["placebo"] = res
    study.frames["placebo"] = res.placebo_stats()
    study.frames["placebo_draws"] = pl.DataFrame(
        {"replicate": np.arange(res.estimates.size), "estimate": res.estimates}
    )
    study.figures["placebo"] = placebo_figure(
        res, title=_title(study, "Placebo test", "安慰剂检验"), lang=_lang(study)
    )


def _run_psm_did(study: Study, sub: dict, progress: bool) -> None:

    res = psm_did(
        study.data,
        treatment=EVER_TREATED,
        controls=sub["controls"],
        fml=study.formula,
        method=sub["method"],
        k=sub["k"],
        caliper=sub["caliper"],
        replace=sub["replace"],
        by=sub["by"],
        did_sample=sub["did_sample"],
        vcov=study.vcov,
    )
    study.results["psm_did"] = res
    study.frames["psm_balance"] = res.balance
    study.frames["psm_did"] = res.did.tidy()
    base = _baseline_model(study)
    baseline = _title(study, "Baseline", "基准回归")
    study.tables["psm_did"] = _etable(
        study,
        {baseline: base, "PSM-DID": res.did},
        controls=_controls(study),
        title="PSM-DID",
        notes=_title(
            study,
            f"Matching: {res.method}; units off the common support: {res.n_off_support}.",
            f"匹配方法：{res.method}；共同支撑外：{res.n_off_support}。",
        ),
    )


def _run_robustness(study: Study, sub: dict, progress: bool) -> None:

    s = study.spec
    res = robustness(
        _baseline_model(study),
        checks=[dict(c) for c in sub["checks"]],
        data=study.data,
        treatment=s["treatment"]["name"],
        unit=s["data"]["unit"],
        time=s["data"]["time"],
    )
    study.results["robustness"] = res
    study.frames["robustness"] = res.table
    baseline = _title(study, "Baseline", "基准回归")
    models = {(baseline if k == "baseline" else k): v for k, v in res.models.items()}
    study.tables["robustness"] = _etable(
        study,
        models,
        keep=[f"^{s['treatment']['name']}$"],
        controls=_controls(study),
        title=_title(study, "Robustness checks", "稳健性检验"),
    )


def _run_mechanisms(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.output.figures import mechanism_figure

    s = study.spec
    res = mediation(
        study.data,
        y=s["model"]["y"],
        treatment=s["treatment"]["name"],
        mediators=sub["mediators"],
        controls=s["model"]["controls"],
        fixef=_fe_string(s),
        vcov=study.vcov,
        reps=sub["reps"],
        seed=sub["seed"],
        ci=sub["ci"],
        joint=sub["joint"],
        method=sub["method"],
        estimator=sub["estimator"],
    )
    study.results["mechanisms"] = res
    if sub["method"] == "three_step" and sub["reps"] > 0:
        study.seeds["mechanisms.bootstrap"] = sub["seed"]
    study.frames["mechanisms"] = res.table
    # three steps: the result itself (columns titled by step, the dependent-variable row
    # names the outcome or mediator); two steps: one column per mediator
    study.tables["mechanisms"] = _etable(
        study,
        res if sub["method"] == "three_step" else dict(res.fits),
        controls=_controls(study),
        title=_title(study, "Mechanisms", "机制检验"),
        notes=res.caveat,
    )
    study.figures["mechanisms"] = mechanism_figure(
        res, title=_title(study, "Mechanisms", "机制检验"), labels=_labels(study), lang=_lang(study)
    )


def _run_heterogeneity(study: Study, sub: dict, progress: bool) -> None:

    s = study.spec
    out, frames, fits = {}, [], {}
    for by in sub["by"]:
        group = _unit_median_split(study, by) if sub["split"] == "median" else by
        res = heterogeneity(
            study.data,
            y=s["model"]["y"],
            treatment=s["treatment"]["name"],
            by=group,
            controls=s["model"]["controls"],
            fixef=_fe_string(s),
            vcov=study.vcov,
            reps=sub["reps"],
            seed=sub["seed"],
            unit=s["data"]["unit"],
        )
        out[group] = res
        frames.append(
            res.table.with_columns(
                pl.lit(group).alias("by"),
                pl.lit(res.perm_p).alias("perm_p"),
                pl.lit(float(res.wald.get("p_F", res.wald.get("p_chi2", float("nan"))))).alias(
                    "wald_p"
                ),
            )
        )
        titles = {g: _group_title(study, by, group, g, sub["split"]) for g in res.fits}
        for g, fit in res.fits.items():
            fits[titles[g]] = fit
    if sub["reps"] > 0:
        study.seeds["heterogeneity.permutation"] = sub["seed"]
    study.results["heterogeneity"] = out
    study.frames["heterogeneity"] = pl.concat(frames, how="diagonal_relaxed")
    study.tables["heterogeneity"] = _etable(
        study,
        fits,
        keep=[f"^{s['treatment']['name']}$"],
        controls=_controls(study),
        title=_title(study, "Heterogeneity", "异质性分析"),
    )


def _group_title(study: Study, by: str, group: str, g: Any, split: str) -> str:
    """A heterogeneity column's title (labels applied; never "x_above_median=1")."""
    from pilotdid.output._text import group_title

    lang = study.spec["report"]["lang"]
    if split == "median":
        return group_title(_label(study, by), g, lang, median_split=True)
    return group_title(_label(study, group), g, lang, median_split=False)


def _run_moderation(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.output.figures import mechanism_figure

    s = study.spec
    res = moderation(
        study.data,
        y=s["model"]["y"],
        treatment=s["treatment"]["name"],
        moderator=sub["moderator"],
        controls=s["model"]["controls"],
        fixef=_fe_string(s),
        vcov=study.vcov,
        at=sub["at"],
        categorical=sub["categorical"],
    )
    study.results["moderation"] = res
    study.frames["moderation"] = res.marginal_effects
    study.frames["moderation_fit"] = res.fit.tidy()
    moderator = _label(study, sub["moderator"])
    study.tables["moderation"] = _etable(
        study,
        res,
        controls=_controls(study),
        title=_title(study, f"Moderation by {moderator}", f"调节效应：{moderator}"),
    )
    study.figures["moderation"] = mechanism_figure(
        res,
        title=_title(study, f"Moderation by {moderator}", f"调节效应：{moderator}"),
        labels=_labels(study),
        lang=_lang(study),
    )


_RUNNERS = {
    "descriptives": _run_descriptives,
    "baseline": _run_baseline,
    "event_study": _run_event_study,
    "sensitivity": _run_sensitivity,
    "bacon": _run_bacon,
    "sdid": _run_sdid,
    "ddd": _run_ddd,
    "dcdh": _run_dcdh,
    "dose": _run_dose,
    "placebo": _run_placebo,
    "psm_did": _run_psm_did,
    "robustness": _run_robustness,
    "mechanisms": _run_mechanisms,
    "heterogeneity": _run_heterogeneity,
    "moderation": _run_moderation,
    "spatial": _run_spatial,
    "exposure": _run_exposure,
}
