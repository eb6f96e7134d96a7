"""Difference-in-differences estimators: TWFE / BJS imputation / two-stage DID event studies
(:mod:`~pilotdid.did.event_studies`), Callaway & Sant'Anna (:mod:`~pilotdid.did.staggered`),
Sun & Abraham (:mod:`~pilotdid.did.sun_abraham`) and the Goodman-Bacon decomposition
(:mod:`~pilotdid.did.decomposition`)."""

from pilotdid.did.decomposition import bacon
from pilotdid.did.dose import cont_did
from pilotdid.did.event_studies import did2s, event_study, imputation, twfe_event_study
from pilotdid.did.intertemporal import dcdh
from pilotdid.did.pretrends import pretrend_power
from pilotdid.did.sensitivity import honest_did
from pilotdid.did.staggered import aggte, att_gt
from pilotdid.did.sun_abraham import sunab
from pilotdid.did.synthetic_did import synthdid
from pilotdid.did.triple import ddd

__all__ = [
    "aggte",
    "att_gt",
    "bacon",
    "did2s",
    "event_study",
    "imputation",
    "sunab",
    "twfe_event_study",
    "pretrend_power",
    "honest_did",
    "synthdid",
    "ddd",
    "cont_did",
    "dcdh",
]
