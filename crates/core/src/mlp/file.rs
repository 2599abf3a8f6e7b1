//! The JSON problem file: a network, its parameters and its data in one document.
//!
//! Fields (the format `export_mlp_case.py` of the peer scripts writes, plus optional extras):
//! - `widths`: [d_0, …, d_L];
//! - `activation`: one activation for every hidden layer (`relu`, `leaky_relu(0.1)`, `tanh`,
//!   `identity`; default `relu`), or `activations`: one per hidden layer;
//! - `params`: the flat parameters [W_0 row-major (fan_in, fan_out), b_0, W_1, b_1, …];
//! - `x`: inputs, row-major n × d_0; `n`: number of samples (optional, checked if given);
//! - `y`: regression targets, row-major n × d_L (mean squared error), or
//! - `labels`: one class label per sample (softmax cross-entropy);
//! - `loss_kind`: optional `"mse"` or `"cross_entropy"`, checked against the targets.
//!
//! Other fields (such as the exporter's `layout` and `loss` descriptions) are ignored.

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Targets};
use crate::error::{Error, Result, check_len};
use crate::mlp::{Activation, LossKind, Mlp, MlpProblem};

fn default_activation() -> Activation {
    Activation::Relu
}

/// Loss named in a problem file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileLoss {
    /// Mean squared error on `y`.
    Mse,
    /// Softmax cross-entropy on `labels`.
    CrossEntropy,
}

/// A network with parameters and data, as stored in a JSON problem file (see module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemFile {
    /// Widths [d_0, …, d_L].
    pub widths: Vec<usize>,
    /// Activation of every hidden layer (default relu); ignored when `activations` is given.
    #[serde(default = "default_activation")]
    pub activation: Activation,
    /// Per-hidden-layer activations (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activations: Option<Vec<Activation>>,
    /// Number of samples (optional; checked against `x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<usize>,
    /// Flat parameters.
    pub params: Vec<f64>,
    /// Inputs, row-major n × d_0.
    pub x: Vec<f64>,
    /// Regression targets, row-major n × d_L.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<Vec<f64>>,
    /// Class labels, one per sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<usize>>,
    /// The loss (optional; must agree with `y` / `labels`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_kind: Option<FileLoss>,
}

impl ProblemFile {
    /// Parses a problem file from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::invalid_spec("problem file", e.to_string()))
    }

    /// Reads a problem file from any reader.
    pub fn from_reader<R: Read>(reader: R) -> Result<Self> {
        serde_json::from_reader(std::io::BufReader::new(reader))
            .map_err(|e| Error::invalid_spec("problem file", e.to_string()))
    }

    /// Reads the user's problem file at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| {
            Error::invalid_value("problem file", path.display(), &format!("cannot open: {e}"))
        })?;
        Self::from_reader(file).map_err(|e| match e {
            Error::InvalidSpec { reason, .. } => {
                Error::invalid_spec(&format!("problem file {}", path.display()), reason)
            }
            other => other,
        })
    }

    /// Serialises to JSON text.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("a problem file always serialises")
    }

    /// Writes JSON to any writer (the caller chooses the destination).
    pub fn write<W: Write>(&self, writer: W) -> Result<()> {
        serde_json::to_writer(writer, self)
            .map_err(|e| Error::invalid_spec("problem file", format!("cannot write: {e}")))
    }

    /// Builds a problem file from a problem and a parameter vector.
    pub fn from_problem(problem: &MlpProblem, params: &[f64]) -> Result<Self> {
        check_len("params", params, problem.network().n_params())?;
        let net = problem.network();
        let data = problem.dataset();
        let acts = net.activations();
        let uniform = acts.windows(2).all(|w| w[0] == w[1]);
        let (y, labels, loss_kind) = match data.targets() {
            Targets::Values { values, .. } => (Some(values.clone()), None, FileLoss::Mse),
            Targets::Labels { labels, .. } => (None, Some(labels.clone()), FileLoss::CrossEntropy),
        };
        Ok(ProblemFile {
            widths: net.widths().to_vec(),
            activation: acts.first().copied().unwrap_or(Activation::Relu),
            activations: if uniform { None } else { Some(acts.to_vec()) },
            n: Some(data.n_samples()),
            params: params.to_vec(),
            x: data.inputs().to_vec(),
            y,
            labels,
            loss_kind: Some(loss_kind),
        })
    }

    /// The network, the problem (network + data) and the checked parameter vector.
    pub fn into_problem(self) -> Result<(MlpProblem, Vec<f64>)> {
        let n_hidden = self.widths.len().saturating_sub(2);
        let acts = self
            .activations
            .unwrap_or_else(|| vec![self.activation; n_hidden]);
        let net = Mlp::new(&self.widths, &acts)?;
        let d0 = net.input_dim();
        if let Some(n) = self.n
            && self.x.len() != n * d0
        {
            return Err(Error::DimensionMismatch {
                what: "x".into(),
                expected: n * d0,
                got: self.x.len(),
            });
        }
        let data = match (self.y, self.labels) {
            (Some(y), None) => {
                if self.loss_kind == Some(FileLoss::CrossEntropy) {
                    return Err(Error::invalid_spec(
                        "problem file",
                        "loss_kind cross_entropy needs labels, got y",
                    ));
                }
                Dataset::regression(self.x, d0, y, net.output_dim())?
            }
            (None, Some(labels)) => {
                if self.loss_kind == Some(FileLoss::Mse) {
                    return Err(Error::invalid_spec(
                        "problem file",
                        "loss_kind mse needs y, got labels",
                    ));
                }
                Dataset::classification(self.x, d0, labels, net.output_dim())?
            }
            (Some(_), Some(_)) => {
                return Err(Error::invalid_spec(
                    "problem file",
                    "give either y or labels, not both",
                ));
            }
            (None, None) => return Err(Error::invalid_spec("problem file", "needs y or labels")),
        };
        let problem = MlpProblem::new(net, data)?;
        crate::Model::check_params(&problem, "params", &self.params)?;
        debug_assert!(matches!(
            (problem.loss_kind(), self.loss_kind),
            (_, None)
                | (LossKind::MeanSquaredError, Some(FileLoss::Mse))
                | (LossKind::CrossEntropy, Some(FileLoss::CrossEntropy))
        ));
        Ok((problem, self.params))
    }
}
