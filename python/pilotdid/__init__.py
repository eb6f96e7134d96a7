"""pilotdid: evaluate pilot policies with staggered DID, mechanisms and spatial spillovers.

A Rust core computes every estimate; this package hands it data frames and returns results
with ``coef()``, ``se()``, ``tidy()``, ``summary()`` and ``plot()``.
"""

from pilotdid._core import PilotdidError
from pilotdid.bacon import bacon
from pilotdid.event_study import did2s, event_study, imputation, twfe_event_study
from pilotdid.panel import Panel
from pilotdid.regression import feols
from pilotdid.results import (
    AggteResult,
    AttGtResult,
    BaconResult,
    EventStudyResult,
    FeolsResult,
    SunAbrahamResult,
    WildBootResult,
    plot_event_studies,
)
from pilotdid.staggered import aggte, att_gt
from pilotdid.sun_abraham import sunab

__version__ = "0.1.0"

__all__ = [
    "AggteResult",
    "AttGtResult",
    "BaconResult",
    "EventStudyResult",
    "FeolsResult",
    "Panel",
    "PilotdidError",
    "SunAbrahamResult",
    "WildBootResult",
    "__version__",
    "aggte",
    "att_gt",
    "bacon",
    "did2s",
    "event_study",
    "feols",
    "imputation",
    "plot_event_studies",
    "sunab",
    "twfe_event_study",
]
