"""Runner of the study's exposure-based spillover analysis (issue 18): the exposure DID of
Butts (2023) ([analyses.exposure]), beside the spatial Durbin model of [analyses.spatial].
It reads its resolved spec table, calls the public API and stores the result, its frame,
table and figure on the Study."""

from __future__ import annotations

from pilotdid.study import _kit as a
from pilotdid.study._study import Study


def _run_exposure(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.output.figures import exposure_figure
    from pilotdid.spatial.exposure import exposure_did

    s = study.spec
    res = exposure_did(
        study.data,
        y=s["model"]["y"],
        unit=s["data"]["unit"],
        time=s["data"]["time"],
        cohort=s["treatment"]["cohort_name"],
        lat=sub["lat"],
        lon=sub["lon"],
        rings_km=tuple(sub["rings_km"]),
        control_group=sub["control_group"],
        level=sub["level"],
        bstrap=sub["bstrap"],
        reps=sub["reps"],
        seed=sub["seed"],
    )
    if sub["bstrap"]:
        study.seeds["exposure"] = sub["seed"]
    study.results["exposure"] = res
    study.frames["exposure"] = res.tidy()
    rings = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in zip(sub["rings_km"], sub["rings_km"][1:]))
    comparison = "never-treated" if sub["control_group"] == "never" else "not-yet-treated"
    study.notes.setdefault("exposure", []).append(
        f"rings (km to the nearest treated unit): {rings}; beyond {sub['rings_km'][-1]:g} km "
        f"is unexposed; comparisons: {comparison} units unexposed at the base period and t"
    )
    study.tables["exposure"] = a._etable(
        study,
        {a._title(study, "Exposure DID", "暴露DID"): res},
        y=s["model"]["y"],
        title=a._title(
            study,
            "Direct and spillover effects with exposure-clean comparisons (Butts 2023)",
            "直接效应与溢出效应：以未受暴露单位为对照（Butts 2023）",
        ),
        notes=a._title(
            study,
            "Direct: pilot cohorts against comparison units that are neither treated nor within "
            f"{sub['rings_km'][-1]:g} km of a treated unit at the base period and t. Spillover: "
            "never-treated units by the period they are first exposed, per distance ring. "
            "Not comparable with the spatial model's indirect effect, which sums a unit's "
            "effect over all other units.",
            f"直接效应：试点队列对比在基期与当期均未处理、且距任何处理单位 {sub['rings_km'][-1]:g} "
            "公里以外的单位。溢出效应：从未处理单位按首次受暴露时期与距离环分组。"
            "与空间模型的间接效应（一个单位对其余所有单位效应之和）不可直接比较。",
        ),
    )
    study.figures["exposure"] = exposure_figure(
        res,
        title=a._title(study, "Exposure DID (Butts 2023)", "暴露DID（Butts 2023）"),
        lang=a._lang(study),
    )
