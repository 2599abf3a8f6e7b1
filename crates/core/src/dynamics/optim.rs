//! Optimiser updates and minibatch SGD.
//!
//! # Update rule
//!
//! [`Optimizer::step`] is the rule of [`crate::descent`], one step at a time so that a
//! caller can act between steps (teleport, measure sharpness, swap the batch). With
//! gradient g, learning rate η, momentum β, weight decay λ and optional clip norm c:
//!
//! ```text
//! g ← g · min(1, c/‖g‖₂)        (only when a clip norm is set)
//! v ← β·v + (g + λ·θ)           (v starts at 0)
//! θ ← θ − η·v
//! ```
//!
//! # Stability bound with momentum
//!
//! On a quadratic with curvature λ the heavy-ball iteration
//! θ_{t+1} = θ_t − η·λ·θ_t + β·(θ_t − θ_{t−1}) is stable iff 0 < η·λ < 2 + 2β
//! (the characteristic polynomial z² − (1 + β − ηλ) z + β has both roots inside the unit
//! circle exactly then; Polyak 1964). So the step bound is (2 + 2β)/λmax, which is 2/λmax
//! for β = 0: [`momentum_stable_learning_rate`].
//!
//! # Minibatches
//!
//! [`MinibatchSchedule`] shuffles the sample indices once per epoch with ChaCha8 seeded by
//! the schedule's seed on stream `epoch`, and cuts the shuffled order into consecutive
//! batches of `batch_size` (the last batch of an epoch is shorter when `batch_size` does not
//! divide n). The batches depend only on (seed, epoch, n, batch_size).

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::data::{Dataset, Targets};
use crate::descent::{GradientDescent, clip_gradient, heavy_ball_update};
use crate::error::{Error, Result, check_learning_rate};
use crate::mlp::MlpProblem;
use crate::model::Model;
use crate::outcome::{Outcome, StopRule};
use crate::spectrum::StepBound;

/// Settings of one optimiser step (see the module documentation for the rule).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Optimizer {
    /// Step size η, finite and > 0.
    pub learning_rate: f64,
    /// Heavy-ball momentum β in [0, 1).
    pub momentum: f64,
    /// L2 weight decay λ ≥ 0, added to the gradient in the update only.
    pub weight_decay: f64,
    /// When set, gradients longer than this (Euclidean norm) are scaled down to it.
    pub clip_norm: Option<f64>,
}

/// The optimiser's memory between steps: the heavy-ball velocity v.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState {
    /// v, one entry per parameter (0 at the start).
    pub velocity: Vec<f64>,
}

impl OptimizerState {
    /// Zero velocity for `n_params` parameters.
    pub fn new(n_params: usize) -> Self {
        OptimizerState {
            velocity: vec![0.0; n_params],
        }
    }

    /// Sets the velocity back to 0 (after a jump in parameter space).
    pub fn reset(&mut self) {
        self.velocity.fill(0.0);
    }
}

impl Optimizer {
    /// Plain gradient descent with step `learning_rate`. Errors: not finite and > 0.
    pub fn new(learning_rate: f64) -> Result<Self> {
        check_learning_rate("learning_rate", learning_rate)?;
        Ok(Optimizer {
            learning_rate,
            momentum: 0.0,
            weight_decay: 0.0,
            clip_norm: None,
        })
    }

    /// Sets the momentum β. Errors: not in [0, 1).
    pub fn with_momentum(mut self, momentum: f64) -> Result<Self> {
        self.momentum = momentum;
        self.validate()?;
        Ok(self)
    }

    /// Sets the weight decay λ. Errors: not finite and ≥ 0.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Result<Self> {
        self.weight_decay = weight_decay;
        self.validate()?;
        Ok(self)
    }

    /// Sets the gradient clip norm. Errors: not finite and > 0.
    pub fn with_clip_norm(mut self, clip_norm: f64) -> Result<Self> {
        self.clip_norm = Some(clip_norm);
        self.validate()?;
        Ok(self)
    }

    /// Checks every setting (the checks of [`GradientDescent::validate`]).
    pub fn validate(&self) -> Result<()> {
        self.as_gradient_descent(0).validate()
    }

    /// The same settings as a full-batch [`GradientDescent`] with `max_steps` steps.
    pub fn as_gradient_descent(&self, max_steps: usize) -> GradientDescent {
        GradientDescent {
            learning_rate: self.learning_rate,
            max_steps,
            stop: StopRule::default(),
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            clip_norm: self.clip_norm,
            recording: crate::descent::Recording::Losses,
        }
    }

    /// One update of `params` and `state` from the gradient `grad` (clipped in place).
    /// Returns the gradient's Euclidean norm before clipping.
    ///
    /// Panics if the three slices differ in length.
    pub fn step(&self, state: &mut OptimizerState, params: &mut [f64], grad: &mut [f64]) -> f64 {
        assert_eq!(params.len(), grad.len(), "params and gradient lengths");
        assert_eq!(
            params.len(),
            state.velocity.len(),
            "params and velocity lengths"
        );
        let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        if let Some(c) = self.clip_norm {
            clip_gradient(grad, c, norm);
        }
        heavy_ball_update(
            self.learning_rate,
            self.momentum,
            self.weight_decay,
            params,
            grad,
            &mut state.velocity,
        );
        norm
    }

    /// The quadratic step bound (2 + 2β)/λmax for this optimiser's momentum.
    pub fn stable_learning_rate(&self, lambda_max: f64) -> StepBound {
        momentum_stable_learning_rate(lambda_max, self.momentum)
    }
}

/// (2 + 2β)/λmax: the largest stable step of heavy-ball momentum β on a quadratic whose
/// largest curvature is λmax; [`StepBound::Unbounded`] when λmax ≤ 0 (or NaN).
pub fn momentum_stable_learning_rate(lambda_max: f64, momentum: f64) -> StepBound {
    if lambda_max > 0.0 {
        StepBound::Bounded((2.0 + 2.0 * momentum) / lambda_max)
    } else {
        StepBound::Unbounded
    }
}

/// Seeded minibatches over `n_samples` samples (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinibatchSchedule {
    /// Number of samples n.
    pub n_samples: usize,
    /// Samples per batch, in 1..=n.
    pub batch_size: usize,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl MinibatchSchedule {
    /// A schedule. Errors: `n_samples` = 0 or `batch_size` not in 1..=n.
    pub fn new(n_samples: usize, batch_size: usize, seed: u64) -> Result<Self> {
        if n_samples == 0 {
            return Err(Error::invalid_value("n_samples", 0, "must be >= 1"));
        }
        if batch_size == 0 || batch_size > n_samples {
            return Err(Error::invalid_value(
                "batch_size",
                batch_size,
                &format!("must lie in 1..={n_samples}"),
            ));
        }
        Ok(MinibatchSchedule {
            n_samples,
            batch_size,
            seed,
        })
    }

    /// Number of batches per epoch, ⌈n / batch_size⌉.
    pub fn batches_per_epoch(&self) -> usize {
        self.n_samples.div_ceil(self.batch_size)
    }

    /// The batches of epoch `epoch`, in order; together they hold every index once.
    pub fn epoch_batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.n_samples).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(epoch);
        order.shuffle(&mut rng);
        order
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }
}

/// The samples with the given indices (in that order, repeats allowed) as a dataset.
fn subset_dataset(data: &Dataset, indices: &[usize]) -> Result<Dataset> {
    let n = data.n_samples();
    if indices.is_empty() {
        return Err(Error::invalid_value(
            "indices",
            "[]",
            "need at least one index",
        ));
    }
    if let Some(&i) = indices.iter().find(|&&i| i >= n) {
        return Err(Error::invalid_value(
            "indices",
            i,
            &format!("must be < n_samples = {n}"),
        ));
    }
    let d = data.input_dim();
    let inputs: Vec<f64> = indices
        .iter()
        .flat_map(|&i| data.inputs()[i * d..(i + 1) * d].iter().copied())
        .collect();
    match data.targets() {
        Targets::Values { dim, values } => {
            let targets = indices
                .iter()
                .flat_map(|&i| values[i * dim..(i + 1) * dim].iter().copied())
                .collect();
            Dataset::regression(inputs, d, targets, *dim)
        }
        Targets::Labels { n_classes, labels } => {
            let picked = indices.iter().map(|&i| labels[i]).collect();
            Dataset::classification(inputs, d, picked, *n_classes)
        }
    }
}

/// The same network on the samples `indices` of `problem`'s dataset: its loss is the
/// minibatch loss (the mean over those samples) and its gradient the minibatch gradient.
///
/// Errors: an empty index list or an index ≥ n.
pub fn subset_problem(problem: &MlpProblem, indices: &[usize]) -> Result<MlpProblem> {
    MlpProblem::new(
        problem.network().clone(),
        subset_dataset(problem.dataset(), indices)?,
    )
}

/// Result of [`train_sgd`].
#[derive(Debug, Clone, PartialEq)]
pub struct SgdRun {
    /// How the run ended (classified on the full-batch loss at each epoch's end).
    pub outcome: Outcome,
    /// Updates executed.
    pub steps: usize,
    /// Minibatch loss before every update.
    pub batch_losses: Vec<f64>,
    /// Full-batch loss at the start and after every epoch.
    pub epoch_losses: Vec<f64>,
    /// The final parameters.
    pub final_point: Vec<f64>,
}

/// Minibatch SGD: `epochs` passes over the batches of `schedule`, one optimiser step per
/// batch. The full-batch loss is classified by `stop` at the start and after every epoch;
/// a non-finite minibatch loss also ends the run as diverged.
///
/// Errors: invalid optimiser settings, a bad start, or a schedule whose `n_samples` is not
/// the dataset's.
pub fn train_sgd(
    problem: &MlpProblem,
    start: &[f64],
    optimizer: &Optimizer,
    schedule: &MinibatchSchedule,
    epochs: usize,
    stop: StopRule,
) -> Result<SgdRun> {
    optimizer.validate()?;
    problem.check_params("start", start)?;
    if schedule.n_samples != problem.dataset().n_samples() {
        return Err(Error::invalid_value(
            "schedule.n_samples",
            schedule.n_samples,
            &format!(
                "must equal the dataset's {} samples",
                problem.dataset().n_samples()
            ),
        ));
    }
    let mut theta = start.to_vec();
    let mut grad = vec![0.0; theta.len()];
    let mut state = OptimizerState::new(theta.len());
    let mut batch_losses = Vec::new();
    let mut epoch_losses = vec![problem.loss(&theta)];
    let mut steps = 0;
    let mut outcome = stop.classify(epoch_losses[0]);
    'epochs: for epoch in 0..epochs {
        if outcome.is_some() {
            break;
        }
        for batch in schedule.epoch_batches(epoch as u64) {
            let sub = subset_problem(problem, &batch)?;
            let loss = sub.loss_and_gradient(&theta, &mut grad);
            batch_losses.push(loss);
            if !loss.is_finite() {
                outcome = Some(Outcome::Diverged);
                break 'epochs;
            }
            optimizer.step(&mut state, &mut theta, &mut grad);
            steps += 1;
        }
        let full = problem.loss(&theta);
        epoch_losses.push(full);
        outcome = stop.classify(full);
    }
    Ok(SgdRun {
        outcome: outcome.unwrap_or(Outcome::Unfinished),
        steps,
        batch_losses,
        epoch_losses,
        final_point: theta,
    })
}
