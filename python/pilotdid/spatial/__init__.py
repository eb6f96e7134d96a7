"""Spatial econometrics: weights matrices (:mod:`~pilotdid.spatial.weights`), Moran's I
(:mod:`~pilotdid.spatial.autocorrelation`), spatial panel models and LM tests
(:mod:`~pilotdid.spatial.models`) and spatial DID (:mod:`~pilotdid.spatial.did`)."""

from pilotdid.spatial import weights
from pilotdid.spatial.autocorrelation import moran, moran_local
from pilotdid.spatial.did import spatial_did, spatial_event_study
from pilotdid.spatial.exposure import exposure_did
from pilotdid.spatial.models import gns, lm_tests, sac, sar, sdem, sdm, sem
from pilotdid.spatial.weights import Weights

__all__ = [
    "Weights",
    "exposure_did",
    "gns",
    "lm_tests",
    "moran",
    "moran_local",
    "sac",
    "sar",
    "sdem",
    "sdm",
    "sem",
    "spatial_did",
    "spatial_event_study",
    "weights",
]
