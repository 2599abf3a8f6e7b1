//! Datasets for the networks: the [`Dataset`] container (row-major inputs with regression
//! targets or class labels), the teacher-student generator, shipped real data sets and an
//! IDX (MNIST-format) reader for files the user supplies.
//!
//! Reading a user's file is the only I/O in this crate.

mod idx;
mod real;
mod teacher;

pub use idx::{IdxArray, parse_idx, read_idx, read_idx_classification};
pub use real::{RealDataset, load_real, standardize_columns};
pub use teacher::{BIAS_STD, TeacherStudent, teacher_student};

use crate::error::{Error, Result, check_finite};

/// What a dataset asks the network to predict.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Real targets, row-major n × `dim` (mean squared error).
    Values {
        /// Targets per sample (the network's output width).
        dim: usize,
        /// The targets, row-major.
        values: Vec<f64>,
    },
    /// One class label per sample, each in 0..`n_classes` (softmax cross-entropy).
    Labels {
        /// Number of classes (the network's output width).
        n_classes: usize,
        /// The labels.
        labels: Vec<usize>,
    },
}

impl Targets {
    /// Output width the targets require.
    pub fn dim(&self) -> usize {
        match self {
            Targets::Values { dim, .. } => *dim,
            Targets::Labels { n_classes, .. } => *n_classes,
        }
    }
}

/// Inputs (row-major n × `input_dim`) with their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    n_samples: usize,
    input_dim: usize,
    inputs: Vec<f64>,
    targets: Targets,
}

impl Dataset {
    /// A regression dataset: `inputs` n × `input_dim`, `targets` n × `target_dim`, row-major.
    pub fn regression(
        inputs: Vec<f64>,
        input_dim: usize,
        targets: Vec<f64>,
        target_dim: usize,
    ) -> Result<Self> {
        let n_samples = check_rows("inputs", &inputs, input_dim)?;
        if target_dim == 0 {
            return Err(Error::invalid_value("target_dim", 0, "must be >= 1"));
        }
        if targets.len() != n_samples * target_dim {
            return Err(Error::DimensionMismatch {
                what: "targets".into(),
                expected: n_samples * target_dim,
                got: targets.len(),
            });
        }
        check_finite("targets", &targets)?;
        Ok(Dataset {
            n_samples,
            input_dim,
            inputs,
            targets: Targets::Values {
                dim: target_dim,
                values: targets,
            },
        })
    }

    /// A classification dataset: `inputs` n × `input_dim` row-major, one label per sample in
    /// 0..`n_classes`.
    pub fn classification(
        inputs: Vec<f64>,
        input_dim: usize,
        labels: Vec<usize>,
        n_classes: usize,
    ) -> Result<Self> {
        let n_samples = check_rows("inputs", &inputs, input_dim)?;
        if n_classes == 0 {
            return Err(Error::invalid_value("n_classes", 0, "must be >= 1"));
        }
        if labels.len() != n_samples {
            return Err(Error::DimensionMismatch {
                what: "labels".into(),
                expected: n_samples,
                got: labels.len(),
            });
        }
        if let Some(i) = labels.iter().position(|&c| c >= n_classes) {
            return Err(Error::invalid_value(
                &format!("labels[{i}]"),
                labels[i],
                &format!("must be < n_classes = {n_classes}"),
            ));
        }
        Ok(Dataset {
            n_samples,
            input_dim,
            inputs,
            targets: Targets::Labels { n_classes, labels },
        })
    }

    /// Number of samples n.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Width of one input.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Inputs, row-major n × input_dim.
    pub fn inputs(&self) -> &[f64] {
        &self.inputs
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The samples with indices in `range` as a new dataset.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Result<Dataset> {
        if range.start > range.end || range.end > self.n_samples {
            return Err(Error::invalid_value(
                "range",
                format!("{range:?}"),
                &format!("must lie within 0..{}", self.n_samples),
            ));
        }
        let d = self.input_dim;
        let inputs = self.inputs[range.start * d..range.end * d].to_vec();
        Ok(match &self.targets {
            Targets::Values { dim, values } => Dataset::regression(
                inputs,
                d,
                values[range.start * dim..range.end * dim].to_vec(),
                *dim,
            )?,
            Targets::Labels { n_classes, labels } => {
                Dataset::classification(inputs, d, labels[range].to_vec(), *n_classes)?
            }
        })
    }
}

fn check_rows(what: &str, values: &[f64], cols: usize) -> Result<usize> {
    if cols == 0 {
        return Err(Error::invalid_value("input_dim", 0, "must be >= 1"));
    }
    if values.is_empty() || !values.len().is_multiple_of(cols) {
        return Err(Error::invalid_value(
            &format!("{what} length"),
            values.len(),
            &format!("must be a positive multiple of the row width {cols}"),
        ));
    }
    check_finite(what, values)?;
    Ok(values.len() / cols)
}
