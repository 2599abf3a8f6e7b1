//! The flattest point of an orbit: a golden-section search along a path and a descent on
//! log λmax over per-neuron log-scales.

use serde::Serialize;

use super::path::{OrbitPath, neuron_scale_symmetry};
use super::scan::{OrbitScan, SpectrumOptions, relative_deviation, top_eigenpair};
use crate::error::{Error, Result};
use crate::mlp::MlpProblem;
use crate::mlp::conserved::neuron_balances;
use crate::model::Model;
use crate::spectrum::StepBound;

/// 1/φ, the golden-section ratio (√5 − 1)/2.
const INV_PHI: f64 = 0.618_033_988_749_894_9;

/// The result of [`golden_section_minimum`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GoldenSection {
    /// The best point found.
    pub x: f64,
    /// f at `x`.
    pub value: f64,
    /// Evaluations of f.
    pub evaluations: usize,
}

/// Minimises f on [lo, hi] by golden-section search (Kiefer 1953; Press et al.,
/// *Numerical Recipes*, 3rd ed., §10.2) until the bracket is shorter than `tolerance`.
/// It finds the minimum of a unimodal f; otherwise some local minimum in the bracket.
/// The best evaluated point is returned (the ends are evaluated too).
///
/// Errors: non-finite ends, hi < lo, a tolerance not finite and > 0, or an error of f.
pub fn golden_section_minimum<F>(
    mut f: F,
    lo: f64,
    hi: f64,
    tolerance: f64,
) -> Result<GoldenSection>
where
    F: FnMut(f64) -> Result<f64>,
{
    if !(lo.is_finite() && hi.is_finite() && hi >= lo) {
        return Err(Error::invalid_value(
            "bracket",
            format!("[{lo}, {hi}]"),
            "need finite ends with lo <= hi",
        ));
    }
    if !(tolerance.is_finite() && tolerance > 0.0) {
        return Err(Error::invalid_value(
            "tolerance",
            tolerance,
            "must be finite and > 0",
        ));
    }
    let mut best = GoldenSection {
        x: lo,
        value: f(lo)?,
        evaluations: 1,
    };
    let consider = |x: f64, value: f64, best: &mut GoldenSection| {
        best.evaluations += 1;
        if value < best.value {
            best.x = x;
            best.value = value;
        }
    };
    if hi > lo {
        let v = f(hi)?;
        consider(hi, v, &mut best);
    }
    let (mut a, mut b) = (lo, hi);
    let mut c = b - INV_PHI * (b - a);
    let mut d = a + INV_PHI * (b - a);
    let mut fc = f(c)?;
    consider(c, fc, &mut best);
    let mut fd = f(d)?;
    consider(d, fd, &mut best);
    while b - a > tolerance {
        if fc <= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - INV_PHI * (b - a);
            fc = f(c)?;
            consider(c, fc, &mut best);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + INV_PHI * (b - a);
            fd = f(d)?;
            consider(d, fd, &mut best);
        }
    }
    Ok(best)
}

/// Golden-section search for the minimum of f near the smallest of sampled `values` at
/// ascending `xs`: the bracket is the sample's two neighbours (one side at an end of the
/// sample). Returns the search result, the bracket and whether the smallest sample lay at an
/// end (then the true minimum may lie outside the sample).
pub fn minimum_from_scan<F>(
    xs: &[f64],
    values: &[f64],
    f: F,
    tolerance: f64,
) -> Result<(GoldenSection, [f64; 2], bool)>
where
    F: FnMut(f64) -> Result<f64>,
{
    if xs.len() != values.len() || xs.is_empty() {
        return Err(Error::DimensionMismatch {
            what: "scan values".into(),
            expected: xs.len(),
            got: values.len(),
        });
    }
    if xs
        .windows(2)
        .any(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater))
    {
        return Err(Error::invalid_spec(
            "scan",
            "positions must be strictly ascending",
        ));
    }
    let i = (0..values.len())
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    let lo = xs[i.saturating_sub(1)];
    let hi = xs[(i + 1).min(xs.len() - 1)];
    let mut result = golden_section_minimum(f, lo, hi, tolerance)?;
    if values[i] < result.value {
        result.x = xs[i];
        result.value = values[i];
    }
    Ok((result, [lo, hi], i == 0 || i == xs.len() - 1))
}

/// Settings of [`path_minimum`].
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// Length of the final bracket in log α.
    pub tolerance: f64,
    /// How λmax is computed at each trial point (the Gauss-Newton part is skipped).
    pub spectrum: SpectrumOptions,
}

impl Default for SearchOptions {
    /// Bracket 1e-4 in log α; default spectrum options.
    fn default() -> Self {
        SearchOptions {
            tolerance: 1e-4,
            spectrum: SpectrumOptions::default(),
        }
    }
}

/// The point of smallest λmax along a path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathMinimum {
    /// The path.
    pub path: OrbitPath,
    /// α of the flattest point found.
    pub alpha: f64,
    /// Its λmax.
    pub lambda_max: f64,
    /// Its 2/λmax.
    pub stable_lr: StepBound,
    /// The bracket searched, in α.
    pub bracket: [f64; 2],
    /// The smallest scanned λmax lay at an end of the scan (the minimum may lie beyond).
    pub at_scan_end: bool,
    /// λmax evaluations of the search.
    pub evaluations: usize,
    /// Loss deviation at the point found, relative to L(θ).
    pub loss_relative_deviation: f64,
}

/// Minimises λmax along the scanned path by golden-section search in log α on the bracket
/// around the scan's flattest record (the scan must be of `params`, ascending α).
pub fn path_minimum(
    problem: &MlpProblem,
    params: &[f64],
    scan: &OrbitScan,
    options: &SearchOptions,
) -> Result<PathMinimum> {
    let net = problem.network();
    let spectrum = SpectrumOptions {
        gauss_newton: false,
        ..options.spectrum.clone()
    };
    let xs: Vec<f64> = scan.records.iter().map(|r| r.log_alpha).collect();
    let values: Vec<f64> = scan.records.iter().map(|r| r.lambda_max).collect();
    let lambda_at = |log_alpha: f64| -> Result<f64> {
        let point = scan.path.apply(net, params, log_alpha.exp())?;
        Ok(top_eigenpair(problem, &point, &spectrum)?.lambda_max)
    };
    let (best, bracket, at_end) = minimum_from_scan(&xs, &values, lambda_at, options.tolerance)?;
    let alpha = best.x.exp();
    let point = scan.path.apply(net, params, alpha)?;
    Ok(PathMinimum {
        path: scan.path,
        alpha,
        lambda_max: best.value,
        stable_lr: crate::spectrum::stable_learning_rate(best.value),
        bracket: [bracket[0].exp(), bracket[1].exp()],
        at_scan_end: at_end,
        evaluations: best.evaluations,
        loss_relative_deviation: relative_deviation(problem.loss(&point), scan.reference_loss),
    })
}

/// Settings of [`minimize_neuron_scales`].
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronScaleOptions {
    /// Largest number of accepted descent steps.
    pub max_iterations: usize,
    /// First trial step length (in log-scale units per unit gradient).
    pub initial_step: f64,
    /// Halvings of the step before giving up on a direction.
    pub max_halvings: usize,
    /// Stop when the largest |∂ log λmax / ∂v_j| is below this.
    pub gradient_tolerance: f64,
    /// How λmax and its eigenvector are computed (the Gauss-Newton part is skipped).
    pub spectrum: SpectrumOptions,
}

impl Default for NeuronScaleOptions {
    /// 12 iterations, first step 1, 10 halvings, gradient tolerance 1e-4.
    fn default() -> Self {
        NeuronScaleOptions {
            max_iterations: 12,
            initial_step: 1.0,
            max_halvings: 10,
            gradient_tolerance: 1e-4,
            spectrum: SpectrumOptions::default(),
        }
    }
}

/// The flattest point found over per-neuron scales.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NeuronScaleMinimum {
    /// Log-scale v_j of each hidden neuron, one vector per hidden layer.
    pub log_scales: Vec<Vec<f64>>,
    /// The rescaled parameters g(v)·θ.
    pub params: Vec<f64>,
    /// λmax at θ (v = 0).
    pub lambda_max_start: f64,
    /// λmax at g(v)·θ.
    pub lambda_max: f64,
    /// 2/λmax at g(v)·θ.
    pub stable_lr: StepBound,
    /// λmax after each accepted step, starting with `lambda_max_start`.
    pub history: Vec<f64>,
    /// λmax evaluations (each with its eigenvector).
    pub evaluations: usize,
    /// Largest |∂ log λmax / ∂v_j| at the end.
    pub final_gradient: f64,
    /// |L(g(v)·θ) − L(θ)| / |L(θ)|.
    pub loss_relative_deviation: f64,
    /// max |f_{g(v)·θ}(x_i) − f_θ(x_i)| over the dataset, divided by max(1, max |f_θ|): the
    /// check that the function is unchanged.
    pub max_output_deviation: f64,
}

/// λmax and ∂ log λmax / ∂v (one entry per hidden neuron) at the point with log-scales `v`.
fn lambda_and_gradient(
    problem: &MlpProblem,
    params: &[f64],
    log_scales: &[Vec<f64>],
    spectrum: &SpectrumOptions,
) -> Result<(f64, Vec<f64>)> {
    let net = problem.network();
    let point = neuron_scale_symmetry(net, log_scales)?.apply(net, params)?;
    let s = top_eigenpair(problem, &point, spectrum)?;
    let gradient = neuron_balances(net, &s.top_vector)?
        .concat()
        .into_iter()
        .map(|c| -2.0 * c)
        .collect();
    Ok((s.lambda_max, gradient))
}

/// Exact ∂ log λmax / ∂v_j at log-scales `log_scales` (−2 × the neuron balances of the top
/// eigenvector; see the module docs), flattened hidden layer by hidden layer, with λmax.
pub fn log_lambda_max_gradient(
    problem: &MlpProblem,
    params: &[f64],
    log_scales: &[Vec<f64>],
    spectrum: &SpectrumOptions,
) -> Result<(f64, Vec<f64>)> {
    problem.check_params("params", params)?;
    lambda_and_gradient(problem, params, log_scales, spectrum)
}

/// Decreases λmax over per-neuron rescales g(v) (one log-scale per hidden neuron) by
/// gradient descent on log λmax with the exact gradient −2·balance(u) and a backtracking
/// (Armijo) line search, starting from v = 0.
///
/// When λmax ≤ 0 at θ there is nothing to flatten and θ is returned. Errors: invalid
/// options or parameters, or an activation without the rescale symmetry.
pub fn minimize_neuron_scales(
    problem: &MlpProblem,
    params: &[f64],
    options: &NeuronScaleOptions,
) -> Result<NeuronScaleMinimum> {
    problem.check_params("params", params)?;
    if !(options.initial_step.is_finite() && options.initial_step > 0.0) {
        return Err(Error::invalid_value(
            "initial_step",
            options.initial_step,
            "must be finite and > 0",
        ));
    }
    let net = problem.network();
    let spectrum = SpectrumOptions {
        gauss_newton: false,
        ..options.spectrum.clone()
    };
    let shape: Vec<usize> = (0..net.n_hidden_layers())
        .map(|h| net.widths()[h + 1])
        .collect();
    let unflatten = |flat: &[f64]| -> Vec<Vec<f64>> {
        let mut out = Vec::with_capacity(shape.len());
        let mut offset = 0;
        for &w in &shape {
            out.push(flat[offset..offset + w].to_vec());
            offset += w;
        }
        out
    };
    let n: usize = shape.iter().sum();
    let mut v = vec![0.0; n];
    let (mut lambda, mut gradient) =
        lambda_and_gradient(problem, params, &unflatten(&v), &spectrum)?;
    let lambda_max_start = lambda;
    let mut history = vec![lambda];
    let mut evaluations = 1;
    let mut step = options.initial_step;
    if lambda > 0.0 {
        for _ in 0..options.max_iterations {
            let g_inf = gradient.iter().fold(0.0_f64, |m, g| m.max(g.abs()));
            if g_inf < options.gradient_tolerance {
                break;
            }
            let g_sq: f64 = gradient.iter().map(|g| g * g).sum();
            let mut accepted = None;
            for _ in 0..=options.max_halvings {
                let trial: Vec<f64> = v.iter().zip(&gradient).map(|(x, g)| x - step * g).collect();
                let (l, g) = lambda_and_gradient(problem, params, &unflatten(&trial), &spectrum)?;
                evaluations += 1;
                if l > 0.0 && l.ln() <= lambda.ln() - 1e-4 * step * g_sq {
                    accepted = Some((trial, l, g));
                    break;
                }
                step *= 0.5;
            }
            match accepted {
                Some((trial, l, g)) => {
                    v = trial;
                    lambda = l;
                    gradient = g;
                    history.push(l);
                    step *= 2.0;
                }
                None => break,
            }
        }
    }
    let log_scales = unflatten(&v);
    let point = neuron_scale_symmetry(net, &log_scales)?.apply(net, params)?;
    let before = problem.outputs(params)?;
    let after = problem.outputs(&point)?;
    let scale = before.iter().fold(1.0_f64, |m, y| m.max(y.abs()));
    let max_output_deviation = before
        .iter()
        .zip(&after)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()))
        / scale;
    Ok(NeuronScaleMinimum {
        log_scales,
        loss_relative_deviation: relative_deviation(problem.loss(&point), problem.loss(params)),
        params: point,
        lambda_max_start,
        lambda_max: lambda,
        stable_lr: crate::spectrum::stable_learning_rate(lambda),
        history,
        evaluations,
        final_gradient: gradient.iter().fold(0.0_f64, |m, g| m.max(g.abs())),
        max_output_deviation,
    })
}
