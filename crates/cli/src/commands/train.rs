//! `symstab train`: one full-batch gradient-descent run with its outcome, the conserved
//! quantities at its ends, and optionally its trajectory and the trained network on disk.

use anyhow::{Context, Result};
use serde::Serialize;
use symstab_core::Outcome;
use symstab_core::descent::{GradientDescent, Recording};
use symstab_core::mlp::ProblemFile;
use symstab_sweep::record::Real;

use crate::cli::TrainArgs;
use crate::messages::{self, ArgError};
use crate::output::{self, reals};
use crate::problem::{self, Problem};

/// The run report (`--json` prints it as one object).
#[derive(Debug, Serialize)]
pub struct TrainReport {
    /// `converged`, `diverged` or `unfinished`.
    pub outcome: Outcome,
    /// Updates executed.
    pub steps: usize,
    /// Loss at the start.
    pub start_loss: Real,
    /// Loss at the final point.
    pub final_loss: Real,
    /// The point where the run stopped.
    pub final_point: Vec<Real>,
    /// Conserved quantities at the start (toy wi² − wj², networks per-neuron balances).
    pub conserved_start: Vec<Real>,
    /// The same quantities at the final point.
    pub conserved_end: Vec<Real>,
    /// The learning rate η.
    #[serde(serialize_with = "output::real_field")]
    pub learning_rate: f64,
}

/// Runs the command.
pub fn run(args: &TrainArgs) -> Result<()> {
    let loaded = problem::load(&args.model, args.start.as_ref(), "--start")?;
    if let Some(path) = &args.save_model {
        problem::require_mlp(&loaded.problem, "--save-model", &path.display().to_string())?;
    }
    if let Some(path) = &args.save_model {
        output::check_output_file("--save-model", path)?;
    }
    if let Some(path) = &args.trajectory {
        output::check_output_file("--trajectory", path)?;
    }
    let model = loaded.problem.model();
    // A start whose loss, gradient or conserved quantities overflow cannot be trained from;
    // a run that diverges from a usable start is an outcome, reported below.
    loaded.check_evaluates()?;
    let conserved_start = loaded.problem.conserved(&loaded.params)?;
    if let Some((what, v)) =
        problem::first_non_finite(conserved_start.iter().map(|&c| ("a conserved quantity", c)))
    {
        return Err(loaded.origin.overflow(what, v));
    }
    let recording = if args.trajectory.is_some() {
        Recording::Full
    } else {
        Recording::None
    };
    let mut descent = GradientDescent::new(args.lr, args.steps)
        .map_err(|e| ArgError::new("--lr", args.lr, problem::core_reason(&e)))?
        .with_recording(recording);
    if let Some(m) = args.momentum {
        descent = descent
            .with_momentum(m)
            .map_err(|e| ArgError::new("--momentum", m, problem::core_reason(&e)))?;
    }
    if let Some(wd) = args.weight_decay {
        descent = descent
            .with_weight_decay(wd)
            .map_err(|e| ArgError::new("--weight-decay", wd, problem::core_reason(&e)))?;
    }
    if let Some(c) = args.clip {
        descent = descent
            .with_clip_norm(c)
            .map_err(|e| ArgError::new("--clip", c, problem::core_reason(&e)))?;
    }
    descent.check_recording(loaded.params.len()).map_err(|e| {
        ArgError::new(
            "--steps",
            args.steps,
            format!("with --trajectory, {}", problem::core_reason(&e)),
        )
    })?;
    let run = descent
        .run(model, &loaded.params)
        .map_err(|e| loaded.origin.rejected("gradient descent", &e))?;

    let report = TrainReport {
        outcome: run.outcome,
        steps: run.steps,
        start_loss: Real(model.loss(&loaded.params)),
        final_loss: Real(run.final_loss),
        final_point: reals(&run.final_point),
        conserved_start: reals(&conserved_start),
        conserved_end: reals(&loaded.problem.conserved(&run.final_point)?),
        learning_rate: args.lr,
    };
    // Everything that can fail is done before any output; files are written atomically.
    let text = if args.json {
        serde_json::to_string_pretty(&report).context("serialising the result")?
    } else {
        messages::train_summary(&report, &loaded.problem.describe())
    };
    let model_text = match (&args.save_model, &loaded.problem) {
        (Some(path), Problem::Mlp(mlp)) => {
            if run.final_point.iter().any(|v| !v.is_finite()) {
                return Err(ArgError::new(
                    "--save-model",
                    path.display(),
                    format!(
                        "the run {} and its final parameters are not finite; nothing written",
                        run.outcome
                    ),
                )
                .into());
            }
            Some((
                path,
                ProblemFile::from_problem(mlp, &run.final_point)?.to_json_string(),
            ))
        }
        _ => None,
    };
    if let Some(path) = &args.trajectory {
        let mut header = vec!["step".to_owned(), "loss".to_owned()];
        header.extend(loaded.problem.param_names());
        header.extend(loaded.problem.conserved_names());
        let mut rows = Vec::with_capacity(run.trajectory.len());
        for (t, (point, loss)) in run.trajectory.iter().zip(&run.losses).enumerate() {
            let mut row = vec![t as f64, *loss];
            row.extend_from_slice(point);
            row.extend(loaded.problem.conserved(point)?);
            rows.push(row);
        }
        output::write_csv_atomic("--trajectory", path, &header, &rows)?;
    }
    if let Some((path, model_json)) = model_text {
        output::write_text_atomic("--save-model", path, &model_json)?;
    }
    output::print_text(&text)
}
