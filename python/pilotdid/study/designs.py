"""Runners of the study's alternative designs (issue 17): synthetic DID ([analyses.sdid]),
triple differences ([analyses.ddd]), de Chaisemartin-D'Haultfoeuille DID_l ([analyses.dcdh])
and continuous-dose DID ([analyses.dose]). Each reads its resolved spec table, calls the public API
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
    # the unit weights (frame and figure) of the first method that has them (DID weights
    # every never-treated unit equally)
    weighted = next((res[m] for m in sub["methods"] if m != "did"), None)
    if weighted is not None:
        study.frames["sdid_weights"] = weighted.unit_weights()
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
    y = a._label(study, s["model"]["y"])
    study.figures["sdid"] = synthdid_figure(
        res[sub["methods"][0]], kind="trajectories", y=y, lang=a._lang(study)
    )
    if weighted is not None:
        study.figures["sdid_weights"] = synthdid_figure(
            weighted, kind="weights", lang=a._lang(study)
        )


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
    shares = sub.get("cohort_shares", "estimated")
    overall = res.aggregate(type="simple", cohort_shares=shares)
    # the event study's window, when [analyses.event_study] sets one, so the two line up
    es = s["analyses"].get("event_study") or {}
    window = es.get("window") if es.get("enabled") else None
    span = {} if window is None else {"min_e": window[0], "max_e": window[1]}
    dynamic = res.aggregate(type="dynamic", cohort_shares=shares, **span)
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


def _run_dcdh(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.did.intertemporal import dcdh
    from pilotdid.output.figures import event_study_figure

    s = study.spec
    res = dcdh(
        study.data,
        y=sub["y"],
        unit=s["data"]["unit"],
        time=s["data"]["time"],
        treatment=sub["treatment"],
        controls=s["model"]["controls"] if sub["controls"] else None,
        window=tuple(sub["window"]),
        switchers="" if sub["switchers"] == "both" else sub["switchers"],
        normalized=sub["normalized"],
        cluster=s["model"]["cluster"],
        bstrap=sub["bstrap"],
        reps=sub["reps"],
        seed=sub["seed"],
        level=sub["level"],
    )
    study.results["dcdh"] = res
    if sub["bstrap"]:
        study.seeds["dcdh"] = sub["seed"]
    study.frames["dcdh"] = res.tidy()
    ate = res.average_total_effect
    tests = res.joint_tests
    rows = (
        [("average total effect", ate["estimate"], ate["std_error"], float("nan"), 0)]
        if ate
        else []
    )
    for key, name in (
        ("effects", "all effects = 0"),
        ("placebos", "all placebos = 0"),
        ("equal_effects", "all effects equal"),
    ):
        t = tests[key]
        if t is not None:
            rows.append((name, t["chi2"], float("nan"), t["p_value"], t["df"]))
    study.frames["dcdh_tests"] = pl.DataFrame(
        rows, schema=["quantity", "value", "std_error", "p_value", "df"], orient="row"
    )
    y, treat = a._label(study, sub["y"]), a._label(study, sub["treatment"])
    study.tables["dcdh"] = a._etable(
        study,
        {a._title(study, "DID_l", "DID_l"): res},
        y=sub["y"],
        title=a._title(
            study,
            f"Dynamic effects of {treat} (de Chaisemartin & D'Haultfoeuille 2024)",
            f"{treat}的动态效应（de Chaisemartin & D'Haultfoeuille 2024）",
        ),
        notes=a._title(
            study,
            "e = k: effect in the k-th period after a unit's first treatment change (e = 0: the "
            "period of the change; the reference's DID_l is e = l - 1) against units with the "
            "same baseline treatment that have not switched yet; e < -1: placebos; ATE: "
            "average total effect per unit of treatment.",
            "e = k：单位首次改变处理后第 k 期（e = 0 为改变当期；即原文 DID_l 的 e = l - 1）相对于"
            "基期处理相同、尚未改变处理的单位的效应；e < -1：安慰剂；ATE：每单位处理的平均总效应。",
        ),
    )
    study.figures["dcdh"] = event_study_figure(
        [res.to_event_study()],
        title=a._title(study, "DID_l: effects and placebos", "DID_l：动态效应与安慰剂"),
        y=y,
        lang=a._lang(study),
    )


def _dose_column(study: Study, sub: dict) -> str:
    """The dose per unit ``cont_did`` needs: the column itself, or (``dose_at = "adoption"``)
    its value in each pilot's first treated year, 0 for the never-treated."""
    if sub["dose_at"] == "constant":
        return sub["dose"]
    s = study.spec
    unit, tcol, g = s["data"]["unit"], s["data"]["time"], s["treatment"]["cohort_name"]
    name = f"{sub['dose']}_at_adoption"
    study.data = study.data.with_columns(
        pl.when(pl.col(tcol) == pl.col(g))
        .then(pl.col(sub["dose"]).cast(pl.Float64))
        .otherwise(None)
        .max()
        .over(unit)
        .fill_null(0.0)
        .alias(name)
    )
    study.notes.setdefault("dose", []).append(
        f"'{name}' = the unit's {sub['dose']} in its first treated year (0 if never treated)"
    )
    return name


def _run_dose(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.did.dose import cont_did
    from pilotdid.output.figures import dose_figure

    s = study.spec
    dose = _dose_column(study, sub)
    res = cont_did(
        study.data,
        y=sub["y"],
        unit=s["data"]["unit"],
        time=s["data"]["time"],
        dose=dose,
        cohort=s["treatment"]["cohort_name"],
        control_group=sub["control_group"],
        degree=sub["degree"],
        num_knots=sub["num_knots"],
        bstrap=sub["bstrap"],
        reps=sub["reps"],
        seed=sub["seed"],
        level=sub["level"],
        cluster=s["model"]["cluster"],
        small_sample=sub.get("small_sample", "none"),
        df=sub.get("df", "normal"),
    )
    if sub["bstrap"]:
        study.seeds["dose"] = sub["seed"]
    study.results["dose"] = res
    study.frames["dose"] = res.tidy()
    study.tables["dose"] = a._etable(
        study,
        {a._title(study, "Continuous dose", "连续处理强度"): res},
        y=sub["y"],
        title=a._title(
            study,
            "Average effects of the dose (Callaway, Goodman-Bacon & Sant'Anna 2024)",
            "处理强度的平均效应（Callaway, Goodman-Bacon & Sant'Anna 2024）",
        ),
        notes=a._title(
            study,
            f"ATT (overall): average effect of the received dose of {dose} (CGBS's ATT^o); "
            "ACRT (overall): average causal response per unit of dose (ACRT^o; causal only "
            "under strong parallel trends). The curves are in the figure and results/dose.csv."
            + (
                " p-values: Student t with Welch-Satterthwaite degrees of freedom "
                f"(ATT {res.overall_att_df:.1f}, ACRT {res.overall_acrt_df:.1f})."
                if sub.get("df") == "satterthwaite"
                else ""
            ),
            f"ATT (overall)：{dose} 实际处理强度的平均效应（即 ATT^o）；ACRT (overall)：每单位强度"
            "的平均因果反应（ACRT^o，仅在强平行趋势下具有因果含义）。"
            "完整曲线见图与 results/dose.csv。"
            + (
                "p 值基于 Welch-Satterthwaite 自由度的 t 分布"
                f"（ATT {res.overall_att_df:.1f}，ACRT {res.overall_acrt_df:.1f}）。"
                if sub.get("df") == "satterthwaite"
                else ""
            ),
        ),
    )
    study.figures["dose"] = dose_figure(res, y=a._label(study, sub["y"]), lang=a._lang(study))
