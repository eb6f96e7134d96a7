"""Golden calls, DID family: ``att_gt`` (every est_method, both control groups, universal base
period, anticipation, covariates, weights, multiplier bootstrap with a seed, clustered, uniform
band), ``aggte`` (simple / group / dynamic / calendar, trimmed and balanced, bootstrapped),
``event_study`` with every estimator, ``twfe_event_study`` (+ its wild bootstrap), ``sunab``,
``imputation``, ``did2s``, ``bacon`` and ``Panel``.

Each call runs one fixed call on fixed data and returns a flat dict of the numbers the result
exposes today (see _golden.py for how they are stored)."""

from __future__ import annotations

from typing import Any

import _data as D
import polars as pl
from _golden import frame, named

import pilotdid as pdid

Y, T, ID, G = "gtfp", "year", "city", "cohort"


# ------------------------------------------------------------------------------------------
# readers
# ------------------------------------------------------------------------------------------
ATTGT_COLS = (
    "group",
    "t",
    "att",
    "se",
    "conf_low",
    "conf_high",
    "base_t",
    "post",
    "status",
    "n_treated",
    "n_control",
)
AGGTE_COLS = ("egt", "att", "se", "conf_low", "conf_high")
EVENT_COLS = (
    "estimator",
    "event_time",
    "estimate",
    "std_error",
    "statistic",
    "conf_low",
    "conf_high",
)
SA_COLS = (
    "term",
    "event_time",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
)
BACON_COLS = (
    "type",
    "treated",
    "control",
    "estimate",
    "weight",
    "n_treated_units",
    "n_control_units",
    "window_start",
    "window_end",
)


def _cols(df: pl.DataFrame, cols: tuple[str, ...], renamed: dict[str, str]) -> pl.DataFrame:
    """The columns recorded before the protocol (issue 14 renamed att/se to estimate/
    std_error in the protocol's tidy(); the numbers are the same)."""
    df = df.rename({new: old for old, new in renamed.items() if new in df.columns})
    return df.select([c for c in cols if c in df.columns])


#: extra entries added by issue 14 (their numbers are recorded through the protocol:
#: pretrend, vcov(), the overall ATT of a static did2s).
EXTRA_ADDED = {"cs": ("notes", "pretrend", "vcov"), "did2s (static)": ("att", "att_se")}


def _vcov_or_none(es: pdid.EventStudyResult) -> Any:
    """BJS has no joint covariance (recorded as None before; vcov() now says so)."""
    try:
        return es.vcov()
    except pdid.PilotdidError:
        return None


def _by_event_time(d: dict[str, float]) -> dict[int, float]:
    """Protocol terms 'rel::e' back to the event time e (the recorded keys)."""
    return {int(k.split("::")[1]): v for k, v in d.items()}


def _attgt(res: pdid.AttGtResult) -> dict[str, Any]:
    # tidy() at the fit's own level gives the fit's intervals (uniform with cband)
    tidy = _cols(res.tidy(res.level), ATTGT_COLS, {"att": "estimate", "se": "std_error"})
    out: dict[str, Any] = frame(tidy, "tidy")
    out.update(
        {
            "n_units": res.n_units,
            "n_boot_units": res.n_boot_units,
            "crit_val": res.crit_val,
            "pretest": res.pretest,
            "pretest_note": res.pretest_note,
            "skipped": res.skipped,
            "notes": res.notes,
            "groups": res.groups,
            "periods": res.periods,
            "influence": res.influence(),
        }
    )
    return out


def _aggte(a: pdid.AggteResult, prefix: str = "agg") -> dict[str, Any]:
    out = {
        f"{prefix}.type": a.type,
        f"{prefix}.egt": a.egt,
        f"{prefix}.att_egt": a.att_egt,
        f"{prefix}.se_egt": a.se_egt,
        f"{prefix}.overall_att": a.overall_att,
        f"{prefix}.overall_se": a.overall_se,
        f"{prefix}.overall_conf_int": a.overall_conf_int,
        f"{prefix}.crit_val": a.crit_val,
        # "simple" had an empty matrix; vcov() now gives [[overall_se**2]] for it
        f"{prefix}.vcov": a._vcov if a.type == "simple" else a.vcov(),
        f"{prefix}.notes": a.notes,
    }
    if a.type == "simple":  # the old tidy() had one row per egt: none for "simple"
        tidy = pl.DataFrame(schema={c: pl.Float64 for c in AGGTE_COLS})
    else:
        tidy = _cols(a.tidy(a.level), AGGTE_COLS, {"att": "estimate", "se": "std_error"})
    out.update(frame(tidy, f"{prefix}.tidy"))
    return out


def _event(es: pdid.EventStudyResult, prefix: str = "es") -> dict[str, Any]:
    out: dict[str, Any] = {
        f"{prefix}.estimator": es.estimator,
        f"{prefix}.event_time": es.event_time,
        f"{prefix}.estimate": es.estimate,
        f"{prefix}.std_error": es.std_error,
        f"{prefix}.conf_low": es.conf_low,
        f"{prefix}.conf_high": es.conf_high,
        f"{prefix}.level": es.level,
        f"{prefix}.band_low": es.band_low,
        f"{prefix}.band_high": es.band_high,
        f"{prefix}.vcov": _vcov_or_none(es),
        f"{prefix}.reference": list(es.reference),
        f"{prefix}.nobs": es.nobs,
    }
    out.update(frame(_cols(es.tidy(es.level), EVENT_COLS, {}), f"{prefix}.tidy"))
    out.update(named(_by_event_time(es.coef()), f"{prefix}.coef"))
    out.update(named(_by_event_time(es.se()), f"{prefix}.se"))
    pt = es.pretrend
    if pt is not None:
        out.update(named(pt, f"{prefix}.pretrend"))
    for k, v in es.extra.items():
        if k.startswith("_") or k in EXTRA_ADDED.get(es.estimator, ()):
            continue
        if isinstance(v, dict):
            out.update(named(v, f"{prefix}.extra.{k}"))
        else:
            out[f"{prefix}.extra.{k}"] = v
    return out


def _sunab(res: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sa.event_time": res.event_time,
        "sa.att": res.att,
        "sa.att_se": res.att_se,
        "sa.nobs": res.nobs,
        "sa.df_t": res.df_t,
        "sa.n_clusters": res.n_clusters,
        "sa.collinear": res.collinear,
        "sa.control_cohort": res.control_cohort,
        "sa.vcov": res.vcov(),
        "sa.cohort_vcov": res.cohort_vcov(),
        "sa.weight_matrix": res.weight_matrix(),
    }
    out.update(named(_by_event_time(res.coef()), "sa.coef"))
    out.update(named(_by_event_time(res.se()), "sa.se"))
    out.update(named(res.dropped_rows, "sa.dropped_rows"))
    out.update(frame(_cols(res.tidy(res.level), SA_COLS, {}), "sa.tidy"))
    out.update(frame(res.confint(res.level), "sa.confint"))
    out.update(frame(res.cohort_tidy(), "sa.cohort_tidy"))
    out.update(frame(res.weights(), "sa.weights"))
    out.update(frame(res.controls_tidy(), "sa.controls_tidy"))
    return out


# ------------------------------------------------------------------------------------------
# att_gt
# ------------------------------------------------------------------------------------------
def att_gt_dr_never():
    return _attgt(pdid.att_gt(D.yrd(), y=Y, time=T, unit=ID, cohort=G))


def att_gt_ipw_never_covariates():
    return _attgt(
        pdid.att_gt(
            D.staggered(),
            y="y",
            time="t",
            unit="unit",
            cohort="g",
            controls="~ x",
            est_method="ipw",
        )
    )


def att_gt_reg_notyet_covariates():
    res = pdid.att_gt(
        D.staggered(),
        y="y",
        time="t",
        unit="unit",
        cohort="g",
        controls="~ x",
        est_method="reg",
        control_group="notyettreated",
    )  # fmt: skip
    return _attgt(res)


def att_gt_dr_notyet_universal():
    res = pdid.att_gt(
        D.yrd(),
        y=Y,
        time=T,
        unit=ID,
        cohort=G,
        controls="~ ln_gdp_pc",
        control_group="notyettreated",
        base_period="universal",
    )  # fmt: skip
    return _attgt(res)


def att_gt_dr_anticipation_weights():
    res = pdid.att_gt(
        D.staggered(),
        y="y",
        time="t",
        unit="unit",
        cohort="g",
        controls="~ x",
        anticipation=1,
        weights="sw",
    )
    return _attgt(res)


def att_gt_bootstrap_cband():
    """Multiplier bootstrap (Mammen) with a seed and a uniform band."""
    res = pdid.att_gt(
        D.staggered(),
        y="y",
        time="t",
        unit="unit",
        cohort="g",
        bstrap=True,
        reps=199,
        cband=True,
        seed=7,
    )
    return _attgt(res)


def att_gt_bootstrap_clustered():
    res = pdid.att_gt(
        D.staggered(),
        y="y",
        time="t",
        unit="unit",
        cohort="g",
        controls="~ x",
        est_method="ipw",
        cluster=["unit", "region"],
        bstrap=True,
        reps=149,
        alp=0.1,
        seed=11,
    )  # fmt: skip
    return _attgt(res)


# ------------------------------------------------------------------------------------------
# aggte
# ------------------------------------------------------------------------------------------
def _yrd_attgt() -> pdid.AttGtResult:
    return pdid.att_gt(D.yrd(), y=Y, time=T, unit=ID, cohort=G)


def aggte_simple():
    return _aggte(pdid.aggte(_yrd_attgt(), type="simple"))


def aggte_group():
    return _aggte(pdid.aggte(_yrd_attgt(), type="group"))


def aggte_dynamic():
    return _aggte(pdid.aggte(_yrd_attgt(), type="dynamic"))


def aggte_calendar():
    return _aggte(pdid.aggte(_yrd_attgt(), type="calendar"))


def aggte_dynamic_balanced_trimmed():
    return _aggte(pdid.aggte(_yrd_attgt(), type="dynamic", min_e=-4, max_e=4, balance_e=2))


def aggte_bootstrap():
    res = pdid.att_gt(D.staggered(), y="y", time="t", unit="unit", cohort="g")
    out = _aggte(pdid.aggte(res, type="dynamic", bstrap=True, reps=199, cband=True, seed=5))
    out.update(_aggte(pdid.aggte(res, type="group", bstrap=True, reps=99, seed=6), "group"))
    return out


# ------------------------------------------------------------------------------------------
# event studies
# ------------------------------------------------------------------------------------------
def event_study_twfe():
    return _event(
        pdid.event_study(
            D.yrd(),
            y=Y,
            time=T,
            unit=ID,
            cohort=G,
            estimator="twfe",
            window=(-4, 4),
        )
    )


def event_study_cs():
    return _event(
        pdid.event_study(
            D.yrd(),
            y=Y,
            time=T,
            unit=ID,
            cohort=G,
            estimator="cs",
            window=(-4, 4),
        )
    )


def event_study_sa():
    return _event(
        pdid.event_study(
            D.yrd(),
            y=Y,
            time=T,
            unit=ID,
            cohort=G,
            estimator="sa",
            window=(-4, 4),
        )
    )


def event_study_bjs():
    return _event(
        pdid.event_study(
            D.yrd(),
            y=Y,
            time=T,
            unit=ID,
            cohort=G,
            estimator="bjs",
            window=(-4, 4),
        )
    )


def event_study_did2s():
    return _event(
        pdid.event_study(
            D.yrd(),
            y=Y,
            time=T,
            unit=ID,
            cohort=G,
            estimator="did2s",
            window=(-4, 4),
        )
    )


def twfe_event_study_binned_controls():
    es = pdid.twfe_event_study(
        D.yrd(),
        y=Y,
        time=T,
        unit=ID,
        cohort=G,
        controls=D.CONTROLS,
        ref_period=[-1, -5],
        bin_lo=-6,
        bin_hi=5,
        vcov={"CR1": "province"},
    )  # fmt: skip
    return _event(es)


def twfe_event_study_hetero():
    es = pdid.twfe_event_study(
        D.staggered(),
        y="y",
        time="t",
        unit="unit",
        cohort="g",
        vcov="hetero",
        level=0.9,
    )
    return _event(es)


def twfe_event_study_wild_bootstrap():
    es = pdid.twfe_event_study(D.yrd(), y=Y, time=T, unit=ID, cohort=G, window=(-4, 4))
    out = named(es.wild_bootstrap(0, reps=199, seed=3), "wb0")
    out.update(named(es.wild_bootstrap(2, r=0.01, reps=99, weights="webb", seed=4), "wb2"))
    return out


def sunab_never():
    return _sunab(
        pdid.sunab(
            D.yrd(),
            y=Y,
            time=T,
            unit=ID,
            cohort=G,
            controls=["ln_gdp_pc", "urbanization"],
        )
    )


def sunab_last_binned():
    res = pdid.sunab(
        D.staggered(),
        y="y",
        time="t",
        unit="unit",
        cohort="g",
        control_group="last",
        bin_lo=-2,
        bin_hi=1,
    )
    return _sunab(res)


def sunab_window_twoway():
    res = pdid.sunab(
        D.yrd(),
        y=Y,
        time=T,
        unit=ID,
        cohort=G,
        window=(-3, 3),
        vcov={"CR1": "city+year"},
        level=0.9,
    )
    return _sunab(res)


def imputation_pretrends():
    es = pdid.imputation(
        D.yrd(),
        y=Y,
        time=T,
        unit=ID,
        cohort=G,
        controls=["ln_gdp_pc"],
        pretrends=True,
    )
    return _event(es)


def imputation_leave_out_small_sample():
    es = pdid.imputation(
        D.staggered(),
        y="y",
        time="t",
        unit="unit",
        cohort="g",
        horizons=[0, 1, 2],
        pretrends=[-2, -1],
        leave_out=True,
        small_sample=True,
        vcov={"CR1": "region"},
    )  # fmt: skip
    return _event(es)


def did2s_event_controls():
    es = pdid.did2s(
        D.yrd(),
        y=Y,
        time=T,
        unit=ID,
        cohort=G,
        controls=D.CONTROLS,
        bin_lo=-5,
        bin_hi=4,
        window=(-8, 6),
    )
    return _event(es)


def did2s_static_anticipation():
    es = pdid.did2s(
        D.staggered(),
        y="y",
        time="t",
        unit="unit",
        cohort="g",
        event=False,
        anticipation=1,
    )
    return _event(es)


# ------------------------------------------------------------------------------------------
# Bacon decomposition, panel structure
# ------------------------------------------------------------------------------------------
def _bacon(b: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "twfe": b.twfe,
        "variance_d": b.variance_d,
        "n_units": b.n_units,
        "n_periods": b.n_periods,
        "nobs": b.nobs,
        "n_never_treated": b.n_never_treated,
        "n_always_treated": b.n_always_treated,
        "estimates": b.estimates,
        "weights": b.weights,
    }
    out.update(named(b.cohorts, "cohorts"))
    out.update(frame(_cols(b.tidy(), BACON_COLS, {}), "tidy"))
    out.update(frame(b.summary_table(), "summary_table"))
    return out


def bacon_yrd():
    return _bacon(pdid.bacon(D.yrd(), y=Y, time=T, unit=ID, treatment="did"))


def bacon_formula_always_treated():
    """bacondecomp-style call; cohort 1 units are treated from the first period (always)."""
    df = D.staggered()
    df = df.with_columns(
        ((df["g"] > 0) & (df["t"] >= df["g"])).cast(float).alias("d"),
    )
    always = (df["unit"] % 10 == 0) & (df["g"] == 0)
    df = df.with_columns(d=df["d"].zip_with(~always, always.cast(float)))
    return _bacon(pdid.bacon(df, fml="y ~ d", time="t", unit="unit"))


def panel_cohorts():
    p = pdid.Panel(D.yrd(), unit=ID, time=T, treatment="did")
    q = pdid.Panel(D.panel_singletons(), unit="unit", time="year", cohort="cohort")
    out: dict[str, Any] = frame(p.cohorts, "yrd.cohorts")
    out.update(
        {
            "yrd.periods": p.periods,
            "yrd.is_balanced": p.is_balanced,
            "yrd.n_units": p.n_units,
            "yrd.n_periods": p.n_periods,
        }
    )
    out.update(frame(q.cohorts, "gen.cohorts"))
    out.update({"gen.is_balanced": q.is_balanced, "gen.n_units": q.n_units})
    return out


CALLS = {
    f.__name__: f
    for f in (
        att_gt_dr_never,
        att_gt_ipw_never_covariates,
        att_gt_reg_notyet_covariates,
        att_gt_dr_notyet_universal,
        att_gt_dr_anticipation_weights,
        att_gt_bootstrap_cband,
        att_gt_bootstrap_clustered,
        aggte_simple,
        aggte_group,
        aggte_dynamic,
        aggte_calendar,
        aggte_dynamic_balanced_trimmed,
        aggte_bootstrap,
        event_study_twfe,
        event_study_cs,
        event_study_sa,
        event_study_bjs,
        event_study_did2s,
        twfe_event_study_binned_controls,
        twfe_event_study_hetero,
        twfe_event_study_wild_bootstrap,
        sunab_never,
        sunab_last_binned,
        sunab_window_twoway,
        imputation_pretrends,
        imputation_leave_out_small_sample,
        did2s_event_controls,
        did2s_static_anticipation,
        bacon_yrd,
        bacon_formula_always_treated,
        panel_cohorts,
    )
}
