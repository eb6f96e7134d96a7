"""The study spec: TOML schema, key and value validation, defaults (:data:`SPEC_KEYS`).

Pure parsing: nothing here reads the data (see :mod:`pilotdid.study.data`)."""

from __future__ import annotations

import difflib
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pilotdid.study.errors import SpecError

__all__ = ["ANALYSIS_ORDER", "SPEC_KEYS", "load_spec"]

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as _toml


#: The analyses in the order they run (and appear in the report).
ANALYSIS_ORDER = (
    "descriptives",
    "baseline",
    "event_study",
    "sensitivity",
    "bacon",
    "sdid",
    "ddd",
    "dcdh",
    "dose",
    "placebo",
    "psm_did",
    "robustness",
    "mechanisms",
    "heterogeneity",
    "moderation",
    "spatial",
    "exposure",
)


ESTIMATORS = ("twfe", "cs", "sa", "bjs", "did2s")


ROBUSTNESS_KINDS = {
    "winsorize": ("columns", "lower", "upper", "by", "label"),
    "drop_units": ("units", "label"),
    "window": ("start", "end", "label"),
    "outcome": ("y", "label"),
    "controls": ("controls", "label"),
    "exclude_units": ("flags", "mode", "label"),
}


#: Every key the spec may hold, by table ("" = top level).
SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "": ("title", "seed", "data", "gtfp", "treatment", "model", "analyses", "report"),
    "data": ("path", "bundled", "unit", "time"),
    "gtfp": (
        "name",
        "inputs",
        "investment",
        "deflator",
        "delta",
        "capital_name",
        "good",
        "bad",
        "rts",
        "frontier",
    ),
    "treatment": (
        "column",
        "batch_column",
        "batch_years",
        "district_only",
        "district_only_column",
        "district_only_year",
        "status_column",
        "drop_status",
        "name",
        "cohort_name",
    ),
    "model": ("y", "controls", "fixed_effects", "cluster", "vcov"),
    "report": ("lang", "digits", "stat", "labels"),
    "analyses": ANALYSIS_ORDER,
    "analyses.descriptives": ("enabled", "columns"),
    "analyses.baseline": ("enabled", "steps", "reps"),
    "analyses.event_study": ("enabled", "estimators", "window", "ref_period", "controls"),
    "analyses.sensitivity": (
        "enabled",
        "estimator",
        "delta",
        "method",
        "m_bar",
        "m",
        "l_vec",
        "restriction",
        "level",
        "seed",
    ),
    "analyses.bacon": ("enabled",),
    "analyses.sdid": ("enabled", "methods", "vcov", "reps", "controls", "level", "seed"),
    "analyses.dcdh": (
        "enabled",
        "y",
        "treatment",
        "window",
        "controls",
        "switchers",
        "normalized",
        "bstrap",
        "reps",
        "level",
        "seed",
    ),
    "analyses.dose": (
        "enabled",
        "y",
        "dose",
        "dose_at",
        "degree",
        "num_knots",
        "control_group",
        "bstrap",
        "reps",
        "level",
        "seed",
        "small_sample",
        "df",
    ),
    "analyses.ddd": (
        "enabled",
        "partition",
        "split",
        "controls",
        "est_method",
        "control_group",
        "base_period",
        "bstrap",
        "reps",
        "level",
        "seed",
        "cohort_shares",
    ),
    "analyses.placebo": ("enabled", "reps", "statistic", "scheme", "seed"),
    "analyses.psm_did": (
        "enabled",
        "controls",
        "method",
        "k",
        "caliper",
        "replace",
        "by",
        "did_sample",
    ),
    "analyses.robustness": ("enabled", "checks"),
    "analyses.mechanisms": (
        "enabled",
        "mediators",
        "method",
        "reps",
        "ci",
        "joint",
        "estimator",
        "seed",
    ),
    "analyses.heterogeneity": ("enabled", "by", "split", "reps", "seed"),
    "analyses.moderation": ("enabled", "moderator", "at", "categorical"),
    "analyses.spatial": (
        "enabled",
        "model",
        "W",
        "k",
        "power",
        "cutoff_km",
        "lat",
        "lon",
        "effects",
        "lee_yu",
        "reps",
        "controls",
        "incomplete",
        "seed",
        "dlag",
        "compare",
    ),
    "analyses.exposure": (
        "enabled",
        "rings_km",
        "lat",
        "lon",
        "control_group",
        "bstrap",
        "reps",
        "level",
        "seed",
    ),
}


BUNDLED = ("yrd",)


DEFAULT_SEED = 20121


# ------------------------------------------------------------------------------------------
# small validation helpers
# ------------------------------------------------------------------------------------------
def _where(table: str) -> str:
    return "the top level" if table == "" else f"[{table}]"


#: Spec keys renamed to the package's one vocabulary (issue 14): the old key is an error that
#: names the new one. Keyed by table ("" = top level; robustness checks share one entry).
SPEC_RENAMED: dict[str, dict[str, str]] = {
    "model": {"outcome": "y"},
    "gtfp": {"kind": "frontier"},
    "analyses.baseline": {"wildboot_reps": "reps"},
    "analyses.event_study": {"reference": "ref_period"},
    "analyses.psm_did": {"covariates": "controls"},
    "analyses.mechanisms": {"boot_reps": "reps"},
    "analyses.heterogeneity": {"perm_reps": "reps"},
    "analyses.spatial": {"weights": "W", "draws": "reps", "covariates": "controls"},
    "analyses.robustness.checks": {"outcome": "y"},
}


def _check_keys(obj: dict, table: str, allowed: Sequence[str] | None = None) -> None:
    allowed = SPEC_KEYS[table] if allowed is None else allowed
    renamed = SPEC_RENAMED.get(re.sub(r"\[\d+\]$", "", table), {})
    for key in obj:
        if key in renamed and key not in allowed:
            raise SpecError(
                f"key '{key}' in {_where(table)} is now called '{renamed[key]}' (one vocabulary "
                "with the Python API; see CHANGELOG.md)"
            )
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise SpecError(
                f"unknown key '{key}' in {_where(table)}{hint} (allowed: {', '.join(allowed)})"
            )


def _bad(table: str, key: str, msg: str) -> SpecError:
    return SpecError(f"{_where(table)} {key}: {msg}")


def _str(obj: dict, table: str, key: str, default: Any = None, choices: Sequence[str] = ()):
    v = obj.get(key, default)
    if v is None:
        return None
    if not isinstance(v, str) or not v:
        raise _bad(table, key, f"expected a non-empty string, got {v!r}")
    if choices and v not in choices:
        raise _bad(table, key, f"'{v}' is not one of {', '.join(choices)}")
    return v


def _int(obj: dict, table: str, key: str, default: Any = None, minimum: int | None = None):
    v = obj.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(table, key, f"expected an integer, got {v!r}")
    if minimum is not None and v < minimum:
        raise _bad(table, key, f"must be at least {minimum}, got {v}")
    return v


def _float(obj: dict, table: str, key: str, default: Any = None):
    v = obj.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _bad(table, key, f"expected a number, got {v!r}")
    return float(v)


def _bool(obj: dict, table: str, key: str, default: bool | None = None):
    v = obj.get(key, default)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise _bad(table, key, f"expected true or false, got {v!r}")
    return v


def _strlist(obj: dict, table: str, key: str, default: Any = None):
    v = obj.get(key, default)
    if v is None:
        return None
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
        raise _bad(table, key, f"expected a list of strings, got {v!r}")
    return list(v)


def _table(obj: dict, table: str, key: str) -> dict:
    v = obj.get(key, {})
    if not isinstance(v, dict):
        name = f"{table}.{key}" if table else key
        raise SpecError(f"[{name}] must be a table, got {v!r}")
    return v


# ------------------------------------------------------------------------------------------
# spec loading and structural resolution
# ------------------------------------------------------------------------------------------
def load_spec(path: str | Path) -> dict:
    """Reads a TOML spec file (no validation)."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"spec file '{p}' not found")
    try:
        return _toml.loads(p.read_text(encoding="utf-8"))
    except _toml.TOMLDecodeError as e:
        raise SpecError(f"spec file '{p}' is not valid TOML: {e}") from None


def _resolve_structure(raw: dict) -> dict:
    """Keys, types and option values; defaults filled in. No data needed."""
    _check_keys(raw, "")
    out: dict[str, Any] = {}
    out["title"] = _str(raw, "", "title", "pilotdid study")
    out["seed"] = _int(raw, "", "seed", DEFAULT_SEED, minimum=0)

    d = _table(raw, "", "data")
    _check_keys(d, "data")
    path, bundled = _str(d, "data", "path"), _str(d, "data", "bundled", choices=BUNDLED)
    if (path is None) == (bundled is None):
        raise SpecError("[data]: give exactly one of 'path' (a CSV or Parquet file) or 'bundled'")
    if path is not None and Path(path).suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise _bad("data", "path", f"'{path}' is not a .csv or .parquet file")
    default_ids = ("city", "year") if bundled == "yrd" else (None, None)
    unit = _str(d, "data", "unit", default_ids[0])
    tcol = _str(d, "data", "time", default_ids[1])
    if unit is None or tcol is None:
        raise SpecError("[data]: 'unit' and 'time' (column names) are required")
    out["data"] = {"path": path, "bundled": bundled, "unit": unit, "time": tcol}
    out["gtfp"] = _resolve_gtfp(raw) if "gtfp" in raw else None

    t = _table(raw, "", "treatment")
    _check_keys(t, "treatment")
    column, batch = _str(t, "treatment", "column"), _str(t, "treatment", "batch_column")
    if (column is None) == (batch is None):
        raise SpecError(
            "[treatment]: give exactly one of 'column' (an existing 0/1 treatment column) or "
            "'batch_column' (with 'batch_years')"
        )
    tr: dict[str, Any] = {"column": column, "batch_column": batch}
    if batch is not None:
        years = t.get("batch_years")
        if not isinstance(years, dict) or not years:
            raise _bad(
                "treatment", "batch_years", "a table such as {1 = 2013, 2 = 2014} is required"
            )
        for k, v in years.items():
            if isinstance(v, bool) or not isinstance(v, int):
                raise _bad("treatment", "batch_years", f"batch {k}: year {v!r} is not an integer")
        tr["batch_years"] = {str(k): int(v) for k, v in years.items()}
        tr["district_only"] = _str(
            t, "treatment", "district_only", "untreated", ("untreated", "treated", "drop")
        )
        tr["district_only_column"] = _str(t, "treatment", "district_only_column", "district_only")
        tr["district_only_year"] = _int(t, "treatment", "district_only_year")
        tr["status_column"] = _str(t, "treatment", "status_column")
        tr["drop_status"] = _strlist(t, "treatment", "drop_status", [])
        if tr["drop_status"] and tr["status_column"] is None:
            tr["status_column"] = "pilot_status"
    else:
        extra = [k for k in SPEC_KEYS["treatment"][2:8] if k in t]
        if extra:
            raise _bad("treatment", extra[0], "only used with 'batch_column', not with 'column'")
    tr["name"] = _str(t, "treatment", "name", column or "did")
    tr["cohort_name"] = _str(t, "treatment", "cohort_name", "cohort")
    out["treatment"] = tr

    m = _table(raw, "", "model")
    _check_keys(m, "model")
    outcome = _str(m, "model", "y")
    if outcome is None:
        raise SpecError("[model] y: required (the outcome column)")
    if m.get("vcov") == "HC1":
        raise _bad("model", "vcov", "'HC1' is now called 'hetero' (as in the Python API)")
    vcov = _str(m, "model", "vcov", "CR1", ("CR1", "hetero", "iid"))
    out["model"] = {
        "y": outcome,
        "controls": _strlist(m, "model", "controls", []),
        "fixed_effects": _strlist(m, "model", "fixed_effects", [unit, tcol]),
        "vcov": vcov,
        "cluster": _str(m, "model", "cluster", unit) if vcov == "CR1" else None,
    }

    r = _table(raw, "", "report")
    _check_keys(r, "report")
    labels = r.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise _bad("report", "labels", 'expected a table of column = "label" strings')
    out["report"] = {
        "lang": _str(r, "report", "lang", "en", ("en", "zh")),
        "digits": _int(r, "report", "digits", 3, minimum=0),
        "stat": _str(r, "report", "stat", "se", ("se", "t", "p", "ci")),
        "labels": {str(k): v for k, v in labels.items()},
    }

    a = _table(raw, "", "analyses")
    _check_keys(a, "analyses")
    out["analyses"] = {}
    for name in ANALYSIS_ORDER:
        if name not in a:
            continue
        sub = _table(a, "analyses", name)
        tab = f"analyses.{name}"
        _check_keys(sub, tab)
        resolved = {"enabled": _bool(sub, tab, "enabled", True)}
        resolved.update(_ANALYSIS_RESOLVERS[name](sub, tab, out))
        out["analyses"][name] = resolved
    return out


def _resolve_gtfp(raw: dict) -> dict:
    """[gtfp]: green TFP built from raw inputs and outputs before the analyses run: capital by
    perpetual inventory from ``investment`` (optional), then the cumulative Malmquist-Luenberger
    index of an SBM with bad outputs (pilotdid.green); columns ``name`` and ``ln_<name>``."""
    g = _table(raw, "", "gtfp")
    _check_keys(g, "gtfp")
    inputs, good = _strlist(g, "gtfp", "inputs", []), _strlist(g, "gtfp", "good", [])
    investment = _str(g, "gtfp", "investment")
    if not good or not (inputs or investment):
        raise SpecError("[gtfp]: 'good' (outputs) and 'inputs' (or 'investment') are required")
    delta = _float(g, "gtfp", "delta", 0.096)
    if not 0 < delta < 1:
        raise _bad("gtfp", "delta", f"{delta} is not a depreciation rate in (0, 1)")
    return {
        "name": _str(g, "gtfp", "name", "gtfp_gml"),
        "inputs": inputs,
        "investment": investment,
        "deflator": _str(g, "gtfp", "deflator"),
        "delta": delta,
        "capital_name": _str(g, "gtfp", "capital_name", "capital"),
        "good": good,
        "bad": _strlist(g, "gtfp", "bad", []),
        "rts": _str(g, "gtfp", "rts", "crs", ("crs", "vrs")),
        "frontier": _str(g, "gtfp", "frontier", "global", ("global", "contemporaneous")),
    }


def _seed(sub: dict, tab: str, spec: dict) -> int:
    return _int(sub, tab, "seed", spec["seed"], minimum=0)


def _r_descriptives(sub: dict, tab: str, spec: dict) -> dict:
    m = spec["model"]
    default = [m["y"], spec["treatment"]["name"], *m["controls"]]
    return {"columns": _strlist(sub, tab, "columns", default)}


def _r_baseline(sub: dict, tab: str, spec: dict) -> dict:
    reps = _int(sub, tab, "reps", 0, minimum=0)
    if reps > 0 and spec["model"]["vcov"] != "CR1":
        raise _bad(tab, "reps", "the wild cluster bootstrap needs [model] vcov = 'CR1'")
    return {
        "steps": _str(sub, tab, "steps", "cumulative", ("cumulative", "endpoints", "full")),
        "reps": reps,
        "wildboot_seed": spec["seed"],
    }


def _r_event_study(sub: dict, tab: str, spec: dict) -> dict:
    ests = _strlist(sub, tab, "estimators", list(ESTIMATORS))
    for e in ests:
        if e not in ESTIMATORS:
            close = difflib.get_close_matches(e, ESTIMATORS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise _bad(tab, "estimators", f"'{e}' is not one of {', '.join(ESTIMATORS)}{hint}")
    if not ests:
        raise _bad(tab, "estimators", "name at least one estimator")
    window = sub.get("window")
    if window is not None:
        window = _window(sub, tab, window, lo_max=-1, hi_min=0, rule="lo < 0 <= hi")
    return {
        "estimators": list(dict.fromkeys(ests)),
        "window": window,
        "ref_period": _int(sub, tab, "ref_period", -1),
        "controls": _bool(sub, tab, "controls", True),
    }


def _grid(sub: dict, tab: str, key: str, default: Any) -> list[float] | None:
    """A non-empty list of non-negative numbers (a HonestDiD grid of M-bar or M)."""
    v = sub.get(key, default)
    if v is None:
        return None
    if (
        not isinstance(v, list)
        or not v
        or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x >= 0
            for x in v
        )
    ):
        raise _bad(tab, key, f"expected a non-empty list of numbers >= 0, got {v!r}")
    return [float(x) for x in v]


def _level(sub: dict, tab: str) -> float:
    level = _float(sub, tab, "level", 0.95)
    if not 0 < level < 1:
        raise _bad(tab, "level", f"must be in (0, 1), got {level}")
    return level


def _r_sensitivity(sub: dict, tab: str, spec: dict) -> dict:
    """[analyses.sensitivity]: HonestDiD (Rambachan & Roth 2023) on one of the event
    studies [analyses.event_study] estimates; the options are honest_did's."""
    es = spec["analyses"].get("event_study")
    if sub.get("enabled", True) and (es is None or not es["enabled"]):
        raise _bad(
            tab, "enabled", "the sensitivity analysis needs [analyses.event_study] (enabled)"
        )
    ests = es["estimators"] if es is not None else list(ESTIMATORS)
    est = _str(sub, tab, "estimator", "cs" if "cs" in ests else ests[0], ESTIMATORS)
    if est not in ests:
        raise _bad(
            tab,
            "estimator",
            f"'{est}' is not among [analyses.event_study] estimators ({', '.join(ests)})",
        )
    delta = _str(sub, tab, "delta", "rm", ("rm", "sdrm", "sd"))
    methods = ("FLCI",) if delta == "sd" else ("C-LF", "Conditional")
    l_vec = sub.get("l_vec", "first")
    if isinstance(l_vec, str):
        if l_vec not in ("first", "average"):
            raise _bad(
                tab, "l_vec", f"expected 'first', 'average' or a list of weights, got {l_vec!r}"
            )
    elif not (
        isinstance(l_vec, list)
        and l_vec
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in l_vec)
    ):
        raise _bad(tab, "l_vec", f"expected 'first', 'average' or a list of weights, got {l_vec!r}")
    level = _level(sub, tab)
    return {
        "estimator": est,
        "delta": delta,
        "method": _str(sub, tab, "method", methods[0], methods),
        "m_bar": _grid(sub, tab, "m_bar", [0.0, 0.5, 1.0, 1.5, 2.0]),
        "m": _grid(sub, tab, "m", None),
        "l_vec": l_vec if isinstance(l_vec, str) else [float(x) for x in l_vec],
        "restriction": _str(
            sub,
            tab,
            "restriction",
            "none",
            ("none", "increasing", "decreasing", "positive", "negative"),
        ),
        "level": level,
        "seed": _seed(sub, tab, spec),
    }


def _r_bacon(sub: dict, tab: str, spec: dict) -> dict:
    return {}


SDID_METHODS = ("sdid", "sc", "did")


def _r_sdid(sub: dict, tab: str, spec: dict) -> dict:
    """[analyses.sdid]: synthetic DID (Arkhangelsky et al. 2021) with synthetic control and
    DID from the same weights, as in the paper's Table 1; staggered cohorts against the
    never-treated units. ``controls = true`` enters [model] controls as R synthdid's X."""
    methods = _strlist(sub, tab, "methods", list(SDID_METHODS))
    for m in methods:
        if m not in SDID_METHODS:
            raise _bad(tab, "methods", f"'{m}' is not one of {', '.join(SDID_METHODS)}")
    if not methods:
        raise _bad(tab, "methods", "name at least one of sdid, sc, did")
    return {
        "methods": list(dict.fromkeys(methods)),
        "vcov": _str(
            sub, tab, "vcov", "placebo", ("placebo", "bootstrap", "jackknife", "jackknife_fixed")
        ),
        "reps": _int(sub, tab, "reps", 200, minimum=2),
        "controls": _bool(sub, tab, "controls", False),
        "level": _level(sub, tab),
        "seed": _seed(sub, tab, spec),
    }


def _r_ddd(sub: dict, tab: str, spec: dict) -> dict:
    """[analyses.ddd]: staggered triple differences (Ortiz-Villavicencio & Sant'Anna 2025):
    the eligible units (``partition`` = 1) of pilot cohorts against the ineligible units of
    their cohort and both kinds of comparison units. ``split = "median"`` makes a unit-level
    partition from a numeric column (first-period value above the median of units)."""
    part = _str(sub, tab, "partition")
    if part is None and sub.get("enabled", True):
        raise _bad(tab, "partition", "required: a unit-level 0/1 eligibility column")
    return {
        "partition": part,
        "split": _str(sub, tab, "split", "none", ("none", "median")),
        "controls": _strlist(sub, tab, "controls", []),
        "est_method": _str(sub, tab, "est_method", "dr", ("dr", "ipw", "reg")),
        "control_group": _str(sub, tab, "control_group", "never", ("never", "notyet")),
        "base_period": _str(sub, tab, "base_period", "universal", ("universal", "varying")),
        "bstrap": _bool(sub, tab, "bstrap", False),
        "reps": _int(sub, tab, "reps", 999, minimum=2),
        "level": _level(sub, tab),
        "seed": _seed(sub, tab, spec),
        # "fixed": aggregates' SEs conditional on the realized cohort sizes (no share term)
        "cohort_shares": _str(sub, tab, "cohort_shares", "estimated", ("estimated", "fixed")),
    }


def _window(
    sub: dict, tab: str, default: list[int], *, lo_max: int, hi_min: int, rule: str
) -> list[int]:
    """An event window [lo, hi] of integers with lo <= lo_max and hi >= hi_min (``rule`` says
    so in the message)."""
    window = sub.get("window", default)
    if (
        not isinstance(window, list)
        or len(window) != 2
        or not all(isinstance(w, int) and not isinstance(w, bool) for w in window)
        or window[0] > lo_max
        or window[1] < hi_min
    ):
        raise _bad(tab, "window", f"expected [lo, hi] integers with {rule}, got {window!r}")
    return [int(window[0]), int(window[1])]


def _r_dcdh(sub: dict, tab: str, spec: dict) -> dict:
    """[analyses.dcdh]: de Chaisemartin & D'Haultfoeuille's DID_l (did_multiplegt_dyn) of a
    binary, discrete or continuous treatment that may switch on and off: effects 1..hi and
    placebos 1..-lo; ``controls = true`` enters [model] controls (time-varying, as the
    reference's controls); ``bstrap = true`` replaces the influence-function SEs by the
    reference's cluster bootstrap with ``reps`` draws seeded by ``seed``."""
    return {
        "y": _str(sub, tab, "y", spec["model"]["y"]),
        "treatment": _str(sub, tab, "treatment", spec["treatment"]["name"]),
        "window": _window(sub, tab, [-3, 5], lo_max=0, hi_min=1, rule="lo <= 0 < hi"),
        "controls": _bool(sub, tab, "controls", False),
        "switchers": _str(sub, tab, "switchers", "both", ("both", "in", "out")),
        "normalized": _bool(sub, tab, "normalized", False),
        "bstrap": _bool(sub, tab, "bstrap", False),
        "reps": _int(sub, tab, "reps", 999, minimum=2),
        "level": _level(sub, tab),
        "seed": _seed(sub, tab, spec),
    }


def _r_dose(sub: dict, tab: str, spec: dict) -> dict:
    """[analyses.dose]: continuous-dose DID (Callaway, Goodman-Bacon & Sant'Anna 2024) with
    the spec's cohorts. ``dose_at = "adoption"`` takes each pilot's dose as its value of the
    ``dose`` column in its first treated year (0 for the never-treated); ``"constant"`` reads
    a column that already holds one dose per unit."""
    dose = _str(sub, tab, "dose")
    if dose is None and sub.get("enabled", True):
        raise _bad(tab, "dose", "required: the dose (treatment intensity) column")
    small_sample = _str(sub, tab, "small_sample", "none", ("none", "hc2", "hc3"))
    df = _str(sub, tab, "df", "normal", ("normal", "satterthwaite"))
    if df == "satterthwaite" and small_sample == "none":
        raise _bad(tab, "df", "'satterthwaite' needs small_sample = 'hc2' or 'hc3'")
    return {
        "y": _str(sub, tab, "y", spec["model"]["y"]),
        "dose": dose,
        "dose_at": _str(sub, tab, "dose_at", "constant", ("constant", "adoption")),
        "degree": _int(sub, tab, "degree", 3, minimum=1),
        "num_knots": _int(sub, tab, "num_knots", 0, minimum=0),
        "control_group": _str(sub, tab, "control_group", "notyet", ("never", "notyet")),
        "bstrap": _bool(sub, tab, "bstrap", True),
        "reps": _int(sub, tab, "reps", 999, minimum=2),
        "level": _level(sub, tab),
        "seed": _seed(sub, tab, spec),
        # "hc2": leverage-corrected spline residuals (few treated units per cohort)
        "small_sample": small_sample,
        # "satterthwaite": Student-t intervals (cohorts with 1-2 residual degrees of freedom)
        "df": df,
    }


def _r_placebo(sub: dict, tab: str, spec: dict) -> dict:
    return {
        "reps": _int(sub, tab, "reps", 500, minimum=1),
        "statistic": _str(sub, tab, "statistic", "twfe", ESTIMATORS),
        "scheme": _str(sub, tab, "scheme", "units", ("units", "times", "both")),
        "seed": _seed(sub, tab, spec),
    }


def _r_psm_did(sub: dict, tab: str, spec: dict) -> dict:
    caliper = _float(sub, tab, "caliper")
    if caliper is not None and caliper <= 0:
        raise _bad(tab, "caliper", f"must be positive, got {caliper}")
    return {
        "controls": _strlist(sub, tab, "controls", spec["model"]["controls"]),
        "method": _str(sub, tab, "method", "nearest", ("nearest", "kernel")),
        "k": _int(sub, tab, "k", 1, minimum=1),
        "caliper": caliper,
        "replace": _bool(sub, tab, "replace", True),
        "by": _str(sub, tab, "by"),
        "did_sample": _str(sub, tab, "did_sample", "matched", ("matched", "weights")),
    }


def _r_robustness(sub: dict, tab: str, spec: dict) -> dict:
    checks = sub.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise _bad(tab, "checks", 'expected a list of tables such as {kind = "winsorize"}')
    out = []
    for i, c in enumerate(checks):
        where = f"{tab}.checks[{i}]"
        kind = _str(c, where, "kind", choices=tuple(ROBUSTNESS_KINDS))
        if kind is None:
            raise _bad(where, "kind", f"required: one of {', '.join(ROBUSTNESS_KINDS)}")
        _check_keys({k: v for k, v in c.items() if k != "kind"}, where, ROBUSTNESS_KINDS[kind])
        r: dict[str, Any] = {"kind": kind}
        if "label" in c:
            r["label"] = _str(c, where, "label")
        if kind == "winsorize":
            lo, hi = _float(c, where, "lower", 0.01), _float(c, where, "upper", 0.99)
            if not 0.0 <= lo < hi <= 1.0:
                raise _bad(where, "lower/upper", f"need 0 <= lower < upper <= 1, got {lo}, {hi}")
            r.update(lower=lo, upper=hi)
            if "columns" in c:
                r["columns"] = _strlist(c, where, "columns")
            if "by" in c:
                r["by"] = _str(c, where, "by")
        elif kind == "drop_units":
            units = c.get("units")
            if not isinstance(units, list) or not units:
                raise _bad(where, "units", "a non-empty list of unit ids is required")
            r["units"] = list(units)
        elif kind == "window":
            start, end = _int(c, where, "start"), _int(c, where, "end")
            if start is None and end is None:
                raise _bad(where, "start/end", "give at least one of them")
            r.update(start=start, end=end)
        elif kind == "outcome":
            r["y"] = _str(c, where, "y")
            if r["y"] is None:
                raise _bad(where, "y", "required (the alternative outcome column)")
        elif kind == "controls":
            r["controls"] = _strlist(c, where, "controls")
            if not r["controls"]:
                raise _bad(where, "controls", "required")
        elif kind == "exclude_units":
            r["flags"] = _strlist(c, where, "flags")
            if not r["flags"]:
                raise _bad(where, "flags", "required: 0/1 columns flagging the units")
            r["mode"] = _str(c, where, "mode", "drop", ("drop", "control"))
        out.append(r)
    return {"checks": out}


def _r_mechanisms(sub: dict, tab: str, spec: dict) -> dict:
    meds = _strlist(sub, tab, "mediators")
    if not meds:
        raise _bad(tab, "mediators", "required: a list of mediator columns")
    return {
        "mediators": meds,
        "method": _str(sub, tab, "method", "three_step", ("three_step", "two_step")),
        "reps": _int(sub, tab, "reps", 200, minimum=0),
        "ci": _str(sub, tab, "ci", "percentile", ("percentile", "bc")),
        "joint": _bool(sub, tab, "joint", False),
        "estimator": _str(sub, tab, "estimator", "twfe", ESTIMATORS),
        "seed": _seed(sub, tab, spec),
    }


def _r_heterogeneity(sub: dict, tab: str, spec: dict) -> dict:
    by = _strlist(sub, tab, "by")
    if not by:
        raise _bad(tab, "by", "required: the unit-level group column(s)")
    return {
        "by": by,
        "split": _str(sub, tab, "split", "none", ("none", "median")),
        "reps": _int(sub, tab, "reps", 200, minimum=0),
        "seed": _seed(sub, tab, spec),
    }


def _r_moderation(sub: dict, tab: str, spec: dict) -> dict:
    mod = _str(sub, tab, "moderator")
    if mod is None:
        raise _bad(tab, "moderator", "required: the moderator column")
    at = sub.get("at")
    if at is not None and (
        not isinstance(at, list)
        or not at
        or not all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in at)
    ):
        raise _bad(tab, "at", f"expected a list of moderator values, got {at!r}")
    return {"moderator": mod, "at": at, "categorical": _bool(sub, tab, "categorical")}


#: Spatial models a study can fit: the spatial lag, spatial Durbin and general nesting models.
SPATIAL_MODELS = ("sdm", "sar", "gns")

#: The keys of one entry of [analyses.spatial] compare.
SPATIAL_COMPARE_KEYS = ("model", "dlag", "label")

#: [analyses.spatial] dlag spellings (xsmle's codes and pilotdid's names) -> code; 0 = static.
SPATIAL_DLAGS: dict[Any, int] = {0: 0, 1: 1, 2: 2, 3: 3, "time": 1, "spacetime": 2, "both": 3}

_DLAG_WORDS = {1: "y(t-1)", 2: "W y(t-1)", 3: "y(t-1), W y(t-1)"}


def spatial_label(model: str, dlag: int, lang: str = "en") -> str:
    """A spatial model's column title: "SDM", "GNS", "Dynamic SDM" (dlag 1) or "Dynamic SDM
    (W y(t-1))" (dlag 2, 3 names its lags)."""
    if dlag == 0:
        return model.upper()
    head = f"动态{model.upper()}" if lang == "zh" else f"Dynamic {model.upper()}"
    return head if dlag == 1 else f"{head} ({_DLAG_WORDS[dlag]})"


def _spatial_dlag(obj: dict, where: str, model: str, effects: str) -> int:
    """``dlag`` of a spatial model: 0 (static, the default), 1 / "time" (y(t-1)), 2 /
    "spacetime" (W y(t-1)) or 3 / "both"; only for the SAR and SDM, with unit effects."""
    v = obj.get("dlag", 0)
    if isinstance(v, bool) or not isinstance(v, (int, str)) or v not in SPATIAL_DLAGS:
        raise _bad(
            where,
            "dlag",
            f"{v!r} is not one of 0 (static), 1 or 'time' (y(t-1)), 2 or 'spacetime' "
            "(W y(t-1)), 3 or 'both'",
        )
    dlag = SPATIAL_DLAGS[v]
    if dlag and model == "gns":
        raise _bad(
            where,
            "dlag",
            f"model = 'gns' has no dynamic form (dlag = {v!r}); a dynamic model is a 'sdm' "
            "or 'sar' (or use dlag = 0)",
        )
    if dlag and effects not in ("twoways", "individual"):
        raise _bad(
            where,
            "dlag",
            f"a dynamic model (dlag = {v!r}) needs unit effects: [analyses.spatial] effects = "
            f"'twoways' (Lee & Yu 2010) or 'individual' (Yu, de Jong & Lee 2008), not "
            f"'{effects}'",
        )
    return dlag


def _spatial_compare(sub: dict, tab: str, spec: dict, main: tuple[str, int], effects: str):
    """[analyses.spatial] compare: further models fitted on the same W, outcome and controls,
    each a table {model = "sdm" | "sar" | "gns", dlag = 0..3, label = "..."}."""
    entries = sub.get("compare", [])
    if not isinstance(entries, list) or not all(isinstance(c, dict) for c in entries):
        raise _bad(
            tab,
            "compare",
            'expected a list of tables such as {model = "gns"} or {model = "sdm", dlag = 1}, '
            f"got {entries!r}",
        )
    lang = spec["report"]["lang"]
    seen = {main: "the main model ([analyses.spatial] model/dlag)"}
    labels = {spatial_label(*main, lang)}
    out = []
    for i, c in enumerate(entries):
        where = f"{tab}.compare[{i}]"
        _check_keys(c, where, SPATIAL_COMPARE_KEYS)
        model = _str(c, where, "model", choices=SPATIAL_MODELS)
        if model is None:
            raise _bad(where, "model", f"required: one of {', '.join(SPATIAL_MODELS)}")
        dlag = _spatial_dlag(c, where, model, effects)
        if (model, dlag) in seen:
            raise _bad(
                where,
                "model/dlag",
                f"model = '{model}', dlag = {dlag} is already fitted as {seen[model, dlag]}",
            )
        seen[model, dlag] = f"compare[{i}]"
        label = _str(c, where, "label", spatial_label(model, dlag, lang))
        if label in labels:
            raise _bad(where, "label", f"'{label}' is already the title of another model")
        labels.add(label)
        out.append({"model": model, "dlag": dlag, "label": label})
    return out


def _r_spatial(sub: dict, tab: str, spec: dict) -> dict:
    """[analyses.spatial]: a spatial panel with unit and/or period fixed effects and its
    LeSage-Pace effects. ``model``: "sdm" (default), "sar" or "gns" (general nesting, Elhorst
    2014; weakly identified as Gibbons & Overman 2012 show). ``dlag`` makes the model a
    time-space dynamic SDM / SAR (xsmle's codes: 1 / "time" y(t-1), 2 / "spacetime"
    W y(t-1), 3 / "both"), fitted by QML with the bias correction of Yu, de Jong & Lee (2008)
    (``effects = "individual"``) or Lee & Yu (2010) (``"twoways"``; ``lee_yu`` is for the
    static models), with short- and long-run effects. ``compare`` lists further models on the
    same W, outcome and controls, shown beside the main one; their effects use the same
    ``reps`` and ``seed``."""
    cutoff = _float(sub, tab, "cutoff_km")
    if cutoff is not None and cutoff <= 0:
        raise _bad(tab, "cutoff_km", f"must be positive, got {cutoff}")
    model = _str(sub, tab, "model", "sdm", SPATIAL_MODELS)
    effects = _str(sub, tab, "effects", "twoways", ("twoways", "individual", "time", "none"))
    dlag = _spatial_dlag(sub, tab, model, effects)
    return {
        "model": model,
        "dlag": dlag,
        "compare": _spatial_compare(sub, tab, spec, (model, dlag), effects),
        "W": _str(sub, tab, "W", "inverse_distance", ("inverse_distance", "knn")),
        "k": _int(sub, tab, "k", 5, minimum=1),
        "power": _float(sub, tab, "power", 1.0),
        "cutoff_km": cutoff,
        "lat": _str(sub, tab, "lat", "lat"),
        "lon": _str(sub, tab, "lon", "lon"),
        "effects": effects,
        "lee_yu": _bool(sub, tab, "lee_yu", True),
        "reps": _int(sub, tab, "reps", 500, minimum=1),
        "controls": _strlist(sub, tab, "controls", spec["model"]["controls"]),
        "incomplete": _str(sub, tab, "incomplete", "error", ("error", "drop_units")),
        "seed": _seed(sub, tab, spec),
    }


def _r_exposure(sub: dict, tab: str, spec: dict) -> dict:
    """[analyses.exposure]: the exposure DID of Butts (2023): direct effects against
    never-treated (or not-yet-treated) units unexposed at the base period and t, and
    spillovers on never-treated units by distance ring to the nearest treated unit
    (``rings_km``: increasing cutoffs in km; beyond the last is unexposed)."""
    rings = sub.get("rings_km", [0, 50, 100, 200])
    if (
        not isinstance(rings, list)
        or len(rings) < 2
        or not all(
            isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r)
            for r in rings
        )
    ):
        raise _bad(tab, "rings_km", f"expected at least two numbers (km), got {rings!r}")
    if rings[0] < 0 or any(b <= a for a, b in zip(rings, rings[1:])):
        raise _bad(tab, "rings_km", f"cutoffs must start at 0 or above and increase, got {rings!r}")
    return {
        "rings_km": [float(r) for r in rings],
        "lat": _str(sub, tab, "lat", "lat"),
        "lon": _str(sub, tab, "lon", "lon"),
        "control_group": _str(sub, tab, "control_group", "never", ("never", "notyet")),
        "bstrap": _bool(sub, tab, "bstrap", False),
        "reps": _int(sub, tab, "reps", 999, minimum=2),
        "level": _level(sub, tab),
        "seed": _seed(sub, tab, spec),
    }


_ANALYSIS_RESOLVERS = {
    "descriptives": _r_descriptives,
    "baseline": _r_baseline,
    "event_study": _r_event_study,
    "sensitivity": _r_sensitivity,
    "bacon": _r_bacon,
    "sdid": _r_sdid,
    "ddd": _r_ddd,
    "dcdh": _r_dcdh,
    "dose": _r_dose,
    "placebo": _r_placebo,
    "psm_did": _r_psm_did,
    "robustness": _r_robustness,
    "mechanisms": _r_mechanisms,
    "heterogeneity": _r_heterogeneity,
    "moderation": _r_moderation,
    "spatial": _r_spatial,
    "exposure": _r_exposure,
}


#: Treatment-coding columns of the bundled panel that a spec rebuilds from the pilot batches.
BUNDLED_CODING_COLUMNS = ("did", "cohort", "treat", "post", "event_time")


#: An internal column the runner adds (ever-treated indicator for PSM and heterogeneity).
EVER_TREATED = "_ever_treated"


_ES_COLS = [
    "estimator",
    "event_time",
    "estimate",
    "std_error",
    "statistic",
    "conf_low",
    "conf_high",
]
