//! Sharpness λmax (largest Hessian eigenvalue) by Lanczos, and λmax along full-batch
//! training: does it rise to 2/η and hover there (the "edge of stability", Cohen et al.
//! 2021)?

use crate::error::{Error, Result};
use crate::matrix_free::{HessianOperator, LanczosOptions, lanczos};
use crate::model::Model;
use crate::outcome::{Outcome, StopRule};

use super::optim::{Optimizer, OptimizerState};

/// Lanczos settings used for λmax here: one top pair, relative residual 1e-6, no
/// multiplicity probe (only the value is needed), seeded start vector.
fn options(seed: u64) -> LanczosOptions {
    LanczosOptions {
        n_top: 1,
        n_bottom: 0,
        tolerance: 1e-6,
        max_applications: 2000,
        check_multiplicity: false,
        seed,
        ..LanczosOptions::default()
    }
}

/// λmax of the model's Hessian at `params` with its unit eigenvector, by Lanczos on exact
/// Hessian-vector products (relative residual 1e-6). Errors: bad `params`, or Lanczos
/// returning no value (a non-finite Hessian).
pub fn lambda_max_with_vector<M: Model + ?Sized>(
    model: &M,
    params: &[f64],
    seed: u64,
) -> Result<(f64, Vec<f64>)> {
    let op = HessianOperator::new(model, params)?;
    let mut result = lanczos(&op, &options(seed))?;
    match (result.lambda_max(), result.top.vectors.pop()) {
        (Some(value), Some(vector)) if value.is_finite() => Ok((value, vector)),
        (value, _) => Err(Error::NonFinite {
            what: "Hessian largest eigenvalue".into(),
            index: 0,
            value: value.unwrap_or(f64::NAN),
        }),
    }
}

/// λmax of the model's Hessian at `params` (see [`lambda_max_with_vector`]).
pub fn lambda_max<M: Model + ?Sized>(model: &M, params: &[f64], seed: u64) -> Result<f64> {
    lambda_max_with_vector(model, params, seed).map(|(v, _)| v)
}

/// λmax at one step of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharpnessRecord {
    /// Step t (updates executed before the measurement).
    pub step: usize,
    /// L(θ_t).
    pub loss: f64,
    /// λmax(θ_t).
    pub lambda_max: f64,
}

/// Result of [`sharpness_during_training`].
#[derive(Debug, Clone, PartialEq)]
pub struct SharpnessRun {
    /// How the run ended.
    pub outcome: Outcome,
    /// Loss before every step t = 0..=steps.
    pub losses: Vec<f64>,
    /// λmax at t = 0, every, 2·every, … (and at the last finite point).
    pub records: Vec<SharpnessRecord>,
    /// The sharpness level (2 + 2β)/η at which the optimiser's step is on the quadratic
    /// stability bound (2/η without momentum): the line λmax is compared with.
    pub sharpness_limit: f64,
}

/// Full-batch training with `optimizer` for at most `max_steps` steps, measuring λmax every
/// `every` steps (and at the end). The loss is classified by `stop` before every step.
///
/// Errors: invalid settings, a bad start, `every` = 0.
pub fn sharpness_during_training<M: Model + ?Sized>(
    model: &M,
    start: &[f64],
    optimizer: &Optimizer,
    max_steps: usize,
    every: usize,
    stop: StopRule,
) -> Result<SharpnessRun> {
    optimizer.validate()?;
    model.check_params("start", start)?;
    if every == 0 {
        return Err(Error::invalid_value("every", 0, "must be >= 1"));
    }
    let mut theta = start.to_vec();
    let mut grad = vec![0.0; theta.len()];
    let mut state = OptimizerState::new(theta.len());
    let mut losses = Vec::with_capacity(max_steps + 1);
    let mut records = Vec::new();
    let mut t = 0;
    let outcome = loop {
        let loss = model.loss_and_gradient(&theta, &mut grad);
        losses.push(loss);
        let stopped = stop.classify(loss);
        let last = stopped.is_some() || t == max_steps;
        if loss.is_finite() && (t.is_multiple_of(every) || last) {
            let lambda_max = lambda_max(model, &theta, t as u64)?;
            records.push(SharpnessRecord {
                step: t,
                loss,
                lambda_max,
            });
        }
        if let Some(outcome) = stopped {
            break outcome;
        }
        if t == max_steps {
            break Outcome::Unfinished;
        }
        optimizer.step(&mut state, &mut theta, &mut grad);
        t += 1;
    };
    Ok(SharpnessRun {
        outcome,
        losses,
        records,
        sharpness_limit: (2.0 + 2.0 * optimizer.momentum) / optimizer.learning_rate,
    })
}
