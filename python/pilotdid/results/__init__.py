"""Result classes: one vocabulary (coef, se, vcov, confint, tidy, summary) for every estimator."""

from pilotdid.results.feols import FeolsResult, WildBootResult

__all__ = ["FeolsResult", "WildBootResult"]
