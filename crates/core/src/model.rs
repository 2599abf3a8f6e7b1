//! The model abstraction: a differentiable loss over a flat `f64` parameter vector.
//!
//! A [`Model`] bundles an architecture with the dataset its loss is measured on, so that
//! `loss(θ)`, `∇L(θ)`, `H(θ)·v` and `H(θ)` are functions of the parameters alone. This is
//! what gradient descent, the spectra and the stability routines consume. Every model
//! documents the order of its parameters in the flat vector.
//!
//! Methods taking `params` assume `params.len() == n_params()` and may panic otherwise;
//! use [`Model::check_params`] at a boundary where the length comes from a user.

use nalgebra::DMatrix;

use crate::error::{Result, check_finite, check_len};

/// H(θ)·v at a θ fixed by [`Model::hessian_at`]: called as `f(v, out)`, writing H(θ)·v
/// into `out`. It may be shared between threads.
pub type HessianAt<'a> = Box<dyn Fn(&[f64], &mut [f64]) + Send + Sync + 'a>;

/// A model with its dataset: prediction on an input and exact derivatives of the loss.
pub trait Model: Sync {
    /// Number of parameters P (length of the flat parameter vector).
    fn n_params(&self) -> usize;

    /// Dimension of one input x.
    fn input_dim(&self) -> usize;

    /// Dimension of one output f(x).
    fn output_dim(&self) -> usize;

    /// Writes f_θ(x) into `output` (length [`Model::output_dim`]).
    fn predict(&self, params: &[f64], input: &[f64], output: &mut [f64]);

    /// Loss of the model on its dataset.
    fn loss(&self, params: &[f64]) -> f64;

    /// Writes ∇L(θ) into `grad` (length P) and returns L(θ).
    fn loss_and_gradient(&self, params: &[f64], grad: &mut [f64]) -> f64;

    /// Writes the Hessian-vector product H(θ)·v into `out` (length P).
    fn hessian_vector_product(&self, params: &[f64], v: &[f64], out: &mut [f64]);

    /// Hessian-vector products at one fixed θ, for callers that apply the same Hessian
    /// many times (Lanczos, trace and density estimates, through
    /// [`crate::matrix_free::HessianOperator`]). A model may compute once what does not
    /// depend on the tangent (for a network: the forward pass and backpropagation at θ);
    /// the products agree with [`Model::hessian_vector_product`] up to rounding. The
    /// default calls [`Model::hessian_vector_product`] each time.
    fn hessian_at<'a>(&'a self, params: &'a [f64]) -> HessianAt<'a> {
        Box::new(move |v: &[f64], out: &mut [f64]| self.hessian_vector_product(params, v, out))
    }

    /// The dense P×P Hessian H(θ), symmetric.
    ///
    /// The default builds it column by column from Hessian-vector products and then
    /// symmetrises it (averaging H and Hᵀ removes rounding asymmetry). Models with a
    /// closed form or a faster batched route override it.
    fn hessian(&self, params: &[f64]) -> DMatrix<f64> {
        let n = self.n_params();
        let mut h = DMatrix::zeros(n, n);
        let mut e = vec![0.0; n];
        let mut col = vec![0.0; n];
        for j in 0..n {
            e[j] = 1.0;
            self.hessian_vector_product(params, &e, &mut col);
            e[j] = 0.0;
            h.column_mut(j).copy_from_slice(&col);
        }
        symmetrize(&mut h);
        h
    }

    /// Gradient as a new vector.
    fn gradient(&self, params: &[f64]) -> Vec<f64> {
        let mut grad = vec![0.0; self.n_params()];
        self.loss_and_gradient(params, &mut grad);
        grad
    }

    /// Checks a user-supplied parameter vector: right length, all entries finite.
    fn check_params(&self, what: &str, params: &[f64]) -> Result<()> {
        check_len(what, params, self.n_params())?;
        check_finite(what, params)
    }
}

/// Replaces a square matrix by (A + Aᵀ)/2 in place.
pub fn symmetrize(h: &mut DMatrix<f64>) {
    let n = h.nrows();
    for i in 0..n {
        for j in (i + 1)..n {
            let mean = 0.5 * (h[(i, j)] + h[(j, i)]);
            h[(i, j)] = mean;
            h[(j, i)] = mean;
        }
    }
}
