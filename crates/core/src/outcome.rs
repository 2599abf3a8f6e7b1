//! How a gradient-descent run ended.
//!
//! The rule, applied before every step t = 0, 1, …, S with the current loss L_t:
//! if `!(L_t <= divergence_bound)` the run has **diverged** (this also catches NaN and ±∞,
//! so a NaN never reads as progress); else if `L_t < convergence_tolerance` it has
//! **converged**; else if t = S it is **unfinished**; else one more step is taken.
//! `steps` is the number of updates executed.

use serde::{Deserialize, Serialize};

/// Default loss below which a run counts as converged.
pub const DEFAULT_CONVERGENCE_TOLERANCE: f64 = 1e-12;

/// Default loss above which (or when non-finite) a run counts as diverged.
pub const DEFAULT_DIVERGENCE_BOUND: f64 = 1e12;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The loss fell below the convergence tolerance.
    Converged,
    /// The loss became non-finite or exceeded the divergence bound.
    Diverged,
    /// The step budget was spent with neither of the above.
    Unfinished,
}

impl Outcome {
    /// The outcome's name as written in results: `converged`, `diverged`, `unfinished`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Converged => "converged",
            Outcome::Diverged => "diverged",
            Outcome::Unfinished => "unfinished",
        }
    }

    /// The numeric code used in checksums shared with the peer scripts:
    /// 1 converged, 2 diverged, 3 unfinished.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Converged => 1,
            Outcome::Diverged => 2,
            Outcome::Unfinished => 3,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Outcome {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "converged" => Ok(Outcome::Converged),
            "diverged" => Ok(Outcome::Diverged),
            "unfinished" => Ok(Outcome::Unfinished),
            other => Err(crate::Error::invalid_value(
                "outcome",
                other,
                "must be converged, diverged or unfinished",
            )),
        }
    }
}

/// Thresholds that classify the loss before each step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopRule {
    /// Loss strictly below this counts as converged.
    pub convergence_tolerance: f64,
    /// Loss not `<=` this (including NaN and ±∞) counts as diverged.
    pub divergence_bound: f64,
}

impl Default for StopRule {
    fn default() -> Self {
        StopRule {
            convergence_tolerance: DEFAULT_CONVERGENCE_TOLERANCE,
            divergence_bound: DEFAULT_DIVERGENCE_BOUND,
        }
    }
}

impl StopRule {
    /// Classifies a loss: `Some(outcome)` when the run stops here, `None` to continue.
    /// The step budget is the caller's business.
    #[inline]
    // `!(loss <= bound)` is deliberate: it is true for NaN, which `loss > bound` is not.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn classify(&self, loss: f64) -> Option<Outcome> {
        if !(loss <= self.divergence_bound) {
            Some(Outcome::Diverged)
        } else if loss < self.convergence_tolerance {
            Some(Outcome::Converged)
        } else {
            None
        }
    }
}
