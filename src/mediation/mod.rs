//! Mechanisms: mediation, moderation, heterogeneity (to be written).
