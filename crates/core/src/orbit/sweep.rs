//! Reading gradient-descent grids over an orbit: the empirical boundary of useful steps.
//!
//! The grids themselves (learning rate × orbit position, full-batch runs from g(α)·θ, with
//! the bisected critical learning rate per position) are run by symstab-sweep's network
//! runner; this module turns their outcomes into a per-position number to set beside the
//! prediction 2/λmax(α) and the critical rate.

use crate::error::{Error, Result};
use crate::outcome::Outcome;

/// For each orbit position of an lr-major grid (cell `lr_idx · n_alpha + alpha_idx`, rates
/// ascending), the largest learning rate up to which every run ended with a loss strictly
/// below `reference_loss` (it did not diverge and it lowered the loss). `None` when even the
/// smallest rate failed; a later success after a failure does not count.
///
/// `runs[k]` is (outcome, final loss) of cell k. Errors: an empty grid, a length that is not
/// `learning_rates.len()` × a whole number of positions, or rates that are not ascending.
pub fn loss_decrease_boundary(
    learning_rates: &[f64],
    runs: &[(Outcome, f64)],
    reference_loss: f64,
) -> Result<Vec<Option<f64>>> {
    let n_lr = learning_rates.len();
    if n_lr == 0 || runs.is_empty() || !runs.len().is_multiple_of(n_lr) {
        return Err(Error::invalid_value(
            "runs",
            runs.len(),
            &format!("must be a non-empty multiple of the {n_lr} learning rates"),
        ));
    }
    if learning_rates
        .windows(2)
        .any(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater))
    {
        return Err(Error::invalid_spec(
            "learning_rates",
            "must be strictly ascending",
        ));
    }
    let n_alpha = runs.len() / n_lr;
    Ok((0..n_alpha)
        .map(|i| {
            let mut best = None;
            for (l, &rate) in learning_rates.iter().enumerate() {
                let (outcome, final_loss) = runs[l * n_alpha + i];
                let lowered =
                    final_loss.partial_cmp(&reference_loss) == Some(std::cmp::Ordering::Less);
                if outcome == Outcome::Diverged || !lowered {
                    break;
                }
                best = Some(rate);
            }
            best
        })
        .collect())
}
