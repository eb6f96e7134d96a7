"""pilotdid: evaluate pilot policies with staggered DID, mechanisms and spatial spillovers.

A Rust core computes every estimate; this package hands it data frames and returns results
with ``coef()``, ``se()``, ``tidy()``, ``summary()`` and ``plot()``.
"""

from pilotdid import datasets, figures, green, study, weights
from pilotdid._core import PilotdidError
from pilotdid.bacon import bacon
from pilotdid.event_study import did2s, event_study, imputation, twfe_event_study
from pilotdid.mechanisms import heterogeneity, mechanism_effects, mediation, moderation
from pilotdid.panel import Panel
from pilotdid.regression import feols
from pilotdid.results import (
    AggteResult,
    AttGtResult,
    BaconResult,
    EventStudyResult,
    FeolsResult,
    HeterogeneityResult,
    MechanismEffects,
    MediationResult,
    ModerationResult,
    PlaceboResult,
    PsmDidResult,
    RobustnessResult,
    SpatialImpacts,
    SpatialResult,
    SunAbrahamResult,
    WildBootResult,
    plot_event_studies,
)
from pilotdid.robustness import (
    Check,
    add_controls,
    drop_units,
    exclude_units,
    placebo,
    psm_did,
    restrict_window,
    robustness,
    swap_outcome,
    winsorize,
)
from pilotdid.spatial import (
    lm_tests,
    moran,
    moran_local,
    sac,
    sar,
    sdem,
    sdm,
    sem,
    spatial_did,
    spatial_event_study,
)
from pilotdid.staggered import aggte, att_gt
from pilotdid.study import SpecError, Study, StudyError, resolve_spec, run_study
from pilotdid.sun_abraham import sunab
from pilotdid.tables import ETable, describe, etable

__version__ = "0.1.0"

__all__ = [
    "AggteResult",
    "AttGtResult",
    "BaconResult",
    "Check",
    "ETable",
    "EventStudyResult",
    "FeolsResult",
    "HeterogeneityResult",
    "MechanismEffects",
    "MediationResult",
    "ModerationResult",
    "Panel",
    "PilotdidError",
    "PlaceboResult",
    "PsmDidResult",
    "RobustnessResult",
    "SpatialImpacts",
    "SpatialResult",
    "SpecError",
    "Study",
    "StudyError",
    "SunAbrahamResult",
    "WildBootResult",
    "__version__",
    "add_controls",
    "aggte",
    "att_gt",
    "bacon",
    "datasets",
    "describe",
    "did2s",
    "drop_units",
    "etable",
    "event_study",
    "exclude_units",
    "feols",
    "figures",
    "green",
    "heterogeneity",
    "imputation",
    "lm_tests",
    "mechanism_effects",
    "mediation",
    "moderation",
    "moran",
    "moran_local",
    "placebo",
    "plot_event_studies",
    "psm_did",
    "resolve_spec",
    "restrict_window",
    "robustness",
    "run_study",
    "sac",
    "sar",
    "sdem",
    "sdm",
    "sem",
    "spatial_did",
    "spatial_event_study",
    "study",
    "sunab",
    "swap_outcome",
    "twfe_event_study",
    "weights",
    "winsorize",
]
