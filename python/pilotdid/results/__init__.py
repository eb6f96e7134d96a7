"""Result classes: one vocabulary (coef, se, vcov, confint, tidy, summary) for every estimator."""

from pilotdid.results.event_study import EventStudyResult, plot_event_studies
from pilotdid.results.feols import FeolsResult, WildBootResult

__all__ = ["EventStudyResult", "FeolsResult", "WildBootResult", "plot_event_studies"]
