//! `symstab orbit`: loss and curvature along a one-parameter path g(α)·θ in a network's
//! rescale group, optionally at a trained point and with the flattest point of the path.

use anyhow::Result;
use serde::Serialize;
use symstab_core::Model;
use symstab_core::Outcome;
use symstab_core::descent::{GradientDescent, Recording};
use symstab_core::mlp::MlpProblem;
use symstab_core::orbit::{
    NeuronScaleOptions, OrbitPath, OrbitRecord, OrbitScan, SearchOptions, SpectrumOptions,
    SpectrumRoute, log_spaced, minimize_neuron_scales, path_minimum, scan_orbit,
};
use symstab_core::spectrum::StepBound;
use symstab_sweep::record::Real;

use crate::cli::{ModelKind, OrbitArgs, OrbitMethod};
use crate::commands::hessian::DENSE_LIMIT;
use crate::messages::{self, ArgError};
use crate::output::{self, reals};
use crate::problem::{self, Problem};

/// Default relative residual tolerance of the Lanczos parts.
pub const DEFAULT_TOLERANCE: f64 = 1e-10;
/// Length of the final golden-section bracket in log α.
const SEARCH_TOLERANCE: f64 = 1e-4;

/// One scanned orbit point.
#[derive(Debug, Serialize)]
pub struct OrbitPoint {
    /// Position α on the path.
    pub alpha: Real,
    /// L(g(α)·θ).
    pub loss: Real,
    /// |L(g(α)·θ) − L(θ)| / |L(θ)|: zero up to rounding, since the function is unchanged.
    pub loss_deviation: Real,
    /// Largest (algebraic) Hessian eigenvalue.
    pub lambda_max: Real,
    /// Smallest Hessian eigenvalue.
    pub lambda_min: Real,
    /// 2/λmax, or "unbounded" when λmax ≤ 0.
    pub stable_lr: StepBound,
    /// tr H: exact on the dense route, a Hutchinson estimate on the Lanczos route.
    pub trace: Real,
    /// Standard error of the trace (0 when exact).
    pub trace_standard_error: Real,
    /// Largest eigenvalue of the Gauss-Newton matrix.
    pub gauss_newton_max: Real,
    /// ‖∇L‖ at the point.
    pub gradient_norm: Real,
    /// Balance ‖incoming‖² − ‖outgoing‖² of every hidden neuron, hidden layer by hidden
    /// layer (conserved by gradient flow; changed by the rescale).
    pub conserved: Vec<Real>,
    /// `dense` or `lanczos`.
    pub method: SpectrumRoute,
    /// Every iterative part met its tolerance (always true on the dense route's λmax).
    pub converged: bool,
}

/// The training run that preceded the scan (`--train`).
#[derive(Debug, Serialize)]
pub struct Training {
    /// Updates requested.
    pub steps: usize,
    /// Updates executed.
    pub steps_run: usize,
    /// Learning rate η.
    #[serde(serialize_with = "output::real_field")]
    pub learning_rate: f64,
    /// `converged` or `unfinished` (a diverged run is an error).
    pub outcome: Outcome,
    /// Loss at the initial parameters.
    pub start_loss: Real,
    /// Loss at the trained point (the scanned θ).
    pub final_loss: Real,
}

/// The flattest point along the path (`--flattest`).
#[derive(Debug, Serialize)]
pub struct Flattest {
    /// α of the point of smallest λmax found.
    pub alpha: Real,
    /// Its λmax.
    pub lambda_max: Real,
    /// Its 2/λmax.
    pub stable_lr: StepBound,
    /// The smallest scanned λmax lay at an end of the α range (the minimum may lie beyond).
    pub at_scan_end: bool,
    /// λmax evaluations of the search.
    pub evaluations: usize,
    /// Relative loss deviation at the point found.
    pub loss_deviation: Real,
    /// The per-neuron descent (`--per-neuron STEPS`), or null.
    pub per_neuron: Option<PerNeuron>,
}

/// The per-neuron descent on log λmax over one scale per hidden neuron.
#[derive(Debug, Serialize)]
pub struct PerNeuron {
    /// λmax at the scanned point θ (where the descent starts).
    pub lambda_max_before: Real,
    /// λmax at the rescaled point found.
    pub lambda_max_after: Real,
    /// 2/λmax at the rescaled point.
    pub stable_lr_after: StepBound,
    /// Accepted descent steps (at most the STEPS asked for).
    pub steps: usize,
    /// Largest |∂ log λmax / ∂ log scale| at the end.
    pub final_gradient: Real,
    /// max |f_new(x) − f_θ(x)| / max(1, max |f_θ|) over the dataset: the function check.
    pub output_deviation: Real,
    /// Relative loss deviation at the rescaled point.
    pub loss_deviation: Real,
}

/// The scan report (`--json` prints it as one object).
#[derive(Debug, Serialize)]
pub struct OrbitReport {
    /// The path, as given to --path.
    pub path: OrbitPath,
    /// Network widths d0,…,dL.
    pub widths: Vec<usize>,
    /// Number of parameters P.
    pub n_params: usize,
    /// Number of samples.
    pub n_samples: usize,
    /// L(θ) at the scanned point (α = 1).
    pub reference_loss: Real,
    /// The training run before the scan, or null.
    pub trained: Option<Training>,
    /// One record per α, ascending.
    pub records: Vec<OrbitPoint>,
    /// Largest `loss_deviation` over the records.
    pub max_loss_deviation: Real,
    /// Smallest λmax over the records.
    pub lambda_max_min: Real,
    /// Largest λmax over the records.
    pub lambda_max_max: Real,
    /// max λmax / min λmax over the records.
    pub lambda_max_spread: Real,
    /// The flattest point (`--flattest`), or null.
    pub flattest: Option<Flattest>,
}

/// Runs the command.
pub fn run(args: &OrbitArgs) -> Result<()> {
    if args.model.model == ModelKind::Toy && args.model.model_file.is_none() {
        return Err(ArgError::new(
            "--model",
            "toy",
            "symstab orbit scans networks: use --model mlp --widths … or --model-file",
        )
        .into());
    }
    let loaded = problem::load(&args.model, None, "--point")?;
    let Problem::Mlp(mlp) = &loaded.problem else {
        unreachable!("the toy was rejected above")
    };
    let mlp: &MlpProblem = mlp;
    let net = mlp.network();
    // The path must fit the network (layer in range, rescale admitted by the activation)
    // before any work is done.
    args.path
        .symmetry(net, 2.0)
        .map_err(|e| ArgError::new("--path", args.path, problem::core_reason(&e)))?;
    let alphas = alphas(args)?;
    loaded.check_evaluates()?;

    let (params, trained) = match (args.train, args.lr) {
        (Some(steps), Some(lr)) => train(mlp, &loaded.params, steps, lr)?,
        _ => (loaded.params.clone(), None),
    };

    let spectrum = SpectrumOptions {
        route: match args.method {
            OrbitMethod::Auto => None,
            OrbitMethod::Dense => Some(SpectrumRoute::Dense),
            OrbitMethod::Lanczos => Some(SpectrumRoute::Lanczos),
        },
        dense_threshold: DENSE_LIMIT,
        tolerance: args.tol.unwrap_or(DEFAULT_TOLERANCE),
        seed: args.model.seed,
        ..SpectrumOptions::default()
    };
    let scan = match scan_orbit(mlp, &params, args.path, &alphas, &spectrum) {
        Ok(scan) => scan,
        Err(e) => return Err(failed_alpha(mlp, &params, args, &alphas, &spectrum, &e)),
    };
    check_records(args, &scan)?;

    let flattest = if args.flattest {
        Some(flattest(mlp, &params, &scan, &spectrum, args)?)
    } else {
        None
    };
    let (min, max, spread) = scan.lambda_max_spread();
    let report = OrbitReport {
        path: args.path,
        widths: net.widths().to_vec(),
        n_params: mlp.n_params(),
        n_samples: mlp.dataset().n_samples(),
        reference_loss: Real(scan.reference_loss),
        trained,
        records: scan.records.iter().map(point).collect(),
        max_loss_deviation: Real(scan.max_relative_loss_deviation),
        lambda_max_min: Real(min),
        lambda_max_max: Real(max),
        lambda_max_spread: Real(spread),
        flattest,
    };
    if args.json {
        output::print_json(&report)
    } else {
        output::print_text(&messages::orbit_summary(
            &report,
            &loaded.problem.describe(),
        ))
    }
}

/// The log-spaced positions of --alpha (core's `log_spaced`: a range through 1 holds
/// exactly 1, whose record is then the unmoved point θ).
fn alphas(args: &OrbitArgs) -> Result<Vec<f64>> {
    let range = args.alpha;
    log_spaced(range.lo, range.hi, range.n).map_err(|e| alpha_error(args, problem::core_reason(&e)))
}

/// An error naming `--alpha` and its range, with `reason`.
fn alpha_error(args: &OrbitArgs, reason: impl Into<String>) -> anyhow::Error {
    let range = args.alpha;
    ArgError::new(
        "--alpha",
        messages::range_text(range.lo, range.hi, range.n),
        reason,
    )
    .into()
}

/// What to change when a point of the scan overflows.
const ALPHA_REMEDY: &str = "narrow the --alpha range towards 1";

/// The error of a failed scan, naming `--alpha` and the first α whose point fails on
/// its own (the scan runs the positions in parallel and reports no position).
fn failed_alpha(
    mlp: &MlpProblem,
    params: &[f64],
    args: &OrbitArgs,
    alphas: &[f64],
    spectrum: &SpectrumOptions,
    error: &symstab_core::Error,
) -> anyhow::Error {
    let failing = alphas.iter().find_map(|&alpha| {
        scan_orbit(mlp, params, args.path, &[alpha], spectrum)
            .err()
            .map(|e| (alpha, e))
    });
    match failing {
        Some((alpha, e)) => alpha_error(
            args,
            problem::rejection_reason(
                &format!("at α = {} the spectrum", messages::number(alpha)),
                &e,
                ALPHA_REMEDY,
            ),
        ),
        None => alpha_error(
            args,
            problem::rejection_reason("the scan", error, ALPHA_REMEDY),
        ),
    }
}

/// Refuses a scan with a non-finite number, naming `--alpha` and the α where it appeared
/// (the point g(α)·θ overflows when α is far from 1).
fn check_records(args: &OrbitArgs, scan: &OrbitScan) -> Result<()> {
    for r in &scan.records {
        let values = [
            ("the loss", r.loss),
            ("λmax", r.lambda_max),
            ("λmin", r.lambda_min),
            ("the trace", r.trace),
            ("the Gauss-Newton λmax", r.gauss_newton_max),
            ("‖∇L‖", r.gradient_norm),
        ]
        .into_iter()
        .chain(r.balances.iter().map(|&b| ("a neuron balance", b)));
        if let Some((what, v)) = problem::first_non_finite(values) {
            return Err(alpha_error(
                args,
                messages::overflowed(
                    &format!("at α = {} {what}", messages::number(r.alpha)),
                    v,
                    ALPHA_REMEDY,
                ),
            ));
        }
    }
    Ok(())
}

/// Full-batch gradient descent from `start`; a diverged run is an error naming --lr.
fn train(
    mlp: &MlpProblem,
    start: &[f64],
    steps: usize,
    lr: f64,
) -> Result<(Vec<f64>, Option<Training>)> {
    // Only the end of the run is used: record nothing along the way.
    let run = GradientDescent::new(lr, steps)
        .map_err(|e| ArgError::new("--lr", lr, problem::core_reason(&e)))?
        .with_recording(Recording::None)
        .run(mlp, start)
        .map_err(|e| {
            ArgError::new(
                "--train",
                steps,
                problem::rejection_reason("training", &e, "choose a smaller --lr"),
            )
        })?;
    if run.outcome == Outcome::Diverged || run.final_point.iter().any(|v| !v.is_finite()) {
        return Err(ArgError::new(
            "--lr",
            lr,
            format!(
                "training diverged after {} steps (loss {}); choose a smaller --lr",
                run.steps,
                messages::number(run.final_loss)
            ),
        )
        .into());
    }
    let training = Training {
        steps,
        steps_run: run.steps,
        learning_rate: lr,
        outcome: run.outcome,
        start_loss: Real(mlp.loss(start)),
        final_loss: Real(run.final_loss),
    };
    Ok((run.final_point, Some(training)))
}

/// The golden-section search along the path and, with `per_neuron`, the per-neuron descent.
fn flattest(
    mlp: &MlpProblem,
    params: &[f64],
    scan: &OrbitScan,
    spectrum: &SpectrumOptions,
    args: &OrbitArgs,
) -> Result<Flattest> {
    let search = SearchOptions {
        tolerance: SEARCH_TOLERANCE,
        spectrum: spectrum.clone(),
    };
    let best = path_minimum(mlp, params, scan, &search).map_err(|e| {
        alpha_error(
            args,
            problem::rejection_reason("searching the path for the smallest λmax", &e, ALPHA_REMEDY),
        )
    })?;
    let per_neuron = match args.per_neuron {
        None => None,
        Some(steps) => {
            let options = NeuronScaleOptions {
                max_iterations: steps,
                spectrum: spectrum.clone(),
                ..NeuronScaleOptions::default()
            };
            let m = minimize_neuron_scales(mlp, params, &options).map_err(|e| {
                ArgError::new(
                    "--per-neuron",
                    steps,
                    problem::rejection_reason(
                        "the descent on per-neuron scales",
                        &e,
                        "use fewer --per-neuron steps",
                    ),
                )
            })?;
            let values = [
                ("λmax", m.lambda_max),
                ("the final gradient", m.final_gradient),
                ("the output deviation", m.max_output_deviation),
                ("the loss deviation", m.loss_relative_deviation),
            ];
            if let Some((what, v)) = problem::first_non_finite(values) {
                return Err(ArgError::new(
                    "--per-neuron",
                    steps,
                    messages::overflowed(
                        &format!("after the descent {what}"),
                        v,
                        "use fewer --per-neuron steps",
                    ),
                )
                .into());
            }
            Some(PerNeuron {
                lambda_max_before: Real(m.lambda_max_start),
                lambda_max_after: Real(m.lambda_max),
                stable_lr_after: m.stable_lr,
                steps: m.history.len().saturating_sub(1),
                final_gradient: Real(m.final_gradient),
                output_deviation: Real(m.max_output_deviation),
                loss_deviation: Real(m.loss_relative_deviation),
            })
        }
    };
    let values = [
        ("λmax", best.lambda_max),
        ("the loss deviation", best.loss_relative_deviation),
    ];
    if let Some((what, v)) = problem::first_non_finite(values) {
        return Err(alpha_error(
            args,
            messages::overflowed(
                &format!(
                    "at the flattest α = {} {what}",
                    messages::number(best.alpha)
                ),
                v,
                ALPHA_REMEDY,
            ),
        ));
    }
    Ok(Flattest {
        alpha: Real(best.alpha),
        lambda_max: Real(best.lambda_max),
        stable_lr: best.stable_lr,
        at_scan_end: best.at_scan_end,
        evaluations: best.evaluations,
        loss_deviation: Real(best.loss_relative_deviation),
        per_neuron,
    })
}

fn point(r: &OrbitRecord) -> OrbitPoint {
    OrbitPoint {
        alpha: Real(r.alpha),
        loss: Real(r.loss),
        loss_deviation: Real(r.loss_relative_deviation),
        lambda_max: Real(r.lambda_max),
        lambda_min: Real(r.lambda_min),
        stable_lr: r.stable_lr,
        trace: Real(r.trace),
        trace_standard_error: Real(r.trace_standard_error),
        gauss_newton_max: Real(r.gauss_newton_max),
        gradient_norm: Real(r.gradient_norm),
        conserved: reals(&r.balances),
        method: r.route,
        converged: r.converged,
    }
}
