//! Sweeps over learning rate × start point.
