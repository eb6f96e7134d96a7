"""One valid template call per public entry point (the fuzz cases perturb its inputs).

Each template names the entry point, how to get it, its positional inputs and its keyword
options on small data (cases.py). Keep one entry per public function: the coverage test in
tests/test_fuzz.py fails when a public function has no template.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from cases import (
    TEMPLATES,
    Template,
    W,
    att,
    cities,
    dea,
    fit,
    panel,
    panel_groups,
    spatial_panel,
)

import pilotdid as pdid

CTRL = ["ln_gdp_pc"]
IDS = {"unit": "city", "time": "year"}


def _t(target, fn, args, kwargs, fixed=()):
    TEMPLATES.append(Template(target, fn, args, kwargs, tuple(fixed)))


# --- regression ---------------------------------------------------------------------------
_t(
    "feols",
    lambda: pdid.feols,
    lambda: ["gtfp ~ did + ln_gdp_pc | city + year", panel()],
    lambda: {
        "vcov": {"CR1": "city"},
        "weights": None,
        "fixef_tol": 1e-11,
        "fixef_maxiter": 10_000,
        "fixef_rm": "none",
    },
)
_t(
    "FeolsResult.wildboottest",
    lambda: fit().wildboottest,
    lambda: ["did"],
    lambda: {"reps": 99, "seed": 1, "weight_type": "rademacher", "r": 0.0, "level": 0.95},
)
_t("FeolsResult.confint", lambda: fit().confint, lambda: [], lambda: {"level": 0.9})
_t("FeolsResult.tidy", lambda: fit().tidy, lambda: [], lambda: {"level": 0.9})

# --- staggered DID --------------------------------------------------------------------------
_t(
    "att_gt",
    lambda: pdid.att_gt,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "time": "year",
        "unit": "city",
        "cohort": "cohort",
        "control_group": "never",
        "anticipation": 0,
        "est_method": "dr",
        "bstrap": False,
        "reps": 99,
        "level": 0.95,
        "seed": 0,
        "controls": None,
    },
)
_t(
    "aggte",
    lambda: pdid.aggte,
    lambda: [att()],
    lambda: {
        "type": "dynamic",
        "min_e": -3,
        "max_e": 3,
        "bstrap": False,
        "reps": 99,
        "level": 0.95,
    },
)
for est in ("twfe", "cs", "sa", "bjs", "did2s"):
    _t(
        f"event_study[{est}]",
        lambda: pdid.event_study,
        lambda: [panel()],
        lambda est=est: {
            "y": "gtfp",
            "unit": "city",
            "time": "year",
            "cohort": "cohort",
            "estimator": est,
            "window": (-3, 3),
        },
    )
_t(
    "pretrend_power",
    lambda: pdid.pretrend_power,
    lambda: [
        pdid.event_study(
            panel(),
            y="gtfp",
            unit="city",
            time="year",
            cohort="cohort",
            estimator="twfe",
            window=(-3, 3),
        )
    ],
    lambda: {"slope": 0.01, "power": (0.5, 0.8), "level": 0.95},
)
_t(
    "honest_did",
    lambda: pdid.honest_did,
    lambda: [
        pdid.event_study(
            panel(),
            y="gtfp",
            unit="city",
            time="year",
            cohort="cohort",
            estimator="twfe",
            window=(-3, 3),
        )
    ],
    lambda: {
        "delta": "rm",
        "m_bar": [0.0, 0.5, 1.0],
        "l_vec": "first",
        "level": 0.95,
        "grid_points": 100,
        "reps": 100,
        "seed": 0,
    },
)
_t(
    "twfe_event_study",
    lambda: pdid.twfe_event_study,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city",
        "time": "year",
        "cohort": "cohort",
        "ref_period": -1,
        "window": (-3, 3),
        "level": 0.95,
    },
)
_t(
    "sunab",
    lambda: pdid.sunab,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city",
        "time": "year",
        "cohort": "cohort",
        "control_group": "never",
        "ref_period": -1,
        "level": 0.95,
    },
)
_t(
    "imputation",
    lambda: pdid.imputation,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city",
        "time": "year",
        "cohort": "cohort",
        "horizons": [0, 1, 2],
        "level": 0.95,
    },
)
_t(
    "did2s",
    lambda: pdid.did2s,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city",
        "time": "year",
        "cohort": "cohort",
        "ref_period": -1,
        "window": (-3, 3),
        "level": 0.95,
    },
)
_t(
    "bacon",
    lambda: pdid.bacon,
    lambda: [panel()],
    lambda: {"y": "gtfp", "unit": "city", "time": "year", "treatment": "did"},
)
_t(
    "Panel",
    lambda: pdid.Panel,
    lambda: [panel()],
    lambda: {"unit": "city", "time": "year", "treatment": "did"},
)

# --- robustness -----------------------------------------------------------------------------
_t(
    "placebo",
    lambda: pdid.placebo,
    lambda: [fit()],
    lambda: {
        "reps": 49,
        "scheme": "units",
        "seed": 1,
        "treatment": "did",
        "unit": "city",
        "time": "year",
    },
)
_t(
    "psm_did",
    lambda: pdid.psm_did,
    lambda: [panel()],
    lambda: {
        "treatment": "treat",
        "controls": CTRL,
        "method": "nearest",
        "k": 1,
        "caliper": None,
        "by": "year",
    },
)
_t(
    "robustness",
    lambda: pdid.robustness,
    lambda: [fit()],
    lambda: {
        "checks": [pdid.Check("winsorize", lower=0.01, upper=0.99)],
        "treatment": "did",
        "unit": "city",
        "time": "year",
    },
)
_t("Check", lambda: pdid.Check, lambda: ["winsorize"], lambda: {"lower": 0.01, "upper": 0.99})
_t(
    "winsorize",
    lambda: pdid.winsorize,
    lambda: [panel()],
    lambda: {"columns": ["gtfp"], "lower": 0.01, "upper": 0.99, "by": None},
)
_t(
    "drop_units",
    lambda: pdid.drop_units,
    lambda: [panel()],
    lambda: {"unit": "city", "units": ["Shanghai"]},
)
_t(
    "restrict_window",
    lambda: pdid.restrict_window,
    lambda: [panel()],
    lambda: {"time": "year", "start": 2009, "end": 2016},
)

# --- mechanisms -----------------------------------------------------------------------------
_t(
    "mediation",
    lambda: pdid.mediation,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "treatment": "did",
        "mediators": ["ind_upgrade"],
        "controls": CTRL,
        "fixef": "city + year",
        "cluster": "city",
        "reps": 49,
        "seed": 1,
        "level": 0.95,
    },
)
_t(
    "mechanism_effects",
    lambda: pdid.mechanism_effects,
    lambda: [panel()],
    lambda: {
        "treatment": "did",
        "mediators": ["ind_upgrade"],
        "controls": CTRL,
        "fixef": "city + year",
        "cluster": "city",
        "estimator": "twfe",
    },
)
_t(
    "moderation",
    lambda: pdid.moderation,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "treatment": "did",
        "moderator": "human_capital",
        "controls": CTRL,
        "fixef": "city + year",
        "cluster": "city",
        "at": [1.0, 2.0],
        "level": 0.95,
    },
)
_t(
    "heterogeneity",
    lambda: pdid.heterogeneity,
    lambda: [panel_groups()],
    lambda: {
        "y": "gtfp",
        "treatment": "did",
        "by": "half",
        "controls": CTRL,
        "fixef": "city + year",
        "cluster": "city",
        "reps": 49,
        "seed": 1,
        "unit": "city",
    },
)

# --- spatial --------------------------------------------------------------------------------
for model in ("sar", "sdm", "sem", "sdem", "sac", "gns"):
    _t(
        model,
        lambda model=model: getattr(pdid, model),
        lambda: ["gtfp ~ did + ln_gdp_pc", spatial_panel()],
        lambda: {"W": W(), **IDS, "effects": "twoways", "lee_yu": True},
    )
_t(
    "lm_tests",
    lambda: pdid.lm_tests,
    lambda: ["gtfp ~ did + ln_gdp_pc", spatial_panel()],
    lambda: {"W": W(), **IDS, "effects": "individual"},
)
_t(
    "SpatialResult.impacts",
    lambda: pdid.sdm("gtfp ~ did + ln_gdp_pc", spatial_panel(), W=W(), **IDS).impacts,
    lambda: [],
    lambda: {"reps": 49, "seed": 1},
)
_t(
    "moran",
    lambda: pdid.moran,
    lambda: [spatial_panel().filter(pl.col("year") == 2015)],
    lambda: {"W": W(), "y": "gtfp", "unit": "city", "reps": 99, "seed": 1},
)
_t(
    "moran[panel]",
    lambda: pdid.moran,
    lambda: [spatial_panel()],
    lambda: {"W": W(), "y": "gtfp", **IDS, "reps": 19, "seed": 1},
)
_t(
    "moran_local",
    lambda: pdid.moran_local,
    lambda: [spatial_panel().filter(pl.col("year") == 2015).sort("city")["gtfp"].to_numpy()],
    lambda: {"W": W(), "reps": 99, "seed": 1},
)
_t(
    "spatial_did",
    lambda: pdid.spatial_did,
    lambda: [spatial_panel()],
    lambda: {
        "y": "gtfp",
        "treatment": "did",
        **IDS,
        "W": W(),
        "controls": CTRL,
        "reps": 49,
        "seed": 1,
    },
)
_t(
    "spatial_event_study",
    lambda: pdid.spatial_event_study,
    lambda: [spatial_panel()],
    lambda: {
        "y": "gtfp",
        "treatment": "did",
        **IDS,
        "W": W(),
        "window": (-2, 2),
        "reps": 19,
        "seed": 1,
    },
)

_LAT = lambda: cities()["lat"].to_numpy()  # noqa: E731
_LON = lambda: cities()["lon"].to_numpy()  # noqa: E731
_IDS = lambda: cities()["city_en"].to_list()  # noqa: E731
_t(
    "weights.knn",
    lambda: pdid.weights.knn,
    lambda: [_LAT(), _LON()],
    lambda: {"k": 3, "ids": _IDS(), "transform": "row"},
)
_t(
    "weights.inverse_distance",
    lambda: pdid.weights.inverse_distance,
    lambda: [_LAT(), _LON()],
    lambda: {"ids": _IDS(), "power": 1.0, "cutoff_km": None, "transform": "row"},
)
_t(
    "weights.distance_band",
    lambda: pdid.weights.distance_band,
    lambda: [_LAT(), _LON()],
    lambda: {"threshold_km": 200.0, "ids": _IDS(), "transform": None},
)
_t(
    "weights.economic",
    lambda: pdid.weights.economic,
    lambda: [np.arange(1.0, 13.0)],
    lambda: {"transform": "row"},
)
_t(
    "weights.from_dense",
    lambda: pdid.weights.from_dense,
    lambda: [np.ones((4, 4)) - np.eye(4)],
    lambda: {"transform": "row"},
)
_t(
    "weights.from_sparse",
    lambda: pdid.weights.from_sparse,
    lambda: [],
    lambda: {"rows": [0, 1, 2], "cols": [1, 2, 0], "values": [1.0, 1.0, 1.0], "n": 3},
)
_t(
    "weights.from_adjacency",
    lambda: pdid.weights.from_adjacency,
    lambda: [{"a": ["b"], "b": ["a", "c"], "c": ["b"]}],
    lambda: {"symmetric": True},
)

# --- green ----------------------------------------------------------------------------------
_t(
    "green.sbm",
    lambda: pdid.green.sbm,
    lambda: [dea()],
    lambda: {
        "inputs": ["labour", "energy"],
        "good": ["real_gdp"],
        "bad": ["so2"],
        **IDS,
        "rts": "vrs",
        "frontier": "global",
        "bad_weight": 1.0,
    },
)
_t(
    "green.gml",
    lambda: pdid.green.gml,
    lambda: [dea()],
    lambda: {
        "inputs": ["labour", "energy"],
        "good": ["real_gdp"],
        "bad": ["so2"],
        **IDS,
        "rts": "crs",
        "frontier": "global",
    },
)
_t(
    "green.capital_stock",
    lambda: pdid.green.capital_stock,
    lambda: [panel()],
    lambda: {"investment": "investment", **IDS, "delta": 0.096},
)
_t(
    "green.entropy_index",
    lambda: pdid.green.entropy_index,
    lambda: [panel()],
    lambda: {"indicators": ["gtfp", "ln_gdp_pc"], **IDS, "by": "pooled", "shift": 1e-4},
)

# --- output ---------------------------------------------------------------------------------
_t(
    "etable",
    lambda: pdid.etable,
    lambda: [[fit()]],
    lambda: {"digits": 3, "stat": "se", "lang": "en", "keep": None},
)
_t(
    "describe",
    lambda: pdid.describe,
    lambda: [panel()],
    lambda: {"columns": ["gtfp", "did"], "digits": 3, "lang": "en"},
)

# --- principal-components index and the index -> dose path ----------------------------------
_t(
    "green.pca_index",
    lambda: pdid.green.pca_index,
    lambda: [panel()],
    lambda: {
        "indicators": ["urbanization", "fin_dev", "human_capital", "ln_gdp_pc"],
        **IDS,
        "select": "eigenvalue",
        "share_threshold": 0.85,
        "standardize": True,
        "component_weights": "variance",
        "n_components": None,
    },
)
_t(
    "green.to_dose",
    lambda: pdid.green.to_dose,
    lambda: [
        panel().join(
            pdid.green.pca_index(panel(), indicators=["urbanization", "fin_dev"], **IDS).scores,
            on=["city", "year"],
        )
    ],
    lambda: {"index": "pca_index", **IDS, "cohort": "cohort", "kind": "path"},
)
# --- synthetic DID --------------------------------------------------------------------------
_t(
    "synthdid",
    lambda: pdid.synthdid,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city",
        "time": "year",
        "cohort": "cohort",
        "method": "sdid",
        "vcov": "placebo",
        "reps": 20,
        "seed": 0,
        "level": 0.95,
        "controls": None,
    },
)


def _sector_panel() -> pl.DataFrame:
    """Two sectors per city (a triple difference needs eligible and ineligible units within
    each enabling group): sector 1 is eligible."""
    p = panel()
    return pl.concat(
        [
            p.with_columns(
                (pl.col("city") + f"_{q}").alias("city_sector"),
                pl.lit(q).alias("eligible"),
                (pl.col("gtfp") + 0.1 * q * pl.col("ln_gdp_pc")).alias("gtfp"),
            )
            for q in (0, 1)
        ]
    )


_t(
    "ddd",
    lambda: pdid.ddd,
    lambda: [_sector_panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city_sector",
        "time": "year",
        "cohort": "cohort",
        "partition": "eligible",
        "controls": None,
        "est_method": "reg",
        "control_group": "notyet",
        "bstrap": False,
        "reps": 99,
        "seed": 0,
        "level": 0.95,
    },
)


# --- continuous-dose DID ----------------------------------------------------------------------
def _dose_panel() -> pl.DataFrame:
    """One dose per pilot city: its construction intensity in its first pilot year."""
    return panel().with_columns(
        pl.when(pl.col("year") == pl.col("cohort"))
        .then(pl.col("intensity_latent"))
        .otherwise(None)
        .max()
        .over("city")
        .fill_null(0.0)
        .alias("dose_unit")
    )


_t(
    "cont_did",
    lambda: pdid.cont_did,
    lambda: [_dose_panel()],
    lambda: {
        "y": "gtfp_dose",
        "unit": "city",
        "time": "year",
        "cohort": "cohort",
        "dose": "dose_unit",
        "degree": 1,
        "num_knots": 0,
        "control_group": "notyet",
        "bstrap": True,
        "reps": 49,
        "seed": 0,
        "level": 0.95,
    },
)
_t(
    "dcdh",
    lambda: pdid.dcdh,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city",
        "time": "year",
        "treatment": "did",
        "controls": None,
        "trends_nonparam": None,
        "trends_lin": False,
        "same_switchers": False,
        "window": (-2, 3),
        "switchers": "",
        "normalized": False,
        "bstrap": True,
        "reps": 19,
        "seed": 0,
        "only_never_switchers": False,
        "weights": None,
        "cluster": None,
        "level": 0.95,
    },
)


# --- spillovers, power and Monte Carlo ---------------------------------------------------------
def _exposure_panel() -> pl.DataFrame:
    """panel() with each city's coordinates (rings in km from the nearest pilot city)."""
    c = cities().select(pl.col("city_en").alias("city"), "lat", "lon")
    return panel().join(c, on="city", how="inner")


def _mc_dgp(rng):
    return rng.normal(0.5, 1.0, size=30)


def _mc_mean(x):
    return float(np.mean(x)), float(np.std(x, ddof=1) / np.sqrt(len(x)))


_t(
    "exposure_did",
    lambda: pdid.exposure_did,
    lambda: [_exposure_panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city",
        "time": "year",
        "cohort": "cohort",
        "lat": "lat",
        "lon": "lon",
        "rings_km": (0, 60),
        "control_group": "notyet",
        "bstrap": False,
        "reps": 49,
        "seed": 0,
        "level": 0.95,
    },
)
_t(
    "power",
    lambda: pdid.power,
    lambda: [panel()],
    lambda: {
        "y": "gtfp",
        "unit": "city",
        "time": "year",
        "cohort": "cohort",
        "estimator": "twfe",
        "effects": [0.0, 0.05],
        "shape": "constant",
        "sample": "all",
        "reps": 9,
        "seed": 0,
        "level": 0.95,
        "progress": False,
    },
)
_t(
    "monte_carlo",
    lambda: pdid.monte_carlo,
    lambda: [_mc_dgp, _mc_mean],
    lambda: {"reps": 20, "seed": 0, "truth": 0.5, "level": 0.95, "progress": False},
)
