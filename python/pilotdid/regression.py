"""`feols`: fixed-effects OLS with fixest formula syntax. Argument handling only; the Rust
core does every number."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import check_choice, check_float, check_int, check_str, vocabulary
from pilotdid._core import PilotdidError, feols_conley_fit, feols_fit
from pilotdid._formula import ITerm, expand_formula, parse_formula, required_columns
from pilotdid.results.feols import FeolsResult
from pilotdid.results.multi import FeolsMulti

VcovSpec = Union[str, dict]

#: vcov strings (case-insensitive). "HC1" is an accepted synonym of "hetero" (the TOML study
#: spec writes "HC1"); the cluster kinds need the columns, from a dict or from ``cluster=``.
# From this many rows, two-way models without weights or dropped rows take the core's lean
# path (no demeaned copy of the data is formed or kept; residuals and the wild bootstrap
# refit on demand). Below it the general path keeps the design for cheap post-estimation.
_LEAN_MIN_ROWS = 1 << 20

_VCOV_IID = ("iid",)
_VCOV_HETERO = ("hetero", "hc1")
_VCOV_CLUSTER = ("cr1", "crv1", "cluster")


def _cluster_names(option: str, value: Any) -> list[str]:
    """'a', 'a+b', ['a'] or ['a', 'b'] -> one or two column names."""
    if isinstance(value, str):
        names = [c.strip() for c in value.split("+")]
    elif isinstance(value, Sequence) and all(isinstance(c, str) for c in value):
        names = [c.strip() for c in value]
    else:
        raise PilotdidError(
            f"option '{option}': expected a column name ('unit'), two joined by '+' "
            f"('unit+year') or a list of one or two names, got {value!r}"
        )
    if not 1 <= len(names) <= 2 or any(not c for c in names):
        raise PilotdidError(
            f"option '{option}': cluster spec {value!r} must name one or two columns"
        )
    return names


def _parse_vcov(
    vcov: VcovSpec | None, fixef: list[str], cluster: Any = None
) -> tuple[str, list[str], str]:
    """-> (kind, cluster column names, label). Default: CR1 by the first fixed effect.

    ``cluster="a+b"`` is pyfixest's shortcut for ``vcov={"CR1": "a+b"}``. Given together,
    they must agree: ``vcov`` None or a cluster kind ("CR1", "CRV1", "cluster") takes the
    columns from ``cluster``; a dict must name the same columns in the same order (the wild
    bootstrap clusters by the first); "iid" or "hetero" with ``cluster`` is refused.
    """
    clusters = None if cluster is None else _cluster_names("cluster", cluster)
    if isinstance(vcov, Mapping) and len(vcov) == 1 and _is_conley(vcov):
        if clusters is not None:
            raise PilotdidError(
                "options 'vcov' and 'cluster' disagree: a Conley vcov is not clustered; "
                "give one of them"
            )
        return "conley", [], conley_spec(vcov).label
    if vcov is None:
        if clusters is not None:
            return "cluster", clusters, "CR1 by " + " and ".join(clusters)
        if fixef and "^" not in fixef[0]:
            return "cluster", [fixef[0]], f"CR1 by {fixef[0]}"
        return "iid", [], "iid"
    if isinstance(vcov, str):
        key = vcov.lower()
        if key in _VCOV_CLUSTER:
            if clusters is None:
                raise PilotdidError(
                    f"option 'vcov': {vcov!r} needs the cluster columns: "
                    f"vcov={{'CR1': 'unit'}} or cluster='unit'"
                )
            return "cluster", clusters, "CR1 by " + " and ".join(clusters)
        if key in _VCOV_IID + _VCOV_HETERO and clusters is not None:
            raise PilotdidError(
                f"options 'vcov' and 'cluster' disagree: vcov={vcov!r} is not clustered but "
                f"cluster={cluster!r} asks for CR1; give one of them"
            )
        if key in _VCOV_IID:
            return "iid", [], "iid"
        if key in _VCOV_HETERO:
            return "hetero", [], "HC1"
        raise PilotdidError(
            f"option 'vcov': unknown value '{vcov}'; use 'iid', 'hetero' (alias 'HC1') or "
            "{'CR1': 'cluster_var'} (two-way: {'CR1': 'a+b'}; 'CRV1' is an alias of 'CR1'), "
            "or cluster='cluster_var'"
        )
    if isinstance(vcov, Mapping) and len(vcov) == 1:
        ((kind, cl),) = vcov.items()
        if not isinstance(kind, str) or kind.upper() not in ("CR1", "CRV1"):
            raise PilotdidError(
                f"option 'vcov': {kind!r} is not supported; use 'CR1' (or its alias 'CRV1') or "
                "'conley'"
            )
        names = _cluster_names("vcov", cl)
        if clusters is not None and clusters != names:
            raise PilotdidError(
                f"options 'vcov' and 'cluster' disagree: vcov={vcov!r} clusters by "
                f"{' and '.join(names)} but cluster={cluster!r} by {' and '.join(clusters)}; "
                "give one of them"
            )
        return "cluster", names, "CR1 by " + " and ".join(names)
    raise PilotdidError(
        f"option 'vcov': cannot read {vcov!r}; use 'iid', 'hetero' or {{'CR1': 'a+b'}}"
    )


def _is_conley(vcov: Mapping) -> bool:
    ((kind, _),) = vcov.items()
    return isinstance(kind, str) and kind.lower() == "conley"


_CONLEY_KEYS = ("cutoff_km", "lag", "kernel", "lat", "lon", "unit", "time")
#: Coordinate column names detected when "lat"/"lon" are not given (fixest's guesses, exact).
_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "lng", "long", "longitude")


class ConleySpec:
    """A checked ``{"conley": {...}}`` request: settings plus the column names given (or None)."""

    def __init__(self, opts: Mapping) -> None:
        unknown = [k for k in opts if k not in _CONLEY_KEYS]
        if unknown:
            raise PilotdidError(
                f"option vcov['conley']: unknown key {unknown[0]!r}; allowed: "
                + ", ".join(_CONLEY_KEYS)
            )
        if "cutoff_km" not in opts:
            raise PilotdidError(
                "option vcov['conley']: 'cutoff_km' is required (the distance cutoff in km, > 0)"
            )
        self.cutoff_km = check_float(
            "vcov['conley']['cutoff_km']", opts["cutoff_km"], lo=0.0, lo_open=True
        )
        if not np.isfinite(self.cutoff_km):
            raise PilotdidError(
                f"option vcov['conley']['cutoff_km']: must be a finite positive number of km, "
                f"got {self.cutoff_km}"
            )
        self.lag = check_int("vcov['conley']['lag']", opts.get("lag", 0), lo=0)
        self.kernel = check_choice(
            "vcov['conley']['kernel']", opts.get("kernel", "bartlett"), ("bartlett", "uniform")
        )
        self.cols = {
            k: (None if opts.get(k) is None else check_str(f"vcov['conley']['{k}']", opts[k]))
            for k in ("lat", "lon", "unit", "time")
        }

    @property
    def label(self) -> str:
        km = f"{self.cutoff_km:g}"
        kern = "Bartlett" if self.kernel == "bartlett" else "uniform"
        return f"Conley ({km} km, lag {self.lag}, {kern})"

    def columns(self, names: Sequence[str], fixef: Sequence[str]) -> dict[str, str | None]:
        """Resolve lat/lon (detected as fixest does), unit and time (default: the first and
        second fixed effects when the model has two plain ones; otherwise none, and a lag > 0
        then needs explicit 'unit' and 'time')."""
        out: dict[str, str | None] = dict(self.cols)
        for key, cands in (("lat", _LAT_NAMES), ("lon", _LON_NAMES)):
            if out[key] is None:
                found = [c for c in names if c.lower() in cands]
                if len(found) != 1:
                    what = "no column" if not found else f"several columns ({', '.join(found)})"
                    raise PilotdidError(
                        f"option vcov['conley']['{key}']: {what} named "
                        f"{' / '.join(cands)}; name the {key} column explicitly"
                    )
                out[key] = found[0]
        two_plain_fe = len(fixef) == 2 and all("^" not in f for f in fixef)
        if out["unit"] is None and out["time"] is None and two_plain_fe:
            out["unit"], out["time"] = fixef[0], fixef[1]
        if self.lag > 0 and (out["unit"] is None or out["time"] is None):
            raise PilotdidError(
                f"option vcov['conley']['lag']: lag = {self.lag} needs the panel's unit and "
                "time: give 'unit' and 'time' (or fit with two fixed effects 'unit + time')"
            )
        return out


def conley_spec(vcov: Mapping) -> ConleySpec:
    ((_, opts),) = vcov.items()
    if not isinstance(opts, Mapping):
        raise PilotdidError(
            "option vcov['conley']: expected a dict like {'cutoff_km': 200, 'lag': 3}, "
            f"got {opts!r}"
        )
    return ConleySpec(opts)


def _time_values(df: pl.DataFrame, name: str, valid: np.ndarray) -> np.ndarray:
    """Integer periods for the serial part (lags are counted in these units)."""
    t = _frame.numeric(df, name)
    ok = np.isfinite(t)
    valid &= ok
    if np.any(t[ok] != np.round(t[ok])):
        raise PilotdidError(
            f"option vcov['conley']['time']: column '{name}' must hold whole-number periods"
        )
    return np.where(ok, t, 0).astype(np.int64)


@vocabulary()
def feols(
    fml: str,
    data: Any,
    *,
    vcov: VcovSpec | None = None,
    cluster: str | Sequence[str] | None = None,
    weights: str | None = None,
    split: str | None = None,
    fsplit: str | None = None,
    fixef_rm: str = "none",
    fixef_tol: float = 1e-11,
    fixef_maxiter: int = 10_000,
) -> FeolsResult | FeolsMulti:
    """Fixed-effects OLS, fixest syntax: ``feols("y ~ x1 + x2 | unit + year", df)``.

    Parameters
    ----------
    fml : regressors left of ``|``, fixed effects right of it (``a^b`` interacts two ids).
        ``i(var, ref=v)``: one dummy per value of ``var`` except ``v`` (a value or a list);
        ``i(var, treat, ref=v)``: those dummies times the numeric column ``treat`` (an event
        study written the fixest way: ``y ~ i(year, treated, ref=2013) | city + year``).
        Coefficients are named as in fixest / pyfixest: ``year::2014:treated``.
        Multiple estimation (fixest / pyfixest): ``sw(a, b)`` one model per element,
        ``sw0(a, b)`` the same plus one without any, ``csw(a, b)`` cumulative (a; a + b),
        ``csw0(a, b)`` cumulative from none; at most one on the right-hand side and one in the
        fixed effects; several outcomes as ``y1 + y2 ~``, ``sw(y1, y2) ~`` or ``c(y1, y2) ~``.
        ``y ~ 1 | unit + year`` (also the zero step of ``sw0``/``csw0`` with fixed effects)
        fits the fixed effects alone: no coefficients; nobs, ``resid()``, R², RMSE.
    data : polars or pandas DataFrame, or a dict of numpy arrays. Never modified.
    vcov : "iid", "hetero" (HC1; the string "HC1" is accepted as a synonym), {"CR1": "unit"},
        or two-way {"CR1": "unit+year"} ("CRV1" is an alias of "CR1", as in pyfixest), or
        Conley (1999) spatial HAC ``{"conley": {"cutoff_km": 200, "lag": 3}}`` with optional
        ``"kernel"`` ("bartlett", default, or "uniform"), ``"lat"``/``"lon"`` (default: the
        column named lat/latitude and lon/lng/long/longitude) and ``"unit"``/``"time"``
        (default: the two fixed effects of ``| unit + time``; without them every row is its
        own site and all rows one period). Distances are haversine km (Earth radius 6371 km);
        a panel adds Hsiang's (2010) serial part, weights 1 - l/(lag + 1) for 0 < l <= lag.
        Small-sample factor (N-1)/(N-K), as fixest's ``ssc(adj=TRUE)``.
        Default: clustered by the first fixed effect (as fixest), iid without fixed effects.
        Small-sample corrections follow fixest / pyfixest defaults (see ARCHITECTURE.md).
    cluster : shortcut for ``vcov={"CR1": cluster}`` ("unit", "unit+year" or a list). With
        ``vcov`` too, the two must agree (``vcov="CR1"`` takes the columns from ``cluster``).
    weights : column of analytic weights (rows with weight 0 are dropped and counted).
    split : column; one fit per value (sorted) on the rows with that value. Rows where it is
        missing belong to no sample (as fixest and pyfixest).
    fsplit : as ``split``, preceded by the full sample; the full sample leaves out the rows
        where the column is missing, as pyfixest does (counted in ``dropped_rows['missing']``).
    fixef_rm : "none" (default, as fixest) or "singleton" (remove singleton observations, as
        reghdfe does by default). Singletons are counted either way (``n_singletons``).
    fixef_tol, fixef_maxiter : convergence of the iterative fixed-effect projection.

    Returns
    -------
    FeolsResult for one formula without ``split``/``fsplit``; otherwise a :class:`FeolsMulti`
    (one fit per model, named and ordered as pyfixest's ``all_fitted_models``: sample split
    outermost, then fixed-effect step, outcome, right-hand-side step), which ``etable`` lays out
    one column per model.
    """
    _frame.check_data(data)
    fixef_rm = check_choice("fixef_rm", fixef_rm, ("none", "singleton"))
    fixef_tol = check_float("fixef_tol", fixef_tol, lo=0.0, lo_open=True)
    fixef_maxiter = check_int("fixef_maxiter", fixef_maxiter, lo=1)
    if weights is not None:
        weights = check_str("weights", weights)
    if split is not None and fsplit is not None:
        raise PilotdidError(
            "options 'split' and 'fsplit' are exclusive: fsplit is split plus the full sample"
        )
    split_col = (
        check_str("split" if split is not None else "fsplit", split or fsplit)
        if (split is not None or fsplit is not None)
        else None
    )
    opts = _FitOptions(vcov, cluster, weights, fixef_rm, fixef_tol, fixef_maxiter)
    formulas = expand_formula(fml)
    if formulas is None and split_col is None:
        return _fit_one(fml, data, data, opts)

    formulas = formulas if formulas is not None else [fml]
    parsed = []
    for t in formulas:
        try:
            parsed.append(parse_formula(t))
        except PilotdidError as exc:
            # name the formula as written, and the model of it that fails
            reason = str(exc).removeprefix(f"formula '{t}': ")
            raise PilotdidError(f"formula '{fml}' (model '{t}'): {reason}") from exc
    if split_col is None:
        return FeolsMulti(fml, {t: _fit_named(t, t, data, data, opts) for t in formulas})

    # Sample splits: one polars frame with every column any model reads, filtered per value.
    cols = [split_col]
    for f in parsed:
        kind, clusters, _ = _parse_vcov(vcov, f.fixef_names, cluster)
        cols += required_columns(f) + clusters + ([weights] if weights else [])
        if kind == "conley":
            names = sorted(_frame._column_names(data))
            cols += [c for c in conley_spec(vcov).columns(names, f.fixef_names).values() if c]
    if _frame.n_rows(data) == 0:
        raise PilotdidError("no rows: the data frame is empty")
    df = _frame.to_polars(data, list(dict.fromkeys(cols)))
    by = df.get_column(split_col)
    present = ~by.is_null()
    if by.dtype.is_float():
        present &= ~by.is_nan().fill_null(True)
    values = by.filter(present).unique().sort().to_list()
    if not values:
        raise PilotdidError(
            f"option '{'split' if split else 'fsplit'}': column '{split_col}' "
            "has no non-missing value"
        )
    models: dict[str, FeolsResult] = {}
    samples: dict[str, str] = {}
    if fsplit is not None:
        full = present.to_numpy()
        for t in formulas:
            name = f"{t} (Sample: {split_col} = all)"
            models[name] = _fit_named(name, t, df, df, opts, sample=None if full.all() else full)
            samples[name] = "Full sample"
    for v in values:
        sub = df.filter(present & (by == v))
        for t in formulas:
            name = f"{t} (Sample: {split_col} = {v})"
            models[name] = _fit_named(name, t, sub, sub, opts)
            samples[name] = f"{split_col} = {v}"
    return FeolsMulti(fml, models, split=split_col, samples=samples)


class _FitOptions:
    """feols' options, checked once and shared by every model of a multiple estimation."""

    def __init__(self, vcov, cluster, weights, fixef_rm, fixef_tol, fixef_maxiter) -> None:
        self.vcov, self.cluster, self.weights = vcov, cluster, weights
        self.fixef_rm, self.fixef_tol, self.fixef_maxiter = fixef_rm, fixef_tol, fixef_maxiter


def _fit_named(name: str, fml: str, *args: Any, **kwargs: Any) -> FeolsResult:
    """One model of several: a failure names the model (formula and sample)."""
    try:
        return _fit_one(fml, *args, **kwargs)
    except PilotdidError as exc:
        raise PilotdidError(f"model '{name}': {exc}") from exc


def _fit_one(
    fml: str, data: Any, data_ref: Any, opts: _FitOptions, sample: np.ndarray | None = None
) -> FeolsResult:
    """One model. ``sample``: rows outside it count as missing (fsplit's full sample leaves
    out the rows whose split value is missing)."""
    f = parse_formula(fml)
    weights = opts.weights
    kind, clusters, vcov_label = _parse_vcov(opts.vcov, f.fixef_names, opts.cluster)
    cols = required_columns(f) + clusters + ([weights] if weights else [])
    n_input = _frame.n_rows(data)
    if n_input == 0:
        raise PilotdidError("no rows: the data frame is empty")
    conley = conley_cols = None
    if kind == "conley":
        conley = conley_spec(opts.vcov)
        conley_cols = conley.columns(sorted(_frame._column_names(data)), f.fixef_names)
        cols += [c for c in conley_cols.values() if c is not None]
    df = _frame.to_polars(data, list(dict.fromkeys(cols)))

    y = _frame.numeric(df, f.depvar)
    # None: every id present (no mask is allocated; large fits count every byte a row)
    valid = None if sample is None else sample.copy()
    fe_ids, cl_ids, valid = _group_ids(df, f.fixef, clusters, valid)
    w = _frame.numeric(df, weights) if weights else None
    x_names, x_cols = _design(f, df, valid, y, w)

    if conley is not None:
        if valid is None:
            valid = np.ones(df.height, dtype=bool)
        unit = time = None
        if conley_cols["unit"] is not None:
            unit, ok = _frame.ids(df, conley_cols["unit"])
            valid &= ok
        if conley_cols["time"] is not None:
            time = _time_values(df, conley_cols["time"], valid)
        core = feols_conley_fit(
            f.depvar,
            y,
            x_names,
            x_cols,
            fe_names=f.fixef_names,
            fe=fe_ids,
            weights_name=weights,
            weights=w,
            valid=None if valid.all() else valid,
            lat=_frame.numeric(df, conley_cols["lat"]),
            lon=_frame.numeric(df, conley_cols["lon"]),
            unit=unit,
            time=time,
            cutoff_km=conley.cutoff_km,
            lag=conley.lag,
            kernel=conley.kernel,
            drop_singletons=opts.fixef_rm == "singleton",
            tol=opts.fixef_tol,
            max_iter=opts.fixef_maxiter,
        )
    else:
        core = feols_fit(
            f.depvar,
            y,
            x_names,
            x_cols,
            fe_names=f.fixef_names,
            fe=fe_ids,
            cluster_names=clusters,
            clusters=cl_ids,
            weights_name=weights,
            weights=w,
            valid=None if valid is None or valid.all() else valid,
            vcov=kind,
            vcov_clusters=list(range(len(clusters))),
            drop_singletons=opts.fixef_rm == "singleton",
            tol=opts.fixef_tol,
            max_iter=opts.fixef_maxiter,
            lean_min_rows=_LEAN_MIN_ROWS,
        )
    return FeolsResult(
        core,
        formula=f.text,
        depvar=f.depvar,
        fixef=f.fixef_names,
        vcov_label=vcov_label,
        clusters=clusters,
        weights=weights,
        columns=(y, x_cols),
        data=data_ref,
    )


def _group_ids(
    df: pl.DataFrame,
    fixef: Sequence[Sequence[str]],
    clusters: Sequence[str],
    valid: np.ndarray | None,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray | None]:
    """The integer ids the core takes for each fixed effect (``a^b`` interacted) and each
    cluster column, and ``valid`` with the rows that miss an id switched off (in place when
    it is an array; None in and no id missing gives None: every row valid)."""

    def ids(name: str) -> np.ndarray:
        nonlocal valid
        v, ok = _frame.id_values(df, name)
        if ok is not None:
            if valid is None:
                valid = ok
            else:
                valid &= ok
        return v

    fe_ids = []
    for names in fixef:
        parts = [ids(name) for name in names]
        fe_ids.append(parts[0] if len(parts) == 1 else _frame.interacted_ids(parts))
    cl_ids = [ids(name) for name in clusters]
    return fe_ids, cl_ids, valid


def _design(
    f,
    df: pl.DataFrame,
    valid: np.ndarray | None = None,
    y: np.ndarray | None = None,
    w: np.ndarray | None = None,
) -> tuple[list[str], list[np.ndarray]]:
    """Regressor names and float64 columns. Intercept only without fixed effects.

    ``valid`` (ids present) with ``y`` and ``w`` tell which rows the fit can use: ``i()``
    takes its levels from the rows where every column the model reads is present, as
    pyfixest (formulaic encodes after dropping incomplete rows). Without them (callers that
    only need the design), ``y`` is read from ``df`` and every id counts as present.
    """
    if f.fast:
        i_terms = f.i_terms()
        plain = {t: _frame.numeric(df, t) for t in f.rhs if t not in i_terms}
        names: list[str] = []
        cols: list[np.ndarray] = []
        if f.intercept and not f.fixef:
            names, cols = ["Intercept"], [np.ones(df.height)]
        if i_terms:
            y = _frame.numeric(df, f.depvar) if y is None else y
            usable = np.isfinite(y) if valid is None else valid & np.isfinite(y)
            if w is not None:
                usable &= np.isfinite(w)
            for c in plain.values():
                usable &= np.isfinite(c)
            for it in i_terms.values():
                usable &= _i_present(f.text, df, it)
            # formulaic (so pyfixest) drops a reference level of i(var) without ref and without
            # treat when the model has an intercept (fixed-effect models have one before the
            # fixed effects absorb it) or when an earlier such i() already spans it.
            spanned = f.intercept or bool(f.fixef)
        for t in f.rhs:
            if t in i_terms:
                it = i_terms[t]
                reduce = it.treat is None and it.ref is None and spanned
                n, c = _i_columns(f.text, df, it, usable, reduce)
                if it.treat is None and it.ref is None:
                    spanned = True
                names += n
                cols += c
            else:
                names.append(t)
                cols.append(plain[t])
        return names, cols
    import pandas as pd
    from formulaic import Formula

    pdf = pd.DataFrame({c: df.get_column(c).to_numpy() for c in df.columns})
    rhs = " + ".join(f.rhs)
    if not f.intercept or f.fixef:
        rhs = "0 + " + rhs
    try:
        mm = Formula(rhs).get_model_matrix(pdf, na_action="ignore", ensure_full_rank=True)
    except Exception as exc:
        raise PilotdidError(f"formula '{f.text}': {exc}") from exc
    names = [str(c) for c in mm.columns]
    cols = [np.ascontiguousarray(mm[c].to_numpy(dtype=np.float64)) for c in mm.columns]
    return names, cols


def _i_present(fml: str, df: pl.DataFrame, it: ITerm) -> np.ndarray:
    """Rows where the i() factor (and its numeric ``treat``) is present."""
    s = df.get_column(it.var)
    ok = (~s.is_null()).to_numpy()
    if s.dtype.is_float():
        ok &= ~s.is_nan().fill_null(True).to_numpy()
    if it.treat is not None:
        ok &= np.isfinite(_i_treat(fml, df, it))
    return ok


def _i_treat(fml: str, df: pl.DataFrame, it: ITerm) -> np.ndarray:
    s = df.get_column(it.treat)
    if not s.dtype.is_numeric():
        raise PilotdidError(
            f"formula '{fml}': not supported: i(var, treat) with a non-numeric treat "
            f"('{it.treat}' in '{it.text}' is {s.dtype}; a factor x factor interaction); code "
            "treat as 0/1 numbers"
        )
    return _frame.numeric(df, it.treat)


def _i_columns(
    fml: str, df: pl.DataFrame, it: ITerm, usable: np.ndarray, reduce: bool
) -> tuple[list[str], list[np.ndarray]]:
    """fixest's i(): one 0/1 column per level of ``var`` on the usable rows (sorted), the
    ``ref`` levels left out (the first too when ``reduce``), times ``treat`` when given. Rows
    where var (or treat) is missing get NaN, so the core drops and counts them."""
    s = df.get_column(it.var)
    if s.dtype.is_float():
        s = s.fill_nan(None)
    levels = s.filter(pl.Series(usable)).unique().sort().to_list()
    if it.ref is not None:
        missing = [r for r in it.ref if r not in levels]
        if missing:
            shown = ", ".join(map(str, levels[:8])) + (", ..." if len(levels) > 8 else "")
            raise PilotdidError(
                f"formula '{fml}': in '{it.text}', ref={missing[0]!r} is not a value of "
                f"'{it.var}' in the estimation sample (values: {shown})"
            )
        levels = [v for v in levels if v not in it.ref]
    elif reduce:
        levels = levels[1:]
    present = (~s.is_null()).to_numpy()
    base = np.where(present, 0.0, np.nan)
    treat = _i_treat(fml, df, it) if it.treat is not None else None
    names, cols = [], []
    for level in levels:
        col = base.copy()
        col[(s == level).fill_null(False).to_numpy()] = 1.0
        if treat is not None:
            col = col * treat
        names.append(f"{it.var}::{level}" + (f":{it.treat}" if it.treat else ""))
        cols.append(np.ascontiguousarray(col, dtype=np.float64))
    return names, cols
