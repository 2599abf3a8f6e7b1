//! Small real data sets shipped inside linfa-datasets, with standardised features.

use std::str::FromStr;

use crate::data::Dataset;
use crate::error::{Error, Result};

/// A real data set that symstab can load without a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealDataset {
    /// Red wine quality (1599 wines, 11 features); classification of the quality grade,
    /// grades 3…8 relabelled 0…5.
    WineQuality,
    /// The same wines with the quality grade as a real target (regression, standardised).
    WineQualityRegression,
    /// Fisher's iris (150 flowers, 4 features, 3 classes).
    Iris,
    /// Diabetes progression (10 features); regression, standardised target. The source has
    /// 442 patients; linfa-datasets 0.7 reads its first row as a header, leaving 441.
    Diabetes,
}

impl FromStr for RealDataset {
    type Err = Error;
    /// Parses `winequality`, `winequality-regression`, `iris`, `diabetes`.
    fn from_str(s: &str) -> Result<Self> {
        Ok(
            match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "winequality" | "wine-quality" => RealDataset::WineQuality,
                "winequality-regression" | "wine-quality-regression" => {
                    RealDataset::WineQualityRegression
                }
                "iris" => RealDataset::Iris,
                "diabetes" => RealDataset::Diabetes,
                _ => {
                    return Err(Error::invalid_value(
                        "data",
                        s,
                        "expected winequality, winequality-regression, iris or diabetes",
                    ));
                }
            },
        )
    }
}

/// Standardises each column of a row-major matrix to mean 0 and (population) standard
/// deviation 1 in place; constant columns are only centred. Returns (mean, std) per column.
pub fn standardize_columns(values: &mut [f64], cols: usize) -> Vec<(f64, f64)> {
    if cols == 0 || values.is_empty() {
        return Vec::new();
    }
    let rows = values.len() / cols;
    (0..cols)
        .map(|c| {
            let mean = (0..rows).map(|r| values[r * cols + c]).sum::<f64>() / rows as f64;
            let var = (0..rows)
                .map(|r| (values[r * cols + c] - mean).powi(2))
                .sum::<f64>()
                / rows as f64;
            let std = var.sqrt();
            let div = if std > 0.0 { std } else { 1.0 };
            for r in 0..rows {
                values[r * cols + c] = (values[r * cols + c] - mean) / div;
            }
            (mean, std)
        })
        .collect()
}

/// Loads a shipped data set with features standardised column by column (and regression
/// targets standardised too).
pub fn load_real(which: RealDataset) -> Result<Dataset> {
    fn features(n: usize, d: usize, at: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        let mut x = Vec::with_capacity(n * d);
        for i in 0..n {
            for j in 0..d {
                x.push(at(i, j));
            }
        }
        standardize_columns(&mut x, d);
        x
    }
    match which {
        RealDataset::WineQuality | RealDataset::WineQualityRegression => {
            let ds = linfa_datasets::winequality();
            let (r, t) = (ds.records(), ds.targets());
            let (n, d) = (r.nrows(), r.ncols());
            let x = features(n, d, |i, j| r[[i, j]]);
            let grades: Vec<usize> = t.iter().copied().collect();
            if which == RealDataset::WineQuality {
                let low = grades.iter().copied().min().unwrap_or(0);
                let high = grades.iter().copied().max().unwrap_or(0);
                let labels = grades.iter().map(|g| g - low).collect();
                Dataset::classification(x, d, labels, high - low + 1)
            } else {
                let mut y: Vec<f64> = grades.iter().map(|&g| g as f64).collect();
                standardize_columns(&mut y, 1);
                Dataset::regression(x, d, y, 1)
            }
        }
        RealDataset::Iris => {
            let ds = linfa_datasets::iris();
            let (r, t) = (ds.records(), ds.targets());
            let (n, d) = (r.nrows(), r.ncols());
            let x = features(n, d, |i, j| r[[i, j]]);
            let labels: Vec<usize> = t.iter().copied().collect();
            let n_classes = labels.iter().copied().max().unwrap_or(0) + 1;
            Dataset::classification(x, d, labels, n_classes)
        }
        RealDataset::Diabetes => {
            let ds = linfa_datasets::diabetes();
            let (r, t) = (ds.records(), ds.targets());
            let (n, d) = (r.nrows(), r.ncols());
            let x = features(n, d, |i, j| r[[i, j]]);
            let mut y: Vec<f64> = t.iter().copied().collect();
            standardize_columns(&mut y, 1);
            Dataset::regression(x, d, y, 1)
        }
    }
}
