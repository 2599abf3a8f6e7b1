//! The scalar product chain f(x) = w₁·w₂·…·wₙ·x, the toy model of the study, with its
//! exact derivatives and its symmetry.
//!
//! # Model and loss
//!
//! Parameters θ = (w₁, …, wₙ), n ≥ 2, stored in that order in the flat vector. Write
//! p = w₁·w₂·…·wₙ for the product of all factors, Pᵢ = ∏_{k≠i} w_k for the product of all
//! factors but the i-th, and Pᵢⱼ = ∏_{k≠i,j} w_k (i ≠ j) for the product of all but two.
//! The dataset is a list of samples (x_s, y_s) and the loss is the plain sum of squared
//! errors, without a factor ½:
//!
//! ```text
//! L(θ) = Σ_s (p·x_s − y_s)²
//! ```
//!
//! With the default single sample (1, 2) and n = 2 this is the study's toy
//! L(a, b) = (a·b − 2)².
//!
//! # Derivatives (chain rule through p)
//!
//! Let r_s = p·x_s − y_s, G = dL/dp = Σ_s 2·r_s·x_s and S = d²L/dp² = Σ_s 2·x_s². Since
//! ∂p/∂wᵢ = Pᵢ and ∂²p/∂wᵢ∂wⱼ = Pᵢⱼ (i ≠ j, zero on the diagonal),
//!
//! ```text
//! ∂L/∂wᵢ       = G·Pᵢ
//! ∂²L/∂wᵢ²     = S·Pᵢ²
//! ∂²L/∂wᵢ∂wⱼ   = S·Pᵢ·Pⱼ + G·Pᵢⱼ          (i ≠ j)
//! (H·v)ᵢ       = S·Pᵢ·(Σ_j Pⱼ·vⱼ) + G·Σ_{j≠i} Pᵢⱼ·vⱼ
//! ```
//!
//! For the toy (one sample (1, 2)): ∇L = 2(ab − 2)·(b, a) and
//! H = [[2b², 4ab − 4], [4ab − 4, 2a²]].
//!
//! The products Pᵢ and Pᵢⱼ are formed from prefix and suffix products (Pᵢ = w₁⋯w_{i−1} ·
//! w_{i+1}⋯wₙ), never by dividing p by a factor, so a zero factor gives finite, exact values.
//! The sum Σ_{j≠i} Pᵢⱼ·vⱼ in the Hessian-vector product is the directional derivative of Pᵢ
//! along v, computed in O(n) by carrying tangents through the same prefix and suffix products.
//!
//! # Symmetry
//!
//! The function depends on θ only through p, so any change of the factors that keeps their
//! product fixes f and L: multiplying wᵢ by α > 0 and dividing wⱼ by α (a *rescale*), or more
//! generally multiplying the factors by any vector whose entries multiply to 1.
//!
//! Under gradient flow θ' = −∇L, d(wᵢ²)/dt = −2·wᵢ·G·Pᵢ = −2·G·p is the same for every i,
//! so every pairwise difference wᵢ² − wⱼ² is conserved ("balancedness"; for the toy a² − b²).
//! A gradient-descent step θ ← θ − η·g changes wᵢ² − wⱼ² by exactly η²·(gᵢ² − gⱼ²) in exact
//! arithmetic, because wᵢ·gᵢ = G·p for every i.

use nalgebra::DMatrix;

use crate::descent::Run;
use crate::error::{Error, Result, check_finite, check_len};
use crate::model::Model;

/// Largest allowed |∏ factors − 1| for [`ProductChain::scale`].
pub const SCALE_PRODUCT_TOLERANCE: f64 = 1e-12;

/// The scalar product chain f(x) = w₁·…·wₙ·x with its dataset of (x, y) samples.
///
/// See the [module documentation](self) for the loss, its derivatives and the symmetry.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductChain {
    n_factors: usize,
    samples: Vec<(f64, f64)>,
    /// Σ_s 2·x_s², the second derivative of the loss with respect to the product p.
    curvature_in_product: f64,
}

impl ProductChain {
    /// A chain of `n_factors` factors with the given (x, y) samples.
    ///
    /// Errors: `n_factors < 2`, no samples, or a non-finite x or y (the index in the error
    /// is the flat position in `[x₀, y₀, x₁, y₁, …]`).
    pub fn new(n_factors: usize, samples: Vec<(f64, f64)>) -> Result<Self> {
        if n_factors < 2 {
            return Err(Error::invalid_value(
                "n_factors",
                n_factors,
                "must be at least 2",
            ));
        }
        if samples.is_empty() {
            return Err(Error::invalid_spec(
                "samples",
                "the dataset must hold at least one (x, y) pair",
            ));
        }
        let flat: Vec<f64> = samples.iter().flat_map(|&(x, y)| [x, y]).collect();
        check_finite("samples", &flat)?;
        let curvature_in_product = samples.iter().map(|&(x, _)| 2.0 * x * x).sum();
        Ok(ProductChain {
            n_factors,
            samples,
            curvature_in_product,
        })
    }

    /// The study's toy: f(x) = a·b·x with the single sample (1, 2), L(a, b) = (a·b − 2)².
    pub fn toy() -> Self {
        ProductChain::new(2, vec![(1.0, 2.0)]).expect("the toy's description is valid")
    }

    /// Number of factors n.
    pub fn n_factors(&self) -> usize {
        self.n_factors
    }

    /// The (x, y) samples the loss is measured on.
    pub fn samples(&self) -> &[(f64, f64)] {
        &self.samples
    }

    /// The product p = w₁·…·wₙ of all factors (multiplied from the last factor to the first).
    pub fn product(&self, params: &[f64]) -> f64 {
        params.iter().rev().fold(1.0, |acc, &w| w * acc)
    }

    /// dL/dp = Σ_s 2·(p·x_s − y_s)·x_s and the loss, both at product `p`.
    fn loss_and_slope_in_product(&self, p: f64) -> (f64, f64) {
        let mut loss = 0.0;
        let mut slope = 0.0;
        for &(x, y) in &self.samples {
            let r = p * x - y;
            loss += r * r;
            slope += 2.0 * r * x;
        }
        (loss, slope)
    }

    /// The products Pᵢ = ∏_{k≠i} w_k of all factors but one, by prefix and suffix products
    /// (no division, exact with zero factors).
    pub fn products_but_one(&self, params: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; params.len()];
        products_but_one_into(params, &mut out);
        out
    }

    // ----- symmetry -----

    /// The rescale (wᵢ, wⱼ) → (α·wᵢ, wⱼ/α), which leaves f and L unchanged.
    ///
    /// Errors: wrong parameter length, `i` or `j` out of range, `i == j`, or `alpha` not
    /// finite and > 0.
    pub fn rescale(&self, params: &[f64], i: usize, j: usize, alpha: f64) -> Result<Vec<f64>> {
        check_len("params", params, self.n_factors)?;
        for (field, index) in [("i", i), ("j", j)] {
            if index >= self.n_factors {
                return Err(Error::invalid_value(
                    field,
                    index,
                    &format!("must be a factor index below {}", self.n_factors),
                ));
            }
        }
        if i == j {
            return Err(Error::invalid_value("j", j, "must differ from i"));
        }
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(Error::invalid_value(
                "alpha",
                alpha,
                "must be finite and > 0",
            ));
        }
        let mut out = params.to_vec();
        out[i] *= alpha;
        out[j] /= alpha;
        Ok(out)
    }

    /// Multiplies the factors entry-wise by `factors`, whose product must be 1
    /// (|∏ − 1| ≤ [`SCALE_PRODUCT_TOLERANCE`]); this leaves f and L unchanged.
    ///
    /// Negative entries are allowed (an even number of sign flips is also a symmetry).
    /// Errors: wrong lengths, non-finite entries, or a product away from 1.
    pub fn scale(&self, params: &[f64], factors: &[f64]) -> Result<Vec<f64>> {
        check_len("params", params, self.n_factors)?;
        check_len("factors", factors, self.n_factors)?;
        check_finite("factors", factors)?;
        let product: f64 = factors.iter().product();
        if (product - 1.0).abs() > SCALE_PRODUCT_TOLERANCE {
            return Err(Error::invalid_value(
                "factors",
                format!("{factors:?} (product {product})"),
                "must multiply to 1",
            ));
        }
        Ok(params.iter().zip(factors).map(|(w, s)| w * s).collect())
    }

    /// The point of the toy's orbit a·b = c at position log α (natural log), for n = 2:
    /// (√|c|·α, sign(c)·√|c|/α). For c = 9 this is (3α, 3/α); c = 0 gives (0, 0).
    ///
    /// Errors: non-finite `product` or `log_alpha`, or a log α so large that α or 1/α
    /// overflows.
    pub fn orbit_point(product: f64, log_alpha: f64) -> Result<[f64; 2]> {
        if !product.is_finite() {
            return Err(Error::invalid_value("product", product, "must be finite"));
        }
        let alpha = log_alpha.exp();
        if !(log_alpha.is_finite() && alpha.is_finite() && alpha > 0.0) {
            return Err(Error::invalid_value(
                "log_alpha",
                log_alpha,
                "must be finite with exp(log_alpha) finite and > 0",
            ));
        }
        let root = product.abs().sqrt();
        let sign = if product < 0.0 { -1.0 } else { 1.0 };
        Ok([root * alpha, sign * root / alpha])
    }

    /// The quantities gradient flow conserves: wᵢ² − wⱼ² for every pair i < j, in
    /// lexicographic order (0,1), (0,2), …, (0,n−1), (1,2), …; n(n−1)/2 values.
    /// For the toy this is the single value a² − b².
    pub fn conserved_quantities(&self, params: &[f64]) -> Vec<f64> {
        let n = params.len();
        let mut out = Vec::with_capacity(n * n.saturating_sub(1) / 2);
        for i in 0..n {
            for j in (i + 1)..n {
                out.push(params[i] * params[i] - params[j] * params[j]);
            }
        }
        out
    }

    /// [`ProductChain::conserved_quantities`] at every recorded point of a run, in order
    /// t = 0, 1, …, steps.
    ///
    /// Errors: the run did not record its trajectory (see
    /// [`Recording`](crate::descent::Recording)), or its points have the wrong length.
    pub fn conserved_along(&self, run: &Run) -> Result<Vec<Vec<f64>>> {
        if run.trajectory.is_empty() {
            return Err(Error::invalid_spec(
                "run",
                "its trajectory was not recorded (use Recording::Full)",
            ));
        }
        run.trajectory
            .iter()
            .map(|point| {
                check_len("trajectory point", point, self.n_factors)?;
                Ok(self.conserved_quantities(point))
            })
            .collect()
    }
}

/// Writes Pᵢ = ∏_{k≠i} w_k into `out` (suffix products first, then a forward sweep) and
/// returns the full product p, multiplied in the same order as [`ProductChain::product`].
fn products_but_one_into(params: &[f64], out: &mut [f64]) -> f64 {
    let n = params.len();
    // out[i] = w_{i+1}·…·w_{n−1} (suffix after i).
    let mut suffix = 1.0;
    for i in (0..n).rev() {
        out[i] = suffix;
        suffix *= params[i];
    }
    // Multiply in the prefix w_0·…·w_{i−1}.
    let mut prefix = 1.0;
    for i in 0..n {
        out[i] *= prefix;
        prefix *= params[i];
    }
    suffix
}

impl Model for ProductChain {
    fn n_params(&self) -> usize {
        self.n_factors
    }

    fn input_dim(&self) -> usize {
        1
    }

    fn output_dim(&self) -> usize {
        1
    }

    /// f(x) = p·x.
    fn predict(&self, params: &[f64], input: &[f64], output: &mut [f64]) {
        output[0] = self.product(params) * input[0];
    }

    /// L = Σ_s (p·x_s − y_s)².
    fn loss(&self, params: &[f64]) -> f64 {
        self.loss_and_slope_in_product(self.product(params)).0
    }

    /// ∂L/∂wᵢ = G·Pᵢ with G = Σ_s 2·(p·x_s − y_s)·x_s. Allocation-free.
    fn loss_and_gradient(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        let p = products_but_one_into(params, grad);
        let (loss, slope) = self.loss_and_slope_in_product(p);
        grad.iter_mut().for_each(|g| *g *= slope);
        loss
    }

    /// (H·v)ᵢ = S·Pᵢ·(Σ_j Pⱼ·vⱼ) + G·Σ_{j≠i} Pᵢⱼ·vⱼ, the last sum as the tangent of Pᵢ
    /// along v through prefix and suffix products.
    fn hessian_vector_product(&self, params: &[f64], v: &[f64], out: &mut [f64]) {
        let n = params.len();

        // Suffix products σ_k = w_k·…·w_{n−1} and their tangents σ'_k along v.
        let mut suffix = vec![1.0; n + 1];
        let mut suffix_tangent = vec![0.0; n + 1];
        for k in (0..n).rev() {
            suffix[k] = params[k] * suffix[k + 1];
            suffix_tangent[k] = v[k] * suffix[k + 1] + params[k] * suffix_tangent[k + 1];
        }
        let (_, slope) = self.loss_and_slope_in_product(suffix[0]);

        // Forward sweep: Pᵢ = π_i·σ_{i+1}, its tangent π'_i·σ_{i+1} + π_i·σ'_{i+1}.
        let mut prefix = 1.0;
        let mut prefix_tangent = 0.0;
        let mut product_tangent = 0.0; // Σ_j Pⱼ·vⱼ
        let mut but_one = vec![0.0; n];
        for i in 0..n {
            but_one[i] = prefix * suffix[i + 1];
            let but_one_tangent = prefix_tangent * suffix[i + 1] + prefix * suffix_tangent[i + 1];
            out[i] = slope * but_one_tangent;
            product_tangent += but_one[i] * v[i];
            prefix_tangent = prefix_tangent * params[i] + prefix * v[i];
            prefix *= params[i];
        }
        for i in 0..n {
            out[i] += self.curvature_in_product * but_one[i] * product_tangent;
        }
    }

    /// Closed form: Hᵢᵢ = S·Pᵢ², Hᵢⱼ = S·Pᵢ·Pⱼ + G·Pᵢⱼ, with Pᵢⱼ = π_i·(w_{i+1}⋯w_{j−1})·σ_{j+1}.
    fn hessian(&self, params: &[f64]) -> DMatrix<f64> {
        let n = params.len();
        let mut prefix = vec![1.0; n + 1];
        for k in 0..n {
            prefix[k + 1] = prefix[k] * params[k];
        }
        let mut suffix = vec![1.0; n + 1];
        for k in (0..n).rev() {
            suffix[k] = params[k] * suffix[k + 1];
        }
        let (_, slope) = self.loss_and_slope_in_product(suffix[0]);
        let s = self.curvature_in_product;
        let but_one: Vec<f64> = (0..n).map(|i| prefix[i] * suffix[i + 1]).collect();

        let mut h = DMatrix::zeros(n, n);
        for i in 0..n {
            h[(i, i)] = s * but_one[i] * but_one[i];
            let mut middle = 1.0; // w_{i+1}·…·w_{j−1}
            for j in (i + 1)..n {
                let but_two = prefix[i] * middle * suffix[j + 1];
                let value = s * but_one[i] * but_one[j] + slope * but_two;
                h[(i, j)] = value;
                h[(j, i)] = value;
                middle *= params[j];
            }
        }
        h
    }
}
