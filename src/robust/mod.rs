//! Robustness: placebo / randomization inference, propensity-score matching DID (to be written).
