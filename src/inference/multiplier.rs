//! Multiplier bootstrap (to be written).
