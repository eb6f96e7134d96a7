"""Regenerate the SYNTHETIC YRD panel and its truth: ``python data/yrd/generate.py``.

Writes ``panel_synthetic.csv`` and ``truth.json`` beside this script from
``simulate_yrd()`` with its defaults (seed 20121, coding "default", district-only cities
untreated, no anticipation). The generator is loaded from
``python/pilotdid/datasets/_simulate.py`` by file path, so neither the compiled extension nor
an installed ``pilotdid`` is needed. The output is deterministic: rerunning reproduces it.
Columns drawn from later, separate streams (the green inputs, spawn key 1000; the
construction intensity, its indicators and ``gtfp_dose``, spawn key 1001) are appended
last, so regenerating never changes an earlier column.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import polars as pl

HERE = Path(__file__).resolve().parent
SIMULATE = HERE.parent / "_simulate.py"  # real home: python/pilotdid/datasets/yrd/


def load_simulate() -> ModuleType:
    """Import ``_simulate.py`` by path without importing the ``pilotdid`` package."""
    spec = importlib.util.spec_from_file_location("_pilotdid_simulate", SIMULATE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {SIMULATE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def main() -> None:
    """Simulate with the defaults and write the panel and the truth."""
    sim = load_simulate()
    cities = pl.read_csv(HERE / "cities.csv", schema_overrides={"pilot_batch": pl.Int64})
    panel, truth = sim.simulate_yrd(cities=cities)
    panel.write_csv(HERE / "panel_synthetic.csv")
    text = json.dumps(truth, indent=2, ensure_ascii=False, allow_nan=False)
    (HERE / "truth.json").write_text(text + "\n", encoding="utf-8")
    print(f"wrote {panel.height} rows x {panel.width} columns and truth.json to {HERE}")


if __name__ == "__main__":
    main()
