"""What every study runner shares: the spec's labels and language, its tables (``etable``
with the report's formatting), titles in the report's language and the unit-level median
split. Used by :mod:`pilotdid.study.analyses` and :mod:`pilotdid.study.designs`."""

from __future__ import annotations

from typing import Any

import polars as pl

from pilotdid.study._study import Study


def _labels(study: Study) -> dict[str, str]:
    return dict(study.spec["report"]["labels"])


def _controls(study: Study) -> list[str] | None:
    """The spec's controls, for a table's "Controls: Yes" row (None: no such row)."""
    return study.spec["model"]["controls"] or None


def _etable(study: Study, results: Any, **kw: Any) -> Any:
    from pilotdid.output.tables import etable

    rep = study.spec["report"]
    kw.setdefault("labels", _labels(study) or None)
    return etable(results, lang=rep["lang"], digits=rep["digits"], stat=rep["stat"], **kw)


def _zh(study: Study) -> bool:
    return study.spec["report"]["lang"] == "zh"


def _title(study: Study, en: str, zh: str) -> str:
    """A table title (its LaTeX caption) in the report's language."""
    return zh if _zh(study) else en


def _lang(study: Study) -> str:
    return study.spec["report"]["lang"]


def _label(study: Study, name: str) -> str:
    """A column's display label ([report.labels]), else its name."""
    return _labels(study).get(name, name)


def _unit_median_split(study: Study, col: str, analysis: str = "heterogeneity") -> str:
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
    study.notes.setdefault(analysis, []).append(
        f"'{name}' = 1 if the unit's first-period {col} is above the median of units ({med:.6g})"
    )
    return name
