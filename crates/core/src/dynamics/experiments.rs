//! The experiments that need no training loop of their own: the one-step curve, the drift
//! of the conserved neuron balances against the learning rate, and the toy's catapult.

use serde::Serialize;

use crate::descent::{GradientDescent, Recording, Run};
use crate::error::{Error, Result};
use crate::mlp::MlpProblem;
use crate::mlp::conserved::balance_trajectory;
use crate::model::Model;
use crate::spectrum::hessian_spectrum;
use crate::stability::{CriticalOptions, critical_learning_rate};
use crate::toy::ProductChain;

/// `n` evenly spaced values from `start` to `end` inclusive, both ends exactly (`n` ≥ 2;
/// `n` = 1 gives `start`).
pub fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![start],
        _ => (0..n)
            .map(|i| {
                if i == n - 1 {
                    end
                } else {
                    start + (end - start) * i as f64 / (n - 1) as f64
                }
            })
            .collect(),
    }
}

/// One point of the one-step curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OneStepPoint {
    /// η.
    pub learning_rate: f64,
    /// L(θ − η∇L(θ)) (may be huge or non-finite).
    pub loss: f64,
}

/// The loss after one plain gradient step, L(θ − η∇L(θ)), at each learning rate.
/// At η = 0 this is L(θ). Errors: bad `params` or a non-finite learning rate.
pub fn one_step_curve<M: Model + ?Sized>(
    model: &M,
    params: &[f64],
    learning_rates: &[f64],
) -> Result<Vec<OneStepPoint>> {
    model.check_params("params", params)?;
    crate::error::check_finite("learning_rates", learning_rates)?;
    let g = model.gradient(params);
    Ok(learning_rates
        .iter()
        .map(|&eta| {
            let moved: Vec<f64> = params.iter().zip(&g).map(|(t, d)| t - eta * d).collect();
            OneStepPoint {
                learning_rate: eta,
                loss: model.loss(&moved),
            }
        })
        .collect())
}

/// Drift of the neuron balances over a fixed number of steps at one learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DriftPoint {
    /// η.
    pub learning_rate: f64,
    /// Steps actually run (fewer when the loss stopped being finite).
    pub steps: usize,
    /// max_j |C_j(T) − C_j(0)|.
    pub max_drift: f64,
    /// mean_j |C_j(T) − C_j(0)|.
    pub mean_drift: f64,
    /// Largest one-step identity error seen along the run (rounding only).
    pub max_identity_error: f64,
    /// Loss at the end.
    pub final_loss: f64,
}

/// Runs `steps` steps of plain gradient descent at each learning rate and measures how far
/// the conserved balances C_j = ‖θ_in,j‖² − ‖θ_out,j‖² move. Each step changes C by exactly
/// η²(‖g_in‖² − ‖g_out‖²), so for small η the drift over a fixed step count grows like η².
///
/// Errors: bad `params`, a learning rate not finite and > 0, or a network without the
/// rescale symmetry.
pub fn balance_drift(
    problem: &MlpProblem,
    params: &[f64],
    learning_rates: &[f64],
    steps: usize,
) -> Result<Vec<DriftPoint>> {
    learning_rates
        .iter()
        .map(|&eta| {
            let records = balance_trajectory(problem, params, eta, 0.0, steps)?;
            let (first, last) = (&records[0], &records[records.len() - 1]);
            let drifts: Vec<f64> = first
                .balances
                .iter()
                .zip(&last.balances)
                .map(|(a, b)| (b - a).abs())
                .collect();
            Ok(DriftPoint {
                learning_rate: eta,
                steps: last.step,
                max_drift: drifts.iter().fold(0.0_f64, |m, d| m.max(*d)),
                mean_drift: drifts.iter().sum::<f64>() / drifts.len().max(1) as f64,
                max_identity_error: records.iter().fold(0.0_f64, |m, r| m.max(r.identity_error)),
                final_loss: last.loss,
            })
        })
        .collect()
}

/// Least-squares slope of log y against log x over the pairs with both positive and finite.
/// Errors: fewer than two such pairs, or all x equal.
pub fn log_log_slope(xs: &[f64], ys: &[f64]) -> Result<f64> {
    let pts: Vec<(f64, f64)> = xs
        .iter()
        .zip(ys)
        .filter(|(x, y)| **x > 0.0 && **y > 0.0 && x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if pts.len() < 2 {
        return Err(Error::invalid_value(
            "points",
            pts.len(),
            "need at least two positive finite pairs",
        ));
    }
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return Err(Error::invalid_value(
            "xs",
            "constant",
            "need distinct x values",
        ));
    }
    Ok(sxy / sxx)
}

/// Gradient-descent runs of the toy from `start` at each learning rate (losses recorded).
pub fn catapult_runs(
    start: [f64; 2],
    learning_rates: &[f64],
    max_steps: usize,
) -> Result<Vec<Run>> {
    let toy = ProductChain::toy();
    learning_rates
        .iter()
        .map(|&eta| {
            GradientDescent::new(eta, max_steps)?
                .with_recording(Recording::Full)
                .run(&toy, &start)
        })
        .collect()
}

/// λmax of the toy's Hessian at a point.
pub fn toy_lambda_max(point: [f64; 2]) -> Result<f64> {
    Ok(hessian_spectrum(&ProductChain::toy(), &point)?.lambda_max())
}

/// The critical learning rate at one point of a toy orbit, in units of 2/λ0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OrbitCritical {
    /// Orbit position α: (a, b) = (√c·α, √c/α).
    pub alpha: f64,
    /// a.
    pub a: f64,
    /// b.
    pub b: f64,
    /// λ0 = λmax at the start.
    pub lambda_max: f64,
    /// 2/λ0.
    pub stable_lr: f64,
    /// Smallest diverging rate found by bisection (NaN if none).
    pub critical_lr: f64,
    /// critical_lr / (2/λ0).
    pub ratio: f64,
    /// Balance a² − b² at the start (0 on the balanced point).
    pub balance: f64,
}

/// The critical rate along the toy orbit a·b = `product` at each log α, with `options` for
/// the bisection. The uv-model prediction is ratio ≈ 2 for unbalanced starts.
pub fn orbit_critical_ratios(
    product: f64,
    log_alphas: &[f64],
    options: &CriticalOptions,
) -> Result<Vec<OrbitCritical>> {
    let toy = ProductChain::toy();
    log_alphas
        .iter()
        .map(|&la| {
            let [a, b] = ProductChain::orbit_point(product, la)?;
            let c = critical_learning_rate(&toy, &[a, b], options)?;
            let stable = c.stable_lr_at_start.as_f64();
            let critical = c.critical_lr.unwrap_or(f64::NAN);
            Ok(OrbitCritical {
                alpha: la.exp(),
                a,
                b,
                lambda_max: c.lambda_max_at_start,
                stable_lr: stable,
                critical_lr: critical,
                ratio: critical / stable,
                balance: a * a - b * b,
            })
        })
        .collect()
}
