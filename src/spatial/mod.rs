//! Spatial econometrics: weights, Moran's I, spatial panel models, effects (to be written).
