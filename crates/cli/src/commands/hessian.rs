//! `symstab hessian`: the Hessian spectrum at a point, densely or matrix-free.

use anyhow::Result;
use clap::ValueEnum;
use nalgebra::DMatrix;
use serde::Serialize;
use symstab_core::Model;
use symstab_core::matrix_free::{
    Criterion as LanczosCriterion, HessianOperator, LanczosOptions, MIN_EIGENVALUE_TOLERANCE,
    PowerOptions, SymmetricOperator, TraceOptions, hutchinson_trace, lanczos, power_iteration,
};
use symstab_core::spectrum::{StepBound, SymmetricEigen, stable_learning_rate};
use symstab_sweep::record::Real;

use crate::cli::{Criterion, HessianArgs, Method};
use crate::messages::{self, ArgError};
use crate::output::{self, reals};
use crate::problem;

/// Largest parameter count for which `--method auto` forms the dense Hessian.
pub const DENSE_LIMIT: usize = 3000;
/// Default K of the matrix-free methods.
pub const DEFAULT_TOP: usize = 5;
/// Default residual tolerance of the matrix-free methods.
pub const DEFAULT_TOLERANCE: f64 = 1e-8;
/// Relative standard error at which the Hutchinson trace estimate stops.
const TRACE_RELATIVE_ERROR: f64 = 1e-2;
/// Most Hutchinson probes (Hessian-vector products) spent on the trace.
const TRACE_MAX_PROBES: usize = 200;

/// The spectrum report (`--json` prints it as one object).
#[derive(Debug, Serialize)]
pub struct HessianReport {
    /// `dense`, `lanczos` or `power`.
    pub method: &'static str,
    /// `toy` or `mlp`.
    pub model: &'static str,
    /// Number of parameters P.
    pub n_params: usize,
    /// Loss at the point.
    pub loss: Real,
    /// The computed eigenvalues, descending.
    pub eigenvalues: Vec<Real>,
    /// λmax (null when the method cannot tell, e.g. power iteration met a negative λ).
    pub lambda_max: Option<Real>,
    /// λmin (null when not computed).
    pub lambda_min: Option<Real>,
    /// 2/λmax, or "unbounded" when λmax ≤ 0 (null when λmax is unknown).
    pub stable_lr: Option<StepBound>,
    /// tr H: exact for dense, Hutchinson estimate otherwise.
    pub trace: Real,
    /// Standard error of the trace (0 when exact).
    pub trace_standard_error: Real,
    /// Count of eigenvalues below −P·ε·max|λ| (values at rounding level count as zero);
    /// null when not all eigenvalues are known.
    pub negative_count: Option<usize>,
    /// ‖Hv − λv‖ of each reported eigenpair, in the order of `eigenvalues`.
    pub residuals: Vec<Real>,
    /// A bound on |λ − θ| for each reported value, in the order of `eigenvalues`: for
    /// lanczos min(‖r‖, ‖r‖²/gap) (Kato–Temple, gap from the neighbouring Ritz values), for
    /// dense and power the residual.
    pub error_bounds: Vec<Real>,
    /// Hessian-vector products used (null for dense, which forms the matrix).
    pub hvp_count: Option<usize>,
    /// Whether every reported pair met the tolerance (always true for dense).
    pub converged: bool,
    /// Why each null key above is null (empty when none is).
    pub notes: Vec<String>,
}

/// One sentence per null key of a report: what this method does not compute, and why.
fn null_notes(report: &HessianReport) -> Vec<String> {
    let mut notes = Vec::new();
    let power = report.method == "power";
    if report.lambda_max.is_none() {
        notes.push(if power {
            "lambda_max and stable_lr are null: power iteration finds the eigenvalue of largest magnitude, which is negative here (reported as lambda_min), so λmax is not known".to_owned()
        } else {
            "lambda_max and stable_lr are null: no eigenvalue was computed".to_owned()
        });
    }
    if report.lambda_min.is_none() {
        notes.push(if power {
            "lambda_min is null: not computed by power iteration, which finds one eigenvalue (the largest in magnitude, positive here)".to_owned()
        } else {
            format!(
                "lambda_min is null: {} did not resolve the smallest eigenvalue",
                report.method
            )
        });
    }
    if report.negative_count.is_none() {
        notes.push(format!(
            "negative_count is null: it needs every eigenvalue, and {} computed {} of {}",
            report.method,
            report.eigenvalues.len(),
            report.n_params
        ));
    }
    if report.hvp_count.is_none() {
        notes.push(
            "hvp_count is null: the dense method forms the Hessian directly, without Hessian-vector products"
                .to_owned(),
        );
    }
    notes
}

/// Runs the command.
pub fn run(args: &HessianArgs) -> Result<()> {
    let loaded = problem::load(&args.model, args.point.as_ref(), "--point")?;
    let model = loaded.problem.model();
    let params = &loaded.params;
    let n = model.n_params();
    let method = match args.method {
        Method::Auto if n <= DENSE_LIMIT => Method::Dense,
        Method::Auto => Method::Lanczos,
        m => m,
    };
    if method == Method::Power
        && let Some(k) = args.top
        && k > 1
    {
        return Err(ArgError::new(
            "--top",
            k,
            "power iteration finds one eigenvalue; use --method lanczos",
        )
        .into());
    }
    if method != Method::Lanczos && args.criterion != Criterion::Residual {
        return Err(ArgError::new(
            "--criterion",
            "eigenvalue",
            if args.method == Method::Auto {
                format!(
                    "only the lanczos method stops on eigenvalue error bounds, and --method auto chose {} for {n} parameters; add --method lanczos",
                    method_name(method)
                )
            } else {
                format!(
                    "only the lanczos method stops on eigenvalue error bounds (the method here is {})",
                    method_name(method)
                )
            },
        )
        .into());
    }
    if method == Method::Dense {
        // The dense path holds about three P × P matrices (H, its copy, the eigenvectors).
        let bytes = (n as u128) * (n as u128) * 8 * 3;
        let cap = symstab_core::mlp::MEMORY_CAP_BYTES;
        if bytes > u128::from(cap) {
            return Err(ArgError::new(
                "--method",
                "dense",
                format!(
                    "{n} parameters: the dense Hessian would need {bytes} bytes (3 × P² × 8), above the cap of {} GiB; use --method lanczos",
                    cap >> 30
                ),
            )
            .into());
        }
    }
    let tolerance = args.tol.unwrap_or(DEFAULT_TOLERANCE);
    if args.criterion == Criterion::Eigenvalue && tolerance < MIN_EIGENVALUE_TOLERANCE {
        return Err(ArgError::new(
            "--tol",
            tolerance,
            format!(
                "with --criterion eigenvalue it must be at least {MIN_EIGENVALUE_TOLERANCE:.1e} (32ε): eigenvalue error bounds do not go below the rounding floor 16ε·‖H‖"
            ),
        )
        .into());
    }
    let seed = args.model.seed;
    let mut report = match method {
        Method::Dense => dense(model, params, args.top, &loaded.origin)?,
        Method::Lanczos => matrix_free_lanczos(
            model,
            params,
            args.top,
            tolerance,
            args.criterion,
            seed,
            &loaded.origin,
        )?,
        Method::Power => matrix_free_power(model, params, tolerance, seed, &loaded.origin)?,
        Method::Auto => unreachable!("resolved above"),
    };
    let origin = &loaded.origin;
    if let Some(bad) = report.eigenvalues.iter().find(|v| !v.0.is_finite()) {
        // Matrix-free methods meet an overflow as non-finite Hessian-vector products.
        return Err(origin.error(format!(
            "the Hessian-vector products there overflowed (eigenvalue estimate {}); {}",
            messages::number(bad.0),
            origin.remedy()
        )));
    }
    // Every other number of the report comes from the same point: none may overflow.
    let reported = [("the loss", report.loss.0), ("the trace", report.trace.0)]
        .into_iter()
        .chain(report.residuals.iter().map(|r| ("a residual", r.0)))
        .chain(report.error_bounds.iter().map(|r| ("an error bound", r.0)));
    if let Some((what, v)) = problem::first_non_finite(reported) {
        return Err(origin.overflow(what, v));
    }
    report.model = loaded.problem.kind_name();
    report.notes = null_notes(&report);
    if args.json {
        output::print_json(&report)
    } else {
        output::print_text(&messages::hessian_summary(
            &report,
            &loaded.problem.describe(),
            params,
        ))
    }
}

/// The method as written on the command line (clap's value name).
fn method_name(method: Method) -> String {
    method
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_owned())
}

fn base(method: &'static str, n_params: usize, loss: f64) -> HessianReport {
    HessianReport {
        method,
        model: "",
        n_params,
        loss: Real(loss),
        eigenvalues: Vec::new(),
        lambda_max: None,
        lambda_min: None,
        stable_lr: None,
        trace: Real(f64::NAN),
        trace_standard_error: Real(0.0),
        negative_count: None,
        residuals: Vec::new(),
        error_bounds: Vec::new(),
        hvp_count: None,
        notes: Vec::new(),
        converged: true,
    }
}

/// The dense route: all eigenvalues (or the K largest and K smallest) with residuals.
fn dense(
    model: &dyn Model,
    params: &[f64],
    top: Option<usize>,
    origin: &problem::Origin,
) -> Result<HessianReport> {
    let n = model.n_params();
    let h = model.hessian(params);
    if let Some((idx, v)) = h.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        // nalgebra stores column-major: entry idx is row idx mod n, column idx / n.
        return Err(origin.error(format!(
            "the Hessian there overflowed (entry ({}, {}) is {}); {}",
            idx % n,
            idx / n,
            messages::number(*v),
            origin.remedy()
        )));
    }
    let eigen = SymmetricEigen::new(h.clone())
        .map_err(|e| origin.rejected("decomposing the Hessian", &e))?;
    let values = eigen.eigenvalues();
    let selected: Vec<usize> = match top {
        Some(k) if 2 * k < n => (0..k).chain(n - k..n).collect(),
        _ => (0..n).collect(),
    };
    let vectors = DMatrix::from_fn(n, selected.len(), |i, c| {
        eigen.eigenvectors()[(i, selected[c])]
    });
    let products = &h * &vectors;
    let residuals: Vec<f64> = selected
        .iter()
        .enumerate()
        .map(|(c, &k)| (products.column(c) - vectors.column(c) * values[k]).norm())
        .collect();
    let mut report = base("dense", n, model.loss(params));
    report.eigenvalues = selected.iter().map(|&k| Real(values[k])).collect();
    report.lambda_max = Some(Real(eigen.lambda_max()));
    report.lambda_min = Some(Real(eigen.lambda_min()));
    report.stable_lr = Some(eigen.stable_learning_rate());
    report.trace = Real(eigen.trace());
    report.negative_count = Some(eigen.count_below(-rounding_level(values)));
    report.residuals = reals(&residuals);
    report.error_bounds = report.residuals.clone();
    Ok(report)
}

/// Lanczos for the K largest and K smallest eigenvalues, Hutchinson for the trace.
fn matrix_free_lanczos(
    model: &dyn Model,
    params: &[f64],
    top: Option<usize>,
    tolerance: f64,
    criterion: Criterion,
    seed: u64,
    origin: &problem::Origin,
) -> Result<HessianReport> {
    let n = model.n_params();
    let k = top.unwrap_or(DEFAULT_TOP);
    let op = HessianOperator::new(model, params)
        .map_err(|e| origin.rejected("the Hessian operator", &e))?;
    // When the two ends would overlap, ask for the whole spectrum from the top.
    let whole = 2 * k >= n;
    let options = LanczosOptions {
        n_top: if whole { n } else { k },
        n_bottom: if whole { 0 } else { k },
        tolerance,
        criterion: match criterion {
            Criterion::Residual => LanczosCriterion::Residual,
            Criterion::Eigenvalue => LanczosCriterion::Eigenvalue,
        },
        seed,
        ..LanczosOptions::default()
    };
    let result =
        lanczos(&op, &options).map_err(|e| origin.rejected("Lanczos on the Hessian", &e))?;
    let mut values = result.top.values.clone();
    let mut residuals = result.top.residuals.clone();
    let mut error_bounds = result.top.error_bounds.clone();
    values.extend(result.bottom.values.iter().rev());
    residuals.extend(result.bottom.residuals.iter().rev());
    error_bounds.extend(result.bottom.error_bounds.iter().rev());

    let mut report = base("lanczos", n, model.loss(params));
    report.lambda_max = values.first().copied().map(Real);
    // From the bottom end (ascending, reversed above), or the last of the whole spectrum.
    let complete = !whole || values.len() == n;
    report.lambda_min = values.last().copied().filter(|_| complete).map(Real);
    report.stable_lr = values.first().map(|&l| stable_learning_rate(l));
    report.converged = result.converged;
    if whole && values.len() == n {
        report.trace = Real(values.iter().sum());
        let floor = -rounding_level(&values);
        report.negative_count = Some(values.iter().filter(|&&l| l < floor).count());
    } else {
        let trace = trace_estimate(&op, seed, origin)?;
        report.trace = Real(trace.0);
        report.trace_standard_error = Real(trace.1);
    }
    report.eigenvalues = reals(&values);
    report.residuals = reals(&residuals);
    report.error_bounds = reals(&error_bounds);
    report.hvp_count = Some(op.hvp_count());
    Ok(report)
}

/// Power iteration: the eigenvalue of largest magnitude; it is λmax only when positive.
fn matrix_free_power(
    model: &dyn Model,
    params: &[f64],
    tolerance: f64,
    seed: u64,
    origin: &problem::Origin,
) -> Result<HessianReport> {
    let n = model.n_params();
    let op = HessianOperator::new(model, params)
        .map_err(|e| origin.rejected("the Hessian operator", &e))?;
    let options = PowerOptions {
        tolerance,
        seed,
        ..PowerOptions::default()
    };
    let result = power_iteration(&op, &options)
        .map_err(|e| origin.rejected("power iteration on the Hessian", &e))?;
    let mut report = base("power", n, model.loss(params));
    let value = result.value;
    if value >= 0.0 {
        // The largest magnitude is positive, so it is also the largest algebraic value.
        report.lambda_max = Some(Real(value));
        report.stable_lr = Some(stable_learning_rate(value));
    } else {
        report.lambda_min = Some(Real(value));
    }
    report.eigenvalues = vec![Real(value)];
    report.residuals = vec![Real(result.residual)];
    report.error_bounds = report.residuals.clone();
    report.converged = result.converged;
    let trace = trace_estimate(&op, seed, origin)?;
    report.trace = Real(trace.0);
    report.trace_standard_error = Real(trace.1);
    report.hvp_count = Some(op.hvp_count());
    Ok(report)
}

/// tr H and its standard error: exactly from the diagonal eᵢᵀHeᵢ when that takes no more
/// Hessian-vector products than the probe budget, else Hutchinson's estimate.
fn trace_estimate(
    op: &HessianOperator<'_, dyn Model + '_>,
    seed: u64,
    origin: &problem::Origin,
) -> Result<(f64, f64)> {
    let n = op.dim();
    if n <= TRACE_MAX_PROBES {
        let (mut unit, mut column) = (vec![0.0; n], vec![0.0; n]);
        let mut trace = 0.0;
        for i in 0..n {
            unit[i] = 1.0;
            op.apply(&unit, &mut column);
            unit[i] = 0.0;
            trace += column[i];
        }
        return Ok((trace, 0.0));
    }
    let options = TraceOptions {
        relative_tolerance: TRACE_RELATIVE_ERROR,
        max_probes: TRACE_MAX_PROBES,
        seed,
        ..TraceOptions::default()
    };
    let t = hutchinson_trace(op, &options)
        .map_err(|e| origin.rejected("the Hutchinson trace of the Hessian", &e))?;
    Ok((t.mean, t.standard_error))
}

/// P·ε·max|λ|: eigenvalues smaller in magnitude are zero up to the rounding of a P×P
/// decomposition (a dead ReLU neuron gives exact zeros that come out as ±1e-30).
fn rounding_level(values: &[f64]) -> f64 {
    let scale = values.iter().fold(0.0_f64, |m, l| m.max(l.abs()));
    values.len() as f64 * f64::EPSILON * scale
}
