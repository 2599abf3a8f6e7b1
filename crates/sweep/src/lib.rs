//! Sweeps over learning rate × start point.
pub mod error;
pub mod grid;
pub mod kernel;
pub mod runner;
