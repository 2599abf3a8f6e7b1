//! Matrix-free spectra: eigenvalues, trace and spectral density of a symmetric operator
//! that is only available through products `x ↦ A·x`, such as the Hessian of a network
//! with tens of thousands of parameters (its P×P matrix would not fit in memory).
//!
//! - [`SymmetricOperator`] is the abstraction; it is implemented for dense nalgebra
//!   matrices, for closures ([`FnOperator`]) and for the Hessian of any
//!   [`Model`](crate::Model) at fixed parameters ([`HessianOperator`], which counts its
//!   Hessian-vector products).
//! - [`lanczos`] finds the largest and smallest eigenvalues in algebraic order with their
//!   vectors and residuals (thick-restarted Lanczos with full reorthogonalisation).
//! - [`power_iteration`] is the textbook baseline; it finds the eigenvalue of largest
//!   magnitude, which may be negative, not the largest one.
//! - [`hutchinson_trace`] estimates tr(A) from Rademacher probes with a standard error.
//! - [`spectral_density`] is stochastic Lanczos quadrature: a Gaussian-broadened estimate
//!   of the eigenvalue density.
//! - The small projected matrices are decomposed by the crate's dense solver, the one
//!   behind [`SymmetricEigen`](crate::spectrum::SymmetricEigen).
//!
//! Everything is deterministic given the seed in the options (ChaCha8 random numbers).
//!
//! ```
//! use nalgebra::DMatrix;
//! use symstab_core::matrix_free::{LanczosOptions, lanczos};
//!
//! let a = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![3.0, -5.0, 1.0, 2.0]));
//! let options = LanczosOptions { n_top: 1, n_bottom: 1, ..LanczosOptions::default() };
//! let result = lanczos(&a, &options).unwrap();
//! assert!((result.top.values[0] - 3.0).abs() < 1e-12); // largest algebraic, not |λ|
//! assert!((result.bottom.values[0] + 5.0).abs() < 1e-12);
//! ```

mod density;
mod lanczos;
mod operator;
mod power;
mod trace;

pub use density::{DensityOptions, SpectralDensity, spectral_density};
pub use lanczos::{
    Criterion, EigenPairs, LanczosOptions, LanczosResult, MIN_EIGENVALUE_TOLERANCE, lanczos,
};
pub use operator::{FnOperator, HessianOperator, SymmetricOperator, check_symmetric};
pub use power::{PowerOptions, PowerResult, power_iteration};
pub use trace::{TraceEstimate, TraceOptions, hutchinson_trace};

use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};

/// Eigenvalues (ascending) and orthonormal eigenvectors (column j for value j) of a small
/// symmetric matrix (lower triangle read), by the crate's dense solver without input
/// validation: a non-finite entry gives NaN values.
pub(crate) fn symmetric_eigen(
    matrix: nalgebra::DMatrix<f64>,
) -> (Vec<f64>, nalgebra::DMatrix<f64>) {
    let m = matrix.nrows();
    let (values, vectors) = crate::spectrum::decompose_unchecked(matrix, true);
    let vectors = vectors.expect("vectors were requested");
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let sorted = order.iter().map(|&i| values[i]).collect();
    let vectors = nalgebra::DMatrix::from_fn(m, m, |r, c| vectors[(r, order[c])]);
    (sorted, vectors)
}

/// Dot product with four independent accumulators (lets the compiler vectorise it).
/// Always inlined: it is the inner loop of the Lanczos reorthogonalisation and of the
/// dense tridiagonalisation.
#[inline(always)]
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = [0.0f64; 4];
    let xc = x.chunks_exact(4);
    let yc = y.chunks_exact(4);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        acc[0] += a[0] * b[0];
        acc[1] += a[1] * b[1];
        acc[2] += a[2] * b[2];
        acc[3] += a[3] * b[3];
    }
    let mut tail = 0.0;
    for (a, b) in xr.iter().zip(yr) {
        tail += a * b;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Euclidean norm.
pub(crate) fn norm(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}

/// y ← y + alpha·x.
pub(crate) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// x ← alpha·x.
pub(crate) fn scale(alpha: f64, x: &mut [f64]) {
    for xi in x.iter_mut() {
        *xi *= alpha;
    }
}

/// Orthogonalises `w` against the first `m` columns of `basis` (column j is
/// `basis[j*n..(j+1)*n]`, orthonormal) and writes the accumulated coefficients vⱼᵀw into
/// `coeffs[..m]`.
///
/// A local pass against the last two columns (where a Lanczos product has its large
/// components) is followed by a full modified Gram–Schmidt pass; a second full pass is
/// made when the full pass shrank `w` by more than 1/√2 (the criterion of Daniel, Gragg,
/// Kaufman & Stewart, Math. Comp. 30 (1976) 772–795: "twice is enough"), so the basis
/// stays orthogonal to working precision without paying for two passes at every step.
pub(crate) fn orthogonalize(basis: &[f64], n: usize, m: usize, w: &mut [f64], coeffs: &mut [f64]) {
    coeffs[..m].fill(0.0);
    let project = |j: usize, w: &mut [f64], coeffs: &mut [f64]| {
        let v = &basis[j * n..(j + 1) * n];
        let c = dot(v, w);
        coeffs[j] += c;
        axpy(-c, v, w);
    };
    for j in m.saturating_sub(2)..m {
        project(j, w, coeffs);
    }
    for _pass in 0..2 {
        let before = norm(w);
        for j in 0..m {
            project(j, w, coeffs);
        }
        if norm(w) > std::f64::consts::FRAC_1_SQRT_2 * before {
            break;
        }
    }
}

/// Fills `x` with independent standard normal entries.
pub(crate) fn fill_gaussian<R: Rng>(rng: &mut R, x: &mut [f64]) {
    for xi in x.iter_mut() {
        *xi = rng.sample(StandardNormal);
    }
}

/// Fills `x` with independent Rademacher entries (±1 with probability ½ each).
pub(crate) fn fill_rademacher<R: Rng>(rng: &mut R, x: &mut [f64]) {
    for xi in x.iter_mut() {
        *xi = if rng.random::<bool>() { 1.0 } else { -1.0 };
    }
}

/// Checks that a tolerance is finite and > 0.
pub(crate) fn check_tolerance(field: &str, tolerance: f64) -> Result<()> {
    if tolerance.is_finite() && tolerance > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid_value(
            field,
            tolerance,
            "must be finite and > 0",
        ))
    }
}

/// Checks that an operator has at least one dimension.
pub(crate) fn check_dim(dim: usize) -> Result<()> {
    if dim == 0 {
        Err(Error::invalid_value(
            "operator dimension",
            dim,
            "must be at least 1",
        ))
    } else {
        Ok(())
    }
}
