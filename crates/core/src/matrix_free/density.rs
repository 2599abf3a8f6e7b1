//! Stochastic Lanczos quadrature (SLQ): an estimate of the eigenvalue density of a
//! symmetric operator from a few Lanczos runs.
//!
//! The spectral density of A ∈ ℝⁿˣⁿ is φ(t) = (1/n)·Σᵢ δ(t − λᵢ), so that
//! ∫ f dφ = tr f(A) / n. For a unit start vector v, vᵀf(A)v = Σᵢ (qᵢᵀv)² f(λᵢ), and m
//! Lanczos steps from v give the Gauss quadrature of that sum: nodes θⱼ (eigenvalues of
//! the m×m tridiagonal T) and weights τⱼ² (squared first entries of T's eigenvectors),
//! exact for polynomials f of degree < 2m (Golub & Meurant, *Matrices, Moments and
//! Quadrature*, 2010). With a Rademacher start z/√n, E[zᵀf(A)z]/n = tr f(A)/n, so the
//! average of the probes' quadratures estimates φ (Lin, Saad & Yang, SIAM Rev. 58 (2016)
//! 34–65; Ghorbani, Krishnan & Xiao, ICML 2019, for Hessians). Replacing each node by a
//! Gaussian of standard deviation σ gives a smooth density that integrates to 1.
//!
//! Memory: one Lanczos basis of `n_steps` vectors of length n (8·n·`n_steps` bytes).

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::symmetric_eigen;
use super::{SymmetricOperator, check_dim, fill_rademacher, norm, orthogonalize, scale};
use crate::error::{Error, Result};

/// Settings of [`spectral_density`].
#[derive(Debug, Clone, PartialEq)]
pub struct DensityOptions {
    /// Number of Rademacher probes n_v (independent Lanczos runs).
    pub n_probes: usize,
    /// Lanczos steps m per probe (fewer if the run reaches an invariant subspace).
    pub n_steps: usize,
    /// Standard deviation σ of the Gaussian put on each node; `None` picks 1% of the
    /// range of the nodes (or 1e-3·max|node|, or 1, if that range is zero).
    pub broadening: Option<f64>,
    /// Seed of the probes (ChaCha8).
    pub seed: u64,
}

impl Default for DensityOptions {
    fn default() -> Self {
        DensityOptions {
            n_probes: 10,
            n_steps: 80,
            broadening: None,
            seed: 0,
        }
    }
}

/// An estimated spectral density: quadrature nodes with weights summing to 1, and its
/// Gaussian-broadened smooth version.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralDensity {
    /// Quadrature nodes (Ritz values of all probes), ascending.
    pub nodes: Vec<f64>,
    /// Weights of the nodes, non-negative, summing to 1 (each probe contributes 1/n_v).
    pub weights: Vec<f64>,
    /// Standard deviation σ of the Gaussian broadening.
    pub broadening: f64,
    /// Dimension n of the operator (multiply a moment by n for a trace estimate).
    pub dim: usize,
    /// Number of probes used.
    pub n_probes: usize,
    /// Number of operator applications used.
    pub n_applications: usize,
}

impl SpectralDensity {
    /// The broadened density at `x`: Σⱼ wⱼ · exp(−(x − θⱼ)²/(2σ²)) / (σ√(2π)).
    pub fn density(&self, x: f64) -> f64 {
        let sigma = self.broadening;
        let norm = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&theta, &weight)| weight * (-0.5 * ((x - theta) / sigma).powi(2)).exp())
            .sum::<f64>()
            * norm
    }

    /// The broadened density on `n_points` evenly spaced points from 5σ below the
    /// smallest node to 5σ above the largest (both included); returns (points, values).
    /// The trapezoidal integral of the values is 1 up to the grid's resolution of σ.
    pub fn on_grid(&self, n_points: usize) -> (Vec<f64>, Vec<f64>) {
        let lo = self.nodes.first().copied().unwrap_or(0.0) - 5.0 * self.broadening;
        let hi = self.nodes.last().copied().unwrap_or(0.0) + 5.0 * self.broadening;
        let points: Vec<f64> = match n_points {
            0 => Vec::new(),
            1 => vec![0.5 * (lo + hi)],
            _ => (0..n_points)
                .map(|i| lo + (hi - lo) * i as f64 / (n_points - 1) as f64)
                .collect(),
        };
        let values = points.iter().map(|&x| self.density(x)).collect();
        (points, values)
    }

    /// The k-th moment Σⱼ wⱼ θⱼᵏ of the quadrature, an estimate of tr(Aᵏ)/n.
    pub fn moment(&self, k: i32) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&theta, &weight)| weight * theta.powi(k))
            .sum()
    }
}

/// Estimates the spectral density of a symmetric operator by stochastic Lanczos
/// quadrature (see the module docs).
///
/// Errors: dimension 0, zero probes or steps, or a broadening that is not finite and > 0.
pub fn spectral_density<O: SymmetricOperator + ?Sized>(
    op: &O,
    options: &DensityOptions,
) -> Result<SpectralDensity> {
    let n = op.dim();
    check_dim(n)?;
    if options.n_probes == 0 {
        return Err(Error::invalid_value("n_probes", 0, "must be at least 1"));
    }
    if options.n_steps == 0 {
        return Err(Error::invalid_value("n_steps", 0, "must be at least 1"));
    }
    if let Some(sigma) = options.broadening
        && !(sigma.is_finite() && sigma > 0.0)
    {
        return Err(Error::invalid_value(
            "broadening",
            sigma,
            "must be finite and > 0",
        ));
    }
    let steps = options.n_steps.min(n);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut basis = vec![0.0; n * steps];
    let mut w = vec![0.0; n];
    let mut coeffs = vec![0.0; steps];
    let mut t = DMatrix::<f64>::zeros(steps, steps);
    let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(options.n_probes * steps);
    let mut n_applications = 0;
    let probe_weight = 1.0 / options.n_probes as f64;

    for _probe in 0..options.n_probes {
        fill_rademacher(&mut rng, &mut basis[..n]);
        scale(1.0 / (n as f64).sqrt(), &mut basis[..n]);
        t.fill(0.0);
        let mut op_scale = 0.0f64;
        let mut m = 1;
        loop {
            let last = m - 1;
            op.apply(&basis[last * n..m * n], &mut w);
            n_applications += 1;
            op_scale = op_scale.max(norm(&w));
            orthogonalize(&basis[..m * n], n, m, &mut w, &mut coeffs);
            for i in 0..m {
                t[(i, last)] = coeffs[i];
                t[(last, i)] = coeffs[i];
            }
            let beta = norm(&w);
            // Stop at the step budget, at an invariant subspace (the quadrature is exact),
            // or at a non-finite product (the density then holds non-finite entries).
            if m == steps || beta <= 1e-12 * op_scale || !beta.is_finite() {
                break;
            }
            scale(1.0 / beta, &mut w);
            basis[m * n..(m + 1) * n].copy_from_slice(&w);
            m += 1;
        }
        let (values, vectors) = symmetric_eigen(t.view((0, 0), (m, m)).clone_owned());
        for (j, &value) in values.iter().enumerate() {
            let tau = vectors[(0, j)];
            pairs.push((value, probe_weight * tau * tau));
        }
    }

    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let nodes: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let mut weights: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    // Each probe's weights sum to ‖v‖² = 1 up to rounding; renormalise exactly.
    let total: f64 = weights.iter().sum();
    for weight in &mut weights {
        *weight /= total;
    }
    let broadening = options.broadening.unwrap_or_else(|| {
        let range = nodes[nodes.len() - 1] - nodes[0];
        let magnitude = nodes[0].abs().max(nodes[nodes.len() - 1].abs());
        if range > 0.0 {
            0.01 * range
        } else if magnitude > 0.0 {
            1e-3 * magnitude
        } else {
            1.0
        }
    });
    Ok(SpectralDensity {
        nodes,
        weights,
        broadening,
        dim: n,
        n_probes: options.n_probes,
        n_applications,
    })
}
