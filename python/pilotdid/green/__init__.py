"""Green-economy measures: SBM efficiency with undesirable outputs and the global
Malmquist-Luenberger index (:mod:`~pilotdid.green.frontier`), capital stock and the
entropy-weight index (:mod:`~pilotdid.green.indices`). Every program is solved in the Rust core."""

from pilotdid.green.frontier import gml, sbm
from pilotdid.green.indices import capital_stock, entropy_index
from pilotdid.green.pca import pca_index, to_dose

__all__ = ["capital_stock", "entropy_index", "gml", "pca_index", "sbm", "to_dose"]
