"""The study runner's two errors, in a module of their own so that the report writer
(report.py) and the runner (study.py) do not import each other."""

from __future__ import annotations

from pilotdid._core import PilotdidError

__all__ = ["SpecError", "StudyError", "StudyWarning"]


class SpecError(PilotdidError):
    """A study spec that cannot run: unknown key, missing column, bad option value or a
    treatment coding without treated units or controls. Raised before anything is written."""


class StudyError(PilotdidError):
    """An analysis of a valid spec failed while running with ``strict=True`` (the message
    names the analysis); nothing is written."""


class StudyWarning(UserWarning):
    """Some analyses of a study failed; the others ran and the report shows which failed and
    why (``study.failures``)."""
