//! Backends that turn a validated plan into per-path accumulators.

pub mod gpu;
