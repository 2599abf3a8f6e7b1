//! One-parameter paths in a network's rescale group, and per-neuron log-scales.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, check_len};
use crate::mlp::Mlp;
use crate::mlp::symmetry::{Action, Symmetry};

/// A one-parameter path α ↦ g(α) in the rescale group (α > 0, g(1) = identity).
///
/// Every path multiplies parameter i by α^{e_i} with a fixed exponent e_i ∈ {−1, 0, +1}
/// ([`OrbitPath::exponents`]), so log α is the natural coordinate and g(α)·g(β) = g(αβ).
///
/// `Rescale { layer: k }` and `LayerScale { layer: k }` move the parameters identically
/// (W_k and b_k × α, W_{k+1} × 1/α, b_{k+1} unchanged); they are built from different
/// group elements ([`Action::NeuronRescale`] with equal factors versus the study's
/// [`Action::LayerScale`] with factors (1, …, α, 1/α, …, 1)), which the tests compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum OrbitPath {
    /// Every neuron of hidden layer `layer` rescaled by α: incoming weights and biases × α,
    /// outgoing weights ÷ α. Written `rescale:K`.
    Rescale {
        /// Hidden layer index (0-based; hidden layer k is the output of affine layer k).
        layer: usize,
    },
    /// The study's per-layer scalar rescale with factor α on affine layer `layer` and 1/α on
    /// layer `layer + 1` (others 1), so that the product of the factors is 1; each bias
    /// carries the running product. Written `layer-scale:K`.
    LayerScale {
        /// Affine layer index k (k + 1 must be a layer too).
        layer: usize,
    },
    /// The seeded balanced rescale of hidden layer `layer` raised to a power: the neurons
    /// chosen by [`Symmetry::random_balanced_rescale`] (a random half) scaled by α, the
    /// others by 1/α. With g_F the balanced rescale of factor F, this is g_F^t at α = F^t.
    /// Written `balanced:K:SEED`.
    Balanced {
        /// Hidden layer index.
        layer: usize,
        /// Seed of the random choice of neurons.
        seed: u64,
    },
}

impl OrbitPath {
    /// The hidden layer whose neurons the path rescales.
    pub fn hidden_layer(&self) -> usize {
        match *self {
            OrbitPath::Rescale { layer }
            | OrbitPath::LayerScale { layer }
            | OrbitPath::Balanced { layer, .. } => layer,
        }
    }

    /// The sign s_j (+1: scaled by α, −1: by 1/α) of each neuron of the rescaled layer.
    pub fn neuron_signs(&self, net: &Mlp) -> Result<Vec<f64>> {
        let layer = self.hidden_layer();
        if layer >= net.n_hidden_layers() {
            return Err(Error::invalid_value(
                "path layer",
                layer,
                &format!(
                    "must be a hidden layer index < {} for widths {:?}",
                    net.n_hidden_layers(),
                    net.widths()
                ),
            ));
        }
        let width = net.widths()[layer + 1];
        match *self {
            OrbitPath::Rescale { .. } | OrbitPath::LayerScale { .. } => Ok(vec![1.0; width]),
            OrbitPath::Balanced { layer, seed } => {
                // The pattern of the balanced rescale with factor e: factors e^{±1}.
                let g = Symmetry::random_balanced_rescale(net, layer, std::f64::consts::E, seed)?;
                match g.actions() {
                    [Action::NeuronRescale { factors, .. }] => {
                        Ok(factors.iter().map(|f| f.ln().signum()).collect())
                    }
                    _ => Err(Error::invalid_spec(
                        "path",
                        "the balanced rescale is not a single neuron rescale",
                    )),
                }
            }
        }
    }

    /// The group element g(α). Errors for α not finite and > 0, a layer outside the
    /// network, or an activation without the rescale symmetry.
    pub fn symmetry(&self, net: &Mlp, alpha: f64) -> Result<Symmetry> {
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(Error::invalid_value(
                "alpha",
                alpha,
                "must be finite and > 0",
            ));
        }
        let signs = self.neuron_signs(net)?;
        let layer = self.hidden_layer();
        let g = match self {
            OrbitPath::LayerScale { .. } => {
                let mut factors = vec![1.0; net.n_layers()];
                factors[layer] = alpha;
                factors[layer + 1] = 1.0 / alpha;
                Symmetry::layer_scale(net, &factors)?
            }
            OrbitPath::Rescale { .. } | OrbitPath::Balanced { .. } => {
                let factors = signs.iter().map(|s| alpha.powf(*s)).collect();
                let g = Symmetry::from(Action::NeuronRescale { layer, factors });
                g.validate(net)?;
                g
            }
        };
        Ok(g)
    }

    /// The point g(α)·θ.
    pub fn apply(&self, net: &Mlp, params: &[f64], alpha: f64) -> Result<Vec<f64>> {
        self.symmetry(net, alpha)?.apply(net, params)
    }

    /// The exponents e_i with g(α)·θ = (θ_i α^{e_i})_i: +s_j on neuron j's incoming weights
    /// and bias, −s_j on its outgoing weights, 0 elsewhere.
    pub fn exponents(&self, net: &Mlp) -> Result<Vec<f64>> {
        let signs = self.neuron_signs(net)?;
        neuron_exponents(net, &self.on_path_layer(net, signs))
    }

    /// The per-neuron log-scales (one vector per hidden layer) of g(α): log α · s_j on the
    /// path's layer, 0 elsewhere.
    pub fn log_scales(&self, net: &Mlp, alpha: f64) -> Result<Vec<Vec<f64>>> {
        let log_alpha = alpha.ln();
        let scaled = self
            .neuron_signs(net)?
            .iter()
            .map(|s| s * log_alpha)
            .collect();
        Ok(self.on_path_layer(net, scaled))
    }

    /// One vector per hidden layer: `values` on the path's layer, zeros elsewhere.
    fn on_path_layer(&self, net: &Mlp, values: Vec<f64>) -> Vec<Vec<f64>> {
        let mut out: Vec<Vec<f64>> = (0..net.n_hidden_layers())
            .map(|h| vec![0.0; net.widths()[h + 1]])
            .collect();
        out[self.hidden_layer()] = values;
        out
    }
}

impl fmt::Display for OrbitPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrbitPath::Rescale { layer } => write!(f, "rescale:{layer}"),
            OrbitPath::LayerScale { layer } => write!(f, "layer-scale:{layer}"),
            OrbitPath::Balanced { layer, seed } => write!(f, "balanced:{layer}:{seed}"),
        }
    }
}

impl FromStr for OrbitPath {
    type Err = Error;

    /// Parses `rescale:K`, `layer-scale:K` and `balanced:K:SEED` (seed 0 when omitted).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid_value("path", s, reason);
        let parts: Vec<&str> = s.trim().split(':').collect();
        let number = |text: &str| -> Result<u64> {
            text.trim()
                .parse::<u64>()
                .map_err(|_| bad("layer and seed must be non-negative integers"))
        };
        let layer = |text: &str| -> Result<usize> {
            usize::try_from(number(text)?).map_err(|_| bad("layer is too large"))
        };
        let kind = parts[0].to_ascii_lowercase().replace('_', "-");
        match (kind.as_str(), parts.len()) {
            ("rescale", 2) => Ok(OrbitPath::Rescale {
                layer: layer(parts[1])?,
            }),
            ("layer-scale", 2) => Ok(OrbitPath::LayerScale {
                layer: layer(parts[1])?,
            }),
            ("balanced", 2) => Ok(OrbitPath::Balanced {
                layer: layer(parts[1])?,
                seed: 0,
            }),
            ("balanced", 3) => Ok(OrbitPath::Balanced {
                layer: layer(parts[1])?,
                seed: number(parts[2])?,
            }),
            _ => Err(bad(
                "expected rescale:K, layer-scale:K or balanced:K[:SEED]",
            )),
        }
    }
}

impl TryFrom<String> for OrbitPath {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<OrbitPath> for String {
    fn from(p: OrbitPath) -> String {
        p.to_string()
    }
}

/// `n` values from `min` to `max` (both included, exactly), evenly spaced in log.
///
/// Point k sits at log c + h·(2k − (n − 1))/(n − 1) with centre c = √(min·max) and half-width
/// h = ½·ln(max/min), so the middle point (n odd) is c itself: exactly 1 for a range
/// symmetric in log such as 0.01..100, whose ln values are not exact negatives of each other.
/// Elsewhere a point whose log is zero up to the rounding of that arithmetic
/// (|log α| ≤ 8ε·max(|ln min|, |ln max|)) is exactly 1 too, so that a grid through 1 such as
/// 0.1..1000 with 5 points holds the unmoved point itself, not 1 + 4e-16.
///
/// Errors: `min` or `max` not finite and > 0, `max < min`, or `n` = 0 (n = 1 gives `[min]`).
pub fn log_spaced(min: f64, max: f64, n: usize) -> Result<Vec<f64>> {
    if !(min.is_finite() && min > 0.0) {
        return Err(Error::invalid_value("min", min, "must be finite and > 0"));
    }
    if !(max.is_finite() && max >= min) {
        return Err(Error::invalid_value(
            "max",
            max,
            "must be finite and >= min",
        ));
    }
    if n == 0 {
        return Err(Error::invalid_value("points", 0, "must be at least 1"));
    }
    if n == 1 {
        return Ok(vec![min]);
    }
    let (lo, hi) = (min.ln(), max.ln());
    // ln(min·max) rounds once, so it is 0 whenever min·max rounds to 1; ln min + ln max
    // rounds twice and need not be. Fall back to the sum when the product over- or
    // underflows.
    let product = min * max;
    let log_centre = if product.is_normal() {
        0.5 * product.ln()
    } else {
        0.5 * (lo + hi)
    };
    let half_width = 0.5 * (hi - lo);
    let last = (n - 1) as f64;
    let zero_log = 8.0 * f64::EPSILON * lo.abs().max(hi.abs());
    Ok((0..n)
        .map(|k| match k {
            0 => min,
            k if k == n - 1 => max,
            k => {
                let log = log_centre + half_width * ((2 * k) as f64 - last) / last;
                if log.abs() <= zero_log {
                    1.0
                } else {
                    log.exp()
                }
            }
        })
        .collect())
}

/// The group element that scales hidden neuron j of hidden layer h by exp(`log_scales[h][j]`)
/// (incoming weights and bias × the factor, outgoing weights ÷ it).
pub fn neuron_scale_symmetry(net: &Mlp, log_scales: &[Vec<f64>]) -> Result<Symmetry> {
    check_log_scales(net, log_scales)?;
    let mut g = Symmetry::identity();
    for (layer, scales) in log_scales.iter().enumerate() {
        let factors = scales.iter().map(|v| v.exp()).collect();
        let step = Symmetry::from(Action::NeuronRescale { layer, factors });
        step.validate(net)?;
        g = step.compose(&g);
    }
    Ok(g)
}

/// Checks one vector of log-scales per hidden layer with one finite entry per neuron.
pub(crate) fn check_log_scales(net: &Mlp, log_scales: &[Vec<f64>]) -> Result<()> {
    if log_scales.len() != net.n_hidden_layers() {
        return Err(Error::DimensionMismatch {
            what: "log-scales (one vector per hidden layer)".into(),
            expected: net.n_hidden_layers(),
            got: log_scales.len(),
        });
    }
    for (h, scales) in log_scales.iter().enumerate() {
        check_len(
            &format!("log-scales of hidden layer {h}"),
            scales,
            net.widths()[h + 1],
        )?;
        crate::error::check_finite(&format!("log-scales of hidden layer {h}"), scales)?;
    }
    Ok(())
}

/// The log-factor of every parameter under per-neuron log-scales v: Σ_j c_ij v_j with
/// c_ij = +1 for neuron j's incoming weights and bias, −1 for its outgoing weights.
pub(crate) fn neuron_exponents(net: &Mlp, log_scales: &[Vec<f64>]) -> Result<Vec<f64>> {
    check_log_scales(net, log_scales)?;
    let mut e = vec![0.0; net.n_params()];
    for (h, scales) in log_scales.iter().enumerate() {
        let (inc, out) = (net.layer(h), net.layer(h + 1));
        for (j, &v) in scales.iter().enumerate() {
            for i in 0..inc.fan_in {
                e[inc.weight_index(i, j)] += v;
            }
            e[inc.bias_index(j)] += v;
            for c in 0..out.fan_out {
                e[out.weight_index(j, c)] -= v;
            }
        }
    }
    Ok(e)
}
