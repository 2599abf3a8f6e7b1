//! Symmetric linear operators known only through their action `x ↦ A·x`.

use std::sync::atomic::{AtomicUsize, Ordering};

use nalgebra::{DMatrix, DVectorView, DVectorViewMut};

use crate::error::{Error, Result};
use crate::model::{HessianAt, Model};

/// A real symmetric linear operator A on ℝⁿ, given by its action on vectors.
///
/// The solvers in this module only ever call [`SymmetricOperator::apply`] (or
/// [`SymmetricOperator::apply_many`]), so A never has to be stored. Symmetry (Aᵀ = A)
/// is the implementer's promise; the solvers' answers are meaningless without it.
pub trait SymmetricOperator {
    /// The dimension n (length of the vectors A acts on).
    fn dim(&self) -> usize;

    /// Writes y = A·x. Both slices have length [`SymmetricOperator::dim`].
    fn apply(&self, x: &[f64], y: &mut [f64]);

    /// Applies A to a block of vectors stored one after another (`xs.len()` is a multiple
    /// of n; vector j is `xs[j*n..(j+1)*n]`), writing the products into `ys` in the same
    /// layout. The default calls [`SymmetricOperator::apply`] once per vector.
    fn apply_many(&self, xs: &[f64], ys: &mut [f64]) {
        let n = self.dim();
        for (x, y) in xs.chunks_exact(n).zip(ys.chunks_exact_mut(n)) {
            self.apply(x, y);
        }
    }
}

impl<T: SymmetricOperator + ?Sized> SymmetricOperator for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        (**self).apply(x, y);
    }

    fn apply_many(&self, xs: &[f64], ys: &mut [f64]) {
        (**self).apply_many(xs, ys);
    }
}

/// A dense matrix acts by matrix-vector products (BLAS-style `gemv`, or `gemm` for a
/// block). It must be square and symmetric; [`check_symmetric`] tests that.
impl SymmetricOperator for DMatrix<f64> {
    fn dim(&self) -> usize {
        self.nrows()
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let n = self.nrows();
        let x = DVectorView::from_slice(x, n);
        let mut y = DVectorViewMut::from_slice(y, n);
        y.gemv(1.0, self, &x, 0.0);
    }

    fn apply_many(&self, xs: &[f64], ys: &mut [f64]) {
        let n = self.nrows();
        let k = xs.len() / n;
        let x = nalgebra::DMatrixView::from_slice(xs, n, k);
        let mut y = nalgebra::DMatrixViewMut::from_slice(ys, n, k);
        y.gemm(1.0, self, &x, 0.0);
    }
}

/// Checks that a dense matrix can serve as a [`SymmetricOperator`]: square, finite, and
/// symmetric up to max |A − Aᵀ| ≤ 1e-12 · max |Aᵢⱼ| (rounding-level asymmetry).
pub fn check_symmetric(matrix: &DMatrix<f64>) -> Result<()> {
    let (rows, cols) = matrix.shape();
    if rows != cols {
        return Err(Error::DimensionMismatch {
            what: "matrix columns".to_owned(),
            expected: rows,
            got: cols,
        });
    }
    if let Some(index) = matrix.as_slice().iter().position(|v| !v.is_finite()) {
        let value = matrix.as_slice()[index];
        // nalgebra stores column-major; report the row-major flat index as documented.
        let (row, col) = (index % rows, index / rows);
        return Err(Error::NonFinite {
            what: "matrix".to_owned(),
            index: row * cols + col,
            value,
        });
    }
    let scale = matrix.amax();
    let mut asymmetry = 0.0f64;
    for j in 0..cols {
        for i in (j + 1)..rows {
            asymmetry = asymmetry.max((matrix[(i, j)] - matrix[(j, i)]).abs());
        }
    }
    let tolerance = 1e-12 * scale;
    if asymmetry > tolerance {
        return Err(Error::NotSymmetric {
            asymmetry,
            tolerance,
        });
    }
    Ok(())
}

/// A symmetric operator given by a closure `f(x, y)` that writes y = A·x.
pub struct FnOperator<F> {
    dim: usize,
    function: F,
}

impl<F: Fn(&[f64], &mut [f64])> FnOperator<F> {
    /// Wraps `function` as an operator on ℝ^`dim`. The closure must be linear and
    /// symmetric.
    pub fn new(dim: usize, function: F) -> Self {
        FnOperator { dim, function }
    }
}

impl<F: Fn(&[f64], &mut [f64])> SymmetricOperator for FnOperator<F> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        (self.function)(x, y);
    }
}

/// The Hessian H(θ) = ∇²L(θ) of a model's loss at fixed parameters θ, applied through
/// the model's exact Hessian-vector products at that point ([`Model::hessian_at`], which
/// lets a network reuse its forward pass and backpropagation at θ across products);
/// nothing of size P×P is ever formed.
///
/// Counts its applications (Hessian-vector products) so that callers can report the cost
/// of a spectrum; the counter is atomic, so the operator can be shared between threads.
pub struct HessianOperator<'a, M: Model + ?Sized> {
    model: &'a M,
    params: &'a [f64],
    product: HessianAt<'a>,
    hvp_count: AtomicUsize,
}

impl<'a, M: Model + ?Sized> HessianOperator<'a, M> {
    /// The Hessian of `model` at `params`; fails if `params` has the wrong length or a
    /// non-finite entry.
    pub fn new(model: &'a M, params: &'a [f64]) -> Result<Self> {
        model.check_params("params", params)?;
        Ok(HessianOperator {
            model,
            params,
            product: model.hessian_at(params),
            hvp_count: AtomicUsize::new(0),
        })
    }

    /// Number of Hessian-vector products computed so far through this operator.
    pub fn hvp_count(&self) -> usize {
        self.hvp_count.load(Ordering::Relaxed)
    }

    /// Sets the Hessian-vector product counter back to zero.
    pub fn reset_count(&self) {
        self.hvp_count.store(0, Ordering::Relaxed);
    }

    /// The parameters θ at which the Hessian is taken.
    pub fn params(&self) -> &[f64] {
        self.params
    }
}

impl<M: Model + ?Sized> SymmetricOperator for HessianOperator<'_, M> {
    fn dim(&self) -> usize {
        self.model.n_params()
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        self.hvp_count.fetch_add(1, Ordering::Relaxed);
        (self.product)(x, y);
    }
}
