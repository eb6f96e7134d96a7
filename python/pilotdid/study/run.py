"""Running a study: :func:`run_study` validates a spec, runs the enabled analyses in a
fixed order and optionally writes the report."""

from __future__ import annotations

import hashlib
import sys
import time
import traceback
import warnings
from pathlib import Path

from pilotdid._args import check_bool
from pilotdid._core import PilotdidError
from pilotdid.study._study import Study
from pilotdid.study.analyses import _RUNNERS
from pilotdid.study.data import _resolve_all
from pilotdid.study.errors import SpecError, StudyError, StudyWarning
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
    strict: bool = False,
) -> Study:
    """Validates and runs a study spec; with ``out``, writes the report folder there
    (atomically: into a temporary folder beside it, moved into place on success).

    An analysis that fails while running does not stop the others: its error is kept in
    ``study.failures`` (and shown in its section of the report), whatever it had added is
    discarded, and a :class:`StudyWarning` names the failed analyses. ``strict=True`` keeps
    the all-or-nothing behaviour: the first failure raises :class:`StudyError` and nothing is
    written. A spec that does not validate always raises :class:`SpecError` before anything
    runs. ``quiet=False`` shows tqdm progress bars when stderr is a terminal.
    """
    strict = check_bool("strict", strict)

    resolved, df, info = _resolve_all(spec, base_dir)
    if out is not None:
        check_target(out, overwrite, info["input_paths"])
    spec_sha = None
    if isinstance(spec, (str, Path)):
        spec_sha = hashlib.sha256(Path(spec).read_bytes()).hexdigest()
    study = Study(spec=resolved, data=df, info=info, spec_sha256=spec_sha)
    _execute(study, progress=not quiet and sys.stderr.isatty(), strict=strict)
    if out is not None:
        study.write_report(out, overwrite=overwrite)
    if study.failures:
        warnings.warn(
            f"{len(study.failures)} analys{'is' if len(study.failures) == 1 else 'es'} failed: "
            + "; ".join(f"[analyses.{n}] {msg}" for n, msg in study.failures.items())
            + " (study.failures has each error; the report shows it in the analysis's section; "
            "strict=True stops at the first failure instead)",
            StudyWarning,
            stacklevel=2,
        )
    return study


def _failure_text(err: Exception) -> str:
    """What a report says about a failed analysis: the message of a PilotdidError (it names
    the option or column), or the type and message of anything else (a bug to report)."""
    if isinstance(err, PilotdidError):
        return str(err)
    return (
        f"internal error {type(err).__name__}: {err} (please report it with the spec; "
        "run.log has the traceback)"
    )


def _discard_additions(study: Study, before: dict[str, set]) -> None:
    """Drops every result, table, figure, frame, seed and note a failed analysis added, so
    that nothing half-made reaches the report."""
    for attr, keys in before.items():
        store = getattr(study, attr)
        for key in [k for k in store if k not in keys]:
            del store[key]


_STORES = ("results", "tables", "figures", "frames", "seeds", "notes")


def _execute(study: Study, progress: bool, strict: bool = False) -> None:
    from tqdm.auto import tqdm

    enabled = [n for n in ANALYSIS_ORDER if study.spec["analyses"].get(n, {}).get("enabled")]
    steps = tqdm(enabled, desc="study", disable=not progress, unit="analysis")
    t0 = time.perf_counter()
    for name in steps:
        steps.set_postfix_str(name)
        t = time.perf_counter()
        before = {attr: set(getattr(study, attr)) for attr in _STORES}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                _RUNNERS[name](study, study.spec["analyses"][name], progress)
            except SpecError:
                raise
            # Exception, not BaseException: Ctrl-C and SIGTERM still stop the whole run
            except Exception as e:
                if strict:
                    raise StudyError(f"[analyses.{name}] failed: {e}") from e
                _discard_additions(study, before)
                study.failures[name] = _failure_text(e)
                study.log.append(f"{name}: FAILED after {time.perf_counter() - t:.2f} s")
                study.log.extend(traceback.format_exception(e))
                continue
        for w in caught:
            study.notes.setdefault(name, []).append(f"warning: {w.message}")
        study.log.append(f"{name}: {time.perf_counter() - t:.2f} s")
    study.log.append(f"total: {time.perf_counter() - t0:.2f} s")
