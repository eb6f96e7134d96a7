"""Output for the paper: regression tables (:mod:`~pilotdid.output.tables`), descriptive
statistics (:mod:`~pilotdid.output.summary_stats`) and figures (:mod:`~pilotdid.output.figures`).
Results are read through the result protocol only."""

from pilotdid.output import figures
from pilotdid.output.summary_stats import describe
from pilotdid.output.tables import ETable, etable

__all__ = ["ETable", "describe", "etable", "figures"]
