//! Reader for IDX files, the binary format of MNIST (LeCun et al.): a magic number
//! `0x00 0x00 TYPE NDIM`, NDIM big-endian u32 dimensions, then the values big-endian in
//! row-major order. TYPE is 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.

use std::path::Path;

use crate::data::Dataset;
use crate::error::{Error, Result};

/// An IDX array: its dimensions and its values converted to f64 (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// Dimensions, outermost first (for MNIST images: [n, 28, 28]).
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f64>,
    /// True when the file stored unsigned bytes (type 0x08).
    pub unsigned_bytes: bool,
}

fn malformed(path: &Path, reason: impl Into<String>) -> Error {
    Error::invalid_spec(&format!("idx file {}", path.display()), reason)
}

/// Parses IDX bytes; `path` only names the source in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    if bytes.len() < 4 {
        return Err(malformed(
            path,
            format!("{} bytes is too short for a header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(malformed(
            path,
            format!(
                "bad magic {:02x} {:02x} (expected 00 00)",
                bytes[0], bytes[1]
            ),
        ));
    }
    let (kind, ndim) = (bytes[2], bytes[3] as usize);
    let size = match kind {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        other => return Err(malformed(path, format!("unknown value type 0x{other:02x}"))),
    };
    if ndim == 0 {
        return Err(malformed(path, "zero dimensions"));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(malformed(
            path,
            format!("header needs {header} bytes, file has {}", bytes.len()),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|k| {
            u32::from_be_bytes(bytes[4 + 4 * k..8 + 4 * k].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let count = count.ok_or_else(|| malformed(path, format!("dimensions {dims:?} overflow")))?;
    let expected = count.checked_mul(size).and_then(|b| b.checked_add(header));
    if expected != Some(bytes.len()) {
        return Err(malformed(
            path,
            format!(
                "dimensions {dims:?} need {} bytes, file has {}",
                expected.unwrap_or(usize::MAX),
                bytes.len()
            ),
        ));
    }
    let body = &bytes[header..];
    let values: Vec<f64> = match kind {
        0x08 => body.iter().map(|&b| f64::from(b)).collect(),
        0x09 => body.iter().map(|&b| f64::from(b as i8)).collect(),
        0x0B => body
            .chunks_exact(2)
            .map(|c| f64::from(i16::from_be_bytes([c[0], c[1]])))
            .collect(),
        0x0C => body
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_be_bytes(c.try_into().expect("4 bytes"))))
            .collect(),
        0x0D => body
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_be_bytes(c.try_into().expect("4 bytes"))))
            .collect(),
        _ => body
            .chunks_exact(8)
            .map(|c| f64::from_be_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    };
    Ok(IdxArray {
        dims,
        values,
        unsigned_bytes: kind == 0x08,
    })
}

/// Reads the user's IDX file at `path`.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| {
        Error::invalid_value("idx file", path.display(), &format!("cannot read: {e}"))
    })?;
    parse_idx(&bytes, path)
}

/// An MNIST-style classification dataset from an images file (n × …, flattened per sample;
/// unsigned bytes scaled to [0, 1] by 1/255) and a labels file (n non-negative integers).
/// `n_classes` defaults to the largest label + 1; `limit` keeps only the first samples.
pub fn read_idx_classification(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    n_classes: Option<usize>,
    limit: Option<usize>,
) -> Result<Dataset> {
    let (images, labels_path) = (images.as_ref(), labels.as_ref());
    let img = read_idx(images)?;
    let lab = read_idx(labels_path)?;
    if lab.dims.len() != 1 {
        return Err(malformed(
            labels_path,
            format!("labels must be 1-dimensional, got {:?}", lab.dims),
        ));
    }
    let n = img.dims[0];
    if lab.dims[0] != n {
        return Err(malformed(
            labels_path,
            format!(
                "{} labels for {n} images in {}",
                lab.dims[0],
                images.display()
            ),
        ));
    }
    let d: usize = img.dims[1..].iter().product::<usize>().max(1);
    let keep = limit.unwrap_or(n).min(n);
    let scale = if img.unsigned_bytes { 1.0 / 255.0 } else { 1.0 };
    let x: Vec<f64> = img.values[..keep * d].iter().map(|v| v * scale).collect();
    let mut classes = Vec::with_capacity(keep);
    for (i, &v) in lab.values[..keep].iter().enumerate() {
        if v < 0.0 || v.fract() != 0.0 {
            return Err(malformed(
                labels_path,
                format!("label {v} at index {i} is not a class index"),
            ));
        }
        classes.push(v as usize);
    }
    let k = n_classes.unwrap_or_else(|| classes.iter().copied().max().unwrap_or(0) + 1);
    Dataset::classification(x, d, classes, k)
}
