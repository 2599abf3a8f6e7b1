//! Quantities along the rescale orbit a·b = 9, (a, b) = (3α, 3/α) for α from 0.1 to 10,
//! shared by the orbit figures: the sharpness λmax and step bound 2/λmax of the dense
//! Hessian (symstab-core's `hessian_spectrum`) and the measured critical learning rate
//! (symstab-core's `critical_learning_rate`, bisected to relative 1e−9).

use std::sync::OnceLock;

use serde::Serialize;
use symstab_core::spectrum::hessian_spectrum;
use symstab_core::stability::{CriticalOptions, critical_learning_rate};
use symstab_core::toy::ProductChain;

use super::FigureResult;

/// The product c = a·b of the orbit through the study's starts (3, 3) and (1, 9).
pub const PRODUCT: f64 = 9.0;
/// Smallest α shown: (0.3, 30).
pub const ALPHA_MIN: f64 = 0.1;
/// Largest α shown: (30, 0.3).
pub const ALPHA_MAX: f64 = 10.0;
/// Step budget of every run along the orbit (sweeps and bisection alike).
pub const MAX_STEPS: u32 = 1000;

/// One point of the orbit with its spectrum and stability numbers.
#[derive(Debug, Clone, Serialize)]
pub struct OrbitPoint {
    /// Position α on the orbit.
    pub alpha: f64,
    /// log α (natural), the sweep's orbit coordinate.
    pub log_alpha: f64,
    /// First factor a = 3α.
    pub a: f64,
    /// Second factor b = 3/α.
    pub b: f64,
    /// Largest Hessian eigenvalue at (a, b).
    pub lambda_max: f64,
    /// Smallest Hessian eigenvalue at (a, b).
    pub lambda_min: f64,
    /// 2/λmax; +∞ when λmax ≤ 0 (unbounded).
    pub stable_lr: f64,
    /// Smallest diverging learning rate found (NaN when none was found).
    pub critical_lr: f64,
    /// Largest non-diverging learning rate found (NaN when none was found).
    pub critical_lr_lower: f64,
    /// critical_lr / (2/λmax).
    pub critical_over_stable: f64,
    /// Runs of the bisection that ended unfinished (counted as not diverged).
    pub unfinished_runs: usize,
}

/// The sweep's orbit axis: `n` values of log α, evenly spaced from ln 0.1 to ln 10.
pub fn log_alpha_axis(n: usize) -> FigureResult<symstab_sweep::grid::Axis> {
    Ok(symstab_sweep::grid::Axis::new(
        ALPHA_MIN.ln(),
        ALPHA_MAX.ln(),
        n,
    )?)
}

/// Length of the orbit axis the orbit figures share: coarse for quick figures.
pub fn curve_len(quick: bool) -> usize {
    if quick { 41 } else { 301 }
}

/// [`orbit_points`] along the shared axis of [`curve_len`] points, computed on first use
/// and reused by every orbit figure of the run.
pub fn curve_points(quick: bool) -> FigureResult<&'static [OrbitPoint]> {
    static FULL: OnceLock<Vec<OrbitPoint>> = OnceLock::new();
    static QUICK: OnceLock<Vec<OrbitPoint>> = OnceLock::new();
    let cell = if quick { &QUICK } else { &FULL };
    if let Some(points) = cell.get() {
        return Ok(points);
    }
    let points = orbit_points(&log_alpha_axis(curve_len(quick))?)?;
    Ok(cell.get_or_init(|| points))
}

/// λmax, 2/λmax and the critical learning rate at each point of the orbit axis.
pub fn orbit_points(log_alpha: &symstab_sweep::grid::Axis) -> FigureResult<Vec<OrbitPoint>> {
    log_alpha.values().into_iter().map(orbit_point).collect()
}

/// λmax, 2/λmax and the critical learning rate at the orbit point with this log α.
pub fn orbit_point(log_alpha: f64) -> FigureResult<OrbitPoint> {
    let toy = ProductChain::toy();
    let options = CriticalOptions {
        max_steps: MAX_STEPS as usize,
        ..CriticalOptions::default()
    };
    let [a, b] = ProductChain::orbit_point(PRODUCT, log_alpha)?;
    let spectrum = hessian_spectrum(&toy, &[a, b])?;
    let critical = critical_learning_rate(&toy, &[a, b], &options)?;
    Ok(OrbitPoint {
        alpha: log_alpha.exp(),
        log_alpha,
        a,
        b,
        lambda_max: spectrum.lambda_max(),
        lambda_min: spectrum.lambda_min(),
        stable_lr: spectrum.stable_learning_rate().as_f64(),
        critical_lr: critical.critical_lr.unwrap_or(f64::NAN),
        critical_lr_lower: critical.lower.unwrap_or(f64::NAN),
        critical_over_stable: critical.ratio_to_stable_lr().unwrap_or(f64::NAN),
        unfinished_runs: critical.unfinished_count,
    })
}
