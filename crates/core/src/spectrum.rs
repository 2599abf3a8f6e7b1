//! Dense symmetric eigen-decomposition of Hessians and the step bound 2/λmax.
//!
//! [`SymmetricEigen`] is the crate's one dense symmetric eigen-solver, with a strict
//! contract: the input must be square, finite and symmetric up to a tolerance (a typed
//! error otherwise, never a silently wrong λ); it is symmetrised as (A + Aᵀ)/2 before
//! decomposition, so neither triangle is trusted alone; eigenvalues come back sorted in
//! descending order with their eigenvectors permuted along. [`symmetric_eigenvalues`] is
//! the same computation without eigenvectors, several times faster.
//!
//! The algorithm (Householder tridiagonalisation, then implicit QL with Wilkinson shifts,
//! with a cyclic-Jacobi fallback should QL ever fail to converge) is described in the
//! private `dense` submodule. It is backward stable: each eigenpair has a residual
//! ‖Av − λv‖ of a small multiple of n·ε·‖A‖, the eigenvectors are orthonormal to a few
//! n·ε, and every eigenvalue is within that of the exact one (Weyl's inequality). It does
//! not use nalgebra's `SymmetricEigen`, which returned NaN on some very sparse matrices,
//! residuals of 1e-7·‖A‖ on arrowhead matrices, and eigenvalues paired with the wrong
//! vectors (nalgebra issue #1109).
//!
//! The *sharpness* λmax is the algebraically largest eigenvalue (not the largest in
//! magnitude). Gradient descent on the quadratic model ½·θᵀHθ is stable along an
//! eigendirection with eigenvalue λ > 0 exactly when the step η < 2/λ, and every direction
//! with λ ≤ 0 is never made unstable by a small step, so the local step bound is 2/λmax when
//! λmax > 0 and unbounded otherwise ([`StepBound`]). It is a local, quadratic-model bound:
//! a run may still diverge below it or survive above it.
//!
//! ```
//! use symstab_core::spectrum::{StepBound, hessian_spectrum};
//! use symstab_core::toy::ProductChain;
//!
//! // The toy at (3, 3): H = [[18, 32], [32, 18]], eigenvalues 50 and −14.
//! let spectrum = hessian_spectrum(&ProductChain::toy(), &[3.0, 3.0])?;
//! assert!((spectrum.lambda_max() - 50.0).abs() < 1e-12);
//! assert!((spectrum.lambda_min() + 14.0).abs() < 1e-12);
//! let bound = spectrum.stable_learning_rate().value().unwrap();
//! assert!((bound - 0.04).abs() < 1e-15);
//! # Ok::<(), symstab_core::Error>(())
//! ```

use std::fmt;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::model::{Model, symmetrize};

mod dense;

pub(crate) use dense::decompose as decompose_unchecked;

/// Default relative asymmetry tolerance of [`SymmetricEigen::new`]:
/// max|A − Aᵀ| must not exceed `1e-8 · max(1, max|A|)`.
pub const DEFAULT_SYMMETRY_TOLERANCE: f64 = 1e-8;

/// The step bound 2/λmax of gradient descent near a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepBound {
    /// λmax > 0: steps below this value are stable for the local quadratic model.
    /// The value is ≥ 0 and never NaN.
    Bounded(f64),
    /// λmax ≤ 0 (or 2/λmax overflows): no positive step is unstable for the quadratic model.
    Unbounded,
}

impl StepBound {
    /// The bound as a number, `None` when unbounded.
    pub fn value(self) -> Option<f64> {
        match self {
            StepBound::Bounded(v) => Some(v),
            StepBound::Unbounded => None,
        }
    }

    /// The bound as a number with `+∞` for [`StepBound::Unbounded`] (for plotting and
    /// comparisons).
    pub fn as_f64(self) -> f64 {
        self.value().unwrap_or(f64::INFINITY)
    }

    /// Whether a learning rate lies strictly below the bound.
    pub fn admits(self, learning_rate: f64) -> bool {
        learning_rate < self.as_f64()
    }
}

impl fmt::Display for StepBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepBound::Bounded(v) => fmt::Display::fmt(v, f),
            StepBound::Unbounded => f.write_str("unbounded"),
        }
    }
}

/// `Bounded(v)` serialises as the number `v`, `Unbounded` as the string `"unbounded"`.
impl Serialize for StepBound {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            StepBound::Bounded(v) => serializer.serialize_f64(*v),
            StepBound::Unbounded => serializer.serialize_str("unbounded"),
        }
    }
}

/// Reads a non-negative, non-NaN number as `Bounded` and the string `"unbounded"` as
/// `Unbounded`; anything else is an error.
impl<'de> Deserialize<'de> for StepBound {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = StepBound;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number or the string \"unbounded\"")
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<StepBound, E> {
                if v >= 0.0 {
                    Ok(StepBound::Bounded(v))
                } else {
                    Err(E::custom(format!("step bound must be >= 0, got {v}")))
                }
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<StepBound, E> {
                Ok(StepBound::Bounded(v as f64))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<StepBound, E> {
                self.visit_f64(v as f64)
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<StepBound, E> {
                if v == "unbounded" {
                    Ok(StepBound::Unbounded)
                } else {
                    Err(E::custom(format!(
                        "step bound must be a number or \"unbounded\", got {v:?}"
                    )))
                }
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// The step bound 2/λmax for a given sharpness λmax.
///
/// - λmax > 0: `Bounded(2/λmax)`; if 2/λmax overflows to +∞ (λmax below about 1e−308),
///   `Unbounded`.
/// - λmax ≤ 0, including −∞: `Unbounded`.
/// - λmax = +∞: `Bounded(0.0)`, the limit of 2/λmax.
/// - λmax NaN: `Bounded(0.0)`, the conservative answer (no positive step is certified
///   stable). A NaN never comes out.
pub fn stable_learning_rate(lambda_max: f64) -> StepBound {
    if lambda_max.is_nan() {
        return StepBound::Bounded(0.0);
    }
    if lambda_max <= 0.0 {
        return StepBound::Unbounded;
    }
    let bound = 2.0 / lambda_max;
    if bound.is_finite() {
        StepBound::Bounded(bound)
    } else {
        StepBound::Unbounded
    }
}

/// Eigenvalues of the symmetric 2×2 matrix [[a11, a12], [a12, a22]] in closed form,
/// descending: m ± √(((a11 − a22)/2)² + a12²) with m = (a11 + a22)/2 (radius via `hypot`).
pub fn symmetric_2x2_eigenvalues(a11: f64, a12: f64, a22: f64) -> [f64; 2] {
    let mean = 0.5 * (a11 + a22);
    let radius = (0.5 * (a11 - a22)).hypot(a12);
    [mean + radius, mean - radius]
}

/// Eigen-decomposition of a real symmetric matrix, eigenvalues in descending order.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    eigenvalues: DVector<f64>,
    eigenvectors: DMatrix<f64>,
    trace: f64,
}

impl SymmetricEigen {
    /// Decomposes `matrix` with the default asymmetry tolerance
    /// [`DEFAULT_SYMMETRY_TOLERANCE`].
    ///
    /// Errors: an empty or non-square matrix ([`Error::DimensionMismatch`]), a non-finite
    /// entry ([`Error::NonFinite`], flat row-major index), or max|A − Aᵀ| above
    /// `tolerance · max(1, max|A|)` ([`Error::NotSymmetric`]).
    pub fn new(matrix: DMatrix<f64>) -> Result<Self> {
        Self::with_tolerance(matrix, DEFAULT_SYMMETRY_TOLERANCE)
    }

    /// Like [`SymmetricEigen::new`] with a chosen relative asymmetry tolerance (finite, ≥ 0).
    pub fn with_tolerance(matrix: DMatrix<f64>, tolerance: f64) -> Result<Self> {
        let matrix = validated(matrix, tolerance)?;
        let rows = matrix.nrows();
        let trace = matrix.diagonal().sum();
        let (values, vectors) = dense::decompose(matrix, true);
        let vectors = vectors.expect("vectors were requested");

        // Sort descending (total order; all values are finite here) and permute vectors.
        let mut order: Vec<usize> = (0..rows).collect();
        order.sort_by(|&p, &q| values[q].total_cmp(&values[p]));
        let eigenvalues = DVector::from_iterator(rows, order.iter().map(|&k| values[k]));
        let mut eigenvectors = DMatrix::zeros(rows, rows);
        for (column, &k) in order.iter().enumerate() {
            eigenvectors.set_column(column, &vectors.column(k));
        }
        Ok(SymmetricEigen {
            eigenvalues,
            eigenvectors,
            trace,
        })
    }

    /// Eigenvalues, descending.
    pub fn eigenvalues(&self) -> &[f64] {
        self.eigenvalues.as_slice()
    }

    /// Orthonormal eigenvectors as columns, column k belonging to `eigenvalues()[k]`.
    pub fn eigenvectors(&self) -> &DMatrix<f64> {
        &self.eigenvectors
    }

    /// Matrix dimension.
    pub fn dim(&self) -> usize {
        self.eigenvalues.len()
    }

    /// The algebraically largest eigenvalue λmax (the sharpness).
    pub fn lambda_max(&self) -> f64 {
        self.eigenvalues[0]
    }

    /// The algebraically smallest eigenvalue λmin.
    pub fn lambda_min(&self) -> f64 {
        self.eigenvalues[self.eigenvalues.len() - 1]
    }

    /// Trace of the symmetrised matrix (sum of its diagonal; equals Σλ up to rounding).
    pub fn trace(&self) -> f64 {
        self.trace
    }

    /// Number of strictly negative eigenvalues (no tolerance; see
    /// [`SymmetricEigen::count_below`] to ignore rounding-level values).
    pub fn negative_count(&self) -> usize {
        self.count_below(0.0)
    }

    /// Number of eigenvalues strictly below `threshold`.
    pub fn count_below(&self, threshold: f64) -> usize {
        self.eigenvalues.iter().filter(|&&l| l < threshold).count()
    }

    /// The step bound 2/λmax, see [`stable_learning_rate`].
    pub fn stable_learning_rate(&self) -> StepBound {
        stable_learning_rate(self.lambda_max())
    }
}

/// Checks that `matrix` is non-empty, square, finite and symmetric up to
/// `tolerance · max(1, max|A|)`, and returns (A + Aᵀ)/2.
fn validated(mut matrix: DMatrix<f64>, tolerance: f64) -> Result<DMatrix<f64>> {
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(Error::invalid_value(
            "tolerance",
            tolerance,
            "must be finite and >= 0",
        ));
    }
    let (rows, cols) = matrix.shape();
    if rows == 0 {
        return Err(Error::DimensionMismatch {
            what: "matrix rows".into(),
            expected: 1,
            got: 0,
        });
    }
    if rows != cols {
        return Err(Error::DimensionMismatch {
            what: "matrix columns (must equal rows)".into(),
            expected: rows,
            got: cols,
        });
    }

    // Finite entries: a fast pass in storage (column-major) order; only if it fails, a
    // row-major scan so the reported index is the first one in reading order.
    let max_abs = matrix.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if !max_abs.is_finite() || matrix.iter().any(|x| x.is_nan()) {
        for i in 0..rows {
            for j in 0..cols {
                let value = matrix[(i, j)];
                if !value.is_finite() {
                    return Err(Error::NonFinite {
                        what: "matrix".into(),
                        index: i * cols + j,
                        value,
                    });
                }
            }
        }
    }

    // Asymmetry against a tolerance relative to the matrix's scale, in square tiles so that
    // the transposed reads stay in cache.
    const TILE: usize = 64;
    let mut asymmetry = 0.0_f64;
    for j0 in (0..cols).step_by(TILE) {
        for i0 in (0..=j0).step_by(TILE) {
            for j in j0..(j0 + TILE).min(cols) {
                for i in i0..(i0 + TILE).min(j) {
                    asymmetry = asymmetry.max((matrix[(i, j)] - matrix[(j, i)]).abs());
                }
            }
        }
    }
    let allowed = tolerance * max_abs.max(1.0);
    if asymmetry > allowed {
        return Err(Error::NotSymmetric {
            asymmetry,
            tolerance: allowed,
        });
    }
    symmetrize(&mut matrix);
    Ok(matrix)
}

/// Eigenvalues of a real symmetric matrix in descending order, without eigenvectors.
///
/// The same input contract and errors as [`SymmetricEigen::new`] (default asymmetry
/// tolerance) and the same algorithm without accumulating the eigenvectors, which makes it
/// several times faster for large matrices; the values agree with
/// `SymmetricEigen::new(matrix)?.eigenvalues()` to rounding.
pub fn symmetric_eigenvalues(matrix: DMatrix<f64>) -> Result<Vec<f64>> {
    symmetric_eigenvalues_with_tolerance(matrix, DEFAULT_SYMMETRY_TOLERANCE)
}

/// Like [`symmetric_eigenvalues`] with a chosen relative asymmetry tolerance (finite, ≥ 0).
pub fn symmetric_eigenvalues_with_tolerance(
    matrix: DMatrix<f64>,
    tolerance: f64,
) -> Result<Vec<f64>> {
    let matrix = validated(matrix, tolerance)?;
    let (mut values, _) = dense::decompose(matrix, false);
    values.sort_by(|p, q| q.total_cmp(p));
    Ok(values)
}

/// The spectrum of a model's dense Hessian at `params` (checked: right length, finite).
pub fn hessian_spectrum<M: Model + ?Sized>(model: &M, params: &[f64]) -> Result<SymmetricEigen> {
    model.check_params("params", params)?;
    SymmetricEigen::new(model.hessian(params))
}

/// The eigenvalues of a model's dense Hessian at `params`, descending, without
/// eigenvectors (see [`symmetric_eigenvalues`]; checked like [`hessian_spectrum`]).
pub fn hessian_eigenvalues<M: Model + ?Sized>(model: &M, params: &[f64]) -> Result<Vec<f64>> {
    model.check_params("params", params)?;
    symmetric_eigenvalues(model.hessian(params))
}
