"""pilotdid: evaluate pilot policies with staggered DID, mechanisms and spatial spillovers.

A Rust core computes every estimate; this package hands it data frames and returns results
with ``coef()``, ``se()``, ``tidy()``, ``summary()``.
"""

from pilotdid._core import PilotdidError
from pilotdid.panel import Panel
from pilotdid.regression import feols
from pilotdid.results import FeolsResult, WildBootResult

__version__ = "0.1.0"

__all__ = ["PilotdidError", "Panel", "feols", "FeolsResult", "WildBootResult", "__version__"]
