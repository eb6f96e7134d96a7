"""Golden calls, study family: the layer that composes the estimators and reads their results
through the shared result protocol. ``run_study`` on the bundled SYNTHETIC YRD spec (every
analysis on, fewer replicates; its seeded steps use the spec's seed) and ``etable`` over a mix
of result types (the cell strings, 8 digits).

Each call runs one fixed call on fixed data and returns a flat dict of the numbers the result
exposes today (see _golden.py for how they are stored)."""

from __future__ import annotations

import copy
from functools import cache
from importlib.resources import files
from typing import Any

import _data as D
from _golden import frame

import pilotdid as pdid

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]


@cache
def _bundled_spec() -> dict[str, Any]:
    text = (files("pilotdid.datasets") / "yrd" / "study.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def run_study_bundled_yrd():
    """The bundled study with 99 wild-bootstrap, 49 placebo, 29 mediation-bootstrap, 19
    permutation and 49 impact replicates (the full counts take minutes)."""
    spec = copy.deepcopy(_bundled_spec())
    a = spec["analyses"]
    a["baseline"]["reps"] = 99
    a["placebo"]["reps"] = 49
    a["mechanisms"]["reps"] = 29
    a["heterogeneity"]["reps"] = 19
    a["spatial"]["reps"] = 49
    st = pdid.run_study(spec)
    out: dict[str, Any] = {}
    for name, tab in st.frames.items():
        out.update(frame(tab, f"frames.{name}"))
    built = ["capital", "gtfp_gml", "ln_gtfp_gml", "did", "cohort", "ln_gdp_pc_above_median"]
    out.update(frame(st.data.select(built), "data"))
    out["seeds"] = [f"{k}={v}" for k, v in st.seeds.items()]
    return out


def etable_mixed_results():
    df = D.yrd()
    fml = "gtfp ~ did + " + " + ".join(D.CONTROLS) + " | city + year"
    fit = pdid.feols(fml, df, vcov={"CR1": "city"})
    es = pdid.event_study(
        df,
        y="gtfp",
        time="year",
        unit="city",
        cohort="cohort",
        estimator="bjs",
        window=(-3, 3),
    )
    sa = pdid.sunab(df, y="gtfp", time="year", unit="city", cohort="cohort")
    agg = pdid.aggte(
        pdid.att_gt(df, y="gtfp", time="year", unit="city", cohort="cohort"), type="dynamic"
    )
    plac = pdid.placebo(fit, data=df, reps=49, seed=1)
    out: dict[str, Any] = {}
    for stat in ("se", "t", "p", "ci"):
        t = pdid.etable([fit, es, sa, agg, plac], stat=stat, digits=8, controls=D.CONTROLS)
        out.update(frame(t.frame, f"etable_{stat}"))
    return out


CALLS = {f.__name__: f for f in (run_study_bundled_yrd, etable_mixed_results)}
