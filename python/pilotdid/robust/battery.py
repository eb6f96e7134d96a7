"""The robustness battery: :func:`robustness` runs a list of checks (:class:`Check`)
on a baseline model into one table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import (
    check_columns,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
)
from pilotdid._formula import parse_formula
from pilotdid.results.robustness import RobustnessResult
from pilotdid.robust._model import (
    _check_model,
    _model_data,
    _optional_str,
    _panel_ids,
    _refit,
    _treatment,
    _vcov_spec,
)
from pilotdid.robust.psm import _psm_options, psm_did
from pilotdid.robust.randomization import _placebo_options, placebo
from pilotdid.robust.sample import (
    _exclude_options,
    _quantile_bounds,
    _unit_list,
    _window_bounds,
    add_controls,
    drop_units,
    exclude_units,
    restrict_window,
    swap_outcome,
    winsorize,
)

__all__ = ["Check", "robustness"]


# ------------------------------------------------------------------------------------------
# the battery
# ------------------------------------------------------------------------------------------
def _check_label(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    raise PilotdidError(f"option 'label': expected a non-empty string, got {value!r}")


def _validate_winsorize(o: dict) -> None:
    _quantile_bounds(o.get("lower", 0.01), o.get("upper", 0.99))
    if "columns" in o:
        check_columns("columns", o["columns"])
    _optional_str("by", o.get("by"))


def _validate_placebo(o: dict) -> None:
    _placebo_options(
        o.get("reps", 1000),
        o.get("scheme", "units"),
        o.get("seed", 0),
        o.get("progress", False),
        o.get("statistic"),
    )


def _validate_add_controls(o: dict) -> None:
    if not check_columns("controls", o.get("controls")):
        raise PilotdidError("Check('controls'): option 'controls' names no column to add")


def _validate_psm(o: dict) -> None:
    for req in ("treatment", "controls"):
        if req not in o:
            raise PilotdidError(f"Check('psm'): option '{req}' is required")
    _psm_options(**o)


#: kind -> (options it takes, old option names -> new, validator of the options' values)
_CHECK_KINDS: dict[str, tuple[tuple[str, ...], dict[str, str], Callable[[dict], None]]] = {
    "exclude_units": (
        ("flags", "table", "table_unit", "table_start", "mode", "control_name"),
        {},
        lambda o: _exclude_options(**o),
    ),
    "drop_units": (("units",), {}, lambda o: _unit_list(o.get("units"))),
    "winsorize": (("columns", "lower", "upper", "by"), {}, _validate_winsorize),
    "window": (("start", "end"), {}, lambda o: _window_bounds(o.get("start"), o.get("end"))),
    "outcome": (("y",), {"outcome": "y"}, lambda o: check_str("y", o.get("y"))),
    "controls": (("controls",), {}, lambda o: _validate_add_controls(o)),
    "psm": (
        (
            "treatment",
            "controls",
            "fml",
            "method",
            "k",
            "caliper",
            "replace",
            "kernel",
            "bandwidth",
            "common_support",
            "by",
            "did_sample",
            "vcov",
            "cluster",
            "weights_name",
        ),
        {"treat": "treatment", "covariates": "controls", "formula": "fml"},
        _validate_psm,
    ),
    "placebo": (("reps", "scheme", "seed", "progress", "statistic"), {}, _validate_placebo),
}


class Check:
    """One robustness check: ``kind`` and its options, checked when the check is built. Build
    with keywords, or as a dict ``{"kind": "winsorize", "columns": [...], ...}`` / a tuple
    ``("winsorize", {...})`` inside ``robustness(checks=...)``.

    kinds (options):
    - ``"exclude_units"``: flags= / table= / table_unit= / table_start= / mode= (drop|control)
      / control_name=
    - ``"drop_units"``: units=
    - ``"winsorize"``: columns= (default: outcome and controls), lower=, upper=, by=
    - ``"window"``: start=, end=
    - ``"outcome"``: y= (the other outcome)
    - ``"controls"``: controls=
    - ``"psm"``: treatment=, controls= (of the score), and psm_did's other options
    - ``"placebo"``: reps=, scheme=, seed=, progress=, statistic=
    every kind also takes ``label=``. Unknown kinds or options raise; old option names raise
    a TypeError naming the new one.
    """

    def __init__(self, kind: str, **options: Any) -> None:
        if not isinstance(kind, str) or kind not in _CHECK_KINDS:
            raise PilotdidError(
                f"option 'kind': unknown kind {kind!r} (one of " + ", ".join(_CHECK_KINDS) + ")"
            )
        allowed, renamed, validate = _CHECK_KINDS[kind]
        for name in options:
            if name in renamed:
                raise TypeError(
                    f"Check({kind!r}): '{name}' is now called '{renamed[name]}' (the package's "
                    "one vocabulary; see CHANGELOG.md)"
                )
            if name != "label" and name not in allowed:
                raise TypeError(
                    f"Check({kind!r}): unknown option '{name}'; it takes "
                    + ", ".join(f"{a}=" for a in allowed)
                    + ", label="
                )
        self.kind = kind
        self.label = _check_label(options.pop("label", None))
        validate(options)
        self.options = options

    def __repr__(self) -> str:
        return f"Check({self.kind!r}, {self.options!r})"


def _as_check(c: Any) -> Check:
    if isinstance(c, Check):
        return c
    if isinstance(c, dict):
        c = dict(c)
        kind = c.pop("kind", None)
        if kind is None:
            raise PilotdidError(f"option 'checks': {c!r} has no 'kind'")
        return Check(kind, **c)
    if isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str):
        return Check(c[0], **dict(c[1]))
    raise PilotdidError(f"option 'checks': cannot read {c!r}")


def _row(label: str, term: str, fit: Any, note: str = "") -> dict:
    tidy = fit.tidy().filter(pl.col("term") == term)
    if tidy.height == 0:
        raise PilotdidError(f"check '{label}': '{term}' was dropped from the regression")
    r = tidy.row(0, named=True)
    return {
        "check": label,
        "estimate": float(r["estimate"]),
        "std_error": float(r["std_error"]),
        "p_value": float(r["p_value"]),
        "nobs": int(fit.nobs),
        "note": note,
    }


@vocabulary(renamed={"base_model": "model"})
def robustness(
    model: Any,
    *,
    checks: Sequence[Any],
    data: Any = None,
    treatment: str | None = None,
    unit: str | None = None,
    time: str | None = None,
) -> RobustnessResult:
    """Runs each check as a variant of ``model`` and returns one table with the
    baseline beside each (see :class:`Check` for the kinds). Every regression is the
    model's own (formula, vcov, weights, singleton rule) on the variant's data; each row
    equals the corresponding separate call (``winsorize`` + ``feols``, ``psm_did``,
    ``placebo``, ...). Every check is read and validated before the first one runs."""
    base_model = _check_model(model)
    if isinstance(checks, (str, bytes, dict, Check)) or not isinstance(checks, Sequence):
        raise PilotdidError(
            f"option 'checks': expected a list of checks (Check(...), dicts or tuples), got "
            f"{type(checks).__name__}"
        )
    parsed = [_as_check(c) for c in checks]
    treatment = _optional_str("treatment", treatment)
    unit = _optional_str("unit", unit)
    time = _optional_str("time", time)
    data = _model_data(base_model, data)
    term = _treatment(base_model, treatment)
    unit, time = _panel_ids(base_model, unit, time)
    f = parse_formula(base_model.formula)
    controls = [c for c in f.rhs if c != term]
    base = base_model.tidy().filter(pl.col("term") == term).row(0, named=True)
    rows = [
        {
            "check": "baseline",
            "estimate": float(base["estimate"]),
            "std_error": float(base["std_error"]),
            "p_value": float(base["p_value"]),
            "nobs": int(base_model.nobs),
            "note": base_model.formula,
        }
    ]
    models: dict = {"baseline": base_model}
    for c in parsed:
        o = dict(c.options)
        kind = c.kind
        if kind == "exclude_units":
            label = c.label or "exclude other pilots"
            mode = o.get("mode", "drop")
            d = exclude_units(data, unit=unit, time=time, **o)
            fml = base_model.formula
            if mode == "control":
                fml = add_controls(fml, o.get("control_name", "other_pilot"))
            fit = _refit(base_model, d, fml)
            note = f"mode={mode}"
        elif kind == "drop_units":
            label = c.label or "drop named units"
            fit = _refit(base_model, drop_units(data, unit=unit, units=o["units"]))
            note = f"{len(o['units'])} units dropped"
        elif kind == "winsorize":
            cols = o.pop("columns", [f.depvar, *controls])
            label = c.label or (
                f"winsorize {o.get('lower', 0.01):g}/{o.get('upper', 0.99):g}"
                + (f" by {o['by']}" if o.get("by") else "")
            )
            fit = _refit(base_model, winsorize(data, columns=cols, **o))
            note = ", ".join(check_columns("columns", cols))
        elif kind == "window":
            label = c.label or f"window {o.get('start')}-{o.get('end')}"
            window = restrict_window(data, time=time, start=o.get("start"), end=o.get("end"))
            fit = _refit(base_model, window)
            note = ""
        elif kind == "outcome":
            label = c.label or f"outcome {o['y']}"
            fit = _refit(base_model, data, swap_outcome(base_model.formula, o["y"]))
            note = ""
        elif kind == "controls":
            extra = o["controls"]
            label = c.label or "add controls"
            fit = _refit(base_model, data, add_controls(base_model.formula, extra))
            note = ", ".join([extra] if isinstance(extra, str) else extra)
        elif kind == "psm":
            label = c.label or "PSM-DID"
            o.setdefault("fml", base_model.formula)
            if o.get("cluster") is None:
                o.setdefault("vcov", _vcov_spec(base_model))
            res = psm_did(data, **o)
            models[label] = res
            rows.append(_row(label, term, res.did, res.method))
            continue
        else:  # placebo
            label = c.label or f"placebo ({o.get('scheme', 'units')})"
            res = placebo(base_model, data=data, treatment=term, unit=unit, time=time, **o)
            models[label] = res
            finite = res.estimates[np.isfinite(res.estimates)]
            rows.append(
                {
                    "check": label,
                    "estimate": float(finite.mean()),
                    "std_error": float(finite.std(ddof=1)),
                    "p_value": float(res.p_value_ri),
                    "nobs": int(base_model.nobs),
                    "note": "mean and sd of placebo estimates; randomization p-value",
                }
            )
            continue
        models[label] = fit
        rows.append(_row(label, term, fit, note))
    table = pl.DataFrame(rows).with_columns(
        pl.lit(term).alias("term"),
        pl.lit(float(base["estimate"])).alias("baseline_estimate"),
        pl.lit(float(base["std_error"])).alias("baseline_std_error"),
    )
    table = table.select(
        "check",
        "term",
        "estimate",
        "std_error",
        "p_value",
        "nobs",
        "baseline_estimate",
        "baseline_std_error",
        "note",
    )
    return RobustnessResult(table=table, models=models, baseline=base_model, term=term)
