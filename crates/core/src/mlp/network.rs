//! The architecture of a multilayer perceptron: widths, activations and the flat parameter
//! layout, with typed per-layer views and a batched forward pass.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, check_len};
use crate::mlp::linalg::{View, gemm};

/// Activation applied elementwise after a hidden layer.
///
/// Kink convention (used by every derivative in this module): at z = 0 the ReLU has
/// derivative 0, the leaky ReLU has derivative `slope` (both take the left derivative),
/// and both have second derivative 0 everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// max(z, 0).
    Relu,
    /// z for z > 0, slope·z otherwise.
    LeakyRelu {
        /// Slope on the negative side (finite, > 0 and ≠ 1 is typical; any finite value works).
        slope: f64,
    },
    /// tanh(z).
    Tanh,
    /// z (a linear network).
    Identity,
}

impl Activation {
    /// σ(z).
    #[inline]
    pub fn value(self, z: f64) -> f64 {
        match self {
            Activation::Relu => {
                if z > 0.0 {
                    z
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { slope } => {
                if z > 0.0 {
                    z
                } else {
                    slope * z
                }
            }
            Activation::Tanh => z.tanh(),
            Activation::Identity => z,
        }
    }

    /// σ'(z), with the kink convention of the type docs.
    #[inline]
    pub fn derivative(self, z: f64) -> f64 {
        match self {
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { slope } => {
                if z > 0.0 {
                    1.0
                } else {
                    slope
                }
            }
            Activation::Tanh => {
                let t = z.tanh();
                1.0 - t * t
            }
            Activation::Identity => 1.0,
        }
    }

    /// σ''(z) (0 for the piecewise linear activations, also at the kink).
    #[inline]
    pub fn second_derivative(self, z: f64) -> f64 {
        match self {
            Activation::Tanh => {
                let t = z.tanh();
                -2.0 * t * (1.0 - t * t)
            }
            _ => 0.0,
        }
    }

    /// False when σ'' is identically 0 (the piecewise linear activations).
    pub fn second_derivative_may_be_nonzero(self) -> bool {
        matches!(self, Activation::Tanh)
    }

    /// True when σ(αz) = α·σ(z) for every α > 0 (relu, leaky relu, identity).
    pub fn is_positively_homogeneous(self) -> bool {
        !matches!(self, Activation::Tanh)
    }

    /// True when σ(−z) = −σ(z) (tanh, identity).
    pub fn is_odd(self) -> bool {
        matches!(self, Activation::Tanh | Activation::Identity)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu { slope } => write!(f, "leaky_relu({slope})"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Identity => write!(f, "identity"),
        }
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// Parses `relu`, `tanh`, `identity` (or `linear`), `leaky_relu` (slope 0.01) and
    /// `leaky_relu(SLOPE)`.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "relu" => return Ok(Activation::Relu),
            "tanh" => return Ok(Activation::Tanh),
            "identity" | "linear" => return Ok(Activation::Identity),
            "leaky_relu" => return Ok(Activation::LeakyRelu { slope: 0.01 }),
            _ => {}
        }
        if let Some(inner) = t
            .strip_prefix("leaky_relu(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let slope: f64 = inner
                .trim()
                .parse()
                .map_err(|_| Error::invalid_value("activation", s, "slope is not a number"))?;
            if !slope.is_finite() {
                return Err(Error::invalid_value(
                    "activation",
                    s,
                    "slope must be finite",
                ));
            }
            return Ok(Activation::LeakyRelu { slope });
        }
        Err(Error::invalid_value(
            "activation",
            s,
            "expected relu, leaky_relu, leaky_relu(SLOPE), tanh or identity",
        ))
    }
}

impl TryFrom<String> for Activation {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Activation> for String {
    fn from(a: Activation) -> String {
        a.to_string()
    }
}

/// Where one layer's parameters sit in the flat vector.
///
/// Layer k maps width `fan_in` = d_k to `fan_out` = d_{k+1} by h ↦ h·W_k + b_k. Its weight
/// matrix W_k has shape (fan_in, fan_out) and is stored row-major at
/// `weight_offset .. weight_offset + fan_in·fan_out` (entry (i, j) at
/// `weight_offset + i·fan_out + j`); the bias b_k follows at `bias_offset .. bias_offset + fan_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerLayout {
    /// Input width d_k.
    pub fan_in: usize,
    /// Output width d_{k+1}.
    pub fan_out: usize,
    /// Offset of W_k[0, 0] in the flat vector.
    pub weight_offset: usize,
    /// Offset of b_k[0] in the flat vector (= weight_offset + fan_in·fan_out).
    pub bias_offset: usize,
}

impl LayerLayout {
    /// Number of parameters of the layer (fan_in·fan_out + fan_out).
    pub fn n_params(&self) -> usize {
        self.fan_in * self.fan_out + self.fan_out
    }

    /// Flat index of the weight W_k[i, j].
    pub fn weight_index(&self, i: usize, j: usize) -> usize {
        self.weight_offset + i * self.fan_out + j
    }

    /// Flat index of the bias b_k[j].
    pub fn bias_index(&self, j: usize) -> usize {
        self.bias_offset + j
    }

    /// The range of this layer's parameters in the flat vector.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.weight_offset..self.bias_offset + self.fan_out
    }
}

/// Borrowed view of one layer's parameters.
#[derive(Debug, Clone, Copy)]
pub struct LayerView<'a> {
    /// The layer's layout.
    pub layout: LayerLayout,
    /// W_k row-major, shape (fan_in, fan_out).
    pub weights: &'a [f64],
    /// b_k, length fan_out.
    pub bias: &'a [f64],
}

impl LayerView<'_> {
    /// W_k[i, j].
    pub fn weight(&self, i: usize, j: usize) -> f64 {
        self.weights[i * self.layout.fan_out + j]
    }
}

/// Mutable view of one layer's parameters.
#[derive(Debug)]
pub struct LayerViewMut<'a> {
    /// The layer's layout.
    pub layout: LayerLayout,
    /// W_k row-major, shape (fan_in, fan_out).
    pub weights: &'a mut [f64],
    /// b_k, length fan_out.
    pub bias: &'a mut [f64],
}

/// A multilayer perceptron: widths [d_0, …, d_L], a bias on every layer, an activation after
/// each hidden layer and a linear output layer.
///
/// Forward pass: h_0 = x, z_k = h_k·W_k + b_k, h_{k+1} = σ_k(z_k) for k < L − 1, and
/// f(x) = z_{L−1}. Flat parameter order: [W_0 (row-major, shape (d_0, d_1)), b_0, W_1, b_1,
/// …], see [`LayerLayout`].
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    widths: Vec<usize>,
    activations: Vec<Activation>,
    layers: Vec<LayerLayout>,
    n_params: usize,
}

/// Most bytes one network or batch may hold in one buffer: 4 GiB. Checked by [`Mlp::new`]
/// (one parameter vector) and [`Mlp::check_batch`] (the activations of a batch).
pub const MEMORY_CAP_BYTES: u64 = 4 << 30;

/// Most parameters of a network: one parameter vector of f64 fits [`MEMORY_CAP_BYTES`].
pub const MAX_PARAMS: usize = (MEMORY_CAP_BYTES / 8) as usize;

impl Mlp {
    /// Checks that a batch of `n_samples` fits [`MEMORY_CAP_BYTES`]: the forward and
    /// backward passes hold n_samples × Σ widths values of 8 bytes (activations of every
    /// layer). Errors name `samples`, the value and the bytes needed.
    pub fn check_batch(&self, n_samples: usize) -> Result<()> {
        let per_sample: u64 = self.widths.iter().map(|&w| w as u64).sum();
        let bytes = (n_samples as u128) * u128::from(per_sample) * 8;
        if bytes > u128::from(MEMORY_CAP_BYTES) {
            return Err(Error::invalid_value(
                "samples",
                n_samples,
                &format!(
                    "the activations (samples × {per_sample} widths × 8 bytes) would need {bytes} bytes, above the cap of {} GiB",
                    MEMORY_CAP_BYTES >> 30
                ),
            ));
        }
        Ok(())
    }

    /// A network with one activation per hidden layer (`activations.len() == widths.len() − 2`).
    /// At most [`MAX_PARAMS`] parameters (an error names `widths` otherwise).
    pub fn new(widths: &[usize], activations: &[Activation]) -> Result<Self> {
        if widths.len() < 2 {
            return Err(Error::invalid_spec(
                "widths",
                format!("need at least 2 entries (input and output), got {widths:?}"),
            ));
        }
        if let Some(k) = widths.iter().position(|&w| w == 0) {
            return Err(Error::invalid_spec(
                "widths",
                format!("entry {k} is 0 in {widths:?}"),
            ));
        }
        if activations.len() != widths.len() - 2 {
            return Err(Error::invalid_spec(
                "activations",
                format!(
                    "need one per hidden layer ({} for widths {widths:?}), got {}",
                    widths.len() - 2,
                    activations.len()
                ),
            ));
        }
        for a in activations {
            if let Activation::LeakyRelu { slope } = a
                && !slope.is_finite()
            {
                return Err(Error::invalid_value(
                    "leaky_relu slope",
                    slope,
                    "must be finite",
                ));
            }
        }
        // Parameter count with checked arithmetic, bounded before anything is allocated.
        let mut n_params: usize = 0;
        for w in widths.windows(2) {
            n_params = w[0]
                .checked_mul(w[1])
                .and_then(|p| p.checked_add(w[1]))
                .and_then(|p| p.checked_add(n_params))
                .ok_or_else(|| {
                    Error::invalid_value(
                        "widths",
                        format!("{widths:?}"),
                        "the parameter count overflows usize",
                    )
                })?;
        }
        if n_params > MAX_PARAMS {
            return Err(Error::invalid_value(
                "widths",
                format!("{widths:?}"),
                &format!(
                    "{n_params} parameters would need {} bytes per parameter vector, above the cap of {MAX_PARAMS} parameters ({} GiB)",
                    n_params as u128 * 8,
                    MEMORY_CAP_BYTES >> 30
                ),
            ));
        }
        let mut layers = Vec::with_capacity(widths.len() - 1);
        let mut offset = 0;
        for w in widths.windows(2) {
            let (fan_in, fan_out) = (w[0], w[1]);
            layers.push(LayerLayout {
                fan_in,
                fan_out,
                weight_offset: offset,
                bias_offset: offset + fan_in * fan_out,
            });
            offset += fan_in * fan_out + fan_out;
        }
        Ok(Mlp {
            widths: widths.to_vec(),
            activations: activations.to_vec(),
            layers,
            n_params: offset,
        })
    }

    /// A network with the same activation after every hidden layer.
    pub fn uniform(widths: &[usize], activation: Activation) -> Result<Self> {
        let n_hidden = widths.len().saturating_sub(2);
        Mlp::new(widths, &vec![activation; n_hidden])
    }

    /// The widths [d_0, …, d_L].
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// The activation of each hidden layer (hidden layer k is the output of layer k − 1… i.e.
    /// `activations()[k]` is applied to z_k, for k = 0 … L − 2).
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    /// Number of affine layers L.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Number of hidden layers L − 1.
    pub fn n_hidden_layers(&self) -> usize {
        self.layers.len() - 1
    }

    /// Input width d_0.
    pub fn input_dim(&self) -> usize {
        self.widths[0]
    }

    /// Output width d_L.
    pub fn output_dim(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }

    /// Number of parameters Σ_k (d_k·d_{k+1} + d_{k+1}).
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// Layouts of all layers in order.
    pub fn layers(&self) -> &[LayerLayout] {
        &self.layers
    }

    /// Layout of layer k (panics if k ≥ L).
    pub fn layer(&self, k: usize) -> LayerLayout {
        self.layers[k]
    }

    /// The layer that holds flat parameter `index`.
    pub fn layer_of(&self, index: usize) -> Option<usize> {
        self.layers.iter().position(|l| l.range().contains(&index))
    }

    /// Borrowed view of layer k inside `params` (length [`Mlp::n_params`]).
    pub fn view<'a>(&self, params: &'a [f64], k: usize) -> LayerView<'a> {
        let l = self.layers[k];
        LayerView {
            layout: l,
            weights: &params[l.weight_offset..l.bias_offset],
            bias: &params[l.bias_offset..l.bias_offset + l.fan_out],
        }
    }

    /// Mutable view of layer k inside `params`.
    pub fn view_mut<'a>(&self, params: &'a mut [f64], k: usize) -> LayerViewMut<'a> {
        let l = self.layers[k];
        let (weights, rest) =
            params[l.weight_offset..l.bias_offset + l.fan_out].split_at_mut(l.fan_in * l.fan_out);
        LayerViewMut {
            layout: l,
            weights,
            bias: rest,
        }
    }

    /// He (Kaiming normal) initialisation: W_k ~ N(0, 2/d_k), b_k ~ N(0, `bias_std`²), drawn
    /// layer by layer (W_k row-major, then b_k) from ChaCha8 seeded with `seed`.
    pub fn init_he(&self, seed: u64, bias_std: f64) -> Result<Vec<f64>> {
        if !(bias_std.is_finite() && bias_std >= 0.0) {
            return Err(Error::invalid_value(
                "bias_std",
                bias_std,
                "must be finite and >= 0",
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Ok(self.init_he_with(&mut rng, bias_std))
    }

    /// He initialisation from a caller's RNG (see [`Mlp::init_he`]); `bias_std` must be ≥ 0.
    pub fn init_he_with<R: Rng + ?Sized>(&self, rng: &mut R, bias_std: f64) -> Vec<f64> {
        let mut params = vec![0.0; self.n_params];
        for k in 0..self.n_layers() {
            let l = self.layers[k];
            let w = Normal::new(0.0, (2.0 / l.fan_in as f64).sqrt()).expect("positive std");
            let b = Normal::new(0.0, bias_std.max(0.0)).expect("finite std");
            let view = self.view_mut(&mut params, k);
            for v in view.weights.iter_mut() {
                *v = w.sample(rng);
            }
            for v in view.bias.iter_mut() {
                *v = b.sample(rng);
            }
        }
        params
    }

    /// Outputs f(x) for `n` inputs stored row-major in `inputs` (n × d_0); returns n × d_L
    /// row-major.
    pub fn forward(&self, params: &[f64], inputs: &[f64], n: usize) -> Result<Vec<f64>> {
        check_len("params", params, self.n_params)?;
        check_len("inputs", inputs, n * self.input_dim())?;
        Ok(self.forward_unchecked(params, inputs, n))
    }

    /// [`Mlp::forward`] without the length checks (panics on a mismatch).
    pub(crate) fn forward_unchecked(&self, params: &[f64], inputs: &[f64], n: usize) -> Vec<f64> {
        let mut h = inputs.to_vec();
        for k in 0..self.n_layers() {
            let mut z = vec![0.0; n * self.layers[k].fan_out];
            self.affine(params, k, &h, n, &mut z);
            if k + 1 < self.n_layers() {
                let act = self.activations[k];
                for v in &mut z {
                    *v = act.value(*v);
                }
            }
            h = z;
        }
        h
    }

    /// out ← input·W_k + b_k for `n` row-major input rows.
    pub(crate) fn affine(
        &self,
        params: &[f64],
        k: usize,
        input: &[f64],
        n: usize,
        out: &mut [f64],
    ) {
        let view = self.view(params, k);
        let (fi, fo) = (view.layout.fan_in, view.layout.fan_out);
        for row in out[..n * fo].chunks_exact_mut(fo) {
            row.copy_from_slice(view.bias);
        }
        gemm(
            n,
            fi,
            fo,
            1.0,
            View::rows(input, fi),
            View::rows(view.weights, fo),
            1.0,
            out,
            fo,
        );
    }
}
