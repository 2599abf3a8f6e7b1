//! `symstab critical-lr`: the measured critical learning rate of a start point beside the
//! predicted step bound 2/λmax.

use anyhow::Result;
use serde::Serialize;
use symstab_core::spectrum::StepBound;
use symstab_core::stability::{CriticalOptions, critical_learning_rate};
use symstab_sweep::record::Real;

use crate::cli::CriticalArgs;
use crate::messages::{self, ArgError};
use crate::output;
use crate::problem;

/// The report (`--json` prints it as one object).
#[derive(Debug, Serialize)]
pub struct CriticalReport {
    /// Smallest diverging learning rate found (null when none diverged up to the search limit).
    pub critical_lr: Option<Real>,
    /// 2/λmax at the start, or "unbounded".
    pub stable_lr: StepBound,
    /// λmax of the Hessian at the start.
    pub lambda_max: Real,
    /// critical_lr / stable_lr (null when either is missing).
    pub ratio: Option<Real>,
    /// Largest non-diverging rate found: the lower end of the final bracket.
    pub lower: Option<Real>,
    /// Runs that ended unfinished (counted as not diverged).
    pub unfinished_count: usize,
    /// The learning rates of those runs.
    pub unfinished_learning_rates: Vec<Real>,
    /// Gradient-descent runs performed.
    pub evaluations: usize,
    /// Step budget of every run.
    pub steps: usize,
    /// Why a key above is null (absent when every key has a value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Explains the null keys of a report: no divergence up to the search limit, an unbounded
/// or zero prediction, no non-diverging rate.
fn null_reason(report: &CriticalReport, options: &CriticalOptions) -> Option<String> {
    let mut reasons = Vec::new();
    if report.critical_lr.is_none() {
        let mut r = format!(
            "critical_lr and ratio are null: no divergence found up to the maximum learning rate {}",
            messages::number(options.max_learning_rate)
        );
        if report.unfinished_count > 0 {
            r.push_str(&format!(
                " ({} runs were unfinished after {} steps, counted as not diverged)",
                report.unfinished_count, report.steps
            ));
        }
        reasons.push(r);
    } else if report.ratio.is_none() {
        reasons.push(match report.stable_lr {
            StepBound::Unbounded => {
                "ratio is null: λmax <= 0 at the start, so 2/λmax is unbounded".to_owned()
            }
            StepBound::Bounded(_) => "ratio is null: 2/λmax at the start is 0".to_owned(),
        });
    }
    if report.lower.is_none() {
        reasons.push(format!(
            "lower is null: every rate tried diverged, down to the minimum learning rate {}",
            messages::number(options.min_learning_rate)
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Runs the command.
pub fn run(args: &CriticalArgs) -> Result<()> {
    let loaded = problem::load(&args.model, args.start.as_ref(), "--start")?;
    let options = CriticalOptions {
        max_steps: args.steps,
        relative_tolerance: args.relative_tolerance,
        ..CriticalOptions::default()
    };
    options.validate().map_err(|e| {
        ArgError::new(
            "--relative-tolerance",
            args.relative_tolerance,
            problem::core_reason(&e),
        )
    })?;
    // The search evaluates the Hessian at the start and runs from it: both must be finite.
    loaded.check_evaluates()?;
    let result =
        critical_learning_rate(loaded.problem.model(), &loaded.params, &options).map_err(|e| {
            loaded
                .origin
                .rejected("the Hessian at the start (for 2/λmax)", &e)
        })?;
    let report = CriticalReport {
        critical_lr: result.critical_lr.map(Real),
        stable_lr: result.stable_lr_at_start,
        lambda_max: Real(result.lambda_max_at_start),
        ratio: result.ratio_to_stable_lr().map(Real),
        lower: result.lower.map(Real),
        unfinished_count: result.unfinished_count,
        unfinished_learning_rates: result
            .unfinished_learning_rates
            .iter()
            .copied()
            .map(Real)
            .collect(),
        evaluations: result.evaluations,
        steps: args.steps,
        reason: None,
    };
    let report = CriticalReport {
        reason: null_reason(&report, &options),
        ..report
    };
    if args.json {
        output::print_json(&report)
    } else {
        output::print_text(&messages::critical_summary(
            &report,
            &loaded.problem.describe(),
        ))
    }
}
