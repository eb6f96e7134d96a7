"""One vocabulary for every public callable (issue 14; ../shared/STYLE.md).

Reference: the vocabulary table of STYLE.md. The test introspects every public function and
result method of `pilotdid` and its public modules and fails on a parameter name outside the
table (or the commented allow-list of genuinely estimator-specific options below), on a
positional parameter after `data`/`fml` (or after the first input of the functions that take
something else first), and on any seed default other than 0. A second part checks that every
renamed option raises a TypeError naming the new one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pilotdid as pdid

#: The vocabulary table (STYLE.md).
VOCABULARY = {
    "data",
    "fml",
    "y",
    "unit",
    "time",
    "cohort",
    "treatment",
    "controls",
    "weights",
    "W",
    "vcov",
    "cluster",
    "level",
    "reps",
    "seed",
    "estimator",
    "control_group",
    "window",
    "frontier",
}

#: Options that belong to one estimator or one kind of function, each with why it exists.
ALLOWED: dict[str, str] = {
    # fixed-effects OLS (fixest's names)
    "fixef": "fixed effects of a mechanism regression, fixest's '|' part as a string",
    "fixef_rm": "fixest: drop singletons",
    "fixef_tol": "fixest: demeaning tolerance",
    "fixef_maxiter": "fixest: demeaning iterations",
    "split": "fixest/pyfixest feols: one fit per value of a column",
    "fsplit": "fixest/pyfixest feols: the full sample, then one fit per value",
    # hypotheses and inference details
    "param": "wildboottest: the coefficient (or combination) tested",
    "r": "wildboottest: the value under H0",
    "weight_type": "wildboottest: Rademacher/Webb",
    "ci": "mediation: percentile or bias-corrected bootstrap interval",
    "joint": "mediation: joint test of several mediators",
    # staggered DID (R did / fixest / did2s / didimputation names)
    "anticipation": "periods of anticipation (R did)",
    "base_period": "R did: varying/universal",
    "est_method": "R did: dr/ipw/reg",
    "bstrap": "R did: bootstrap or analytic SEs",
    "cband": "R did: uniform band",
    "type": "R did aggte: simple/group/dynamic/calendar",
    "min_e": "R did aggte",
    "max_e": "R did aggte",
    "balance_e": "R did aggte",
    "ref_period": "event study: the omitted relative period(s)",
    "horizons": "BJS: event-time horizons",
    "pretrends": "BJS: pre-trend coefficients",
    "leave_out": "BJS: leave-out variance",
    "small_sample": "BJS: small-sample correction",
    "event": "did2s: event-study or static",
    "bin_lo": "event study: event times below are binned into the lowest",
    "bin_hi": "event study: event times above are binned into the highest",
    "res": "aggte: the att_gt result it aggregates",
    "cohort_shares": "aggte/aggregate: cohort-share weights estimated (R wif) or fixed",
    # mechanisms
    "mediators": "mediation channels",
    "moderator": "moderation variable",
    "at": "moderation: values of the moderator",
    "categorical": "moderation: a factor moderator",
    "by": "heterogeneity / winsorize / PSM: the splitting column",
    "method": "algorithm choice",
    "caption": "etable / tables: the LaTeX caption",
    "variables": "spatial_effects_figure: the variables drawn, one panel each",
    "strict": "run_study: stop at the first failed analysis, write nothing",
    "incomplete": "spatial: error or drop_units for units with missing periods or values",
    # robustness
    "model": "placebo/robustness: the fitted model re-run",
    "scheme": "placebo reassignment",
    "progress": "tqdm progress bar",
    "statistic": "placebo: the statistic recomputed",
    # replicates on executors and simulation (issue 19)
    "executor": "replicates on a concurrent.futures Executor / dask Client / n processes",
    "chunks": "replicate chunks sent to the executor",
    "dgp": "monte_carlo: data generator",
    "truth": "monte_carlo: the true value",
    "shape": "power: effect shape over event time",
    "sample": "power: which units' outcomes are the untreated ones",
    "target": "power: the tested parameter of a spatial model (coef/rho/direct/indirect/total)",
    "spillover": "power: injected W*D coefficient of the SDM per unit of effect",
    "checks": "robustness battery",
    "kind": "a check's kind",
    "columns": "columns to transform",
    "lower": "winsorize",
    "upper": "winsorize",
    "units": "drop_units: which units",
    "flags": "exclude_units",
    "table": "exclude_units",
    "table_unit": "exclude_units",
    "table_start": "exclude_units",
    "mode": "exclude_units",
    "control_name": "exclude_units",
    "start": "restrict_window",
    "end": "restrict_window",
    "label": "a check's label",
    "k": "matching neighbours / kNN",
    "caliper": "PSM",
    "replace": "PSM with replacement",
    "kernel": "PSM kernel",
    "bandwidth": "PSM kernel bandwidth",
    "common_support": "PSM",
    "did_sample": "PSM-DID: matched or weighted sample",
    "weights_name": "PSM: the name of the weight column it adds",
    # spatial
    "effects": "spatial panel fixed effects",
    "lee_yu": "Lee-Yu bias correction",
    "durbin": "SDM/SDEM: which regressors get WX",
    "fixed_rho": "SAR/SDM at a given rho",
    "fixed_lambda": "SEM/SDEM at a given lambda",
    "rho_search": "SDPDmod grid search",
    "M": "GNS: weights of the error process (default W)",
    "dlag": "SAR/SDM: dynamic lags (xsmle dlag)",
    "horizon": "dynamic effects: short/long",
    "lat": "coordinates",
    "lon": "coordinates",
    "ids": "unit ids of W",
    "transform": "W norm",
    "threshold_km": "distance band",
    "power": "inverse distance",
    "cutoff_km": "distance",
    "radius_km": "earth radius",
    "matrix": "W from a matrix",
    "rows": "W from triplets",
    "cols": "W from triplets",
    "values": "W from triplets",
    "n": "W size",
    "neighbours": "W from adjacency",
    "symmetric": "W from adjacency",
    "geojson": "contiguity",
    "id_field": "contiguity",
    "tolerance": "contiguity",
    "z": "economic W variable",
    "geo": "nested W",
    # data generators (pilotdid.datasets): the synthetic panels' design
    "n_cities": "simulated cities",
    "n_years": "simulated years",
    "start_year": "first year",
    "batch_shares": "share of cities per pilot batch",
    "cohort_years": "pilot years",
    "coding": "which pilot list codes treatment",
    "district_only": "district-only pilots",
    "rho": "DGP spatial lag",
    "theta": "DGP spillover",
    "sigma": "DGP noise",
    "params": "DGP parameters",
    "cities": "the city list the YRD panel is drawn for",
    # study and registry
    # green
    "inputs": "DEA inputs",
    "good": "DEA good outputs",
    "bad": "DEA bad outputs",
    "rts": "returns to scale",
    "super_efficiency": "super-SBM",
    "bad_weight": "Tone eq. 43",
    "investment": "perpetual inventory",
    "deflator": "perpetual inventory",
    "delta": "depreciation",
    "growth": "initial stock growth",
    "growth_years": "initial stock",
    "initial_stock": "perpetual inventory",
    "name": "name of the column it adds",
    "indicators": "entropy index",
    "negative": "entropy index: negative indicators",
    "shift": "entropy index",
    "return_weights": "entropy index",
    # output (tables, figures) and the study
    "results": "etable: the results tabulated",
    "labels": "labels",
    "keep": "etable",
    "drop": "etable",
    "order": "etable",
    "stat": "etable: se/t/p/ci",
    "stars": "etable",
    "digits": "display digits",
    "lang": "en/zh",
    "model_names": "etable",
    "title": "title",
    "notes": "notes",
    "stats": "describe: statistics",
    "ax": "matplotlib axes",
    "offsets": "plot offsets",
    "figsize": "figure size",
    "xlabel": "axis label",
    "ylabel": "axis label",
    "bins": "histogram bins",
    "max_edges": "W figure",
    "fig": "save_figure",
    "path_without_suffix": "save_figure",
    "formats": "save_figure",
    "dpi": "save_figure",
    "spec": "the study spec",
    "out": "report folder",
    "overwrite": "report folder",
    "quiet": "progress",
    "base_dir": "relative paths",
    "path": "file path",
    "as_pandas": "tidy() as pandas",
    "fe_rows": "etable: FE rows",
    "stats_rows": "etable: which statistic rows",
    "impacts": "spatial effects figure",
    "placebo": "placebo figure",
    "bacon": "bacon figure",
    "slope": "pretrend_power: slope of the hypothesised linear violation (Roth 2022)",
    "m_bar": "honest_did: grid of the relative-magnitudes bound M-bar",
    "m": "honest_did: grid of the smoothness bound M",
    "l_vec": "honest_did: target weights on the post periods (HonestDiD's l_vec)",
    "restriction": "honest_did: added shape or sign restriction",
    "grid_points": "honest_did: test-inversion grid size (HonestDiD's gridPoints)",
    "breakdown": "honest_did: compute the breakdown value",
    "n_components": "pca_index: number of principal components kept (overrides select)",
    "select": "pca_index: component choice, Kaiser eigenvalue rule or cumulative share",
    "share_threshold": "pca_index: cumulative variance share for select='share'; "
    "exposure_did: treated-neighbour share that counts as exposed",
    "rings_km": "exposure_did: distance-ring cutoffs (km) of the exposure mapping",
    "coords": "exposure_did: a frame of unit coordinates (unit, lat, lon)",
    "standardize": "pca_index: correlation (standardised) or covariance PCA",
    "component_weights": "pca_index: how kept components combine into the index "
    "(explained-variance shares or equal); not 'weights', which are observation weights",
    "index": "to_dose: the composite-index column turned into a dose",
    "partition": "ddd: eligibility partition column (1 eligible, 0 not), moderndid's pname",
    "dose": "cont_did: the continuous treatment column (one dose per unit), moderndid's dname",
    "degree": "cont_did: degree of the B-spline in the dose (moderndid/contdid's degree)",
    "num_knots": "cont_did: interior knots of the dose spline at dose quantiles (reference name)",
    "dvals": "cont_did: doses at which the curves are evaluated (reference name)",
    "df": "cont_did: reference distribution of the intervals, 'normal' or 'satterthwaite' "
    "(Student t with Welch-Satterthwaite degrees of freedom; Stata/R call them df)",
    "switchers": "dcdh: effects of first switches in, out or both (did_multiplegt_dyn's name)",
    "normalized": "dcdh: effects per unit of cumulated treatment change (did_multiplegt_dyn)",
    "only_never_switchers": "dcdh: compare with never-switchers only (did_multiplegt_dyn)",
    "trends_nonparam": "dcdh: cells with their own trends (did_multiplegt_dyn's name)",
    "trends_lin": "dcdh: unit-specific linear trends (did_multiplegt_dyn's name)",
    "same_switchers": "dcdh: all effects on the same switchers (did_multiplegt_dyn's name)",
    "same_switchers_pl": "dcdh: placebos on the same switchers too (did_multiplegt_dyn's name)",
    "less_conservative_se": "dcdh: effects demeaned on treatment paths (did_multiplegt_dyn's name)",
}

#: Functions that take two inputs positionally, and why.
TWO_POSITIONAL = {
    "monte_carlo": "(dgp, estimator): a simulation is its two functions",
    "add_controls": "formula helper: (fml, controls), like fixest's xpd",
    "swap_outcome": "formula helper: (fml, y)",
    "save_figure": "(fig, path), like matplotlib's savefig",
    "nested": "weights.nested(geo, z): the geographic W and the economic variable",
}

#: Seeds that do not default to 0 on purpose, and why.
SEED_INHERITED = {
    "aggte": "like R did's aggte, every inference option (bstrap, reps, cband, level, seed) "
    "defaults to the att_gt result's, whose seed defaults to 0",
    "simulate_yrd": "simulate_yrd() with no arguments redraws the shipped synthetic YRD panel, "
    "which was drawn with seed 20121 (tests/test_datasets.py checks they never drift)",
}

#: Functions whose first input is not data or a formula, with what it is.
FIRST_INPUT = {
    "aggte": "res",
    "placebo": "model",
    "robustness": "model",
    "etable": "results",
    "plot_event_studies": "results",
    "run_study": "spec",
    "resolve_spec": "spec",
    "prepare_data": "spec",
    "load_spec": "path",
    "overall_estimator": "estimator",
    "spatial_estimator": "estimator",
    "pretrend_power": "res",
    "honest_did": "res",
}


def _public_modules() -> list[Any]:
    """pilotdid and every module of its subpackages whose name has no leading underscore."""
    import importlib
    import pkgutil

    found = [pdid, pdid.green, pdid.weights, pdid.figures]  # their documented short names
    for info in pkgutil.walk_packages(pdid.__path__, prefix="pilotdid."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        found.append(importlib.import_module(info.name))
    return found


#: Modules reached by their documented short names (pilotdid.weights.knn, pilotdid.figures.*).
SHORT = {
    "pilotdid.spatial.weights": "pilotdid.weights",
    "pilotdid.output.figures": "pilotdid.figures",
}


def _public_functions() -> Iterator[tuple[str, Callable[..., Any]]]:
    modules = _public_modules()
    seen: set[int] = set()
    for mod in modules:
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.isfunction(obj) and id(obj) not in seen:
                seen.add(id(obj))
                yield f"{SHORT.get(mod.__name__, mod.__name__)}.{name}", obj


FUNCTIONS = dict(_public_functions())


@pytest.mark.parametrize("qualname", sorted(FUNCTIONS))
def test_parameter_names_are_in_the_vocabulary(qualname):
    sig = inspect.signature(FUNCTIONS[qualname])
    bad = [
        p
        for p in sig.parameters
        if p not in VOCABULARY and p not in ALLOWED and p not in ("args", "kwargs")
    ]
    assert not bad, f"{qualname}: parameters outside the vocabulary: {bad}"


@pytest.mark.parametrize("qualname", sorted(FUNCTIONS))
def test_only_the_first_inputs_are_positional(qualname):
    """fml then data, or data, or the documented first input; the rest keyword-only. The
    weights constructors take their coordinate arrays (lat, lon) positionally, as libpysal."""
    fn = FUNCTIONS[qualname]
    sig = inspect.signature(fn)
    positional = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    short = qualname.rsplit(".", 1)[1]
    if positional[:2] == ["fml", "data"] or short in TWO_POSITIONAL:
        allowed = 2
    elif qualname.startswith(("pilotdid.weights.", "pilotdid.datasets.")) and positional[:2] == [
        "lat",
        "lon",
    ]:
        allowed = 2
    else:
        allowed = 1
        first = FIRST_INPUT.get(short, "data")
        if qualname.startswith(("pilotdid.weights.", "pilotdid.figures.")):
            first = positional[0] if positional else first
        assert not positional or positional[0] in (first, "fml") or short in TWO_POSITIONAL, (
            f"{qualname}: first parameter {positional[0]!r}, expected {first!r}"
        )
    assert len(positional) <= allowed, (
        f"{qualname}: positional parameters {positional}; only the first {allowed} may be"
    )


@pytest.mark.parametrize("qualname", sorted(FUNCTIONS))
def test_seeds_default_to_zero(qualname):
    p = inspect.signature(FUNCTIONS[qualname]).parameters.get("seed")
    if p is not None and qualname.rsplit(".", 1)[1] not in SEED_INHERITED:
        assert p.default == 0, f"{qualname}: seed defaults to {p.default!r}"


@pytest.mark.parametrize(
    "qualname", sorted(q for q, f in FUNCTIONS.items() if getattr(f, "__pilotdid_renamed__", None))
)
def test_renamed_options_raise_a_type_error_naming_the_new_one(qualname):
    fn = FUNCTIONS[qualname]
    for old, new in fn.__pilotdid_renamed__.items():
        with pytest.raises(TypeError, match=f"'{old}' is now called '{new}'"):
            fn(None, **{old: None})


def test_datasets_is_an_attribute_after_import():
    """`import pilotdid as pdid; pdid.datasets.yrd()` works without a second import."""
    assert pdid.datasets.yrd().height == 41 * 16
