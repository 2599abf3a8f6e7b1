//! `symstab check-symmetry`: applies a group element and compares the function before and
//! after (outputs on the dataset's inputs, and the loss).

use anyhow::Result;
use serde::Serialize;
use symstab_core::Model;
use symstab_core::mlp::symmetry::{Symmetry, SymmetryKind};
use symstab_sweep::record::Real;

use crate::cli::CheckSymmetryArgs;
use crate::messages::{self, ArgError};
use crate::output;
use crate::problem::{self, Problem};

/// Default toy rescale factor α.
pub const DEFAULT_TOY_ALPHA: f64 = 2.0;

/// The report (`--json` prints it as one object with exactly these keys).
#[derive(Debug, Serialize)]
pub struct SymmetryReport {
    /// The action applied.
    pub action: String,
    /// Largest |f(gθ; x) − f(θ; x)| over the dataset's inputs and outputs.
    pub max_output_diff: Real,
    /// L(θ).
    pub loss_before: Real,
    /// L(gθ).
    pub loss_after: Real,
}

/// Rejects a network on which the action can only be the identity: every action moves
/// hidden neurons, so it needs a hidden layer, and a permutation needs one of width >= 2.
fn check_nontrivial(network: &symstab_core::mlp::Mlp, args: &CheckSymmetryArgs) -> Result<()> {
    let (arg, value) = match &args.model.model_file {
        Some(path) => ("--model-file", path.display().to_string()),
        None => ("--widths", problem::join(network.widths())),
    };
    let hidden = &network.widths()[1..network.widths().len() - 1];
    let action = args.action.trim();
    let reason = if hidden.is_empty() {
        format!(
            "has no hidden layer, so --action {action} can only be the identity; give a hidden layer (e.g. 5,3,1)"
        )
    } else if action == "permute" && hidden.iter().all(|&w| w < 2) {
        "has no hidden layer of width >= 2, so --action permute can only be the identity".to_owned()
    } else {
        return Ok(());
    };
    Err(ArgError::new(arg, value, reason).into())
}

/// Runs the command.
pub fn run(args: &CheckSymmetryArgs) -> Result<()> {
    let loaded = problem::load(&args.model, args.point.as_ref(), "--point")?;
    loaded.check_evaluates()?;
    let params = &loaded.params;
    let origin = &loaded.origin;
    let (action, moved, before, after) = match &loaded.problem {
        Problem::Toy(toy) => {
            let n = toy.n_factors();
            let (name, moved) = match args.action.trim() {
                "rescale" => {
                    let alpha = args.alpha.unwrap_or(DEFAULT_TOY_ALPHA);
                    let moved = toy
                        .rescale(params, 0, 1, alpha)
                        .map_err(|e| ArgError::new("--alpha", alpha, problem::core_reason(&e)))?;
                    ("rescale".to_owned(), moved)
                }
                "sign-flip" if args.alpha.is_some() => {
                    return Err(ArgError::new(
                        "--alpha",
                        args.alpha.unwrap_or(DEFAULT_TOY_ALPHA),
                        "only applies to --action rescale",
                    )
                    .into());
                }
                "sign-flip" => {
                    // Flipping the signs of two factors keeps their product.
                    let mut factors = vec![1.0; n];
                    factors[0] = -1.0;
                    factors[1] = -1.0;
                    let moved = toy
                        .scale(params, &factors)
                        .map_err(|e| origin.rejected("the sign flip", &e))?;
                    ("sign-flip".to_owned(), moved)
                }
                other => {
                    return Err(ArgError::new(
                        "--action",
                        other,
                        "the toy admits rescale and sign-flip",
                    )
                    .into());
                }
            };
            let outputs = |p: &[f64]| -> Vec<f64> {
                toy.samples()
                    .iter()
                    .map(|&(x, _)| {
                        let mut out = [0.0];
                        toy.predict(p, &[x], &mut out);
                        out[0]
                    })
                    .collect()
            };
            (name, moved.clone(), outputs(params), outputs(&moved))
        }
        Problem::Mlp(mlp) => {
            if let Some(alpha) = args.alpha {
                return Err(ArgError::new("--alpha", alpha, messages::not_for_model("mlp")).into());
            }
            let kind: SymmetryKind = args
                .action
                .parse()
                .map_err(|_| ArgError::new("--action", &args.action, messages::ACTION_NAMES))?;
            check_nontrivial(mlp.network(), args)?;
            let g = Symmetry::random(mlp.network(), kind, args.model.seed)
                .map_err(|e| ArgError::new("--action", &args.action, e.to_string()))?;
            let moved = g
                .apply(mlp.network(), params)
                .map_err(|e| origin.rejected("applying the symmetry", &e))?;
            let before = mlp
                .outputs(params)
                .map_err(|e| origin.rejected("the network's outputs", &e))?;
            let after = mlp
                .outputs(&moved)
                .map_err(|e| origin.rejected("the network's outputs", &e))?;
            (args.action.trim().to_owned(), moved, before, after)
        }
    };
    let model = loaded.problem.model();
    let (loss_before, loss_after) = (model.loss(params), model.loss(&moved));
    if let Some((what, v)) = problem::first_non_finite(
        before
            .iter()
            .map(|&o| ("an output", o))
            .chain([("the loss", loss_before)]),
    ) {
        return Err(origin.overflow(what, v));
    }
    let moved_values = moved
        .iter()
        .map(|&p| ("a transformed parameter", p))
        .chain(
            after
                .iter()
                .map(|&o| ("an output after the transformation", o)),
        )
        .chain([("the loss after the transformation", loss_after)]);
    if let Some((what, v)) = problem::first_non_finite(moved_values) {
        // The start is usable, so the group element took it out of range: name --alpha
        // when the user chose it, else the start.
        return Err(match (args.alpha, &loaded.problem) {
            (Some(alpha), Problem::Toy(_)) => ArgError::new(
                "--alpha",
                alpha,
                messages::overflowed(what, v, "use an --alpha closer to 1"),
            )
            .into(),
            _ => origin.overflow(what, v),
        });
    }
    let max_output_diff =
        before
            .iter()
            .zip(&after)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0_f64, |m, d| {
                if m.is_nan() || d.is_nan() {
                    f64::NAN
                } else {
                    m.max(d)
                }
            });
    let report = SymmetryReport {
        action,
        max_output_diff: Real(max_output_diff),
        loss_before: Real(loss_before),
        loss_after: Real(loss_after),
    };
    if args.json {
        output::print_json(&report)
    } else {
        output::print_text(&messages::symmetry_summary(
            &report,
            &loaded.problem.describe(),
        ))
    }
}
