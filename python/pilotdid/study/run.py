"""Running a study: :func:`run_study` validates a spec, runs the enabled analyses in a
fixed order and optionally writes the report."""

from __future__ import annotations

import hashlib
import sys
import time
import warnings
from pathlib import Path

from pilotdid._core import PilotdidError
from pilotdid.study._study import Study
from pilotdid.study.analyses import _RUNNERS
from pilotdid.study.data import _resolve_all
from pilotdid.study.errors import SpecError, StudyError
from pilotdid.study.report import check_target
from pilotdid.study.spec import ANALYSIS_ORDER

__all__ = ["run_study"]


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

    resolved, df, info = _resolve_all(spec, base_dir)
    if out is not None:
        check_target(out, overwrite, info["input_paths"])
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
