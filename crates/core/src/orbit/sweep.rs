//! Gradient descent from the points of an orbit: a learning-rate × α grid of full-batch
//! runs, and the bisected critical learning rate at each α beside 2/λmax(α).

use rayon::prelude::*;
use serde::Serialize;

use super::path::OrbitPath;
use crate::descent::{GradientDescent, Recording};
use crate::error::{Error, Result, check_learning_rate};
use crate::mlp::MlpProblem;
use crate::model::Model;
use crate::outcome::{Outcome, StopRule};
use crate::spectrum::StepBound;
use crate::stability::{CriticalOptions, critical_learning_rate};

/// Settings of [`network_lr_sweep`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkSweepOptions {
    /// Step budget of every run.
    pub max_steps: usize,
    /// Stop rule of every run.
    pub stop: StopRule,
}

impl Default for NetworkSweepOptions {
    /// 300 steps, the default stop rule.
    fn default() -> Self {
        NetworkSweepOptions {
            max_steps: 300,
            stop: StopRule::default(),
        }
    }
}

/// One run of a network sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkCell {
    /// Index of α in the sweep's α list.
    pub alpha_index: usize,
    /// Index of the learning rate in the sweep's list.
    pub lr_index: usize,
    /// Orbit position α of the start g(α)·θ.
    pub alpha: f64,
    /// Learning rate η.
    pub learning_rate: f64,
    /// How the run ended.
    pub outcome: Outcome,
    /// Updates executed.
    pub steps: usize,
    /// Loss where the run stopped.
    pub final_loss: f64,
}

/// Runs full-batch gradient descent from g(α)·θ for every (learning rate, α) pair, in
/// parallel; cell `lr_index · alphas.len() + alpha_index` of the result is that pair.
/// Divergence and a spent budget are outcomes, not errors.
///
/// Errors: an invalid path, α or learning rate, or invalid parameters.
pub fn network_lr_sweep(
    problem: &MlpProblem,
    params: &[f64],
    path: OrbitPath,
    alphas: &[f64],
    learning_rates: &[f64],
    options: &NetworkSweepOptions,
) -> Result<Vec<NetworkCell>> {
    problem.check_params("params", params)?;
    for &lr in learning_rates {
        check_learning_rate("learning_rate", lr)?;
    }
    if alphas.is_empty() || learning_rates.is_empty() {
        return Err(Error::invalid_value(
            "grid",
            format!(
                "{} α × {} learning rates",
                alphas.len(),
                learning_rates.len()
            ),
            "needs at least one of each",
        ));
    }
    let net = problem.network();
    let starts: Vec<Vec<f64>> = alphas
        .iter()
        .map(|&a| path.apply(net, params, a))
        .collect::<Result<_>>()?;
    let n_alpha = alphas.len();
    (0..n_alpha * learning_rates.len())
        .into_par_iter()
        .map(|cell| {
            let (lr_index, alpha_index) = (cell / n_alpha, cell % n_alpha);
            let learning_rate = learning_rates[lr_index];
            let run = GradientDescent::new(learning_rate, options.max_steps)?
                .with_stop(options.stop)?
                .with_recording(Recording::None)
                .run(problem, &starts[alpha_index])?;
            Ok(NetworkCell {
                alpha_index,
                lr_index,
                alpha: alphas[alpha_index],
                learning_rate,
                outcome: run.outcome,
                steps: run.steps,
                final_loss: run.final_loss,
            })
        })
        .collect()
}

/// Predicted and measured stability at one point of an orbit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalPoint {
    /// Orbit position α.
    pub alpha: f64,
    /// λmax of the dense Hessian at g(α)·θ.
    pub lambda_max: f64,
    /// 2/λmax (the prediction).
    pub stable_lr: StepBound,
    /// Smallest diverging learning rate found (`None`: none up to the search's maximum).
    pub critical_lr: Option<f64>,
    /// Largest non-diverging learning rate found.
    pub lower: Option<f64>,
    /// critical_lr / (2/λmax).
    pub ratio: Option<f64>,
    /// Gradient-descent runs of the bisection.
    pub evaluations: usize,
    /// Runs that ended unfinished (counted as not diverged).
    pub unfinished_count: usize,
}

/// The bisected critical learning rate ([`critical_learning_rate`]) of full-batch gradient
/// descent from g(α)·θ at every α (in parallel, in the order of `alphas`), beside 2/λmax.
/// It forms the dense Hessian at each start, so it suits networks of up to a few thousand
/// parameters.
pub fn critical_rates_along(
    problem: &MlpProblem,
    params: &[f64],
    path: OrbitPath,
    alphas: &[f64],
    options: &CriticalOptions,
) -> Result<Vec<CriticalPoint>> {
    problem.check_params("params", params)?;
    let net = problem.network();
    alphas
        .par_iter()
        .map(|&alpha| {
            let start = path.apply(net, params, alpha)?;
            let c = critical_learning_rate(problem, &start, options)?;
            Ok(CriticalPoint {
                alpha,
                lambda_max: c.lambda_max_at_start,
                stable_lr: c.stable_lr_at_start,
                critical_lr: c.critical_lr,
                lower: c.lower,
                ratio: c.ratio_to_stable_lr(),
                evaluations: c.evaluations,
                unfinished_count: c.unfinished_count,
            })
        })
        .collect()
}

/// For each α of a [`network_lr_sweep`] grid (rates ascending), the largest learning rate
/// below which every run ended with a loss under `reference_loss` (did not diverge and
/// lowered the loss): the empirical "useful step" boundary, to set beside 2/λmax and the
/// critical rate. `None` when even the smallest rate failed. Errors when the cells do not
/// form a full lr-major grid of `n_alpha` columns.
pub fn loss_decrease_boundary(
    cells: &[NetworkCell],
    n_alpha: usize,
    reference_loss: f64,
) -> Result<Vec<Option<f64>>> {
    if n_alpha == 0 || cells.is_empty() || !cells.len().is_multiple_of(n_alpha) {
        return Err(Error::invalid_value(
            "cells",
            cells.len(),
            &format!("must be a non-empty multiple of n_alpha = {n_alpha}"),
        ));
    }
    let n_lr = cells.len() / n_alpha;
    (0..n_alpha)
        .map(|i| {
            let mut best = None;
            for l in 0..n_lr {
                let c = &cells[l * n_alpha + i];
                if c.alpha_index != i || c.lr_index != l {
                    return Err(Error::invalid_spec("cells", "not in lr-major grid order"));
                }
                let lowered =
                    c.final_loss.partial_cmp(&reference_loss) == Some(std::cmp::Ordering::Less);
                if c.outcome == Outcome::Diverged || !lowered {
                    break;
                }
                best = Some(c.learning_rate);
            }
            Ok(best)
        })
        .collect()
}
