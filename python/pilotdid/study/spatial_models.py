"""Runner of the study's spatial panel analysis ([analyses.spatial]): the main model (a static
SDM, SAR or GNS, or a time-space dynamic SDM / SAR with ``dlag``) and the models of
``compare`` beside it, on one W built from the units' coordinates. It reads its resolved
spec table, calls the public API (:func:`pilotdid.sdm`, :func:`~pilotdid.sar`,
:func:`~pilotdid.gns`) and stores the fits, their LeSage-Pace effects (short- and long-run for
a dynamic model, Elhorst 2014 ch. 4), frames, table and figures on the Study."""

from __future__ import annotations

from typing import Any

import polars as pl

from pilotdid._core import PilotdidError
from pilotdid.spatial import gns, sar, sdm, weights
from pilotdid.study import _kit as a
from pilotdid.study._study import Study
from pilotdid.study.spec import spatial_label

_FIT = {"sdm": sdm, "sar": sar, "gns": gns}

#: Why the GNS estimates need care (Gibbons & Overman 2012; Elhorst 2014 ch. 2).
_GNS_NOTE = (
    "GNS: rho W y, W X theta and lambda W u can produce the same spatial covariance, so the "
    "GNS parameters are at best weakly identified (Gibbons & Overman 2012); read its rho and "
    "lambda with their LR intervals"
)
_GNS_NOTE_ZH = (
    "GNS：rho W y、W X theta 与 lambda W u 可产生相同的空间协方差，GNS 参数至多弱识别"
    "（Gibbons & Overman 2012），请结合 rho 与 lambda 的似然比区间解读"
)


def _weights(study: Study, sub: dict) -> tuple[Any, Any, Any, list, str]:
    """W from one coordinate pair per unit, in the units' first-appearance order (the data's
    order); also the coordinates, the ids and W described in words."""
    unit = study.spec["data"]["unit"]
    coords = study.data.select(unit, sub["lat"], sub["lon"]).unique(maintain_order=True)
    if coords.get_column(unit).n_unique() != coords.height:
        raise PilotdidError(
            f"[analyses.spatial] lat/lon: columns '{sub['lat']}'/'{sub['lon']}' are not "
            f"constant within '{unit}'"
        )
    lat = coords.get_column(sub["lat"]).cast(pl.Float64).to_numpy()
    lon = coords.get_column(sub["lon"]).cast(pl.Float64).to_numpy()
    ids = coords.get_column(unit).to_list()
    if sub["W"] == "knn":
        W = weights.knn(lat, lon, k=sub["k"], ids=ids)
        wdesc = f"k-nearest neighbours (k = {sub['k']}), row-standardised"
    else:
        W = weights.inverse_distance(
            lat, lon, ids=ids, power=sub["power"], cutoff_km=sub["cutoff_km"]
        )
        wdesc = f"inverse distance (power {sub['power']:g}), row-standardised"
    return W, lat, lon, ids, wdesc


def _fit_one(study: Study, sub: dict, model: str, dlag: int, fml: str, W: Any) -> Any:
    """One spatial model with the spec's options; a dynamic one (dlag > 0) takes no lee_yu
    (its bias correction follows ``effects``: Yu, de Jong & Lee 2008 or Lee & Yu 2010)."""
    s = study.spec
    kw: dict[str, Any] = {
        "W": W,
        "unit": s["data"]["unit"],
        "time": s["data"]["time"],
        "effects": sub["effects"],
        "incomplete": sub["incomplete"],
    }
    if dlag:
        kw["dlag"] = dlag
    else:
        kw["lee_yu"] = sub["lee_yu"]
    return _FIT[model](fml, study.data, **kw)


def _identification_note(fit: Any) -> str:
    """The likelihood-ratio interval of the spatial parameter and, when it is weakly
    identified, what that means for the reader of the spillover estimates."""
    text = fit.identification_note
    if fit.weakly_identified:
        text += (
            ". With a weakly identified spatial parameter the indirect (spillover) and total "
            "effects are imprecise whatever their standard errors say; compare another W"
        )
    return text


def _dynamic_note(fit: Any, label: str) -> str:
    """What a dynamic model's column is: which bias correction, what (t-1) means, why it has
    fewer observations, and whether the estimate is stationary."""
    corr = "Lee & Yu 2010" if fit.effects == "twoways" else "Yu, de Jong & Lee 2008"
    state = "stationary" if fit.spectral_radius < 1 else "NOT stationary"
    return (
        f"{label}: bias-corrected QML ({corr}), (t-1) rows are the lagged outcome; the first "
        f"period is lost to the lag; {state} (spectral radius {fit.spectral_radius:.3f})"
    )


def _with_model(frame: pl.DataFrame, label: str, horizon: str | None = None) -> pl.DataFrame:
    cols = [pl.lit(label).alias("model")]
    if horizon is not None:
        cols.append(pl.lit(horizon).alias("horizon"))
    return frame.select(*cols, pl.all())


def _run_spatial(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.output.figures import spatial_effects_figure, weights_figure

    s = study.spec
    lang = a._lang(study)
    W, lat, lon, ids, wdesc = _weights(study, sub)
    rhs = [s["treatment"]["name"], *sub["controls"]]
    fml = f"{s['model']['y']} ~ " + " + ".join(rhs)
    main = {
        "model": sub["model"],
        "dlag": sub["dlag"],
        "label": spatial_label(sub["model"], sub["dlag"], lang),
    }
    specs = [main, *sub["compare"]]
    fits = {m["label"]: _fit_one(study, sub, m["model"], m["dlag"], fml, W) for m in specs}
    reps, seed = sub["reps"], sub["seed"]
    notes = study.notes.setdefault("spatial", [])
    notes.append(f"W: {wdesc}; {len(ids)} units")

    # effects: static models once; dynamic models short run and, when stationary, long run
    effects: dict[tuple[str, str], Any] = {}
    for m in specs:
        fit = fits[m["label"]]
        if not m["dlag"]:
            effects[m["label"], "static"] = fit.impacts(reps=reps, seed=seed)
            continue
        effects[m["label"], "short"] = fit.impacts(horizon="short", reps=reps, seed=seed)
        if fit.spectral_radius < 1:
            effects[m["label"], "long"] = fit.impacts(horizon="long", reps=reps, seed=seed)
        else:
            notes.append(
                f"{m['label']}: no long-run effects, the estimate is not stationary (spectral "
                f"radius {fit.spectral_radius:.4f} >= 1)"
            )
    study.seeds["spatial.impacts"] = seed

    fit = fits[main["label"]]
    impacts = effects[main["label"], "short" if main["dlag"] else "static"]
    study.results["spatial"] = {
        "fit": fit,
        "impacts": impacts,
        "W": W,
        "fits": fits,
        "effects": effects,
    }
    study.frames["spatial"] = fit.tidy()
    study.frames["spatial_impacts"] = impacts.tidy()
    compared = [m["label"] for m in sub["compare"]]
    if compared:
        study.frames["spatial_compare"] = pl.concat(
            [_with_model(fits[label].tidy(), label) for label in compared]
        )
        static = [
            _with_model(effects[k, "static"].tidy(), k)
            for k in compared
            if (k, "static") in effects
        ]
        if static:
            study.frames["spatial_compare_impacts"] = pl.concat(static)
    dynamic = [
        _with_model(imp.tidy(), label, horizon)
        for (label, horizon), imp in effects.items()
        if horizon != "static"
    ]
    if dynamic:
        study.frames["spatial_dynamic_impacts"] = pl.concat(dynamic)

    if fit.dropped_units:
        notes.append(
            f'incomplete = "drop_units": {len(fit.dropped_units)} units dropped '
            f"({', '.join(str(u) for u in fit.dropped_units)}; "
            f"{sum(fit.dropped_rows.values())} rows); {fit.w_note}"
        )
    table_notes = []
    for m in specs:
        f = fits[m["label"]]
        if m["dlag"]:
            table_notes.append(_dynamic_note(f, m["label"]))
            continue
        ident = _identification_note(f)
        if ident:
            table_notes.append(ident if len(specs) == 1 else f"{m['label']}: {ident}")
        if m["model"] == "gns":
            table_notes.append(_GNS_NOTE_ZH if lang == "zh" else _GNS_NOTE)
    notes.extend(table_notes)
    names = {"sdm": ("Spatial Durbin model (SDM)", "空间杜宾模型（SDM）")}
    if compared:
        en, zh = "Spatial panel models", "空间面板模型"
    elif main["dlag"]:
        en = f"Time-space dynamic spatial model ({main['label']})"
        zh = f"时空动态空间模型（{main['label']}）"
    else:
        en, zh = names.get(sub["model"], (f"Spatial model ({sub['model'].upper()})", "空间模型"))
    ylab = a._label(study, s["model"]["y"])
    labels = {"tau": f"{ylab} (t-1)", "eta": f"W×{ylab} (t-1)", **a._labels(study)}
    study.tables["spatial"] = a._etable(
        study,
        fits,
        labels=labels,
        title=a._title(study, en, zh),
        notes=". ".join(table_notes),
    )
    horizon_words = (" (short run)", "（短期）") if main["dlag"] else ("", "")
    study.figures["spatial"] = spatial_effects_figure(
        impacts,
        title=a._title(study, "Spatial effects" + horizon_words[0], "空间效应" + horizon_words[1]),
        labels=a._labels(study),
        lang=lang,
    )
    study.figures["weights"] = weights_figure(
        W, lat=lat, lon=lon, labels=ids, title=f"W: {wdesc}", lang=lang
    )
