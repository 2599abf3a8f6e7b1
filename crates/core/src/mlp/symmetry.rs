//! Weight-space symmetries of an MLP as group elements acting linearly on parameter space.
//!
//! Every action here is a linear map θ ↦ Mθ of the flat parameter vector that leaves the
//! network's function unchanged (for the activations that admit it). Because L(Mθ) = L(θ),
//! the chain rule carries derivatives between the equivalent points:
//!   ∇L(Mθ) = M^{−T} ∇L(θ),   H(Mθ) = M^{−T} H(θ) M^{−1}.
//! Hidden layer `h` (0 ≤ h < L − 1) means the d_{h+1} neurons computed by affine layer h:
//! their *incoming* parameters are column j of W_h and b_h[j], their *outgoing* ones row j
//! of W_{h+1}.
//!
//! | action | M on the neurons of hidden layer h | admitted by |
//! |---|---|---|
//! | [`Action::NeuronRescale`] | incoming × α_j, outgoing ÷ α_j (α_j > 0) | relu, leaky_relu, identity |
//! | [`Action::LayerScale`] | W_k × c_k, b_k × c_1⋯c_k, ∏ c_k = 1 (c_k > 0) | relu, leaky_relu, identity everywhere |
//! | [`Action::Permutation`] | neuron j takes the parameters of neuron π(j) | every activation |
//! | [`Action::SignFlip`] | incoming and outgoing × s_j, s_j = ±1 | tanh, identity |
//! | [`Action::Mixing`] | W_h ↦ W_h A, b_h ↦ b_h A, W_{h+1} ↦ A^{−1} W_{h+1} | identity |
//!
//! A [`Symmetry`] is a product of actions (applied in order); [`Symmetry::inverse`] and
//! [`Symmetry::compose`] make the set a group. Applying an action that the activation does
//! not admit is an error that names both.

use nalgebra::DMatrix;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result, check_len};
use crate::mlp::network::{Activation, Mlp};

/// One primitive symmetry move.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Per-neuron positive rescale of hidden layer `layer`: incoming column and bias × α_j,
    /// outgoing row ÷ α_j.
    NeuronRescale {
        /// Hidden layer index.
        layer: usize,
        /// α_j > 0, one per neuron.
        factors: Vec<f64>,
    },
    /// The per-layer scalar rescale: W_k × c_k, b_k × c_1⋯c_k, with ∏_k c_k = 1 (one factor
    /// per affine layer).
    LayerScale {
        /// c_k > 0 for k = 0 … L − 1.
        factors: Vec<f64>,
    },
    /// Permutation of hidden layer `layer`: new neuron j is old neuron `perm[j]`.
    Permutation {
        /// Hidden layer index.
        layer: usize,
        /// A permutation of 0..d.
        perm: Vec<usize>,
    },
    /// Sign flip of hidden neurons: incoming and outgoing parameters × s_j ∈ {+1, −1}.
    SignFlip {
        /// Hidden layer index.
        layer: usize,
        /// One sign per neuron (each exactly +1.0 or −1.0).
        signs: Vec<f64>,
    },
    /// Invertible mixing of a linear hidden layer: W_h ↦ W_h A, b_h ↦ b_h A,
    /// W_{h+1} ↦ A^{−1} W_{h+1}.
    Mixing {
        /// Hidden layer index.
        layer: usize,
        /// A (d × d, invertible).
        matrix: DMatrix<f64>,
        /// A^{−1}.
        inverse: DMatrix<f64>,
    },
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::NeuronRescale { .. } => "neuron rescale",
            Action::LayerScale { .. } => "layer scale",
            Action::Permutation { .. } => "permutation",
            Action::SignFlip { .. } => "sign flip",
            Action::Mixing { .. } => "mixing",
        }
    }

    /// Whether activation `a` admits this kind of action.
    fn admits(&self, a: Activation) -> bool {
        match self {
            Action::NeuronRescale { .. } | Action::LayerScale { .. } => {
                a.is_positively_homogeneous()
            }
            Action::Permutation { .. } => true,
            Action::SignFlip { .. } => a.is_odd(),
            Action::Mixing { .. } => a == Activation::Identity,
        }
    }

    fn needs(&self) -> &'static str {
        match self {
            Action::NeuronRescale { .. } | Action::LayerScale { .. } => {
                "relu, leaky_relu or identity"
            }
            Action::Permutation { .. } => "any activation",
            Action::SignFlip { .. } => "tanh or identity",
            Action::Mixing { .. } => "identity",
        }
    }

    /// Checks shapes, values and that the activations admit the action.
    fn validate(&self, net: &Mlp) -> Result<()> {
        let n_hidden = net.n_hidden_layers();
        let spec = |reason: String| Err(Error::invalid_spec("symmetry", reason));
        let hidden = |layer: usize| -> Result<usize> {
            if layer >= n_hidden {
                return Err(Error::invalid_spec(
                    "symmetry",
                    format!(
                        "{}: hidden layer {layer} does not exist (the network has {n_hidden})",
                        self.name()
                    ),
                ));
            }
            let a = net.activations()[layer];
            if !self.admits(a) {
                return Err(Error::invalid_spec(
                    "symmetry",
                    format!(
                        "{} is not admitted by activation {a} of hidden layer {layer} (needs {})",
                        self.name(),
                        self.needs()
                    ),
                ));
            }
            Ok(net.widths()[layer + 1])
        };
        match self {
            Action::NeuronRescale { layer, factors } => {
                let d = hidden(*layer)?;
                if factors.len() != d {
                    return spec(format!(
                        "neuron rescale: {} factors for {d} neurons",
                        factors.len()
                    ));
                }
                if let Some(f) = factors.iter().find(|f| !(f.is_finite() && **f > 0.0)) {
                    return spec(format!("neuron rescale: factor {f} must be finite and > 0"));
                }
            }
            Action::LayerScale { factors } => {
                for layer in 0..n_hidden {
                    hidden(layer)?;
                }
                if factors.len() != net.n_layers() {
                    return spec(format!(
                        "layer scale: {} factors for {} layers",
                        factors.len(),
                        net.n_layers()
                    ));
                }
                if let Some(f) = factors.iter().find(|f| !(f.is_finite() && **f > 0.0)) {
                    return spec(format!("layer scale: factor {f} must be finite and > 0"));
                }
                let log_product: f64 = factors.iter().map(|f| f.ln()).sum();
                if log_product.abs() > 1e-12 * factors.len() as f64 {
                    return spec(format!(
                        "layer scale: product of factors is {} (must be 1)",
                        log_product.exp()
                    ));
                }
            }
            Action::Permutation { layer, perm } => {
                let d = hidden(*layer)?;
                let mut seen = vec![false; d];
                if perm.len() != d
                    || perm
                        .iter()
                        .any(|&p| p >= d || std::mem::replace(&mut seen[p], true))
                {
                    return spec(format!(
                        "permutation: {perm:?} is not a permutation of 0..{d}"
                    ));
                }
            }
            Action::SignFlip { layer, signs } => {
                let d = hidden(*layer)?;
                if signs.len() != d || signs.iter().any(|&s| !is_unit_sign(s)) {
                    return spec(format!(
                        "sign flip: need {d} signs, each +1 or -1, got {signs:?}"
                    ));
                }
            }
            Action::Mixing {
                layer,
                matrix,
                inverse,
            } => {
                let d = hidden(*layer)?;
                if matrix.shape() != (d, d) || inverse.shape() != (d, d) {
                    return spec(format!("mixing: matrix must be {d}×{d}"));
                }
                let residual = (matrix * inverse - DMatrix::identity(d, d)).abs().max();
                if !residual.is_finite() || residual > 1e-9 {
                    return spec(format!("mixing: A·A⁻¹ differs from I by {residual:e}"));
                }
            }
        }
        Ok(())
    }

    /// θ ↦ Mθ in place (no validation).
    fn apply_in_place(&self, net: &Mlp, v: &mut [f64]) {
        match self {
            Action::NeuronRescale { layer, factors } => {
                scale_neurons(net, *layer, v, |j| factors[j], |j| 1.0 / factors[j]);
            }
            Action::SignFlip { layer, signs } => {
                scale_neurons(net, *layer, v, |j| signs[j], |j| signs[j]);
            }
            Action::LayerScale { factors } => {
                let mut running = 1.0;
                for (k, c) in factors.iter().enumerate() {
                    running *= c;
                    let view = net.view_mut(v, k);
                    view.weights.iter_mut().for_each(|w| *w *= c);
                    view.bias.iter_mut().for_each(|b| *b *= running);
                }
            }
            Action::Permutation { layer, perm } => {
                let (inc, out) = (net.layer(*layer), net.layer(*layer + 1));
                let old = v.to_vec();
                let d = inc.fan_out;
                for (j, &src) in perm.iter().enumerate() {
                    for i in 0..inc.fan_in {
                        v[inc.weight_index(i, j)] = old[inc.weight_index(i, src)];
                    }
                    v[inc.bias_index(j)] = old[inc.bias_index(src)];
                    for c in 0..out.fan_out {
                        v[out.weight_index(j, c)] = old[out.weight_index(src, c)];
                    }
                }
                debug_assert_eq!(d, perm.len());
            }
            Action::Mixing {
                layer,
                matrix,
                inverse,
            } => {
                let (inc, out) = (net.layer(*layer), net.layer(*layer + 1));
                let d = inc.fan_out;
                let old = v.to_vec();
                // Incoming rows (each row of W_h, and b_h) times A.
                let rows: Vec<usize> = (0..inc.fan_in)
                    .map(|i| inc.weight_index(i, 0))
                    .chain(std::iter::once(inc.bias_index(0)))
                    .collect();
                for start in rows {
                    for j in 0..d {
                        v[start + j] = (0..d).map(|r| old[start + r] * matrix[(r, j)]).sum();
                    }
                }
                // Outgoing: A⁻¹ W_{h+1}.
                for j in 0..d {
                    for c in 0..out.fan_out {
                        v[out.weight_index(j, c)] = (0..d)
                            .map(|r| inverse[(j, r)] * old[out.weight_index(r, c)])
                            .sum();
                    }
                }
            }
        }
    }

    fn inverse(&self) -> Action {
        match self {
            Action::NeuronRescale { layer, factors } => Action::NeuronRescale {
                layer: *layer,
                factors: factors.iter().map(|f| 1.0 / f).collect(),
            },
            Action::LayerScale { factors } => Action::LayerScale {
                factors: factors.iter().map(|f| 1.0 / f).collect(),
            },
            Action::Permutation { layer, perm } => {
                let mut inv = vec![0; perm.len()];
                for (j, &p) in perm.iter().enumerate() {
                    inv[p] = j;
                }
                Action::Permutation {
                    layer: *layer,
                    perm: inv,
                }
            }
            Action::SignFlip { .. } => self.clone(),
            Action::Mixing {
                layer,
                matrix,
                inverse,
            } => Action::Mixing {
                layer: *layer,
                matrix: inverse.clone(),
                inverse: matrix.clone(),
            },
        }
    }

    /// The action whose matrix is M^{−T} (the map that carries gradients).
    fn dual(&self) -> Action {
        match self {
            Action::NeuronRescale { .. } | Action::LayerScale { .. } => self.inverse(),
            Action::Permutation { .. } | Action::SignFlip { .. } => self.clone(),
            Action::Mixing {
                layer,
                matrix,
                inverse,
            } => Action::Mixing {
                layer: *layer,
                matrix: inverse.transpose(),
                inverse: matrix.transpose(),
            },
        }
    }
}

/// Multiplies the incoming parameters of neuron j by `inc(j)` and its outgoing row by `out(j)`.
fn scale_neurons(
    net: &Mlp,
    layer: usize,
    v: &mut [f64],
    inc: impl Fn(usize) -> f64,
    out: impl Fn(usize) -> f64,
) {
    let (li, lo) = (net.layer(layer), net.layer(layer + 1));
    for j in 0..li.fan_out {
        let a = inc(j);
        for i in 0..li.fan_in {
            v[li.weight_index(i, j)] *= a;
        }
        v[li.bias_index(j)] *= a;
        let b = out(j);
        for c in 0..lo.fan_out {
            v[lo.weight_index(j, c)] *= b;
        }
    }
}

/// The kinds of symmetry, for picking a random element by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymmetryKind {
    /// Per-neuron positive rescale of every hidden layer, factors uniform in [0.5, 2].
    Rescale,
    /// The per-layer scalar rescale, factors log-uniform in [0.5, 2] (last fixes ∏ = 1).
    LayerScale,
    /// A uniformly random permutation of every hidden layer.
    Permute,
    /// Random signs on every hidden layer.
    SignFlip,
    /// A random invertible mixing of every hidden layer.
    Mixing,
}

impl std::str::FromStr for SymmetryKind {
    type Err = Error;
    /// Parses `rescale`, `layer-scale`, `permute`, `sign-flip`, `mixing`.
    fn from_str(s: &str) -> Result<Self> {
        Ok(
            match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "rescale" => SymmetryKind::Rescale,
                "layer-scale" => SymmetryKind::LayerScale,
                "permute" | "permutation" => SymmetryKind::Permute,
                "sign-flip" => SymmetryKind::SignFlip,
                "mixing" | "mix" => SymmetryKind::Mixing,
                _ => {
                    return Err(Error::invalid_value(
                        "action",
                        s,
                        "expected rescale, layer-scale, permute, sign-flip or mixing",
                    ));
                }
            },
        )
    }
}

/// A group element: a product of [`Action`]s applied in order (first to last).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Symmetry {
    actions: Vec<Action>,
}

impl From<Action> for Symmetry {
    fn from(a: Action) -> Self {
        Symmetry { actions: vec![a] }
    }
}

impl Symmetry {
    /// The identity element.
    pub fn identity() -> Self {
        Symmetry::default()
    }

    /// The primitive actions, in the order they are applied.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// Checks that every action fits `net` and is admitted by its activations.
    pub fn validate(&self, net: &Mlp) -> Result<()> {
        self.actions.iter().try_for_each(|a| a.validate(net))
    }

    /// g·θ: the equivalent parameter vector.
    pub fn apply(&self, net: &Mlp, params: &[f64]) -> Result<Vec<f64>> {
        check_len("params", params, net.n_params())?;
        self.validate(net)?;
        let mut v = params.to_vec();
        for a in &self.actions {
            a.apply_in_place(net, &mut v);
        }
        Ok(v)
    }

    /// M^{−T} g: the gradient at g·θ from the gradient at θ.
    pub fn apply_to_gradient(&self, net: &Mlp, gradient: &[f64]) -> Result<Vec<f64>> {
        check_len("gradient", gradient, net.n_params())?;
        self.validate(net)?;
        let mut v = gradient.to_vec();
        for a in &self.actions {
            a.dual().apply_in_place(net, &mut v);
        }
        Ok(v)
    }

    /// M^{−T} H M^{−1}: the Hessian at g·θ from the Hessian at θ (H symmetric).
    pub fn apply_to_hessian(&self, net: &Mlp, hessian: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let p = net.n_params();
        if hessian.shape() != (p, p) {
            return Err(Error::DimensionMismatch {
                what: "hessian rows and columns".into(),
                expected: p,
                got: hessian.nrows().max(hessian.ncols()),
            });
        }
        self.validate(net)?;
        let left = |m: &DMatrix<f64>| -> DMatrix<f64> {
            let mut out = m.clone();
            for mut col in out.column_iter_mut() {
                let mut v: Vec<f64> = col.iter().copied().collect();
                for a in &self.actions {
                    a.dual().apply_in_place(net, &mut v);
                }
                col.copy_from_slice(&v);
            }
            out
        };
        // M^{−T} H M^{−1} = M^{−T} (M^{−T} Hᵀ)ᵀ.
        Ok(left(&left(&hessian.transpose()).transpose()))
    }

    /// The dense P × P matrix M (for small networks and tests).
    pub fn matrix(&self, net: &Mlp) -> Result<DMatrix<f64>> {
        self.validate(net)?;
        let p = net.n_params();
        let mut m = DMatrix::zeros(p, p);
        let mut e = vec![0.0; p];
        for j in 0..p {
            e.iter_mut().for_each(|x| *x = 0.0);
            e[j] = 1.0;
            for a in &self.actions {
                a.apply_in_place(net, &mut e);
            }
            m.column_mut(j).copy_from_slice(&e);
        }
        Ok(m)
    }

    /// g⁻¹.
    pub fn inverse(&self) -> Symmetry {
        Symmetry {
            actions: self.actions.iter().rev().map(Action::inverse).collect(),
        }
    }

    /// self ∘ other: first `other`, then `self`.
    pub fn compose(&self, other: &Symmetry) -> Symmetry {
        Symmetry {
            actions: other.actions.iter().chain(&self.actions).cloned().collect(),
        }
    }

    /// Per-neuron rescale of hidden layer `layer` with factors uniform in [low, high].
    pub fn random_rescale(net: &Mlp, layer: usize, low: f64, high: f64, seed: u64) -> Result<Self> {
        if !(low.is_finite() && high.is_finite() && 0.0 < low && low <= high) {
            return Err(Error::invalid_value(
                "rescale range",
                format!("[{low}, {high}]"),
                "need 0 < low <= high, both finite",
            ));
        }
        let d = hidden_width(net, layer)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let factors = (0..d)
            .map(|_| {
                if is_degenerate(low, high) {
                    low
                } else {
                    rng.random_range(low..=high)
                }
            })
            .collect();
        checked(net, Action::NeuronRescale { layer, factors })
    }

    /// The study's "balanced" rescale of hidden layer `layer`: a random half of the neurons
    /// (⌈d/2⌉) scaled up by `factor`, the others down by 1/`factor` (`factor` ≥ 1).
    pub fn random_balanced_rescale(
        net: &Mlp,
        layer: usize,
        factor: f64,
        seed: u64,
    ) -> Result<Self> {
        if !(factor.is_finite() && factor >= 1.0) {
            return Err(Error::invalid_value(
                "factor",
                factor,
                "must be finite and >= 1",
            ));
        }
        let d = hidden_width(net, layer)?;
        let mut order: Vec<usize> = (0..d).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut factors = vec![1.0 / factor; d];
        for &j in &order[..d.div_ceil(2)] {
            factors[j] = factor;
        }
        checked(net, Action::NeuronRescale { layer, factors })
    }

    /// The per-layer scalar rescale with given factors (one per affine layer, product 1).
    pub fn layer_scale(net: &Mlp, factors: &[f64]) -> Result<Self> {
        checked(
            net,
            Action::LayerScale {
                factors: factors.to_vec(),
            },
        )
    }

    /// Per-layer rescale with c_0 … c_{L−2} log-uniform in [low, high] and the last factor
    /// chosen so that ∏ c_k = 1.
    pub fn random_layer_scale(net: &Mlp, low: f64, high: f64, seed: u64) -> Result<Self> {
        if !(low.is_finite() && high.is_finite() && 0.0 < low && low <= high) {
            return Err(Error::invalid_value(
                "layer scale range",
                format!("[{low}, {high}]"),
                "need 0 < low <= high, both finite",
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let l = net.n_layers();
        let mut logs: Vec<f64> = (0..l - 1)
            .map(|_| {
                if is_degenerate(low, high) {
                    low.ln()
                } else {
                    rng.random_range(low.ln()..=high.ln())
                }
            })
            .collect();
        logs.push(-logs.iter().sum::<f64>());
        checked(
            net,
            Action::LayerScale {
                factors: logs.into_iter().map(f64::exp).collect(),
            },
        )
    }

    /// A uniformly random permutation of hidden layer `layer`.
    pub fn random_permutation(net: &Mlp, layer: usize, seed: u64) -> Result<Self> {
        let d = hidden_width(net, layer)?;
        let mut perm: Vec<usize> = (0..d).collect();
        perm.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        checked(net, Action::Permutation { layer, perm })
    }

    /// Independent random signs on hidden layer `layer`.
    pub fn random_sign_flip(net: &Mlp, layer: usize, seed: u64) -> Result<Self> {
        let d = hidden_width(net, layer)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let signs = (0..d)
            .map(|_| if rng.random_bool(0.5) { -1.0 } else { 1.0 })
            .collect();
        checked(net, Action::SignFlip { layer, signs })
    }

    /// A random well-conditioned mixing A = I + G/(2√d), G standard normal, of hidden layer
    /// `layer` (redrawn until A is invertible with a modest condition number).
    pub fn random_mixing(net: &Mlp, layer: usize, seed: u64) -> Result<Self> {
        let d = hidden_width(net, layer)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        loop {
            let a = DMatrix::from_fn(d, d, |i, j| {
                let g: f64 = StandardNormal.sample(&mut rng);
                f64::from(u8::from(i == j)) + g / (2.0 * (d as f64).sqrt())
            });
            let sv = a.clone().singular_values();
            let (max, min) = (sv.max(), sv.min());
            if min > 1e-3 * max
                && let Some(inv) = a.clone().try_inverse()
            {
                return checked(
                    net,
                    Action::Mixing {
                        layer,
                        matrix: a,
                        inverse: inv,
                    },
                );
            }
        }
    }

    /// A random element of `kind` acting on every hidden layer (ranges as documented on
    /// [`SymmetryKind`]); errors if an activation does not admit it.
    pub fn random(net: &Mlp, kind: SymmetryKind, seed: u64) -> Result<Self> {
        if kind == SymmetryKind::LayerScale {
            return Symmetry::random_layer_scale(net, 0.5, 2.0, seed);
        }
        let mut g = Symmetry::identity();
        for layer in 0..net.n_hidden_layers() {
            let s = seed
                .wrapping_add(layer as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let step = match kind {
                SymmetryKind::Rescale => Symmetry::random_rescale(net, layer, 0.5, 2.0, s)?,
                SymmetryKind::Permute => Symmetry::random_permutation(net, layer, s)?,
                SymmetryKind::SignFlip => Symmetry::random_sign_flip(net, layer, s)?,
                SymmetryKind::Mixing => Symmetry::random_mixing(net, layer, s)?,
                SymmetryKind::LayerScale => unreachable!("handled above"),
            };
            g = step.compose(&g);
        }
        Ok(g)
    }
}

fn hidden_width(net: &Mlp, layer: usize) -> Result<usize> {
    if layer >= net.n_hidden_layers() {
        return Err(Error::invalid_value(
            "layer",
            layer,
            &format!("must be a hidden layer index < {}", net.n_hidden_layers()),
        ));
    }
    Ok(net.widths()[layer + 1])
}

fn checked(net: &Mlp, action: Action) -> Result<Symmetry> {
    action.validate(net)?;
    Ok(Symmetry::from(action))
}

/// Signs must be exactly ±1 (they are chosen, not computed).
#[allow(clippy::float_cmp)]
fn is_unit_sign(s: f64) -> bool {
    s == 1.0 || s == -1.0
}

/// A range with equal ends (sampling from it would panic).
#[allow(clippy::float_cmp)]
fn is_degenerate(low: f64, high: f64) -> bool {
    low == high
}
