//! Backends that turn a validated plan into per-path accumulators.

pub mod accumulators;
pub mod cpu;
pub mod gpu;
