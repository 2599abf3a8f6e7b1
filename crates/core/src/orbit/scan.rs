//! Spectra at one point and scans of them along an [`OrbitPath`].

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::path::OrbitPath;
use crate::error::{Error, Result};
use crate::matrix_free::{
    FnOperator, HessianOperator, LanczosOptions, SymmetricOperator, TraceOptions, hutchinson_trace,
    lanczos,
};
use crate::mlp::MlpProblem;
use crate::mlp::conserved::neuron_balances;
use crate::model::Model;
use crate::spectrum::{StepBound, SymmetricEigen, stable_learning_rate};

/// How a spectrum was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpectrumRoute {
    /// The dense P×P Hessian and its full eigen-decomposition ([`SymmetricEigen`]); exact
    /// trace.
    Dense,
    /// Lanczos on Hessian-vector products (no P×P storage; Hutchinson trace estimate).
    Lanczos,
}

/// Settings of [`point_spectrum`] and [`scan_orbit`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumOptions {
    /// The route; `None` picks [`SpectrumRoute::Dense`] when P ≤ `dense_threshold`, else
    /// [`SpectrumRoute::Lanczos`].
    pub route: Option<SpectrumRoute>,
    /// Largest P for the dense route when `route` is `None`.
    pub dense_threshold: usize,
    /// Lanczos residual tolerance: ‖Hu − λu‖ ≤ `tolerance` · ‖H‖ (also used for the
    /// Gauss-Newton eigenvalue on both routes).
    pub tolerance: f64,
    /// Budget of operator products per Lanczos run.
    pub max_products: usize,
    /// Hutchinson trace (Lanczos route): stop when the standard error is at most this
    /// fraction of |trace|.
    pub trace_relative_tolerance: f64,
    /// Hutchinson trace (Lanczos route): budget of probes.
    pub trace_max_probes: usize,
    /// Compute the top Gauss-Newton eigenvalue (NaN in the records otherwise).
    pub gauss_newton: bool,
    /// Seed of the Lanczos start vectors and trace probes.
    pub seed: u64,
}

impl Default for SpectrumOptions {
    /// Automatic route with threshold 2000, tolerance 1e-10, 5000 products, trace to 1%
    /// within 200 probes, Gauss-Newton on, seed 0.
    fn default() -> Self {
        SpectrumOptions {
            route: None,
            dense_threshold: 2000,
            tolerance: 1e-10,
            max_products: 5000,
            trace_relative_tolerance: 1e-2,
            trace_max_probes: 200,
            gauss_newton: true,
            seed: 0,
        }
    }
}

impl SpectrumOptions {
    /// The route used for a model with `n_params` parameters.
    pub fn route_for(&self, n_params: usize) -> SpectrumRoute {
        self.route.unwrap_or(if n_params <= self.dense_threshold {
            SpectrumRoute::Dense
        } else {
            SpectrumRoute::Lanczos
        })
    }

    fn validate(&self) -> Result<()> {
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::invalid_value(
                "tolerance",
                self.tolerance,
                "must be finite and > 0",
            ));
        }
        if self.max_products == 0 {
            return Err(Error::invalid_value(
                "max_products",
                0,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn lanczos(&self, n_top: usize, n_bottom: usize) -> LanczosOptions {
        LanczosOptions {
            n_top,
            n_bottom,
            tolerance: self.tolerance,
            max_applications: self.max_products,
            check_multiplicity: false,
            seed: self.seed,
            ..LanczosOptions::default()
        }
    }
}

/// Curvature at one point.
#[derive(Debug, Clone, PartialEq)]
pub struct PointSpectrum {
    /// The route that produced the numbers.
    pub route: SpectrumRoute,
    /// Largest (algebraic) Hessian eigenvalue.
    pub lambda_max: f64,
    /// Smallest (algebraic) Hessian eigenvalue.
    pub lambda_min: f64,
    /// 2/λmax.
    pub stable_lr: StepBound,
    /// tr H: exact on the dense route, a Hutchinson estimate on the Lanczos route.
    pub trace: f64,
    /// Standard error of the trace (0 on the dense route).
    pub trace_standard_error: f64,
    /// Largest eigenvalue of the generalized Gauss-Newton matrix (NaN when not asked for).
    pub gauss_newton_max: f64,
    /// Unit eigenvector of λmax.
    pub top_vector: Vec<f64>,
    /// ‖H·u − λmax·u‖ (dense: computed; Lanczos: the solver's bound).
    pub lambda_max_residual: f64,
    /// Hessian-vector and Gauss-Newton products used (0 for the dense Hessian itself).
    pub products: usize,
    /// Every iterative part met its tolerance.
    pub converged: bool,
}

/// λmax, λmin, trace, 2/λmax and the top Gauss-Newton eigenvalue of an MLP problem at
/// `params` by the route of `options`.
///
/// Errors: invalid options or parameters, or a Hessian with non-finite entries.
pub fn point_spectrum(
    problem: &MlpProblem,
    params: &[f64],
    options: &SpectrumOptions,
) -> Result<PointSpectrum> {
    spectrum_at(problem, params, options, true)
}

/// [`point_spectrum`] for callers that only read λmax and its eigenvector: on the Lanczos
/// route the Hutchinson trace is skipped (`trace` and its standard error are NaN). λmax and
/// the eigenvector are the same numbers as [`point_spectrum`]'s.
pub(crate) fn top_eigenpair(
    problem: &MlpProblem,
    params: &[f64],
    options: &SpectrumOptions,
) -> Result<PointSpectrum> {
    spectrum_at(problem, params, options, false)
}

fn spectrum_at(
    problem: &MlpProblem,
    params: &[f64],
    options: &SpectrumOptions,
    with_trace: bool,
) -> Result<PointSpectrum> {
    options.validate()?;
    problem.check_params("params", params)?;
    let p = problem.n_params();
    let route = options.route_for(p);
    let mut products = 0;
    let mut converged = true;
    let (lambda_max, lambda_min, trace, trace_standard_error, top_vector, residual) = match route {
        SpectrumRoute::Dense => {
            let hessian = problem.hessian(params);
            let eigen = SymmetricEigen::new(hessian.clone())?;
            let u: Vec<f64> = eigen.eigenvectors().column(0).iter().copied().collect();
            let mut hu = vec![0.0; p];
            hessian.apply(&u, &mut hu);
            let lambda = eigen.lambda_max();
            let residual = hu
                .iter()
                .zip(&u)
                .map(|(a, b)| (a - lambda * b).powi(2))
                .sum::<f64>()
                .sqrt();
            (lambda, eigen.lambda_min(), eigen.trace(), 0.0, u, residual)
        }
        SpectrumRoute::Lanczos => {
            let op = HessianOperator::new(problem, params)?;
            let result = lanczos(&op, &options.lanczos(1, 1))?;
            converged &= result.converged;
            let (trace, trace_standard_error) = if with_trace {
                let trace = hutchinson_trace(
                    &op,
                    &TraceOptions {
                        relative_tolerance: options.trace_relative_tolerance,
                        absolute_tolerance: 0.0,
                        min_probes: 10,
                        max_probes: options.trace_max_probes.max(10),
                        seed: options.seed.wrapping_add(1),
                    },
                )?;
                converged &= trace.converged;
                (trace.mean, trace.standard_error)
            } else {
                (f64::NAN, f64::NAN)
            };
            products += op.hvp_count();
            (
                result.top.values[0],
                result.bottom.values[0],
                trace,
                trace_standard_error,
                result.top.vectors[0].clone(),
                result.top.residuals[0],
            )
        }
    };
    let gauss_newton_max = if options.gauss_newton {
        let op = FnOperator::new(p, |x: &[f64], y: &mut [f64]| {
            problem.ggn_vector_product(params, x, y)
        });
        let result = lanczos(&op, &options.lanczos(1, 0))?;
        converged &= result.converged;
        products += result.n_applications;
        result.top.values[0]
    } else {
        f64::NAN
    };
    Ok(PointSpectrum {
        route,
        lambda_max,
        lambda_min,
        stable_lr: stable_learning_rate(lambda_max),
        trace,
        trace_standard_error,
        gauss_newton_max,
        top_vector,
        lambda_max_residual: residual,
        products,
        converged,
    })
}

/// The quantities at one point g(α)·θ of an orbit scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrbitRecord {
    /// Position α on the path.
    pub alpha: f64,
    /// ln α.
    pub log_alpha: f64,
    /// L(g(α)·θ).
    pub loss: f64,
    /// |L(g(α)·θ) − L(θ)| / |L(θ)| (absolute when L(θ) = 0): 0 up to rounding.
    pub loss_relative_deviation: f64,
    /// Largest Hessian eigenvalue.
    pub lambda_max: f64,
    /// Smallest Hessian eigenvalue.
    pub lambda_min: f64,
    /// 2/λmax.
    pub stable_lr: StepBound,
    /// tr H (exact on the dense route, estimated on the Lanczos route).
    pub trace: f64,
    /// Standard error of the trace (0 when exact).
    pub trace_standard_error: f64,
    /// Largest Gauss-Newton eigenvalue.
    pub gauss_newton_max: f64,
    /// ‖∇L‖ at the point (it scales with the inverse transpose of the symmetry).
    pub gradient_norm: f64,
    /// d log λmax / d log α = −2 Σ_i e_i u_i² (exact for a simple λmax; see the module docs).
    pub log_lambda_max_slope: f64,
    /// Neuron balances ‖θ_in‖² − ‖θ_out‖² of every hidden neuron, hidden layer by hidden
    /// layer (conserved by gradient flow, not by the symmetry).
    pub balances: Vec<f64>,
    /// Route of the spectrum.
    pub route: SpectrumRoute,
    /// Products used by the iterative parts.
    pub products: usize,
    /// ‖H·u − λmax·u‖.
    pub lambda_max_residual: f64,
    /// Every iterative part converged.
    pub converged: bool,
}

/// A scan along one path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrbitScan {
    /// The path.
    pub path: OrbitPath,
    /// L(θ) at the scanned point itself (α = 1).
    pub reference_loss: f64,
    /// One record per α, in the order given.
    pub records: Vec<OrbitRecord>,
    /// Largest loss deviation over the records (the check that the function is fixed).
    pub max_relative_loss_deviation: f64,
    /// Route of every record.
    pub route: SpectrumRoute,
}

impl OrbitScan {
    /// Index of the record with the smallest λmax.
    pub fn flattest_index(&self) -> usize {
        (0..self.records.len())
            .min_by(|&a, &b| {
                self.records[a]
                    .lambda_max
                    .total_cmp(&self.records[b].lambda_max)
            })
            .unwrap_or(0)
    }

    /// (min λmax, max λmax, max/min) over the records.
    pub fn lambda_max_spread(&self) -> (f64, f64, f64) {
        let (min, max) = self
            .records
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                (lo.min(r.lambda_max), hi.max(r.lambda_max))
            });
        (min, max, max / min)
    }
}

/// Relative deviation of a loss from a reference (absolute for a zero reference).
pub(crate) fn relative_deviation(value: f64, reference: f64) -> f64 {
    let d = (value - reference).abs();
    if reference == 0.0 {
        d
    } else {
        d / reference.abs()
    }
}

/// Scans `path` through `params` at every α of `alphas`: loss (checked against L(θ)),
/// spectrum, gradient norm, slope of log λmax and neuron balances. Points run in parallel;
/// the records keep the order of `alphas`.
///
/// Errors: invalid path, α, options or parameters.
pub fn scan_orbit(
    problem: &MlpProblem,
    params: &[f64],
    path: OrbitPath,
    alphas: &[f64],
    options: &SpectrumOptions,
) -> Result<OrbitScan> {
    problem.check_params("params", params)?;
    if alphas.is_empty() {
        return Err(Error::invalid_value("alphas", 0, "need at least one value"));
    }
    let net = problem.network();
    let exponents = path.exponents(net)?;
    let reference_loss = problem.loss(params);
    let records: Vec<OrbitRecord> = alphas
        .par_iter()
        .with_max_len(1)
        .map(|&alpha| {
            let point = path.apply(net, params, alpha)?;
            let mut grad = vec![0.0; point.len()];
            let loss = problem.loss_and_gradient(&point, &mut grad);
            let spectrum = point_spectrum(problem, &point, options)?;
            let slope = -2.0
                * exponents
                    .iter()
                    .zip(&spectrum.top_vector)
                    .map(|(e, u)| e * u * u)
                    .sum::<f64>();
            Ok(OrbitRecord {
                alpha,
                log_alpha: alpha.ln(),
                loss,
                loss_relative_deviation: relative_deviation(loss, reference_loss),
                lambda_max: spectrum.lambda_max,
                lambda_min: spectrum.lambda_min,
                stable_lr: spectrum.stable_lr,
                trace: spectrum.trace,
                trace_standard_error: spectrum.trace_standard_error,
                gauss_newton_max: spectrum.gauss_newton_max,
                gradient_norm: grad.iter().map(|g| g * g).sum::<f64>().sqrt(),
                log_lambda_max_slope: slope,
                balances: neuron_balances(net, &point)?.concat(),
                route: spectrum.route,
                products: spectrum.products,
                lambda_max_residual: spectrum.lambda_max_residual,
                converged: spectrum.converged,
            })
        })
        .collect::<Result<_>>()?;
    let max_relative_loss_deviation = records
        .iter()
        .map(|r| r.loss_relative_deviation)
        .fold(0.0, f64::max);
    Ok(OrbitScan {
        path,
        reference_loss,
        records,
        max_relative_loss_deviation,
        route: options.route_for(problem.n_params()),
    })
}
