"""A study's data: loading the bundled or user data, derived columns (green TFP,
treatment coding), the checks that need the data, and :func:`resolve_spec` /
:func:`prepare_data`."""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from pilotdid import datasets, green
from pilotdid._args import id_list
from pilotdid._core import PilotdidError
from pilotdid.study.errors import SpecError
from pilotdid.study.spec import BUNDLED_CODING_COLUMNS, EVER_TREATED, _resolve_structure, load_spec

__all__ = ["prepare_data", "resolve_spec"]


def _build_gtfp(df: pl.DataFrame, spec: dict, source: str) -> tuple[pl.DataFrame, dict]:
    """Adds the [gtfp] columns; errors (non-positive values, ...) stop the study before it
    runs, naming the table."""

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


# ------------------------------------------------------------------------------------------
# data: load, check columns, derive the treatment
# ------------------------------------------------------------------------------------------
def _data_source(
    spec: dict, base_dir: Path
) -> tuple[pl.DataFrame, str, dict[str, str], list[Path]]:
    """The raw frame, a name for messages, the sha256 of each input file and their paths."""
    d = spec["data"]
    if d["bundled"] == "yrd":
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
            need.append((tab + " controls", sub["controls"] + ([sub["by"]] if sub["by"] else [])))
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
        elif name == "dcdh":
            need.append((tab + " y/treatment", [sub["y"], sub["treatment"]]))
        elif name == "dose":
            need.append((tab + " y/dose", [sub["y"]] + ([sub["dose"]] if sub["dose"] else [])))
        elif name == "ddd":
            need.append((tab + " partition", [sub["partition"]] if sub["partition"] else []))
            need.append((tab + " controls", sub["controls"]))
        elif name == "spatial":
            need.append((tab + " lat/lon", [sub["lat"], sub["lon"]]))
            need.append((tab + " controls", sub["controls"]))
        elif name == "exposure":
            need.append((tab + " lat/lon", [sub["lat"], sub["lon"]]))
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
    dd = a.get("ddd")
    if (
        dd
        and dd["enabled"]
        and dd["split"] == "median"
        and not df.schema[dd["partition"]].is_numeric()
    ):
        raise SpecError(
            f"[analyses.ddd] partition: split = 'median' needs a numeric column; "
            f"'{dd['partition']}' in {source} is {df.schema[dd['partition']]}"
        )
    sp = a.get("spatial")
    if sp and sp["enabled"]:
        _check_spatial_panel(df, spec, sp, source)
    es = a.get("event_study")
    if es and es["enabled"] and "cs" in es["estimators"]:
        g = df.get_column(spec["treatment"]["cohort_name"])
        if (g == 0).sum() == 0:
            raise SpecError(
                "[analyses.event_study] estimators: 'cs' uses never-treated controls, but the "
                f"treatment coding leaves no never-treated units in {source}"
            )


def _check_spatial_panel(df: pl.DataFrame, spec: dict, sp: dict, source: str) -> None:
    """What the spatial analysis needs from the data, checked before anything runs (so that
    `pilotdid validate` catches it): one finite coordinate pair per unit, and a balanced panel
    (every unit in every period, with the outcome, treatment and spatial controls present),
    unless ``incomplete = "drop_units"`` lets the model drop the incomplete units. Every
    problem is listed, with unit ids as plain strings."""
    unit, tcol = spec["data"]["unit"], spec["data"]["time"]
    tab = "[analyses.spatial]"
    problems: list[str] = []
    coords = df.select(unit, sp["lat"], sp["lon"]).unique()
    varying = (
        coords.group_by(unit, maintain_order=True).len().filter(pl.col("len") > 1).get_column(unit)
    )
    if varying.len():
        problems.append(
            f"lat/lon: columns '{sp['lat']}'/'{sp['lon']}' are not constant within "
            f"{varying.len()} units ({id_list(varying.to_list())})"
        )
    bad_xy = coords.filter(
        ~(pl.col(sp["lat"]).cast(pl.Float64).is_finite())
        | ~(pl.col(sp["lon"]).cast(pl.Float64).is_finite())
    ).get_column(unit)
    if bad_xy.len():
        problems.append(
            f"lat/lon: {bad_xy.n_unique()} units have a missing coordinate "
            f"({id_list(bad_xy.unique(maintain_order=True).to_list())})"
        )
    if sp.get("incomplete", "error") != "drop_units":
        cols = [spec["model"]["y"], spec["treatment"]["name"], *sp["controls"]]
        n_periods = df.get_column(tcol).n_unique()
        complete = pl.all_horizontal(
            [pl.col(c).is_not_null() & pl.col(c).cast(pl.Float64).is_not_nan() for c in cols]
        )
        per_unit = df.group_by(unit, maintain_order=True).agg(
            pl.len().alias("rows"), complete.sum().alias("complete")
        )
        short = per_unit.filter(pl.col("rows") < n_periods).get_column(unit).to_list()
        holes = (
            per_unit.filter((pl.col("rows") == n_periods) & (pl.col("complete") < pl.col("rows")))
            .get_column(unit)
            .to_list()
        )
        if short or holes:
            what = []
            if short:
                what.append(f"{len(short)} miss periods ({id_list(short)})")
            if holes:
                what.append(
                    f"{len(holes)} have a missing value in {', '.join(repr(c) for c in cols)} "
                    f"({id_list(holes)})"
                )
            problems.append(
                f"the spatial models need a balanced panel ({n_periods} periods per unit), but "
                f"{len(short) + len(holes)} of {per_unit.height} units are incomplete: "
                + "; ".join(what)
                + '. Set incomplete = "drop_units" to drop them (W is subset and '
                "re-standardised; the report counts and names them), or complete the data"
            )
    dynamic = [m for m in [sp, *sp.get("compare", [])] if m.get("dlag")]
    n_periods = df.get_column(tcol).n_unique()
    if dynamic and n_periods < 3:
        which = "dlag" if sp.get("dlag") else "compare[...] dlag"
        problems.append(
            f"{which}: a dynamic spatial model needs at least 3 periods (one is lost to the lag "
            f"y(t-1), the fixed effects need two more); the data have {n_periods}"
        )
    if problems:
        raise SpecError(f"{tab} in {source}: " + " | ".join(problems))


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
