//! Full-batch gradient descent with an outcome and an optionally recorded trajectory.
//!
//! # Update rule
//!
//! With gradient g = ∇L(θ), learning rate η, momentum β (heavy ball), weight decay λ and
//! optional clip norm c, one step is
//!
//! ```text
//! g ← g · min(1, c/‖g‖₂)        (only when a clip norm is set)
//! v ← β·v + (g + λ·θ)           (v starts at 0)
//! θ ← θ − η·v
//! ```
//!
//! With β = 0, λ = 0 and no clipping this is plain gradient descent θ ← θ − η·∇L(θ) with a
//! simultaneous update of all parameters. The weight-decay term is added to the update
//! only; the loss that is recorded and classified is the model's loss without it.
//!
//! # Steps and outcome
//!
//! Before every step t = 0, 1, …, S (S = `max_steps`) the loss L_t at the current point is
//! classified by the [`StopRule`]: if `!(L_t <= divergence_bound)` the run has diverged (so
//! NaN and ±∞ diverge), else if `L_t < convergence_tolerance` it has converged, else if
//! t = S it is unfinished, else one update is executed. `steps` counts the updates executed,
//! so a run that converges at its start has `steps = 0`, and a run records `steps + 1`
//! points and losses.
//!
//! For the toy this reproduces the classification of the peer scripts exactly; the update
//! is computed as θ − η·(G·Pᵢ) rather than θ − (η·G)·Pᵢ, so the iterates may differ from
//! theirs in the last bit.
//!
//! ```
//! use symstab_core::descent::GradientDescent;
//! use symstab_core::toy::ProductChain;
//! use symstab_core::Outcome;
//!
//! let run = GradientDescent::new(0.025, 50)?.run(&ProductChain::toy(), &[1.0, 9.0])?;
//! assert_eq!(run.outcome, Outcome::Diverged);
//! assert_eq!(run.losses.len(), run.steps + 1);
//! # Ok::<(), symstab_core::Error>(())
//! ```

use crate::error::{Error, Result, check_learning_rate};
use crate::model::Model;
use crate::outcome::{Outcome, StopRule};

/// What a run keeps besides its summary (outcome, steps, final loss and point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Recording {
    /// Every visited point and its loss.
    #[default]
    Full,
    /// The loss at every visited point, no points.
    Losses,
    /// Only the summary (fastest).
    None,
}

/// Most bytes a run's recording ([`GradientDescent::recording_bytes`]) may take: 4 GiB.
pub const RECORDING_CAP_BYTES: u64 = 4 << 30;

/// Settings of full-batch gradient descent. Build with [`GradientDescent::new`] and the
/// `with_*` methods (each validates its value); [`GradientDescent::run`] validates again,
/// so fields set directly are checked too.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientDescent {
    /// Step size η, finite and > 0.
    pub learning_rate: f64,
    /// Largest number of updates S.
    pub max_steps: usize,
    /// Thresholds classifying the loss before every step.
    pub stop: StopRule,
    /// Heavy-ball momentum β in [0, 1); 0 is plain gradient descent.
    pub momentum: f64,
    /// L2 weight decay λ ≥ 0 added to the gradient in the update.
    pub weight_decay: f64,
    /// When set, the gradient is rescaled to at most this Euclidean norm (finite, > 0).
    pub clip_norm: Option<f64>,
    /// What the run records.
    pub recording: Recording,
}

/// The result of a gradient-descent run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// How the run ended.
    pub outcome: Outcome,
    /// Number of updates executed.
    pub steps: usize,
    /// Loss at the final point (may be non-finite or huge when diverged).
    pub final_loss: f64,
    /// The point at which the run stopped (after `steps` updates).
    pub final_point: Vec<f64>,
    /// Loss at every visited point t = 0..=steps (empty with [`Recording::None`]).
    pub losses: Vec<f64>,
    /// Every visited point t = 0..=steps (empty unless [`Recording::Full`]).
    pub trajectory: Vec<Vec<f64>>,
}

impl GradientDescent {
    /// Plain gradient descent with the default [`StopRule`], no momentum, no weight decay,
    /// no clipping and a full recording.
    ///
    /// Errors: `learning_rate` not finite and > 0.
    pub fn new(learning_rate: f64, max_steps: usize) -> Result<Self> {
        check_learning_rate("learning_rate", learning_rate)?;
        Ok(GradientDescent {
            learning_rate,
            max_steps,
            stop: StopRule::default(),
            momentum: 0.0,
            weight_decay: 0.0,
            clip_norm: None,
            recording: Recording::Full,
        })
    }

    /// Sets the stop rule. Errors: a NaN threshold or a negative convergence tolerance.
    pub fn with_stop(mut self, stop: StopRule) -> Result<Self> {
        self.stop = stop;
        check_stop(&self.stop)?;
        Ok(self)
    }

    /// Sets the heavy-ball momentum β. Errors: β not in [0, 1).
    pub fn with_momentum(mut self, momentum: f64) -> Result<Self> {
        self.momentum = momentum;
        self.validate()?;
        Ok(self)
    }

    /// Sets the weight decay λ. Errors: λ not finite and ≥ 0.
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

    /// Sets what the run records.
    pub fn with_recording(mut self, recording: Recording) -> Self {
        self.recording = recording;
        self
    }

    /// Checks every setting; errors name the field and the value.
    pub fn validate(&self) -> Result<()> {
        check_learning_rate("learning_rate", self.learning_rate)?;
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::invalid_value(
                "momentum",
                self.momentum,
                "must lie in [0, 1)",
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::invalid_value(
                "weight_decay",
                self.weight_decay,
                "must be finite and >= 0",
            ));
        }
        if let Some(c) = self.clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(Error::invalid_value(
                "clip_norm",
                c,
                "must be finite and > 0",
            ));
        }
        check_stop(&self.stop)
    }

    /// Bytes a run of `n_params` parameters may record: every visited point and its loss
    /// ([`Recording::Full`]: (max_steps + 1) × (8·P + 32)), the losses alone
    /// ((max_steps + 1) × 8), or nothing.
    pub fn recording_bytes(&self, n_params: usize) -> u128 {
        let points = u128::from(self.max_steps as u64) + 1;
        match self.recording {
            Recording::Full => points * (8 * n_params as u128 + 32),
            Recording::Losses => points * 8,
            Recording::None => 0,
        }
    }

    /// Checks that a run of `n_params` parameters can record what it is set to within
    /// [`RECORDING_CAP_BYTES`]; the error names `max_steps`.
    pub fn check_recording(&self, n_params: usize) -> Result<()> {
        let bytes = self.recording_bytes(n_params);
        if bytes > u128::from(RECORDING_CAP_BYTES) {
            return Err(Error::invalid_value(
                "max_steps",
                self.max_steps,
                &format!(
                    "recording up to {} points of the run would take up to {bytes} bytes, \
                     above the cap of {} GiB; record fewer steps, or only the losses or the \
                     summary",
                    self.max_steps as u128 + 1,
                    RECORDING_CAP_BYTES >> 30
                ),
            ));
        }
        Ok(())
    }

    /// Runs gradient descent on `model` from `start`.
    ///
    /// Errors only for invalid settings or a `start` of the wrong length or with a
    /// non-finite entry; divergence and a spent budget are outcomes of the returned [`Run`].
    pub fn run<M: Model + ?Sized>(&self, model: &M, start: &[f64]) -> Result<Run> {
        self.validate()?;
        model.check_params("start", start)?;
        self.check_recording(start.len())?;
        let n = start.len();
        let mut theta = start.to_vec();
        let mut grad = vec![0.0; n];
        let mut velocity = vec![0.0; n];
        let keep_losses = self.recording != Recording::None;
        let keep_points = self.recording == Recording::Full;
        let mut losses = Vec::new();
        let mut trajectory = Vec::new();

        let mut t = 0;
        let (outcome, final_loss) = loop {
            let loss = model.loss_and_gradient(&theta, &mut grad);
            if keep_losses {
                losses.push(loss);
            }
            if keep_points {
                trajectory.push(theta.clone());
            }
            if let Some(outcome) = self.stop.classify(loss) {
                break (outcome, loss);
            }
            if t == self.max_steps {
                break (Outcome::Unfinished, loss);
            }
            self.update(&mut theta, &mut grad, &mut velocity);
            t += 1;
        };
        Ok(Run {
            outcome,
            steps: t,
            final_loss,
            final_point: theta,
            losses,
            trajectory,
        })
    }

    /// One update of θ and v from the gradient g (clipped in place).
    fn update(&self, theta: &mut [f64], grad: &mut [f64], velocity: &mut [f64]) {
        if let Some(c) = self.clip_norm {
            let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            clip_gradient(grad, c, norm);
        }
        heavy_ball_update(
            self.learning_rate,
            self.momentum,
            self.weight_decay,
            theta,
            grad,
            velocity,
        );
    }
}

/// Scales `grad` (of Euclidean norm `norm`) down to length `clip_norm` when it is longer.
pub(crate) fn clip_gradient(grad: &mut [f64], clip_norm: f64, norm: f64) {
    if norm > clip_norm {
        let scale = clip_norm / norm;
        grad.iter_mut().for_each(|g| *g *= scale);
    }
}

/// The heavy-ball step of the module documentation (λ the weight decay):
/// v ← β·v + (g + λ·θ), θ ← θ − η·v.
pub(crate) fn heavy_ball_update(
    learning_rate: f64,
    momentum: f64,
    weight_decay: f64,
    theta: &mut [f64],
    grad: &[f64],
    velocity: &mut [f64],
) {
    let (eta, beta, decay) = (learning_rate, momentum, weight_decay);
    for ((w, v), g) in theta.iter_mut().zip(velocity.iter_mut()).zip(grad) {
        *v = beta * *v + (g + decay * *w);
        *w -= eta * *v;
    }
}

/// Checks a stop rule: thresholds not NaN, convergence tolerance ≥ 0.
pub(crate) fn check_stop(stop: &StopRule) -> Result<()> {
    if stop.convergence_tolerance.is_nan() || stop.convergence_tolerance < 0.0 {
        return Err(Error::invalid_value(
            "convergence_tolerance",
            stop.convergence_tolerance,
            "must be >= 0 and not NaN",
        ));
    }
    if stop.divergence_bound.is_nan() {
        return Err(Error::invalid_value(
            "divergence_bound",
            stop.divergence_bound,
            "must not be NaN",
        ));
    }
    Ok(())
}
