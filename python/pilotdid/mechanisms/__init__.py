"""Mechanisms: three-step mediation (:mod:`~pilotdid.mechanisms.baron_kenny`), two-step
mechanism effects (:mod:`~pilotdid.mechanisms.two_step`), moderation
(:mod:`~pilotdid.mechanisms.interaction`) and heterogeneity by group
(:mod:`~pilotdid.mechanisms.subgroups`)."""

from pilotdid.mechanisms.baron_kenny import mediation
from pilotdid.mechanisms.interaction import moderation
from pilotdid.mechanisms.subgroups import heterogeneity
from pilotdid.mechanisms.two_step import mechanism_effects

__all__ = ["heterogeneity", "mechanism_effects", "mediation", "moderation"]
