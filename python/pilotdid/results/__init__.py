"""Result classes: one vocabulary (coef, se, vcov, confint, tidy, summary, plot) for every
estimator."""

from pilotdid.results.bacon import BaconResult
from pilotdid.results.dcdh import DcdhResult
from pilotdid.results.dose import DoseResult
from pilotdid.results.event_study import EventStudyResult, plot_event_studies
from pilotdid.results.feols import FeolsResult, WildBootResult
from pilotdid.results.mechanisms import (
    HeterogeneityResult,
    MechanismEffects,
    MediationResult,
    ModerationResult,
)
from pilotdid.results.multi import FeolsMulti
from pilotdid.results.pca import PcaResult
from pilotdid.results.pretrend_power import PretrendPowerResult
from pilotdid.results.robustness import PlaceboResult, PsmDidResult, RobustnessResult
from pilotdid.results.sensitivity import SensitivityResult
from pilotdid.results.spatial import SpatialImpacts, SpatialResult
from pilotdid.results.staggered import AggteResult, AttGtResult
from pilotdid.results.sun_abraham import SunAbrahamResult
from pilotdid.results.synthdid import SynthDIDResult
from pilotdid.results.triple import DddAggregateResult, DddResult

__all__ = [
    "AggteResult",
    "AttGtResult",
    "BaconResult",
    "EventStudyResult",
    "FeolsMulti",
    "FeolsResult",
    "HeterogeneityResult",
    "MechanismEffects",
    "MediationResult",
    "ModerationResult",
    "PlaceboResult",
    "PsmDidResult",
    "RobustnessResult",
    "SpatialImpacts",
    "SpatialResult",
    "SunAbrahamResult",
    "WildBootResult",
    "plot_event_studies",
    "PretrendPowerResult",
    "SensitivityResult",
    "PcaResult",
    "SynthDIDResult",
    "DddResult",
    "DddAggregateResult",
    "DoseResult",
    "DcdhResult",
]
