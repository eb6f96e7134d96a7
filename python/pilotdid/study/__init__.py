"""A whole study from one TOML spec: the schema (:mod:`~pilotdid.study.spec`), its data
(:mod:`~pilotdid.study.data`), running it (:mod:`~pilotdid.study.run`,
:mod:`~pilotdid.study.analyses`) and the report folder (:mod:`~pilotdid.study.report`).

Python API::

    spec = pilotdid.study.resolve_spec("study.toml")   # validated, every default filled in
    study = pilotdid.run_study("study.toml")           # runs it; nothing written
    study.write_report("pilotdid-report", overwrite=True)
"""

from pilotdid.study._study import Study
from pilotdid.study.data import prepare_data, resolve_spec
from pilotdid.study.errors import SpecError, StudyError, StudyWarning
from pilotdid.study.run import run_study
from pilotdid.study.spec import ANALYSIS_ORDER, SPEC_KEYS, load_spec

__all__ = [
    "ANALYSIS_ORDER",
    "SPEC_KEYS",
    "SpecError",
    "Study",
    "StudyError",
    "StudyWarning",
    "load_spec",
    "prepare_data",
    "resolve_spec",
    "run_study",
]
