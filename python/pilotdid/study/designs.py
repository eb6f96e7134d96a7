"""Runners of the study's alternative designs (issue 17): synthetic DID ([analyses.sdid]) and
triple differences ([analyses.ddd]). Each reads its resolved spec table, calls the public API
and stores results, tables, frames and figures on the :class:`Study`, as the runners in
:mod:`pilotdid.study.analyses` do (whose table and label helpers these share)."""

from __future__ import annotations

from typing import Any

import polars as pl

from pilotdid.study import _kit as a
from pilotdid.study._study import Study

_SDID_TITLES = {"sdid": "SDID", "sc": "SC", "did": "DID"}


def _run_sdid(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.did.synthetic_did import synthdid
    from pilotdid.output.figures import synthdid_figure

    s = study.spec
    controls = s["model"]["controls"] if sub["controls"] else None
    res: dict[str, Any] = {}
    for method in sub["methods"]:
        res[method] = synthdid(
            study.data,
            y=s["model"]["y"],
            unit=s["data"]["unit"],
            time=s["data"]["time"],
            cohort=s["treatment"]["cohort_name"],
            method=method,
            vcov=sub["vcov"],
            reps=sub["reps"],
            seed=sub["seed"],
            level=sub["level"],
            controls=controls,
        )
    if sub["vcov"] != "jackknife":  # the jackknife draws nothing
        study.seeds["sdid"] = sub["seed"]
    study.results["sdid"] = res
    study.frames["sdid"] = pl.concat(
        [r.tidy().select(pl.lit(m).alias("method"), pl.all()) for m, r in res.items()]
    )
    study.frames["sdid_cohorts"] = pl.concat(
        [r.cohorts().select(pl.lit(m).alias("method"), pl.all()) for m, r in res.items()]
    )
    first = res.get("sdid") or res.get("sc")
    if first is not None:
        study.frames["sdid_weights"] = first.unit_weights()
    vc = sub["vcov"]
    study.tables["sdid"] = a._etable(
        study,
        {_SDID_TITLES[m]: r for m, r in res.items()},
        title=a._title(
            study,
            "Synthetic DID, synthetic control and DID (Arkhangelsky et al. 2021)",
            "合成双重差分、合成控制与双重差分（Arkhangelsky 等 2021）",
        ),
        notes=a._title(
            study,
            f"Standard errors: {vc}"
            + ("" if vc == "jackknife" else f" ({sub['reps']} replicates, seed {sub['seed']})")
            + "; staggered cohorts are each estimated against the never-treated units and "
            "averaged with weights N_treated x T_post.",
            f"标准误：{vc}"
            + ("" if vc == "jackknife" else f"（{sub['reps']} 次重复，种子 {sub['seed']}）")
            + "；各采纳批次分别以从未处理单位为对照估计，按处理单位数×处理期数加权平均。",
        ),
    )
    main = res[sub["methods"][0]]
    y = a._label(study, s["model"]["y"])
    study.figures["sdid"] = synthdid_figure(main, kind="trajectories", y=y, lang=a._lang(study))
    if main.method != "did":
        study.figures["sdid_weights"] = synthdid_figure(main, kind="weights", lang=a._lang(study))


def _run_ddd(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.did.triple import ddd
    from pilotdid.output.figures import event_study_figure

    s = study.spec
    part = sub["partition"]
    if sub["split"] == "median":
        part = a._unit_median_split(study, part, analysis="ddd")
    res = ddd(
        study.data,
        y=s["model"]["y"],
        unit=s["data"]["unit"],
        time=s["data"]["time"],
        partition=part,
        cohort=s["treatment"]["cohort_name"],
        controls=sub["controls"] or None,
        est_method=sub["est_method"],
        control_group=sub["control_group"],
        base_period=sub["base_period"],
        bstrap=sub["bstrap"],
        reps=sub["reps"],
        seed=sub["seed"],
        level=sub["level"],
    )
    overall = res.aggregate(type="simple")
    # the event study's window, when [analyses.event_study] sets one, so the two line up
    es = s["analyses"].get("event_study") or {}
    window = es.get("window") if es.get("enabled") else None
    span = {} if window is None else {"min_e": window[0], "max_e": window[1]}
    dynamic = res.aggregate(type="dynamic", **span)
    if sub["bstrap"]:  # analytic standard errors draw nothing
        study.seeds["ddd"] = sub["seed"]
    study.results["ddd"] = {"att_gt": res, "simple": overall, "dynamic": dynamic}
    study.frames["ddd"] = res.tidy()
    study.frames["ddd_dynamic"] = dynamic.tidy()
    study.tables["ddd"] = a._etable(
        study,
        {
            a._title(study, "DDD, overall", "三重差分（总体）"): overall,
            a._title(study, "DDD, event study", "三重差分（事件研究）"): dynamic,
        },
        y=s["model"]["y"],
        title=a._title(
            study,
            "Triple differences (Ortiz-Villavicencio & Sant'Anna 2025)",
            "三重差分（Ortiz-Villavicencio & Sant'Anna 2025）",
        ),
        notes=a._title(
            study,
            f"Eligible units: {a._label(study, part)} = 1; comparison: "
            f"{'never-treated' if sub['control_group'] == 'never' else 'not-yet-treated'} "
            f"cohorts; estimator: {sub['est_method']}.",
            f"适用单位：{a._label(study, part)} = 1；对照："
            f"{'从未处理' if sub['control_group'] == 'never' else '尚未处理'}批次；"
            f"估计方法：{sub['est_method']}。",
        ),
    )
    study.figures["ddd"] = event_study_figure(
        [dynamic.to_event_study()],
        title=a._title(study, "Triple differences: event study", "三重差分：事件研究"),
        y=a._label(study, s["model"]["y"]),
        lang=a._lang(study),
    )
