//! The error type for invalid input to core routines.
//!
//! Divergence, non-finite losses and spent step budgets are *outcomes* of a run
//! (see the `descent` module), never errors. An [`Error`] means the caller asked for
//! something that cannot be computed as asked: a parameter vector of the wrong length,
//! a non-positive learning rate, a matrix that is not symmetric, and so on.

use thiserror::Error as ThisError;

/// Result alias for fallible core routines.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Invalid input to a core routine. Every variant names the offending field and value.
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// A vector or matrix has the wrong length for the model or operator it is used with.
    #[error("{what}: expected length {expected}, got {got}")]
    DimensionMismatch {
        /// Which argument (for example `params` or `start point`).
        what: String,
        /// The length the model requires.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// A scalar argument lies outside its allowed range (zero or negative step, NaN, ...).
    #[error("invalid {field} = {value}: {reason}")]
    InvalidValue {
        /// Name of the argument, as the user knows it (for example `learning_rate`).
        field: String,
        /// The value that was given, formatted for the message.
        value: String,
        /// What the argument must satisfy.
        reason: String,
    },
    /// A vector or matrix argument contains NaN or ±∞.
    #[error("{what} holds a non-finite entry {value} at index {index}")]
    NonFinite {
        /// Which argument.
        what: String,
        /// Position of the first non-finite entry (flat, row-major for matrices).
        index: usize,
        /// The entry itself.
        value: f64,
    },
    /// A matrix passed to a symmetric eigen-solver is too far from symmetric.
    #[error("matrix is not symmetric: max |A - Aᵀ| = {asymmetry:e} exceeds tolerance {tolerance:e}")]
    NotSymmetric {
        /// Largest absolute difference between an entry and its transpose.
        asymmetry: f64,
        /// Allowed asymmetry (absolute, scaled by the matrix's largest entry).
        tolerance: f64,
    },
    /// A model or symmetry was constructed from an impossible description
    /// (empty widths, a zero width, an action the activation does not admit, ...).
    #[error("invalid {what}: {reason}")]
    InvalidSpec {
        /// What was being built (for example `widths` or `symmetry`).
        what: String,
        /// Why it cannot be built.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidValue`].
    pub fn invalid_value(field: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        Error::InvalidValue { field: field.to_owned(), value: value.to_string(), reason: reason.to_owned() }
    }

    /// Shorthand for [`Error::InvalidSpec`].
    pub fn invalid_spec(what: &str, reason: impl Into<String>) -> Self {
        Error::InvalidSpec { what: what.to_owned(), reason: reason.into() }
    }
}

/// Checks that `values` has length `expected`; `what` names the argument in the error.
pub fn check_len(what: &str, values: &[f64], expected: usize) -> Result<()> {
    if values.len() == expected {
        Ok(())
    } else {
        Err(Error::DimensionMismatch { what: what.to_owned(), expected, got: values.len() })
    }
}

/// Checks that every entry of `values` is finite; `what` names the argument in the error.
pub fn check_finite(what: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(Error::NonFinite { what: what.to_owned(), index, value: values[index] }),
    }
}

/// Checks that a learning rate (step size) is finite and strictly positive.
pub fn check_learning_rate(field: &str, learning_rate: f64) -> Result<()> {
    if learning_rate.is_finite() && learning_rate > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid_value(field, learning_rate, "must be finite and > 0"))
    }
}
