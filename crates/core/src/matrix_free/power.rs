//! Power iteration: the textbook baseline for the dominant eigenvalue.
//!
//! Power iteration repeats v ← A·v / ‖A·v‖ and converges to an eigenvector of the
//! eigenvalue of **largest magnitude**, λ with the largest |λ|. For a Hessian with a
//! negative eigenvalue larger in magnitude than every positive one, that is the negative
//! eigenvalue, not λmax; use [`lanczos`](super::lanczos) for the largest algebraic
//! eigenvalue. Convergence is linear with ratio |λ₂|/|λ₁| and fails outright when the
//! two largest magnitudes are equal (a ±λ pair); the residual reported then stays large.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{SymmetricOperator, check_dim, check_tolerance, dot, fill_gaussian, norm, scale};
use crate::error::{Error, Result};

/// Settings of [`power_iteration`].
#[derive(Debug, Clone, PartialEq)]
pub struct PowerOptions {
    /// Stop when ‖A·v − ρ·v‖ ≤ `tolerance` · |ρ| for the Rayleigh quotient ρ = vᵀA·v.
    pub tolerance: f64,
    /// Budget of iterations (one operator application each).
    pub max_iterations: usize,
    /// Seed of the random start vector (ChaCha8).
    pub seed: u64,
}

impl Default for PowerOptions {
    fn default() -> Self {
        PowerOptions {
            tolerance: 1e-8,
            max_iterations: 1000,
            seed: 0,
        }
    }
}

/// Result of [`power_iteration`].
#[derive(Debug, Clone, PartialEq)]
pub struct PowerResult {
    /// Rayleigh quotient ρ = vᵀA·v of the final unit vector: the estimate of the
    /// eigenvalue of largest magnitude (its sign included).
    pub value: f64,
    /// The final unit vector v.
    pub vector: Vec<f64>,
    /// ‖A·v − ρ·v‖ for the final v.
    pub residual: f64,
    /// Number of iterations (= operator applications).
    pub iterations: usize,
    /// The residual met the tolerance.
    pub converged: bool,
}

/// Estimates the eigenvalue of largest magnitude of a symmetric operator by power
/// iteration, with its Rayleigh quotient and residual.
///
/// Errors: dimension 0, a non-positive or non-finite tolerance, or `max_iterations == 0`.
/// Hitting the budget is not an error: the result has `converged == false`; so does a
/// non-finite product from the operator, which stops the iteration at once.
pub fn power_iteration<O: SymmetricOperator + ?Sized>(
    op: &O,
    options: &PowerOptions,
) -> Result<PowerResult> {
    let n = op.dim();
    check_dim(n)?;
    check_tolerance("tolerance", options.tolerance)?;
    if options.max_iterations == 0 {
        return Err(Error::invalid_value(
            "max_iterations",
            0,
            "must be at least 1",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut v = vec![0.0; n];
    fill_gaussian(&mut rng, &mut v);
    let start_norm = norm(&v);
    scale(1.0 / start_norm, &mut v);
    let mut w = vec![0.0; n];

    let mut value = 0.0;
    let mut residual = f64::INFINITY;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < options.max_iterations {
        op.apply(&v, &mut w);
        iterations += 1;

        // Rayleigh quotient and residual ‖A·v − ρ·v‖, summed directly (the shortcut
        // ‖A·v‖² − ρ² cancels catastrophically near convergence).
        value = dot(&v, &w);
        let w_norm = norm(&w);
        residual = v
            .iter()
            .zip(&w)
            .map(|(vi, wi)| (wi - value * vi).powi(2))
            .sum::<f64>()
            .sqrt();
        if !(value.is_finite() && residual.is_finite()) {
            // The operator returned NaN or ±∞: report it as not converged.
            break;
        }
        if residual <= options.tolerance * value.abs() || w_norm == 0.0 {
            converged = true;
            break;
        }
        if iterations == options.max_iterations {
            break;
        }
        for (vi, wi) in v.iter_mut().zip(&w) {
            *vi = wi / w_norm;
        }
    }
    Ok(PowerResult {
        value,
        vector: v,
        residual,
        iterations,
        converged,
    })
}
