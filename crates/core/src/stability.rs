//! The measured critical learning rate of a start point, beside the predicted 2/λmax.
//!
//! [`critical_learning_rate`] runs plain gradient descent (see [`crate::descent`]) from a
//! fixed start at different learning rates and locates the rate at which the run switches
//! from not diverging to diverging:
//!
//! 1. **Bracketing.** Starting from an initial guess (by default 2/λmax at the start), the
//!    rate is multiplied by `growth_factor` until a run diverges, or divided by it until a
//!    run does not, within `[min_learning_rate, max_learning_rate]`.
//! 2. **Bisection.** The bracket `lower < critical_lr` (lower does not diverge, critical_lr
//!    does) is halved until `critical_lr − lower ≤ relative_tolerance · critical_lr`.
//!
//! A run that neither converges nor diverges within the budget ([`Outcome::Unfinished`]) is
//! counted as **not diverged**: a slow run is not evidence of divergence. Every unfinished
//! run met during the search is reported with its rate, so a caller can tell when the
//! budget, not the dynamics, decided a comparison.
//!
//! The search assumes one transition. Divergence need not be monotone in the rate; when it
//! is not, the result brackets the transition between the last non-diverging and the first
//! diverging rate of the geometric scan, and diverging rates may still exist below `lower`
//! between the scanned rates.
//!
//! The predicted bound 2/λmax is local: the measured critical rate of the toy from (1, 9)
//! is about twice 2/λmax there, because the run first moves to flatter points.
//!
//! ```
//! use symstab_core::stability::{CriticalOptions, critical_learning_rate};
//! use symstab_core::toy::ProductChain;
//!
//! let options = CriticalOptions { max_steps: 50, ..CriticalOptions::default() };
//! let result = critical_learning_rate(&ProductChain::toy(), &[1.0, 9.0], &options)?;
//! let critical = result.critical_lr.expect("a divergence was found");
//! assert!(critical > 0.02 && critical < 0.025);
//! assert!(result.ratio_to_stable_lr().unwrap() > 2.0);
//! # Ok::<(), symstab_core::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::descent::{GradientDescent, Recording, check_stop};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::outcome::{Outcome, StopRule};
use crate::spectrum::{StepBound, hessian_eigenvalues, stable_learning_rate};

/// Settings of [`critical_learning_rate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalOptions {
    /// Step budget of every run.
    pub max_steps: usize,
    /// Stop rule of every run.
    pub stop: StopRule,
    /// Bisection stops when `critical_lr − lower ≤ relative_tolerance · critical_lr`
    /// (in (0, 1)).
    pub relative_tolerance: f64,
    /// First rate tried; `None` uses 2/λmax at the start (or 1 when that is unbounded),
    /// clamped into the search range.
    pub initial_learning_rate: Option<f64>,
    /// Smallest rate tried while bracketing (> 0).
    pub min_learning_rate: f64,
    /// Largest rate tried while bracketing.
    pub max_learning_rate: f64,
    /// Factor between successive rates while bracketing (> 1).
    pub growth_factor: f64,
}

impl Default for CriticalOptions {
    /// 1000 steps, the default stop rule, relative tolerance 1e-9, initial guess 2/λmax,
    /// range [1e-12, 1e6], growth factor 2.
    fn default() -> Self {
        CriticalOptions {
            max_steps: 1000,
            stop: StopRule::default(),
            relative_tolerance: 1e-9,
            initial_learning_rate: None,
            min_learning_rate: 1e-12,
            max_learning_rate: 1e6,
            growth_factor: 2.0,
        }
    }
}

impl CriticalOptions {
    /// Checks every setting; errors name the field and the value.
    pub fn validate(&self) -> Result<()> {
        check_stop(&self.stop)?;
        let tol = self.relative_tolerance;
        if !(tol > 0.0 && tol < 1.0) {
            return Err(Error::invalid_value(
                "relative_tolerance",
                tol,
                "must lie in (0, 1)",
            ));
        }
        let min = self.min_learning_rate;
        if !(min.is_finite() && min > 0.0) {
            return Err(Error::invalid_value(
                "min_learning_rate",
                min,
                "must be finite and > 0",
            ));
        }
        let max = self.max_learning_rate;
        if !(max.is_finite() && max >= min) {
            return Err(Error::invalid_value(
                "max_learning_rate",
                max,
                "must be finite and >= min_learning_rate",
            ));
        }
        let growth = self.growth_factor;
        if !(growth.is_finite() && growth > 1.0) {
            return Err(Error::invalid_value(
                "growth_factor",
                growth,
                "must be finite and > 1",
            ));
        }
        if let Some(guess) = self.initial_learning_rate
            && !(guess.is_finite() && guess > 0.0)
        {
            return Err(Error::invalid_value(
                "initial_learning_rate",
                guess,
                "must be finite and > 0",
            ));
        }
        Ok(())
    }
}

/// The measured critical learning rate of a start point.
///
/// When both `lower` and `critical_lr` are `Some`, they bracket the transition to relative
/// tolerance. `critical_lr = None` means no run diverged up to `max_learning_rate` (then
/// `lower` is that rate). `lower = None` means even `min_learning_rate`'s neighbourhood
/// diverged: every rate tried diverged, `critical_lr` is the smallest of them and no
/// transition was located. No number is ever made up for a bound that was not observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalLearningRate {
    /// The smallest diverging rate found: the upper end of the final bracket.
    pub critical_lr: Option<f64>,
    /// The largest non-diverging rate found: the lower end of the final bracket.
    pub lower: Option<f64>,
    /// Predicted bound 2/λmax at the start.
    pub stable_lr_at_start: StepBound,
    /// Sharpness λmax of the dense Hessian at the start.
    pub lambda_max_at_start: f64,
    /// Number of gradient-descent runs performed.
    pub evaluations: usize,
    /// Number of runs that ended unfinished (counted as not diverged).
    pub unfinished_count: usize,
    /// The rates of those unfinished runs, in the order they were tried.
    pub unfinished_learning_rates: Vec<f64>,
}

impl CriticalLearningRate {
    /// Whether a transition was bracketed (both ends observed).
    pub fn is_bracketed(&self) -> bool {
        self.critical_lr.is_some() && self.lower.is_some()
    }

    /// critical_lr / (2/λmax at the start); `None` when either is missing (unbounded
    /// prediction, or no divergence found) or the prediction is zero.
    pub fn ratio_to_stable_lr(&self) -> Option<f64> {
        let critical = self.critical_lr?;
        let stable = self.stable_lr_at_start.value()?;
        (stable > 0.0).then(|| critical / stable)
    }
}

/// Bookkeeping of the runs of one search.
struct Search<'a, M: ?Sized> {
    model: &'a M,
    start: &'a [f64],
    options: &'a CriticalOptions,
    evaluations: usize,
    unfinished: Vec<f64>,
}

impl<M: Model + ?Sized> Search<'_, M> {
    fn diverges(&mut self, learning_rate: f64) -> Result<bool> {
        let descent = GradientDescent::new(learning_rate, self.options.max_steps)?
            .with_stop(self.options.stop)?
            .with_recording(Recording::None);
        let run = descent.run(self.model, self.start)?;
        self.evaluations += 1;
        match run.outcome {
            Outcome::Diverged => Ok(true),
            Outcome::Converged => Ok(false),
            Outcome::Unfinished => {
                self.unfinished.push(learning_rate);
                Ok(false)
            }
        }
    }
}

/// The smallest learning rate at which plain gradient descent from `start` diverges,
/// by geometric bracketing and bisection (see the [module documentation](self)).
///
/// Errors: invalid options, a start of the wrong length or with a non-finite entry, or a
/// Hessian at the start that cannot be decomposed (non-finite).
pub fn critical_learning_rate<M: Model + ?Sized>(
    model: &M,
    start: &[f64],
    options: &CriticalOptions,
) -> Result<CriticalLearningRate> {
    options.validate()?;
    model.check_params("start", start)?;
    // Only λmax is needed: the eigenvalues-only path skips the eigenvectors.
    let lambda_max_at_start = hessian_eigenvalues(model, start)?[0];
    let stable_lr_at_start = stable_learning_rate(lambda_max_at_start);

    let (min, max, growth) = (
        options.min_learning_rate,
        options.max_learning_rate,
        options.growth_factor,
    );
    let guess = options
        .initial_learning_rate
        .or(stable_lr_at_start.value().filter(|v| *v > 0.0))
        .unwrap_or(1.0)
        .clamp(min, max);

    let mut search = Search {
        model,
        start,
        options,
        evaluations: 0,
        unfinished: Vec::new(),
    };
    let finish = |search: Search<'_, M>, lower: Option<f64>, critical_lr: Option<f64>| {
        CriticalLearningRate {
            critical_lr,
            lower,
            stable_lr_at_start,
            lambda_max_at_start,
            evaluations: search.evaluations,
            unfinished_count: search.unfinished.len(),
            unfinished_learning_rates: search.unfinished,
        }
    };

    // Bracket [lower, upper]: lower does not diverge, upper does.
    let (mut lower, mut upper);
    if search.diverges(guess)? {
        upper = guess;
        loop {
            if upper <= min {
                return Ok(finish(search, None, Some(upper)));
            }
            let candidate = (upper / growth).max(min);
            if search.diverges(candidate)? {
                upper = candidate;
            } else {
                lower = candidate;
                break;
            }
        }
    } else {
        lower = guess;
        loop {
            if lower >= max {
                return Ok(finish(search, Some(lower), None));
            }
            let candidate = (lower * growth).min(max);
            if search.diverges(candidate)? {
                upper = candidate;
                break;
            }
            lower = candidate;
        }
    }

    // Bisection to relative tolerance (stops early if the midpoint is not representable).
    while upper - lower > options.relative_tolerance * upper {
        let middle = lower + 0.5 * (upper - lower);
        if middle <= lower || middle >= upper {
            break;
        }
        if search.diverges(middle)? {
            upper = middle;
        } else {
            lower = middle;
        }
    }
    Ok(finish(search, Some(lower), Some(upper)))
}
