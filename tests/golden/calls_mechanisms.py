"""Golden calls, mechanisms family: ``mediation`` (three-step with a seeded cluster bootstrap
and its draws, percentile and bias-corrected intervals, joint mediators, row bootstrap; the
two-step method), ``mechanism_effects`` with every estimator, ``moderation`` (continuous,
given values, categorical) and ``heterogeneity`` (seeded permutation test and its draws, and
the stacked Wald test).

Each call runs one fixed call on fixed data and returns a flat dict of the numbers the result
exposes today (see _golden.py for how they are stored)."""

from __future__ import annotations

from typing import Any

import _data as D
import polars as pl
from _golden import frame

import pilotdid as pdid

MEDIATORS = ["ind_upgrade", "energy_intensity"]


def _feols_core(res: pdid.FeolsResult, prefix: str) -> dict[str, Any]:
    out = frame(res.tidy(), prefix)
    out[f"{prefix}#vcov"] = res.vcov()
    out[f"{prefix}#nobs"] = res.nobs
    return out


def _mediation(res: Any) -> dict[str, Any]:
    out: dict[str, Any] = frame(res.table, "table")
    out.update(frame(res.channels(), "channels"))
    a, b = res.boot_draws
    out.update(
        {
            "total": res.total,
            "boot_draws.a": a,
            "boot_draws.b": b,
            "boot_reps": res.boot_reps,
            "boot_failed": res.boot_failed,
            "cluster": res.cluster,
            "nobs": res.nobs,
            "n_dropped": res.n_dropped,
        }
    )
    out.update(_feols_core(res.total_fit, "total_fit"))
    for m, fit in res.a_fits.items():
        out.update(_feols_core(fit, f"a_fit.{m}"))
    for m, fit in res.b_fits.items():
        out.update(_feols_core(fit, f"b_fit.{m}"))
    return out


def mediation_cluster_bootstrap_percentile():
    res = pdid.mediation(
        D.yrd(),
        y="gtfp",
        treatment="did",
        mediators=MEDIATORS,
        controls=D.CONTROLS,
        fixef="city + year",
        vcov={"CR1": "city"},
        reps=99,
        seed=4,
    )  # fmt: skip
    return _mediation(res)


def mediation_joint_bc_level90():
    res = pdid.mediation(
        D.yrd(),
        y="gtfp",
        treatment="did",
        mediators=[*MEDIATORS, "ln_green_patents"],
        controls=["ln_gdp_pc"],
        fixef="city + year",
        vcov={"CR1": "city"},
        reps=79,
        seed=5,
        ci="bc",
        level=0.9,
        joint=True,
    )  # fmt: skip
    return _mediation(res)


def mediation_rows_no_fe():
    """No fixed effects and iid errors: the bootstrap resamples single rows."""
    res = pdid.mediation(
        D.panel(),
        y="y",
        treatment="d",
        mediators="x3",
        controls=["x2"],
        vcov="iid",
        reps=99,
        seed=6,
    )
    return _mediation(res)


def mediation_no_bootstrap():
    res = pdid.mediation(
        D.panel(),
        y="y",
        treatment="d",
        mediators=["x1", "x3"],
        fixef="unit + year",
        reps=0,
    )
    return _mediation(res)


def _effects(res: Any) -> dict[str, Any]:
    out = frame(res.table, "table")
    out.update(frame(res.channels(), "channels"))
    return out


def mediation_two_step():
    res = pdid.mediation(
        D.yrd(),
        y="gtfp",
        treatment="did",
        mediators=MEDIATORS,
        controls=D.CONTROLS,
        fixef="city + year",
        method="two_step",
    )  # fmt: skip
    return _effects(res)


def _mech(estimator: str) -> dict[str, Any]:
    res = pdid.mechanism_effects(
        D.yrd(),
        treatment="did",
        mediators=[*MEDIATORS, "ln_green_patents"],
        controls=["ln_gdp_pc"],
        fixef="city + year",
        vcov={"CR1": "city"} if estimator == "twfe" else None,
        estimator=estimator,
    )  # fmt: skip
    return _effects(res)


def mechanism_effects_twfe():
    return _mech("twfe")


def mechanism_effects_cs():
    return _mech("cs")


def mechanism_effects_sa():
    return _mech("sa")


def mechanism_effects_bjs():
    return _mech("bjs")


def mechanism_effects_did2s():
    return _mech("did2s")


def _moderation(res: Any) -> dict[str, Any]:
    out = frame(res.marginal_effects, "me")
    out.update(_feols_core(res.fit, "fit"))
    out["categorical"] = res.categorical
    return out


def moderation_continuous_default():
    res = pdid.moderation(
        D.yrd(),
        y="gtfp",
        treatment="did",
        moderator="human_capital",
        controls=D.CONTROLS,
        fixef="city + year",
    )
    return _moderation(res)


def moderation_continuous_at_level90():
    res = pdid.moderation(
        D.panel(),
        y="y",
        treatment="d",
        moderator="x3",
        controls=["x1"],
        fixef="unit + year",
        vcov={"CR1": "unit"},
        at=[-1.0, 0.0, 2.0],
        level=0.9,
    )  # fmt: skip
    return _moderation(res)


def moderation_categorical():
    df = D.yrd().filter(pl.col("province") != "Shanghai")  # never treated
    res = pdid.moderation(
        df,
        y="gtfp",
        treatment="did",
        moderator="province",
        controls=["ln_gdp_pc"],
        fixef="city + year",
        vcov={"CR1": "city"},
    )  # fmt: skip
    return _moderation(res)


def _heterogeneity(res: Any) -> dict[str, Any]:
    out = frame(res.table, "table")
    out.update(
        {
            "perm_stat": res.perm_stat,
            "perm_p": res.perm_p,
            "perm_draws": res.perm_draws,
            "perm_failed": res.perm_failed,
        }
    )
    out.update({f"wald.{k}": v for k, v in res.wald.items()})
    out.update(_feols_core(res.stacked_fit, "stacked"))
    return out


def heterogeneity_province_permutation():
    df = D.yrd().filter(pl.col("province") != "Shanghai")
    res = pdid.heterogeneity(
        df,
        y="gtfp",
        treatment="did",
        by="province",
        controls=["ln_gdp_pc"],
        fixef="city + year",
        vcov={"CR1": "city"},
        reps=49,
        seed=3,
    )  # fmt: skip
    return _heterogeneity(res)


def heterogeneity_two_groups_unit():
    df = D.panel().with_columns(half=(pl.col("unit") % 2).cast(pl.String))
    res = pdid.heterogeneity(
        df,
        y="y",
        treatment="d",
        by="half",
        controls=["x1", "x2"],
        fixef="unit + year",
        reps=59,
        seed=8,
        unit="unit",
    )  # fmt: skip
    return _heterogeneity(res)


CALLS = {
    f.__name__: f
    for f in (
        mediation_cluster_bootstrap_percentile,
        mediation_joint_bc_level90,
        mediation_rows_no_fe,
        mediation_no_bootstrap,
        mediation_two_step,
        mechanism_effects_twfe,
        mechanism_effects_cs,
        mechanism_effects_sa,
        mechanism_effects_bjs,
        mechanism_effects_did2s,
        moderation_continuous_default,
        moderation_continuous_at_level90,
        moderation_categorical,
        heterogeneity_province_permutation,
        heterogeneity_two_groups_unit,
    )
}
