"""Robustness: placebo / randomization inference (:mod:`~pilotdid.robust.randomization`),
PSM-DID (:mod:`~pilotdid.robust.psm`), sample and measurement variants
(:mod:`~pilotdid.robust.sample`) and the battery that runs them into one table
(:mod:`~pilotdid.robust.battery`)."""

from pilotdid.robust.battery import Check, robustness
from pilotdid.robust.psm import psm_did
from pilotdid.robust.randomization import placebo
from pilotdid.robust.sample import (
    add_controls,
    drop_units,
    exclude_units,
    restrict_window,
    swap_outcome,
    winsorize,
)

__all__ = [
    "Check",
    "add_controls",
    "drop_units",
    "exclude_units",
    "placebo",
    "psm_did",
    "restrict_window",
    "robustness",
    "swap_outcome",
    "winsorize",
]
