"""The :class:`Study` container: a resolved spec, its data and every result, table,
figure and note an analysis adds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["Study"]


# ------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------
@dataclass
class Study:
    """The results of a study: ``results[name]`` holds each analysis's result objects,
    ``tables[name]`` the publication tables (``pilotdid.etable`` objects), ``figures[name]``
    matplotlib figures, ``frames[name]`` tidy polars frames (written as CSV), ``seeds`` the
    seed of each random step, ``failures[name]`` the error of each analysis that failed (the
    report shows it in that analysis's section), ``log`` the run log (with timings; not in
    provenance)."""

    spec: dict
    data: pl.DataFrame
    info: dict
    results: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
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
        """Writes the report folder (see :func:`pilotdid.study.report.write_report`)."""
        from pilotdid.study.report import write_report

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
