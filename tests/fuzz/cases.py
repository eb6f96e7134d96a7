"""Fuzz cases: a valid template call for every public entry point, and a seeded generator that
replaces one or two of its inputs by a bad or unusual value.

``build(case_id, seed)`` always returns the same case for the same numbers: the case's random
stream is ``numpy.random.default_rng([seed, case_id])``. A case holds the call, the option
names it perturbed and the printed bad values (what a helpful message would mention), and the
caller's frames (checked unmodified after the call).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import polars as pl

import pilotdid as pdid
from pilotdid import datasets


# ------------------------------------------------------------------------------------------
# small data
# ------------------------------------------------------------------------------------------
@cache
def panel() -> pl.DataFrame:
    """12 cities x 8 years of the bundled SYNTHETIC panel (fast)."""
    df = datasets.yrd()
    keep = df["city"].unique(maintain_order=True).to_list()
    keep = keep[:6] + [c for c in keep if c not in keep[:6]][-6:]
    return df.filter(pl.col("city").is_in(keep) & (pl.col("year") >= 2008)).filter(
        pl.col("year") <= 2017
    )


@cache
def cities() -> pl.DataFrame:
    c = datasets.yrd_cities()
    return c.filter(pl.col("city_en").is_in(panel()["city"].unique().to_list())).sort("city_en")


@cache
def spatial_panel() -> pl.DataFrame:
    return panel().filter(pl.col("city").is_in(cities()["city_en"].to_list()))


@cache
def panel_groups() -> pl.DataFrame:
    """panel() with a two-group unit-level column (6 cities each) for heterogeneity."""
    cities_ = panel()["city"].unique().sort().to_list()
    half = {c: ("a" if i % 2 else "b") for i, c in enumerate(cities_)}
    return panel().with_columns(
        pl.col("city").replace_strict(half, return_dtype=pl.String).alias("half")
    )


@cache
def W():
    c = cities()
    return pdid.weights.knn(c["lat"].to_numpy(), c["lon"].to_numpy(), k=3, ids=c["city_en"])


@cache
def fit():
    return pdid.feols("gtfp ~ did + ln_gdp_pc | city + year", panel(), vcov={"CR1": "city"})


@cache
def att():
    return pdid.att_gt(panel(), y="gtfp", time="year", unit="city", cohort="cohort")


@cache
def dea() -> pl.DataFrame:
    df = datasets.yrd()
    return df.filter(pl.col("year") >= 2019)


# ------------------------------------------------------------------------------------------
# bad values by kind of input
# ------------------------------------------------------------------------------------------
class _Weird:
    def __repr__(self) -> str:
        return "<weird object>"


NUMBERS: list[Any] = [
    None,
    "x",
    "",
    -1,
    0,
    1.5,
    -0.5,
    math.nan,
    math.inf,
    -math.inf,
    10**9,
    2**63,
    -(2**63),
    2**64,
    True,
    [1],
    (),
    1e308,
    -1e-308,
    _Weird(),
    np.int64(-3),
    np.float32("nan"),
]
STRINGS: list[Any] = [None, "", "no_such_thing", 1, 2.5, ["a"], "  ", "ÄÖ绿色", True, _Weird()]
BOOLS: list[Any] = [None, "yes", 2, -1, math.nan, [True]]
WINDOWS: list[Any] = [
    None,
    "x",
    (1.5, 2),
    (3, -3),
    (0,),
    (0, 1, 2),
    (math.nan, 1),
    (-(10**12), 10**12),
    [-99, -98],
    (True, False),
]
COLUMN_LISTS: list[Any] = [
    None,
    [],
    "no_such_col",
    ["no_such_col"],
    [1, 2],
    [""],
    [None],
    ["city"],
    ["year", "year"],
]
DICTS: list[Any] = [None, {}, {"CR1": "no_such"}, {"CR9": "city"}, {"CR1": 3}, "HC9", 5, []]


def _frames(base: pl.DataFrame, rng: np.random.Generator) -> list[tuple[str, Callable[[], Any]]]:
    """Bad data inputs built from the template's frame (names say what they are)."""
    import pandas as pd

    def to_pandas(df: pl.DataFrame) -> Any:  # without pyarrow
        return pd.DataFrame({c: df[c].to_numpy() for c in df.columns})

    def dup_cols():
        p = to_pandas(base.head(20))
        return pd.concat([p, p.iloc[:, :1]], axis=1)

    def inf_ids():
        unit = "city" if "city" in base.columns else base.columns[0]
        codes = base[unit].rank("dense").cast(pl.Float64)
        codes = pl.when(codes == 1).then(math.inf).when(codes == 2).then(-math.inf).otherwise(codes)
        return base.with_columns(codes.alias(unit))

    def object_col():
        p = to_pandas(base)
        num = [c for c in p.columns if p[c].dtype.kind == "f"]
        if num:
            col = p[num[0]].astype(object)
            col.iloc[0] = "oops"
            p[num[0]] = col
        return p

    def all_nan():
        num = [c for c, t in base.schema.items() if t.is_float()]
        return base.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in num[:3])

    def with_inf():
        num = [c for c, t in base.schema.items() if t.is_float()]
        return base.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(math.inf).otherwise(pl.col(c)).alias(c)
            for c in num[:4]
        )

    def shuffled():
        return base.sample(fraction=1.0, seed=int(rng.integers(0, 2**31)))

    return [
        ("None", lambda: None),
        ("5", lambda: 5),
        ("'data'", lambda: "data"),
        ("empty frame", lambda: base.head(0)),
        ("one row", lambda: base.head(1)),
        ("duplicate column names (pandas)", dup_cols),
        ("+inf/-inf ids", inf_ids),
        ("object column with a string", object_col),
        ("all-missing numeric columns", all_nan),
        ("inf in numeric columns", with_inf),
        ("dict of unequal arrays", lambda: {"a": np.zeros(3), "b": np.zeros(4)}),
        ("rows shuffled", shuffled),
        ("pandas copy", lambda: to_pandas(base)),
        ("numpy array", lambda: base.select(pl.selectors.numeric()).to_numpy()),
    ]


# ------------------------------------------------------------------------------------------
# templates: one valid call per entry point
# ------------------------------------------------------------------------------------------
@dataclass
class Template:
    target: str
    fn: Callable[[], Callable[..., Any]]
    args: Callable[[], list[Any]]
    kwargs: Callable[[], dict[str, Any]]
    #: options never perturbed (e.g. a callback)
    fixed: tuple[str, ...] = ()


TEMPLATES: list[Template] = []  # filled in templates.py


def _pool(value: Any, option: str) -> list[Any]:
    if isinstance(value, bool):
        return BOOLS
    if isinstance(value, (int, float, np.integer, np.floating)):
        return NUMBERS
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return WINDOWS
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return COLUMN_LISTS
    if isinstance(value, dict):
        return DICTS
    if isinstance(value, str):
        return STRINGS
    return NUMBERS + STRINGS


def _shown(bad: Any) -> list[str]:
    """How a message may show a bad value: the string itself, a list's strings, a number."""
    if isinstance(bad, str):
        return [repr(bad), f"'{bad}'"] + ([bad] if bad.strip() else [])
    if isinstance(bad, (list, tuple)):
        return [v for v in bad if isinstance(v, str) and v.strip()] + [repr(bad)]
    if isinstance(bad, dict):
        return (
            [repr(bad)]
            + [f"'{v}'" for v in bad.values() if isinstance(v, str)]
            + [f"'{k}'" for k in bad]
        )
    if isinstance(bad, (bool, int, float, np.integer, np.floating)):
        return [str(bad), repr(bad)]
    return [repr(bad)]


def build(case_id: int, seed: int = 0) -> dict[str, Any]:
    """The case ``case_id``: its call, perturbed option names, shown values and frames."""
    import templates  # noqa: F401 - registers TEMPLATES

    rng = np.random.default_rng([seed, case_id])
    t = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    args = list(t.args())
    kwargs = dict(t.kwargs())
    names: list[str] = []
    shown: list[str] = []
    frames: list[Any] = []
    options = [k for k in kwargs if k not in t.fixed]
    n_perturb = 1 if rng.random() < 0.8 or len(options) < 2 else 2
    perturb_data = bool(args) and isinstance(args[0], pl.DataFrame) and rng.random() < 0.25
    if perturb_data:
        label, make = _frames(args[0], rng)[int(rng.integers(14))]
        args[0] = make()
        names.append("data")
        shown.append(label)
        # a message about bad data names the data, a row count or a column the call uses
        # (words about the data's shape count: rows, periods, units, cohorts, observations)
        shown += (
            ["row", "period", "unit", "cohort", "observation", "column '"]
            + [f"'{v}'" for v in kwargs.values() if isinstance(v, str) and v]
            + [
                f"'{c}'"
                for v in kwargs.values()
                if isinstance(v, list)
                for c in v
                if isinstance(c, str)
            ]
        )
        n_perturb -= 1
    for _ in range(max(n_perturb, 0)):
        if not options:
            break
        opt = options.pop(int(rng.integers(len(options))))
        pool = _pool(kwargs[opt], opt)
        bad = pool[int(rng.integers(len(pool)))]
        kwargs[opt] = bad
        names.append(opt)
        shown.extend(_shown(bad))
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, pl.DataFrame) or type(a).__module__.startswith("pandas"):
            frames.append(a)
    fn = t.fn()
    return {
        "target": f"{t.target} [{', '.join(names)}] = "
        + ", ".join(repr(kwargs.get(n, shown[0] if shown else None))[:60] for n in names),
        "names": names,
        "shown": shown,
        "frames": frames,
        "call": lambda: fn(*args, **kwargs),
    }


def describe(case_id: int, seed: int = 0) -> str:
    try:
        return build(case_id, seed)["target"]
    except Exception as e:  # noqa: BLE001
        return f"case {case_id} ({type(e).__name__} while building)"


def fingerprint(case: dict[str, Any]) -> str:
    """A hash of the caller's frames (schema and every value)."""
    h = hashlib.sha256()
    for f in case["frames"]:
        if isinstance(f, pl.DataFrame):
            h.update(str(f.schema).encode())
            h.update(f.hash_rows().to_numpy().tobytes() if f.height else b"")
        else:
            h.update(str(list(f.columns)).encode())
            h.update(str(list(f.dtypes)).encode())
            h.update(f.to_csv().encode())
    return h.hexdigest()
