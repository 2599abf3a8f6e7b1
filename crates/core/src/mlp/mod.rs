//! Multilayer perceptrons with exact first and second derivatives of their loss.
//!
//! - [`Mlp`]: widths, per-hidden-layer [`Activation`]s and the flat parameter layout
//!   ([`LayerLayout`]: W_k row-major with shape (fan_in, fan_out), then b_k, layer by layer).
//! - [`MlpProblem`]: a network with its [`Dataset`]; implements [`Model`] with
//!   backpropagation, the exact R-operator Hessian-vector product, the generalized
//!   Gauss-Newton product and a batched dense Hessian.
//! - [`symmetry`]: weight-space symmetries as group elements with their action on
//!   parameters, gradients and Hessians; [`conserved`]: per-neuron conserved quantities.
//! - [`ProblemFile`]: the JSON problem format (widths, activation, params, x, y).
//!
//! Losses: mean squared error L = (1/(n·m)) Σ_i Σ_j (f_j(x_i) − y_ij)² (no ½), and softmax
//! cross-entropy L = (1/n) Σ_i (log Σ_j exp f_j(x_i) − f_{y_i}(x_i)).
//!
//! Work is split into fixed blocks of samples (independent of the thread count) that run in
//! parallel on rayon's pool; partial sums are added in block order, so every result is
//! bit-for-bit reproducible whatever the number of threads.
//!
//! ```
//! use symstab_core::Model;
//! use symstab_core::data::teacher_student;
//! use symstab_core::mlp::Activation;
//! use symstab_core::mlp::symmetry::Symmetry;
//! use symstab_core::spectrum::symmetric_eigenvalues;
//!
//! // The study's setting, smaller: a ReLU student fitting a teacher of the same widths.
//! let ts = teacher_student(&[3, 8, 8, 1], Activation::Relu, 64, 0)?;
//! let (problem, theta) = (&ts.problem, &ts.student_params);
//! let lambda_max = symmetric_eigenvalues(problem.hessian(theta))?[0];
//!
//! // A balanced rescale of the first hidden layer: same function, different curvature.
//! let g = Symmetry::random_balanced_rescale(problem.network(), 0, 10.0, 1)?;
//! let moved = g.apply(problem.network(), theta)?;
//! assert!((problem.loss(&moved) - problem.loss(theta)).abs() < 1e-12);
//! let moved_max = symmetric_eigenvalues(problem.hessian(&moved))?[0];
//! assert!(moved_max > lambda_max);
//! # Ok::<(), symstab_core::Error>(())
//! ```

pub mod conserved;
mod derivatives;
mod file;
pub(crate) mod linalg;
mod network;
pub mod symmetry;

pub use file::{FileLoss, ProblemFile};
pub use network::{Activation, LayerLayout, LayerView, LayerViewMut, Mlp};
pub use network::{MAX_PARAMS, MEMORY_CAP_BYTES};

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::{HessianAt, Model, symmetrize};
use derivatives::{BlockTargets, Head};

/// Samples per block of the gradient and Hessian-vector product.
const SAMPLE_BLOCK: usize = 256;
/// Samples × parameters below which the per-block work runs on the calling thread
/// (measured: the 401-parameter network on 1000 samples, 4e5, gains 1.9× from 2 threads).
const PARALLEL_WORK: usize = 200_000;
/// Unit tangents carried together by the dense Hessian.
const TANGENT_BLOCK: usize = 32;
/// Most bytes one prepared point of [`Model::hessian_at`] keeps: the forward pass and
/// backpropagation at the point (activations, σ′, δ of every sample: 6.8 KB a sample for
/// a ReLU [64, 128, 128, 10], so about 37,000 samples fit). Orbit scans and network
/// sweeps prepare one point per rayon thread at once, so they hold up to threads × this.
/// A larger dataset gets the products of [`Model::hessian_vector_product`] instead. The
/// cap is a constant (not a share of the thread count) so that which products are used,
/// and hence every bit of the results, does not depend on the number of threads.
pub const POINT_CACHE_CAP_BYTES: u64 = 256 << 20;

/// The loss an [`MlpProblem`] minimises (fixed by the kind of targets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// Mean over all n·m entries of (f − y)², without a factor ½ (regression targets).
    MeanSquaredError,
    /// Mean over samples of the softmax cross-entropy (integer class labels).
    CrossEntropy,
}

/// An MLP together with the dataset its loss is measured on: a [`Model`].
#[derive(Debug, Clone)]
pub struct MlpProblem {
    network: Mlp,
    data: Dataset,
    loss_kind: LossKind,
}

impl MlpProblem {
    /// Pairs a network with a dataset. The input widths must agree; regression targets need
    /// `target_dim == d_L` (mean squared error), labels need `n_classes == d_L`
    /// (cross-entropy).
    pub fn new(network: Mlp, data: Dataset) -> Result<Self> {
        if data.input_dim() != network.input_dim() {
            return Err(Error::invalid_spec(
                "dataset",
                format!(
                    "input width {} does not match the network's input width {}",
                    data.input_dim(),
                    network.input_dim()
                ),
            ));
        }
        network.check_batch(data.n_samples())?;
        let loss_kind = match data.targets() {
            Targets::Values { .. } => LossKind::MeanSquaredError,
            Targets::Labels { .. } => LossKind::CrossEntropy,
        };
        if data.targets().dim() != network.output_dim() {
            return Err(Error::invalid_spec(
                "dataset",
                format!(
                    "targets have width {} but the network's output width is {}",
                    data.targets().dim(),
                    network.output_dim()
                ),
            ));
        }
        Ok(MlpProblem {
            network,
            data,
            loss_kind,
        })
    }

    /// The network.
    pub fn network(&self) -> &Mlp {
        &self.network
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// The loss being minimised.
    pub fn loss_kind(&self) -> LossKind {
        self.loss_kind
    }

    fn head(&self) -> Head {
        match self.loss_kind {
            LossKind::MeanSquaredError => Head::Mse,
            LossKind::CrossEntropy => Head::CrossEntropy,
        }
    }

    /// Factor that turns a sum over the data into the mean the loss is defined with.
    fn scale(&self) -> f64 {
        match self.loss_kind {
            LossKind::MeanSquaredError => {
                1.0 / (self.data.n_samples() as f64 * self.network.output_dim() as f64)
            }
            LossKind::CrossEntropy => 1.0 / self.data.n_samples() as f64,
        }
    }

    fn blocks(&self, size: usize) -> Vec<(usize, usize)> {
        let n = self.data.n_samples();
        (0..n.div_ceil(size))
            .map(|b| (b * size, ((b + 1) * size).min(n)))
            .collect()
    }

    fn block_inputs(&self, start: usize, end: usize) -> &[f64] {
        let d = self.data.input_dim();
        &self.data.inputs()[start * d..end * d]
    }

    /// Whether per-block work over `n_blocks` blocks goes to rayon's pool.
    fn parallel(&self, n_blocks: usize) -> bool {
        n_blocks > 1 && self.data.n_samples() * self.network.n_params() >= PARALLEL_WORK
    }

    /// Runs `work` on every sample block (in parallel) and adds the per-block vectors and
    /// scalars in block order.
    fn reduce_blocks<F>(&self, len: usize, work: F) -> (f64, Vec<f64>)
    where
        F: Fn(usize, usize, &mut [f64]) -> f64 + Sync,
    {
        let blocks = self.blocks(SAMPLE_BLOCK);
        let run = |&(s, e): &(usize, usize)| {
            let mut part = vec![0.0; len];
            let value = work(s, e, &mut part);
            (value, part)
        };
        // Small problems run on the calling thread: waking a second worker costs more than
        // the work (and on a loaded machine the worker may not be scheduled soon). The
        // blocks and their order are the same either way, so the bits are too.
        let parts: Vec<(f64, Vec<f64>)> = if self.parallel(blocks.len()) {
            blocks.par_iter().map(run).collect()
        } else {
            blocks.iter().map(run).collect()
        };
        let mut total = 0.0;
        let mut sum = vec![0.0; len];
        for (value, part) in parts {
            total += value;
            for (s, p) in sum.iter_mut().zip(&part) {
                *s += p;
            }
        }
        (total, sum)
    }

    /// Network outputs on the dataset's inputs, row-major n × d_L.
    pub fn outputs(&self, params: &[f64]) -> Result<Vec<f64>> {
        self.network
            .forward(params, self.data.inputs(), self.data.n_samples())
    }

    /// Checked loss: errors on a parameter vector of the wrong length or with non-finite entries.
    pub fn try_loss(&self, params: &[f64]) -> Result<f64> {
        self.check_params("params", params)?;
        Ok(self.loss(params))
    }

    /// Writes the generalized Gauss-Newton product G·v = Jᵀ (∇²_f ℓ) J v into `out`
    /// (Schraudolph 2002). G is positive semi-definite for both losses.
    pub fn ggn_vector_product(&self, params: &[f64], v: &[f64], out: &mut [f64]) {
        let (head, scale, p) = (self.head(), self.scale(), self.network.n_params());
        let (_, sum) = self.reduce_blocks(p, |s, e, part| {
            let targets = BlockTargets::of(self.data.targets(), s, e);
            derivatives::ggn_block(
                &self.network,
                head,
                params,
                v,
                self.block_inputs(s, e),
                targets,
                e - s,
                scale,
                part,
            );
            0.0
        });
        out.copy_from_slice(&sum);
    }

    /// Hessian-vector products for several tangents (columns of `tangents`, P × k), as
    /// the columns of a P × k matrix.
    pub fn hessian_matrix_product(&self, params: &[f64], tangents: &DMatrix<f64>) -> DMatrix<f64> {
        let p = self.network.n_params();
        let mut out = DMatrix::zeros(p, tangents.ncols());
        let cols: Vec<Vec<f64>> = (0..tangents.ncols())
            .map(|j| {
                let v: Vec<f64> = tangents.column(j).iter().copied().collect();
                let mut hv = vec![0.0; p];
                self.hessian_vector_product(params, &v, &mut hv);
                hv
            })
            .collect();
        for (j, c) in cols.iter().enumerate() {
            out.column_mut(j).copy_from_slice(c);
        }
        out
    }
}

impl Model for MlpProblem {
    fn n_params(&self) -> usize {
        self.network.n_params()
    }

    fn input_dim(&self) -> usize {
        self.network.input_dim()
    }

    fn output_dim(&self) -> usize {
        self.network.output_dim()
    }

    fn predict(&self, params: &[f64], input: &[f64], output: &mut [f64]) {
        output.copy_from_slice(&self.network.forward_unchecked(params, input, 1));
    }

    fn loss(&self, params: &[f64]) -> f64 {
        let (head, scale, m) = (self.head(), self.scale(), self.network.output_dim());
        let (loss, _) = self.reduce_blocks(0, |s, e, _| {
            let nb = e - s;
            let out = self
                .network
                .forward_unchecked(params, self.block_inputs(s, e), nb);
            let mut delta = vec![0.0; nb * m];
            let mut probs = vec![
                0.0;
                if head == Head::CrossEntropy {
                    nb * m
                } else {
                    0
                }
            ];
            let targets = BlockTargets::of(self.data.targets(), s, e);
            derivatives::loss_head(head, &out, m, targets, scale, &mut delta, &mut probs)
        });
        loss
    }

    /// Backpropagation (see the `derivatives` notes in the module source): ∇W_k = h_kᵀ δ_k,
    /// ∇b_k = 1ᵀ δ_k, δ_{k−1} = (δ_k W_kᵀ) ⊙ σ'(z_{k−1}).
    fn loss_and_gradient(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        let (head, scale, p) = (self.head(), self.scale(), self.network.n_params());
        let (loss, sum) = self.reduce_blocks(p, |s, e, part| {
            let targets = BlockTargets::of(self.data.targets(), s, e);
            let x = self.block_inputs(s, e);
            let state = derivatives::forward_head(
                &self.network,
                head,
                params,
                x,
                targets,
                e - s,
                scale,
                false,
            );
            derivatives::backward(
                &self.network,
                params,
                &state.tape,
                state.delta,
                Some(part),
                false,
            );
            state.loss
        });
        grad.copy_from_slice(&sum);
        loss
    }

    /// Exact H·v by Pearlmutter's R-operator (forward-over-reverse), about four times the
    /// cost of a gradient.
    fn hessian_vector_product(&self, params: &[f64], v: &[f64], out: &mut [f64]) {
        let (head, scale, p) = (self.head(), self.scale(), self.network.n_params());
        let (_, sum) = self.reduce_blocks(p, |s, e, part| {
            let targets = BlockTargets::of(self.data.targets(), s, e);
            derivatives::hvp_block(
                &self.network,
                head,
                params,
                v,
                self.block_inputs(s, e),
                targets,
                e - s,
                scale,
                part,
            )
        });
        out.copy_from_slice(&sum);
    }

    /// Hessian-vector products at a fixed θ with the forward pass, the loss head and
    /// backpropagation at θ computed once per sample block and kept (when they fit
    /// [`POINT_CACHE_CAP_BYTES`]): each product then does only the tangent's work, about
    /// three quarters of [`Model::hessian_vector_product`]'s. Blocks and their order are
    /// those of the other derivatives, so the products are the same bits whatever the
    /// thread count; they differ from [`Model::hessian_vector_product`]'s by rounding.
    fn hessian_at<'a>(&'a self, params: &'a [f64]) -> HessianAt<'a> {
        let bytes = derivatives::BlockPoint::bytes(&self.network, self.data.n_samples());
        if bytes > u128::from(POINT_CACHE_CAP_BYTES) {
            return Box::new(move |v: &[f64], out: &mut [f64]| {
                self.hessian_vector_product(params, v, out)
            });
        }
        let (head, scale, p) = (self.head(), self.scale(), self.network.n_params());
        let blocks = self.blocks(SAMPLE_BLOCK);
        let prepare = |&(s, e): &(usize, usize)| {
            let targets = BlockTargets::of(self.data.targets(), s, e);
            derivatives::BlockPoint::new(
                &self.network,
                head,
                params,
                self.block_inputs(s, e),
                targets,
                e - s,
                scale,
            )
        };
        let points: Vec<derivatives::BlockPoint> = if self.parallel(blocks.len()) {
            blocks.par_iter().map(prepare).collect()
        } else {
            blocks.iter().map(prepare).collect()
        };
        Box::new(move |v: &[f64], out: &mut [f64]| {
            let (_, sum) = self.reduce_blocks(p, |s, _, part| {
                let point = &points[s / SAMPLE_BLOCK];
                derivatives::cached_hvp_block(&self.network, head, params, point, v, scale, part);
                0.0
            });
            out.copy_from_slice(&sum);
        })
    }

    /// Dense Hessian by the R-operator on all P unit tangents, carried in groups of 32 per
    /// layer. A tangent of layer ℓ only needs the rows of layers ≥ ℓ (the rest follow by
    /// symmetry), so the passes start and stop at layer ℓ. Groups run in parallel, each over
    /// all samples in a fixed order; the result is symmetrised.
    fn hessian(&self, params: &[f64]) -> DMatrix<f64> {
        let net = &self.network;
        let (head, scale, p) = (self.head(), self.scale(), net.n_params());
        let mut tasks = Vec::new();
        for (k, l) in net.layers().iter().enumerate() {
            let count = l.n_params();
            let mut t0 = 0;
            while t0 < count {
                let t1 = (t0 + TANGENT_BLOCK).min(count);
                tasks.push((k, t0, t1));
                t0 = t1;
            }
        }
        let max_width = net.widths().iter().copied().max().unwrap_or(1);
        let nb = (32768 / (TANGENT_BLOCK * max_width)).clamp(8, SAMPLE_BLOCK);
        let blocks = self.blocks(nb);
        let columns: Vec<Vec<f64>> = tasks
            .par_iter()
            .map(|&(k, t0, t1)| {
                let width = p - net.layer(k).weight_offset;
                let mut acc = vec![0.0; (t1 - t0) * width];
                let mut work = derivatives::HessianWork::default();
                for &(s, e) in &blocks {
                    let targets = BlockTargets::of(self.data.targets(), s, e);
                    derivatives::hessian_columns_block(
                        net,
                        head,
                        params,
                        self.block_inputs(s, e),
                        targets,
                        e - s,
                        scale,
                        k,
                        t0,
                        t1,
                        &mut acc,
                        &mut work,
                    );
                }
                acc
            })
            .collect();
        let mut h = DMatrix::zeros(p, p);
        for (&(k, t0, t1), acc) in tasks.iter().zip(&columns) {
            let l = net.layer(k);
            let base = l.weight_offset;
            let layer_end = l.bias_offset + l.fan_out;
            let width = p - base;
            for t in 0..t1 - t0 {
                let c = base + t0 + t;
                for (r_local, &value) in acc[t * width..(t + 1) * width].iter().enumerate() {
                    let r = base + r_local;
                    h[(r, c)] = value;
                    if r >= layer_end {
                        h[(c, r)] = value;
                    }
                }
            }
        }
        symmetrize(&mut h);
        h
    }
}
