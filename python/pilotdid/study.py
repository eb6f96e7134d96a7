"""A whole study from one TOML spec: schema, validation, data preparation and execution.

``pilotdid run spec.toml`` (see :mod:`pilotdid.cli`) reads a spec, validates it completely
(unknown keys, missing columns, bad option values, a treatment coding without treated units
or without controls) *before* anything runs or is written, runs the enabled analyses in a
fixed order and hands the results to :mod:`pilotdid.report`, which writes the report folder.

Python API::

    spec = pilotdid.study.resolve_spec("study.toml")   # validated, every default filled in
    study = pilotdid.run_study("study.toml")           # runs it; nothing written
    study.write_report("pilotdid-report", overwrite=True)

The schema (every table optional unless said so; ``enabled = false`` switches an analysis
off) is documented on :data:`SPEC_KEYS` and in ``pilotdid/datasets/yrd/study.toml``.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pilotdid._core import PilotdidError
from pilotdid.study_errors import SpecError, StudyError

__all__ = [
    "ANALYSIS_ORDER",
    "SPEC_KEYS",
    "SpecError",
    "Study",
    "StudyError",
    "load_spec",
    "prepare_data",
    "resolve_spec",
    "run_study",
]

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as _toml




#: The analyses in the order they run (and appear in the report).
ANALYSIS_ORDER = (
    "descriptives",
    "baseline",
    "event_study",
    "bacon",
    "placebo",
    "psm_did",
    "robustness",
    "mechanisms",
    "heterogeneity",
    "moderation",
    "spatial",
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
    "analyses.bacon": ("enabled",),
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


def _build_gtfp(df: pl.DataFrame, spec: dict, source: str) -> tuple[pl.DataFrame, dict]:
    """Adds the [gtfp] columns; errors (non-positive values, ...) stop the study before it
    runs, naming the table."""
    from pilotdid import green

    g, unit, time = spec["gtfp"], spec["data"]["unit"], spec["data"]["time"]
    made = [g["name"], f"ln_{g['name']}"] + ([g["capital_name"]] if g["investment"] else [])
    clash = [c for c in made if c in df.columns]
    if clash:
        raise SpecError(f"[gtfp]: column '{clash[0]}' already exists in {source}; set another name")
    inputs = list(g["inputs"])
    try:
        if g["investment"]:
            k = green.capital_stock(
                df,
                investment=g["investment"],
                unit=unit,
                time=time,
                deflator=g["deflator"],
                delta=g["delta"],
                name=g["capital_name"],
            )
            df = df.join(k.select(unit, time, g["capital_name"]), on=[unit, time], how="left")
            inputs.append(g["capital_name"])
        idx = green.gml(
            df,
            inputs=inputs,
            good=g["good"],
            bad=g["bad"] or None,
            unit=unit,
            time=time,
            frontier=g["frontier"],
            rts=g["rts"],
        )
    except PilotdidError as err:
        raise SpecError(f"[gtfp]: {err}") from err
    col = "gtfp" if "gtfp" in idx.columns else idx.columns[-1]
    idx = idx.select(unit, time, pl.col(col).alias(g["name"]), "status")
    df = df.join(idx.drop("status"), on=[unit, time], how="left").with_columns(
        pl.col(g["name"]).log().alias(f"ln_{g['name']}")
    )
    counts = idx.group_by("status").len().sort("status")
    info = {
        "columns": made,
        "inputs": inputs,
        "status": dict(zip(counts["status"].to_list(), counts["len"].to_list())),
    }
    return df, info


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
        if (
            not isinstance(window, list)
            or len(window) != 2
            or not all(isinstance(w, int) and not isinstance(w, bool) for w in window)
            or window[0] >= 0
            or window[1] < 0
        ):
            raise _bad(
                tab, "window", f"expected [lo, hi] integers with lo < 0 <= hi, got {window!r}"
            )
        window = [int(window[0]), int(window[1])]
    return {
        "estimators": list(dict.fromkeys(ests)),
        "window": window,
        "ref_period": _int(sub, tab, "ref_period", -1),
        "controls": _bool(sub, tab, "controls", True),
    }


def _r_bacon(sub: dict, tab: str, spec: dict) -> dict:
    return {}


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


def _r_spatial(sub: dict, tab: str, spec: dict) -> dict:
    cutoff = _float(sub, tab, "cutoff_km")
    if cutoff is not None and cutoff <= 0:
        raise _bad(tab, "cutoff_km", f"must be positive, got {cutoff}")
    return {
        "model": _str(sub, tab, "model", "sdm", ("sdm", "sar")),
        "W": _str(sub, tab, "W", "inverse_distance", ("inverse_distance", "knn")),
        "k": _int(sub, tab, "k", 5, minimum=1),
        "power": _float(sub, tab, "power", 1.0),
        "cutoff_km": cutoff,
        "lat": _str(sub, tab, "lat", "lat"),
        "lon": _str(sub, tab, "lon", "lon"),
        "effects": _str(sub, tab, "effects", "twoways", ("twoways", "individual", "time", "none")),
        "lee_yu": _bool(sub, tab, "lee_yu", True),
        "reps": _int(sub, tab, "reps", 500, minimum=1),
        "controls": _strlist(sub, tab, "controls", spec["model"]["controls"]),
        "seed": _seed(sub, tab, spec),
    }


_ANALYSIS_RESOLVERS = {
    "descriptives": _r_descriptives,
    "baseline": _r_baseline,
    "event_study": _r_event_study,
    "bacon": _r_bacon,
    "placebo": _r_placebo,
    "psm_did": _r_psm_did,
    "robustness": _r_robustness,
    "mechanisms": _r_mechanisms,
    "heterogeneity": _r_heterogeneity,
    "moderation": _r_moderation,
    "spatial": _r_spatial,
}


# ------------------------------------------------------------------------------------------
# data: load, check columns, derive the treatment
# ------------------------------------------------------------------------------------------
def _data_source(
    spec: dict, base_dir: Path
) -> tuple[pl.DataFrame, str, dict[str, str], list[Path]]:
    """The raw frame, a name for messages, the sha256 of each input file and their paths."""
    d = spec["data"]
    if d["bundled"] == "yrd":
        from pilotdid import datasets

        panel = datasets.yrd()
        cities = datasets.yrd_cities()
        status = dict(zip(cities["city_en"].to_list(), cities["pilot_status"].to_list()))
        if "pilot_status" not in panel.columns:
            panel = panel.with_columns(
                pl.col("city")
                .replace_strict(status, default=None, return_dtype=pl.String)
                .alias("pilot_status")
            )
        hashes = {
            name: hashlib.sha256(datasets._yrd_file(name).read_bytes()).hexdigest()
            for name in ("panel_synthetic.csv", "cities.csv")
        }
        # The spec codes the treatment itself (from pilot_batch): the panel's precomputed
        # coding columns go, so that a derived column never silently replaces a data column.
        panel = panel.drop([c for c in BUNDLED_CODING_COLUMNS if c in panel.columns])
        paths = [datasets._yrd_file(n) for n in ("panel_synthetic.csv", "cities.csv")]
        return panel, "the bundled SYNTHETIC YRD panel", hashes, paths
    path = Path(d["path"])
    full = path if path.is_absolute() else base_dir / path
    if not full.is_file():
        raise SpecError(f"[data] path: file '{full}' not found")
    raw = full.read_bytes()
    try:
        if full.suffix.lower() == ".csv":
            df = pl.read_csv(raw, infer_schema_length=None)
        else:
            df = pl.read_parquet(raw)
    except Exception as e:  # polars raises several error types for malformed files
        raise SpecError(f"[data] path: cannot read '{full}': {e}") from None
    return df, f"'{d['path']}'", {full.name: hashlib.sha256(raw).hexdigest()}, [full]


#: Treatment-coding columns of the bundled panel that a spec rebuilds from the pilot batches.
BUNDLED_CODING_COLUMNS = ("did", "cohort", "treat", "post", "event_time")

#: An internal column the runner adds (ever-treated indicator for PSM and heterogeneity).
EVER_TREATED = "_ever_treated"


def _derived_columns(spec: dict) -> list[tuple[str, str]]:
    """(where, name) of every column the runner adds to the data."""
    tr, g = spec["treatment"], spec["gtfp"]
    out = []
    if tr["name"] != tr["column"]:  # name == column re-derives the same 0/1 column
        out.append(("[treatment] name", tr["name"]))
    out.append(("[treatment] cohort_name", tr["cohort_name"]))
    out.append(("internal ever-treated indicator", EVER_TREATED))
    if g:
        out += [("[gtfp] name", g["name"]), ("[gtfp] name (its log)", f"ln_{g['name']}")]
        if g["investment"]:
            out.append(("[gtfp] capital_name", g["capital_name"]))
    return out


def _check_derived_names(df: pl.DataFrame, spec: dict, source: str) -> None:
    """A derived column may neither replace a data column nor another derived column."""
    roles: dict[str, list[str]] = {}
    for where, cols in _columns_needed(spec):
        for c in cols:
            roles.setdefault(c, []).append(where)
    seen: dict[str, str] = {}
    for where, name in _derived_columns(spec):
        if name in seen:
            raise SpecError(
                f"{where} = '{name}' collides with {seen[name]} = '{name}': two derived "
                "columns cannot share a name"
            )
        seen[name] = where
        if name in df.columns:
            used = [r for r in roles.get(name, []) if r != where]
            as_ = f" (used as {', '.join(dict.fromkeys(used))})" if used else ""
            raise SpecError(
                f"{where} = '{name}' collides with the data column '{name}' in {source}{as_}: "
                f"the derived column would replace it. Give {where.split(' (')[0]} a new name "
                "or drop/rename the data column"
            )


def _check_formula_names(spec: dict, source: str) -> None:
    """Columns that go into a model formula must be formula names (no spaces or operators)."""
    from pilotdid._formula import is_formula_name

    m, tr = spec["model"], spec["treatment"]
    uses = [
        ("[model] y", [m["y"]]),
        ("[model] controls", m["controls"]),
        ("[model] fixed_effects", m["fixed_effects"]),
        ("[treatment] name", [tr["name"]]),
    ]
    in_formulas = ("mediators", "moderator", "controls", "checks[")
    uses += [
        (w, c)
        for w, c in _columns_needed(spec)
        if w.startswith("[analyses.")
        and "psm_did" not in w  # PSM controls go to the logit, not a formula
        and any(k in w for k in in_formulas)
    ]
    for where, cols in uses:
        for c in cols:
            if not is_formula_name(c):
                raise SpecError(
                    f"{where}: column '{c}' in {source} cannot be used in a model formula "
                    "(names are letters, digits, '_' and '.', not starting with a digit); "
                    "rename the column in the data"
                )


def _require(df: pl.DataFrame, cols: Sequence[str], where: str, source: str) -> None:
    missing = [c for c in dict.fromkeys(cols) if c not in df.columns]
    if missing:
        close = difflib.get_close_matches(missing[0], df.columns, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        also = f" (also missing: {', '.join(missing[1:])})" if missing[1:] else ""
        raise SpecError(f"{where}: column '{missing[0]}' not found in {source}{hint}{also}")


def _columns_needed(spec: dict) -> list[tuple[str, list[str]]]:
    """(where, columns) pairs that must exist in the data (after the treatment is built)."""
    m, tr = spec["model"], spec["treatment"]
    need = [
        ("[data]", [spec["data"]["unit"], spec["data"]["time"]]),
        ("[model]", [m["y"], *m["controls"], *m["fixed_effects"]]),
    ]
    g = spec.get("gtfp")
    if g:
        raw = g["inputs"] + g["good"] + g["bad"]
        raw += [c for c in (g["investment"], g["deflator"]) if c]
        need.insert(1, ("[gtfp]", raw))
    if m["cluster"]:
        need.append(("[model] cluster", [m["cluster"]]))
    if tr["column"]:
        need.append(("[treatment] column", [tr["column"]]))
    else:
        need.append(("[treatment] batch_column", [tr["batch_column"]]))
        if tr["status_column"]:
            need.append(("[treatment] status_column", [tr["status_column"]]))
    a = spec["analyses"]
    for name, sub in a.items():
        tab = f"[analyses.{name}]"
        if name == "descriptives":
            need.append((tab + " columns", sub["columns"]))
        elif name == "psm_did":
            need.append(
                (tab + " controls", sub["controls"] + ([sub["by"]] if sub["by"] else []))
            )
        elif name == "robustness":
            for i, c in enumerate(sub["checks"]):
                cols = c.get("columns", []) + ([c["by"]] if c.get("by") else [])
                cols += [c["y"]] if c["kind"] == "outcome" else []
                cols += c.get("controls", []) + c.get("flags", [])
                need.append((f"{tab} checks[{i}]", cols))
        elif name == "mechanisms":
            need.append((tab + " mediators", sub["mediators"]))
        elif name == "heterogeneity":
            need.append((tab + " by", sub["by"]))
        elif name == "moderation":
            need.append((tab + " moderator", [sub["moderator"]]))
        elif name == "spatial":
            need.append((tab + " lat/lon", [sub["lat"], sub["lon"]]))
            need.append((tab + " controls", sub["controls"]))
    return need


def _batch_key(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v == int(v):
            return str(int(v))
    return str(v)


def _derive_treatment(df: pl.DataFrame, spec: dict, source: str) -> tuple[pl.DataFrame, dict]:
    """Adds the cohort (first treated period, 0 = never) and the 0/1 treatment columns;
    returns the new frame and a summary of the coding (counts, dropped units)."""
    unit, tcol = spec["data"]["unit"], spec["data"]["time"]
    tr = spec["treatment"]
    info: dict[str, Any] = {"dropped_units": {}}
    tvals = df.get_column(tcol)
    if not tvals.dtype.is_integer():
        try:
            tvals = tvals.cast(pl.Int64, strict=True)
        except Exception:
            raise SpecError(
                f"[data] time: column '{tcol}' in {source} must hold whole numbers (years)"
            ) from None
        df = df.with_columns(tvals.alias(tcol))
    units = df.get_column(unit).to_list()
    times = df.get_column(tcol).to_list()
    cohort_of: dict[Any, int] = {}
    if tr["column"]:
        col = tr["column"]
        d = df.get_column(col).cast(pl.Float64, strict=False).to_list()
        bad = [v for v in d if v is not None and v not in (0.0, 1.0)]
        if bad:
            raise SpecError(f"[treatment] column: '{col}' in {source} must be 0/1, found {bad[0]}")
        first: dict[Any, int] = {}
        for u, t, v in zip(units, times, d):
            cohort_of.setdefault(u, 0)
            if v == 1.0 and (u not in first or t < first[u]):
                first[u] = t
        for u, t, v in zip(units, times, d):
            if u in first and t >= first[u] and v == 0.0:
                raise SpecError(
                    f"[treatment] column: '{col}' switches off for unit {u!r} in {t} (first "
                    f"treated {first[u]}); staggered DID needs an absorbing treatment"
                )
        cohort_of.update(first)
    else:
        years = tr["batch_years"]
        bcol = tr["batch_column"]
        batches = [_batch_key(v) for v in df.get_column(bcol).to_list()]
        unknown = sorted({b for b in batches if b is not None and b not in years})
        if unknown:
            raise SpecError(
                f"[treatment] batch_years: batch {unknown[0]!r} of column '{bcol}' in {source} "
                f"has no year (batch_years has {', '.join(years)})"
            )
        dcol = tr["district_only_column"]
        mode = tr["district_only"]
        district: dict[Any, bool] = {}
        if dcol in df.columns:
            for u, v in zip(units, df.get_column(dcol).to_list()):
                district[u] = district.get(u, False) or bool(v)
        elif mode != "untreated":
            raise SpecError(
                f"[treatment] district_only_column: column '{dcol}' not found in {source} "
                f"(needed for district_only = '{mode}')"
            )
        status: dict[Any, str] = {}
        if tr["status_column"]:
            for u, s in zip(units, df.get_column(tr["status_column"]).to_list()):
                if s is not None:
                    status[u] = str(s)
        drop: dict[Any, str] = {}
        for u, b in zip(units, batches):
            if u in cohort_of and cohort_of[u] > 0:
                continue
            if district.get(u, False):
                if mode == "drop":
                    drop[u] = "district-only pilot"
                    cohort_of[u] = 0
                elif mode == "untreated":
                    cohort_of[u] = 0
                elif b is not None:
                    cohort_of[u] = years[b]
                elif tr["district_only_year"] is None:
                    raise SpecError(
                        f"[treatment] district_only_year: required with district_only = "
                        f"'treated' (unit {u!r} is district-only without a batch)"
                    )
                else:
                    cohort_of[u] = tr["district_only_year"]
                continue
            cohort_of[u] = years[b] if b is not None else 0
            if b is not None and any(status.get(u, "").startswith(p) for p in tr["drop_status"]):
                drop[u] = f"pilot status '{status.get(u)}'"
        if drop:
            df = df.filter(~pl.col(unit).is_in(list(drop)))
            units = df.get_column(unit).to_list()
            times = df.get_column(tcol).to_list()
            for u in drop:
                cohort_of.pop(u, None)
        info["dropped_units"] = {str(u): why for u, why in drop.items()}
    g = [cohort_of[u] for u in units]
    dd = [int(gi > 0 and t >= gi) for gi, t in zip(g, times)]
    df = df.with_columns(
        pl.Series(tr["cohort_name"], g, dtype=pl.Int64),
        pl.Series(tr["name"], dd, dtype=pl.Int64),
        pl.Series(EVER_TREATED, [int(gi > 0) for gi in g], dtype=pl.Int64),
    )
    t_min, t_max = min(times), max(times)
    per_unit = {u: cohort_of[u] for u in dict.fromkeys(units)}
    cohorts: dict[int, int] = {}
    for gi in per_unit.values():
        if gi > 0:
            cohorts[gi] = cohorts.get(gi, 0) + 1
    treated_in_sample = {gi: n for gi, n in cohorts.items() if gi <= t_max}
    n_never = sum(1 for gi in per_unit.values() if gi == 0 or gi > t_max)
    if not treated_in_sample:
        raise SpecError(
            f"[treatment]: the coding leaves no treated units in {source} (no unit is treated "
            f"within {t_min}-{t_max})"
        )
    not_yet = len([gi for gi in treated_in_sample if gi > t_min]) >= 2
    if n_never == 0 and not not_yet:
        raise SpecError(
            f"[treatment]: the coding leaves no never-treated or not-yet-treated controls in "
            f"{source} (every unit is treated, all from the same period)"
        )
    info.update(
        n_units=len(per_unit),
        n_rows=df.height,
        n_treated=sum(treated_in_sample.values()),
        n_never_treated=n_never,
        cohorts={str(k): v for k, v in sorted(treated_in_sample.items())},
        periods=[int(t_min), int(t_max)],
    )
    return df, info


def _finish_checks(df: pl.DataFrame, spec: dict, source: str) -> None:
    """Value checks that need the prepared data (not only column names)."""
    unit, tcol = spec["data"]["unit"], spec["data"]["time"]
    dup = df.select(unit, tcol).filter(pl.struct(unit, tcol).is_duplicated())
    if dup.height:
        u, t = dup.row(0)
        raise SpecError(
            f"[data]: {dup.height} rows of {source} share their ({unit}, {tcol}) with another "
            f"row, e.g. {unit} = {u!r}, {tcol} = {t}; a panel has one row per unit and period"
        )
    a = spec["analyses"]
    present = set(df.get_column(unit).to_list())
    rob = a.get("robustness")
    if rob:
        for i, c in enumerate(rob["checks"]):
            if c["kind"] == "drop_units":
                unknown = [u for u in c["units"] if u not in present]
                if unknown:
                    raise SpecError(
                        f"[analyses.robustness] checks[{i}] units: {unknown[0]!r} is not a "
                        f"value of column '{unit}' in {source}"
                    )
    het = a.get("heterogeneity")
    if het and het["split"] == "median":
        for by in het["by"]:
            if not df.schema[by].is_numeric():
                raise SpecError(
                    f"[analyses.heterogeneity] by: split = 'median' needs a numeric column; "
                    f"'{by}' in {source} is {df.schema[by]}"
                )
    es = a.get("event_study")
    if es and es["enabled"] and "cs" in es["estimators"]:
        g = df.get_column(spec["treatment"]["cohort_name"])
        if (g == 0).sum() == 0:
            raise SpecError(
                "[analyses.event_study] estimators: 'cs' uses never-treated controls, but the "
                f"treatment coding leaves no never-treated units in {source}"
            )


def resolve_spec(spec: str | Path | dict, *, base_dir: str | Path | None = None) -> dict:
    """Validates a spec (a TOML path or an already parsed dict) completely and returns it with
    every default filled in: the resolved spec recorded in ``provenance.json``.

    Checks, before anything runs: unknown keys (with the closest allowed key), option values,
    that the data file and every named column exist, and that the treatment coding leaves
    treated units and never- or not-yet-treated controls. Raises :class:`SpecError`.
    """
    resolved, _, _ = _resolve_all(spec, base_dir)
    return resolved


def _resolve_all(spec: str | Path | dict, base_dir: str | Path | None):
    if isinstance(spec, (str, Path)):
        raw = load_spec(spec)
        base = Path(spec).resolve().parent if base_dir is None else Path(base_dir)
    elif isinstance(spec, dict):
        raw = spec
        base = Path.cwd() if base_dir is None else Path(base_dir)
    else:
        raise SpecError(f"spec: expected a path or a dict, got {type(spec).__name__}")
    resolved = _resolve_structure(raw)
    df, source, hashes, input_paths = _data_source(resolved, base)
    if isinstance(spec, (str, Path)):
        input_paths = [Path(spec), *input_paths]
    tr = resolved["treatment"]
    pre = [c for w, cols in _columns_needed(resolved) for c in cols if w.startswith("[data]")]
    _require(df, pre, "[data]", source)
    built = {tr["name"], tr["cohort_name"]} if tr["batch_column"] else {tr["cohort_name"]}
    g = resolved["gtfp"]
    if g:
        built |= {g["name"], f"ln_{g['name']}"} | (
            {g["capital_name"]} if g["investment"] else set()
        )
    for where, cols in _columns_needed(resolved):
        _require(df, [c for c in cols if c not in built], where, source)
    _check_derived_names(df, resolved, source)
    _check_formula_names(resolved, source)
    gtfp_info = None
    if g:
        df, gtfp_info = _build_gtfp(df, resolved, source)
    prepared, info = _derive_treatment(df, resolved, source)
    _finish_checks(prepared, resolved, source)
    out = {"source": source, "hashes": hashes, "coding": info, "input_paths": input_paths}
    if gtfp_info is not None:
        out["gtfp"] = gtfp_info
    return resolved, prepared, out


def prepare_data(spec: str | Path | dict, *, base_dir: str | Path | None = None):
    """The analysis frame of a spec (data loaded, treatment columns built, units dropped as
    the coding says) and a dict describing the coding (counts, dropped units, hashes)."""
    _, df, info = _resolve_all(spec, base_dir)
    return df, info


# ------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------
@dataclass
class Study:
    """The results of a study: ``results[name]`` holds each analysis's result objects,
    ``tables[name]`` the publication tables (``pilotdid.etable`` objects), ``figures[name]``
    matplotlib figures, ``frames[name]`` tidy polars frames (written as CSV), ``seeds`` the
    seed of each random step, ``log`` the run log (with timings; not in provenance)."""

    spec: dict
    data: pl.DataFrame
    info: dict
    results: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    spec_sha256: str | None = None

    @property
    def synthetic(self) -> bool:
        return self.spec["data"]["bundled"] == "yrd"

    @property
    def formula(self) -> str:
        return _formula(self.spec, self.spec["model"]["controls"])

    @property
    def vcov(self) -> Any:
        return _vcov(self.spec)

    @property
    def input_paths(self) -> list[Path]:
        """The spec and data files: a report is never written over them or their folders."""
        return list(self.info.get("input_paths", []))

    def write_report(self, out: str | Path, overwrite: bool = False) -> Path:
        """Writes the report folder (see :func:`pilotdid.report.write_report`)."""
        from pilotdid.report import write_report

        return write_report(self, out, overwrite=overwrite)


def _formula(spec: dict, controls: Sequence[str], outcome: str | None = None) -> str:
    m = spec["model"]
    rhs = " + ".join([spec["treatment"]["name"], *controls])
    fe = " + ".join(m["fixed_effects"])
    return f"{outcome or m['y']} ~ {rhs}" + (f" | {fe}" if fe else "")


def _vcov(spec: dict) -> Any:
    m = spec["model"]
    return {"CR1": m["cluster"]} if m["vcov"] == "CR1" else m["vcov"]


def _fe_string(spec: dict) -> str | None:
    fe = spec["model"]["fixed_effects"]
    return " + ".join(fe) if fe else None


def run_study(
    spec: str | Path | dict,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    quiet: bool = True,
    base_dir: str | Path | None = None,
) -> Study:
    """Validates and runs a study spec; with ``out``, writes the report folder there
    (atomically: into a temporary folder beside it, moved into place on success).

    ``quiet=False`` shows tqdm progress bars when stderr is a terminal.
    """
    from pilotdid import report as _report

    resolved, df, info = _resolve_all(spec, base_dir)
    if out is not None:
        _report.check_target(out, overwrite, info["input_paths"])
    spec_sha = None
    if isinstance(spec, (str, Path)):
        spec_sha = hashlib.sha256(Path(spec).read_bytes()).hexdigest()
    study = Study(spec=resolved, data=df, info=info, spec_sha256=spec_sha)
    _execute(study, progress=not quiet and sys.stderr.isatty())
    if out is not None:
        study.write_report(out, overwrite=overwrite)
    return study


def _execute(study: Study, progress: bool) -> None:
    from tqdm.auto import tqdm

    enabled = [n for n in ANALYSIS_ORDER if study.spec["analyses"].get(n, {}).get("enabled")]
    steps = tqdm(enabled, desc="study", disable=not progress, unit="analysis")
    t0 = time.perf_counter()
    for name in steps:
        steps.set_postfix_str(name)
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                _RUNNERS[name](study, study.spec["analyses"][name], progress)
            except SpecError:
                raise
            except PilotdidError as e:
                raise StudyError(f"[analyses.{name}] failed: {e}") from e
        for w in caught:
            study.notes.setdefault(name, []).append(f"warning: {w.message}")
        study.log.append(f"{name}: {time.perf_counter() - t:.2f} s")
    study.log.append(f"total: {time.perf_counter() - t0:.2f} s")


# -- analyses -------------------------------------------------------------------------------
def _labels(study: Study) -> dict[str, str]:
    return dict(study.spec["report"]["labels"])


def _controls(study: Study) -> list[str] | None:
    """The spec's controls, for a table's "Controls: Yes" row (None: no such row)."""
    return study.spec["model"]["controls"] or None


def _etable(study: Study, results: Any, **kw: Any) -> Any:
    from pilotdid.tables import etable

    rep = study.spec["report"]
    kw.setdefault("labels", _labels(study) or None)
    return etable(results, lang=rep["lang"], digits=rep["digits"], stat=rep["stat"], **kw)


def _run_descriptives(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid.tables import describe

    rep = study.spec["report"]
    tab = describe(
        study.data,
        columns=sub["columns"],
        labels=_labels(study) or None,
        lang=rep["lang"],
        digits=rep["digits"],
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
    from pilotdid import feols

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
        title="Baseline DID",
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
    from pilotdid import event_study

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
    study.tables["event_study"] = _etable(study, res, title="Event study")
    from pilotdid.figures import event_study_figure

    study.figures["event_study"] = event_study_figure(res, title="Event study")


_ES_COLS = [
    "estimator",
    "event_time",
    "estimate",
    "std_error",
    "statistic",
    "conf_low",
    "conf_high",
]


def _run_bacon(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid import bacon
    from pilotdid.figures import bacon_figure

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
    study.figures["bacon"] = bacon_figure(res, title="Goodman-Bacon decomposition")


def _baseline_model(study: Study) -> Any:
    """The full baseline model (fitted here if the baseline analysis is off)."""
    if "baseline_model" not in study.results:
        from pilotdid import feols

        study.results["baseline_model"] = feols(study.formula, study.data, vcov=study.vcov)
    return study.results["baseline_model"]


def _run_placebo(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid import placebo
    from pilotdid.figures import placebo_figure

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
    study.figures["placebo"] = placebo_figure(res, title="Placebo test")


def _run_psm_did(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid import psm_did

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
    study.tables["psm_did"] = _etable(
        study,
        {"Baseline": base, "PSM-DID": res.did},
        controls=_controls(study),
        title="PSM-DID",
        notes=f"Matching: {res.method}; off support: {res.n_off_support}.",
    )


def _run_robustness(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid import robustness

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
    models = {("Baseline" if k == "baseline" else k): v for k, v in res.models.items()}
    study.tables["robustness"] = _etable(
        study,
        models,
        keep=[f"^{s['treatment']['name']}$"],
        controls=_controls(study),
        title="Robustness checks",
    )


def _run_mechanisms(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid import mediation
    from pilotdid.figures import mechanism_figure

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
    if sub["method"] == "three_step":
        cols = {"Total": res.total_fit}
        for m in res.mediators:
            cols[m] = res.a_fits[m]
        for m, fit in res.b_fits.items():
            cols[f"{s['model']['y']} | {m}"] = fit
    else:
        cols = dict(res.fits)
    study.tables["mechanisms"] = _etable(
        study,
        cols,
        controls=_controls(study),
        title="Mechanisms",
        notes=res.caveat,
    )
    study.figures["mechanisms"] = mechanism_figure(res, title="Mechanisms")


def _unit_median_split(study: Study, col: str) -> str:
    """A unit-level 0/1 column: the unit's first-period value of ``col`` above the median."""
    unit, tcol = study.spec["data"]["unit"], study.spec["data"]["time"]
    first = (
        study.data.sort([unit, tcol])
        .group_by(unit, maintain_order=True)
        .agg(pl.col(col).cast(pl.Float64).drop_nulls().first().alias("_v"))
    )
    med = first.get_column("_v").median()
    name = f"{col}_above_median"
    flag = dict(zip(first[unit].to_list(), (first["_v"] > med).cast(pl.Int64).to_list()))
    study.data = study.data.with_columns(
        pl.col(unit).replace_strict(flag, default=None, return_dtype=pl.Int64).alias(name)
    )
    study.notes.setdefault("heterogeneity", []).append(
        f"'{name}' = 1 if the unit's first-period {col} is above the median of units ({med:.6g})"
    )
    return name


def _run_heterogeneity(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid import heterogeneity

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
        for g, fit in res.fits.items():
            fits[f"{group}={g}"] = fit
    if sub["reps"] > 0:
        study.seeds["heterogeneity.permutation"] = sub["seed"]
    study.results["heterogeneity"] = out
    study.frames["heterogeneity"] = pl.concat(frames, how="diagonal_relaxed")
    study.tables["heterogeneity"] = _etable(
        study,
        fits,
        keep=[f"^{s['treatment']['name']}$"],
        controls=_controls(study),
        title="Heterogeneity",
    )


def _run_moderation(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid import moderation
    from pilotdid.figures import mechanism_figure

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
    study.tables["moderation"] = _etable(
        study,
        {"Moderation": res},
        controls=_controls(study),
        title=f"Moderation by {sub['moderator']}",
    )
    study.figures["moderation"] = mechanism_figure(res, title=f"Moderation by {sub['moderator']}")


def _run_spatial(study: Study, sub: dict, progress: bool) -> None:
    from pilotdid import sar, sdm, weights
    from pilotdid.figures import spatial_effects_figure, weights_figure

    s = study.spec
    unit, tcol = s["data"]["unit"], s["data"]["time"]
    # one coordinate pair per unit, in the units' first-appearance order (the data's order)
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
    rhs = [s["treatment"]["name"], *sub["controls"]]
    fml = f"{s['model']['y']} ~ " + " + ".join(rhs)
    fit_fn = sdm if sub["model"] == "sdm" else sar
    fit = fit_fn(
        fml,
        study.data,
        W=W,
        unit=unit,
        time=tcol,
        effects=sub["effects"],
        lee_yu=sub["lee_yu"],
    )
    impacts = fit.impacts(reps=sub["reps"], seed=sub["seed"])
    study.seeds["spatial.impacts"] = sub["seed"]
    study.results["spatial"] = {"fit": fit, "impacts": impacts, "W": W}
    study.frames["spatial"] = fit.tidy()
    study.frames["spatial_impacts"] = impacts.tidy()
    study.notes.setdefault("spatial", []).append(f"W: {wdesc}; {len(ids)} units")
    study.tables["spatial"] = _etable(study, {sub["model"].upper(): fit}, title="Spatial model")
    study.figures["spatial"] = spatial_effects_figure(impacts, title="Spatial effects")
    study.figures["weights"] = weights_figure(W, lat=lat, lon=lon, labels=ids, title=f"W: {wdesc}")


_RUNNERS = {
    "descriptives": _run_descriptives,
    "baseline": _run_baseline,
    "event_study": _run_event_study,
    "bacon": _run_bacon,
    "placebo": _run_placebo,
    "psm_did": _run_psm_did,
    "robustness": _run_robustness,
    "mechanisms": _run_mechanisms,
    "heterogeneity": _run_heterogeneity,
    "moderation": _run_moderation,
    "spatial": _run_spatial,
}
