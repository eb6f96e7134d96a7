"""pilotdid: evaluate pilot policies with staggered DID, mechanisms and spatial spillovers.

A Rust core computes every estimate; this package hands it data frames and returns results
with ``coef()``, ``se()``, ``tidy()``, ``summary()`` and ``plot()``.
"""

import sys

from pilotdid import datasets, green, registry, study
from pilotdid._core import PilotdidError
from pilotdid.did import (
    aggte,
    att_gt,
    bacon,
    did2s,
    event_study,
    honest_did,
    imputation,
    pretrend_power,
    sunab,
    twfe_event_study,
)
from pilotdid.did.dose import cont_did
from pilotdid.did.intertemporal import dcdh
from pilotdid.did.synthetic_did import synthdid
from pilotdid.did.triple import ddd
from pilotdid.mechanisms.baron_kenny import mediation
from pilotdid.mechanisms.interaction import moderation
from pilotdid.mechanisms.subgroups import heterogeneity
from pilotdid.mechanisms.two_step import mechanism_effects
from pilotdid.output import ETable, describe, etable, figures
from pilotdid.panel import Panel
from pilotdid.regression import feols
from pilotdid.results import (
    AggteResult,
    AttGtResult,
    BaconResult,
    EventStudyResult,
    FeolsMulti,
    FeolsResult,
    HeterogeneityResult,
    MechanismEffects,
    MediationResult,
    ModerationResult,
    PlaceboResult,
    PretrendPowerResult,
    PsmDidResult,
    RobustnessResult,
    SensitivityResult,
    SpatialImpacts,
    SpatialResult,
    SunAbrahamResult,
    WildBootResult,
    plot_event_studies,
)
from pilotdid.results.dcdh import DcdhResult
from pilotdid.results.dose import DoseResult
from pilotdid.results.event_study import FewClustersWarning
from pilotdid.results.exposure import SmallGroupsWarning
from pilotdid.results.synthdid import SynthDIDResult
from pilotdid.results.triple import DddAggregateResult, DddResult
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
from pilotdid.simulation import monte_carlo, power
from pilotdid.spatial import (
    exposure_did,
    gns,
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
    weights,
)
from pilotdid.study._study import Study
from pilotdid.study.data import resolve_spec
from pilotdid.study.errors import SpecError, StudyError, StudyWarning
from pilotdid.study.run import run_study

# The documented short paths `import pilotdid.weights` and `import pilotdid.figures` name the
# modules that live in the spatial and output subpackages.
sys.modules[__name__ + ".weights"] = weights
sys.modules[__name__ + ".figures"] = figures

__version__ = "0.1.0"

__all__ = [
    "monte_carlo",
    "power",
    "AggteResult",
    "AttGtResult",
    "BaconResult",
    "Check",
    "ETable",
    "EventStudyResult",
    "FewClustersWarning",
    "SmallGroupsWarning",
    "FeolsMulti",
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
    "StudyWarning",
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
    "registry",
    "psm_did",
    "resolve_spec",
    "restrict_window",
    "robustness",
    "run_study",
    "gns",
    "sac",
    "sar",
    "sdem",
    "sdm",
    "sem",
    "exposure_did",
    "spatial_did",
    "spatial_event_study",
    "study",
    "sunab",
    "swap_outcome",
    "twfe_event_study",
    "weights",
    "winsorize",
    "pretrend_power",
    "honest_did",
    "PretrendPowerResult",
    "SensitivityResult",
    "synthdid",
    "SynthDIDResult",
    "ddd",
    "DddResult",
    "DddAggregateResult",
    "cont_did",
    "DoseResult",
    "dcdh",
    "DcdhResult",
]
