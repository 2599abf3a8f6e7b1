//! Hutchinson's stochastic trace estimator with Rademacher probes.
//!
//! For a random vector z with independent ±1 entries, E[zᵀA·z] = tr(A) (Hutchinson,
//! Commun. Stat. Simul. Comput. 19 (1990) 433–450); the variance of one sample is
//! 2·Σ_{i≠j} A_ij², the smallest among i.i.d. probe distributions. The estimate is the
//! sample mean of zᵀA·z over the probes, reported with its standard error s/√k
//! (s the sample standard deviation of the k samples). Probing stops once that standard
//! error is small, never on the relative change of a signed running mean (which can
//! stall or trigger spuriously when the trace is near zero).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{SymmetricOperator, check_dim, dot, fill_rademacher};
use crate::error::{Error, Result};

/// Settings of [`hutchinson_trace`].
#[derive(Debug, Clone, PartialEq)]
pub struct TraceOptions {
    /// Stop when standard error ≤ `relative_tolerance` · |mean| ...
    pub relative_tolerance: f64,
    /// ... or when standard error ≤ `absolute_tolerance` (a floor for traces near zero).
    pub absolute_tolerance: f64,
    /// Probes drawn before the stopping rule is consulted (at least 2, so that a standard
    /// error exists).
    pub min_probes: usize,
    /// Budget of probes (one operator application each).
    pub max_probes: usize,
    /// Seed of the probes (ChaCha8).
    pub seed: u64,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            relative_tolerance: 1e-2,
            absolute_tolerance: 0.0,
            min_probes: 10,
            max_probes: 1000,
            seed: 0,
        }
    }
}

/// Result of [`hutchinson_trace`].
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEstimate {
    /// Sample mean of zᵀA·z: the trace estimate.
    pub mean: f64,
    /// Standard error of the mean, s/√k.
    pub standard_error: f64,
    /// Number of probes k used.
    pub n_probes: usize,
    /// The stopping rule on the standard error was met (false: the budget ran out).
    pub converged: bool,
}

/// Estimates tr(A) with Rademacher probes (see the module docs).
///
/// Errors: dimension 0, negative or non-finite tolerances, `min_probes < 2`, or
/// `max_probes < min_probes`. A non-finite probe value stops the estimate at once with a
/// non-finite mean and `converged == false`.
pub fn hutchinson_trace<O: SymmetricOperator + ?Sized>(
    op: &O,
    options: &TraceOptions,
) -> Result<TraceEstimate> {
    let n = op.dim();
    check_dim(n)?;
    for (field, value) in [
        ("relative_tolerance", options.relative_tolerance),
        ("absolute_tolerance", options.absolute_tolerance),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(Error::invalid_value(
                field,
                value,
                "must be finite and >= 0",
            ));
        }
    }
    if options.min_probes < 2 {
        return Err(Error::invalid_value(
            "min_probes",
            options.min_probes,
            "must be at least 2",
        ));
    }
    if options.max_probes < options.min_probes {
        return Err(Error::invalid_value(
            "max_probes",
            options.max_probes,
            "must be at least min_probes",
        ));
    }

    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut z = vec![0.0; n];
    let mut az = vec![0.0; n];
    // Welford's running mean and sum of squared deviations.
    let mut mean = 0.0;
    let mut squares = 0.0;
    let mut k = 0;
    let mut standard_error = f64::INFINITY;
    let mut converged = false;
    while k < options.max_probes {
        fill_rademacher(&mut rng, &mut z);
        op.apply(&z, &mut az);
        let sample = dot(&z, &az);
        k += 1;
        if !sample.is_finite() {
            // The operator returned NaN or ±∞: the estimate is not finite either.
            mean = sample;
            standard_error = f64::NAN;
            break;
        }
        let delta = sample - mean;
        mean += delta / k as f64;
        squares += delta * (sample - mean);
        if k >= 2 {
            standard_error = (squares / ((k - 1) as f64) / k as f64).sqrt();
        }
        if k >= options.min_probes
            && standard_error
                <= (options.relative_tolerance * mean.abs()).max(options.absolute_tolerance)
        {
            converged = true;
            break;
        }
    }
    Ok(TraceEstimate {
        mean,
        standard_error,
        n_probes: k,
        converged,
    })
}
