//! Per-cell records and their tidy CSV and JSON forms.
//!
//! Every f64 is written exactly: finite values in shortest round-trip form, non-finite
//! values as the explicit tokens `NaN`, `inf`, `-inf` (strings in JSON, where serde_json
//! would otherwise write `null`; the same bare tokens in CSV). Reading back gives the same
//! bits for every finite value (including −0) and the same class for non-finite ones.
//! The step bound 2/λmax at the start is the core's [`StepBound`]: a number, or the token
//! `unbounded` when λmax ≤ 0 (never NaN, never negative).

use std::fmt;

use rayon::prelude::*;
use serde::de::{self, Visitor};
use serde::ser::{self, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use symstab_core::spectrum::{StepBound, SymmetricEigen, stable_learning_rate};
use symstab_core::toy::ProductChain;
use symstab_core::{Model, Outcome};

use crate::grid::{Cell, StartPoint, SweepSpec};
use crate::kernel::ToyCellResult;

/// Version of the record layout in CSV and JSON files.
pub const FORMAT_VERSION: u32 = 1;

/// An f64 that serialises non-finite values as explicit tokens.
#[derive(Debug, Clone, Copy)]
pub struct Real(pub f64);

impl Serialize for Real {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Real;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or one of \"NaN\", \"inf\", \"-inf\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Real, E> {
                Ok(Real(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Real, E> {
                match v {
                    "NaN" => Ok(Real(f64::NAN)),
                    "inf" => Ok(Real(f64::INFINITY)),
                    "-inf" => Ok(Real(f64::NEG_INFINITY)),
                    other => other
                        .parse()
                        .map(Real)
                        .map_err(|_| E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// λmax of the toy's Hessian at (a, b), from the core: the dense Hessian of
/// [`ProductChain::toy`] (H = [[2b², 4ab − 4], [4ab − 4, 2a²]] for L = (a·b − 2)²)
/// decomposed by [`SymmetricEigen`].
///
/// A Hessian with a non-finite entry (|a| or |b| beyond about 1e154) cannot be decomposed;
/// its λmax is recorded as NaN, and [`stable_learning_rate`] then gives the core's
/// conservative `Bounded(0)`.
pub fn toy_lambda_max(a: f64, b: f64) -> f64 {
    let toy = ProductChain::toy();
    SymmetricEigen::new(toy.hessian(&[a, b])).map_or(f64::NAN, |e| e.lambda_max())
}

/// λmax and the step bound 2/λmax ([`StepBound`]) at one start point.
pub fn toy_start_stability(a: f64, b: f64) -> (f64, StepBound) {
    let lambda_max = toy_lambda_max(a, b);
    (lambda_max, stable_learning_rate(lambda_max))
}

/// Everything recorded about one cell.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(into = "FlatRecord", from = "FlatRecord")]
pub struct CellRecord {
    /// Canonical index `lr_idx · n_starts + start_idx`.
    pub index: u64,
    /// Index into the learning-rate list.
    pub lr_idx: u32,
    /// Index into the start set.
    pub start_idx: u64,
    /// The learning rate.
    pub learning_rate: f64,
    /// The start point (a, b) and, on an orbit, its log α.
    pub start: StartPoint,
    /// How the run ended.
    pub outcome: Outcome,
    /// Updates executed.
    pub steps: u32,
    /// Loss at the final point.
    pub final_loss: f64,
    /// Final (a, b).
    pub final_point: [f64; 2],
    /// λmax of the Hessian at the start.
    pub lambda_max_start: f64,
    /// The step bound 2/λmax at the start: `Bounded(2/λmax)`, or `Unbounded` when
    /// λmax ≤ 0 (written as the token `unbounded` in CSV and JSON).
    pub stable_lr_start: StepBound,
}

impl CellRecord {
    /// The record of a toy cell (computes λmax at the start).
    pub fn from_toy(cell: &Cell, result: &ToyCellResult) -> Self {
        let stability = toy_start_stability(cell.start.a, cell.start.b);
        Self::from_toy_with(cell, result, stability)
    }

    /// The record of a toy cell whose start λmax and step bound are already known.
    pub fn from_toy_with(
        cell: &Cell,
        result: &ToyCellResult,
        (lambda_max, stable_lr): (f64, StepBound),
    ) -> Self {
        CellRecord {
            index: cell.index as u64,
            lr_idx: cell.lr_idx as u32,
            start_idx: cell.start_idx as u64,
            learning_rate: cell.learning_rate,
            start: cell.start,
            outcome: result.outcome,
            steps: result.steps,
            final_loss: result.final_loss,
            final_point: [result.a, result.b],
            lambda_max_start: lambda_max,
            stable_lr_start: stable_lr,
        }
    }

    /// Bitwise equality of every field (NaN equals NaN with the same bits).
    pub fn same_bits(&self, other: &CellRecord) -> bool {
        let f = |x: f64, y: f64| x.to_bits() == y.to_bits();
        self.index == other.index
            && self.lr_idx == other.lr_idx
            && self.start_idx == other.start_idx
            && f(self.learning_rate, other.learning_rate)
            && f(self.start.a, other.start.a)
            && f(self.start.b, other.start.b)
            && match (self.start.log_alpha, other.start.log_alpha) {
                (Some(x), Some(y)) => f(x, y),
                (None, None) => true,
                _ => false,
            }
            && self.outcome == other.outcome
            && self.steps == other.steps
            && f(self.final_loss, other.final_loss)
            && f(self.final_point[0], other.final_point[0])
            && f(self.final_point[1], other.final_point[1])
            && f(self.lambda_max_start, other.lambda_max_start)
            && match (self.stable_lr_start, other.stable_lr_start) {
                (StepBound::Bounded(x), StepBound::Bounded(y)) => f(x, y),
                (StepBound::Unbounded, StepBound::Unbounded) => true,
                _ => false,
            }
    }
}

/// Records of all toy cells of a spec, in canonical order.
pub fn toy_records(spec: &SweepSpec, results: &[ToyCellResult]) -> Vec<CellRecord> {
    toy_records_from(spec, 0, results)
}

/// Records of the toy cells `first .. first + results.len()` of a spec.
///
/// λmax is computed once per distinct start point of the range (cells at different
/// learning rates share their start), in parallel on the current rayon pool.
pub fn toy_records_from(
    spec: &SweepSpec,
    first: usize,
    results: &[ToyCellResult],
) -> Vec<CellRecord> {
    let n_starts = spec.starts.len();
    let last = first + results.len();
    // The start indices touched by the range: all of them once it spans a whole lr row.
    let (lo, hi) = if results.len() >= n_starts || results.is_empty() {
        (0, if results.is_empty() { 0 } else { n_starts })
    } else {
        let (s0, s1) = (first % n_starts, (last - 1) % n_starts);
        if s0 <= s1 {
            (s0, s1 + 1)
        } else {
            (0, n_starts)
        }
    };
    let stability: Vec<(f64, StepBound)> = (lo..hi)
        .into_par_iter()
        .map(|k| {
            let p = spec.starts.point(k);
            toy_start_stability(p.a, p.b)
        })
        .collect();
    results
        .par_iter()
        .enumerate()
        .map(|(k, r)| {
            let cell = spec.cell(first + k);
            CellRecord::from_toy_with(&cell, r, stability[cell.start_idx - lo])
        })
        .collect()
}

/// The tidy, flat form of a [`CellRecord`]: one CSV column / JSON key per scalar.
#[derive(Serialize, Deserialize)]
struct FlatRecord {
    index: u64,
    lr_idx: u32,
    start_idx: u64,
    learning_rate: Real,
    start_a: Real,
    start_b: Real,
    log_alpha: Option<Real>,
    outcome: Outcome,
    steps: u32,
    final_loss: Real,
    final_a: Real,
    final_b: Real,
    lambda_max_start: Real,
    stable_lr_start: StepBound,
}

impl From<CellRecord> for FlatRecord {
    fn from(r: CellRecord) -> Self {
        FlatRecord {
            index: r.index,
            lr_idx: r.lr_idx,
            start_idx: r.start_idx,
            learning_rate: Real(r.learning_rate),
            start_a: Real(r.start.a),
            start_b: Real(r.start.b),
            log_alpha: r.start.log_alpha.map(Real),
            outcome: r.outcome,
            steps: r.steps,
            final_loss: Real(r.final_loss),
            final_a: Real(r.final_point[0]),
            final_b: Real(r.final_point[1]),
            lambda_max_start: Real(r.lambda_max_start),
            stable_lr_start: r.stable_lr_start,
        }
    }
}

impl From<FlatRecord> for CellRecord {
    fn from(r: FlatRecord) -> Self {
        CellRecord {
            index: r.index,
            lr_idx: r.lr_idx,
            start_idx: r.start_idx,
            learning_rate: r.learning_rate.0,
            start: StartPoint {
                a: r.start_a.0,
                b: r.start_b.0,
                log_alpha: r.log_alpha.map(|x| x.0),
            },
            outcome: r.outcome,
            steps: r.steps,
            final_loss: r.final_loss.0,
            final_point: [r.final_a.0, r.final_b.0],
            lambda_max_start: r.lambda_max_start.0,
            stable_lr_start: r.stable_lr_start,
        }
    }
}

/// The JSON document of a sweep: format version, spec and one object per cell.
///
/// Serialised through the same field layout as [`write_json_stream`], so a document
/// written whole and one streamed cell by cell are the same bytes.
#[derive(Debug, Clone, Deserialize)]
pub struct SweepDocument {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The spec that produced the cells.
    pub spec: SweepSpec,
    /// One record per cell, in canonical order.
    pub cells: Vec<CellRecord>,
}

impl Serialize for SweepDocument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DocumentLayout {
            format_version: self.format_version,
            spec: &self.spec,
            cells: &self.cells,
        }
        .serialize(s)
    }
}

/// The JSON layout of a [`SweepDocument`], with the cells as any serialisable sequence:
/// the one definition of the document's keys and their order.
#[derive(Serialize)]
struct DocumentLayout<'a, C> {
    format_version: u32,
    spec: &'a SweepSpec,
    cells: C,
}

/// Cells serialised as a JSON array while a fallible source yields them. The first error
/// of the source stops the array and is kept in `failure` for the caller.
struct StreamedCells<I, E> {
    source: std::cell::Cell<Option<I>>,
    failure: std::cell::Cell<Option<E>>,
}

impl<I, E> Serialize for StreamedCells<I, E>
where
    I: Iterator<Item = Result<CellRecord, E>>,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(source) = self.source.take() else {
            return Err(ser::Error::custom("streamed cells can be serialised once"));
        };
        let mut seq = s.serialize_seq(None)?;
        for cell in source {
            match cell {
                Ok(record) => seq.serialize_element(&record)?,
                Err(e) => {
                    self.failure.set(Some(e));
                    return Err(ser::Error::custom("the source of the cells failed"));
                }
            }
        }
        seq.end()
    }
}

/// Why a streamed write ([`write_json_stream`], [`write_csv_stream`]) failed: the source
/// of the records, or the writer.
#[derive(Debug)]
pub enum StreamError<E, W> {
    /// The source of the records failed (its first error; nothing after it was written).
    Source(E),
    /// Formatting or writing failed.
    Write(W),
}

/// Writes records as CSV, one row at a time: the header before the first record, nothing
/// for no record. [`write_csv`] and [`write_csv_stream`] are built on it, so every CSV
/// writer of the crate gives the same bytes for the same records.
pub struct CsvWriter<W: std::io::Write> {
    inner: csv::Writer<W>,
}

impl<W: std::io::Write> CsvWriter<W> {
    /// A writer into `writer` (which is best buffered: the writer buffers only a few KiB).
    pub fn new(writer: W) -> Self {
        CsvWriter {
            inner: csv::Writer::from_writer(writer),
        }
    }

    /// Writes one record (and the header first, on the first call).
    pub fn write(&mut self, record: &CellRecord) -> Result<(), csv::Error> {
        self.inner.serialize(record)
    }

    /// Flushes what is buffered into the underlying writer.
    pub fn finish(mut self) -> Result<(), csv::Error> {
        self.inner.flush()?;
        Ok(())
    }
}

/// Writes records as CSV with a header row.
pub fn write_csv<W: std::io::Write>(writer: W, records: &[CellRecord]) -> Result<(), csv::Error> {
    write_csv_stream(
        writer,
        records.iter().map(Ok::<_, std::convert::Infallible>),
    )
    .map_err(|e| match e {
        StreamError::Write(e) => e,
        StreamError::Source(never) => match never {},
    })
}

/// Writes records as CSV with a header row while `records` yields them, holding one at a
/// time: the bytes of [`write_csv`] for the same records. Stops at the first error of the
/// source.
pub fn write_csv_stream<W, R, E>(
    writer: W,
    records: impl IntoIterator<Item = Result<R, E>>,
) -> Result<(), StreamError<E, csv::Error>>
where
    W: std::io::Write,
    R: std::borrow::Borrow<CellRecord>,
{
    let mut w = CsvWriter::new(writer);
    for r in records {
        w.write(r.map_err(StreamError::Source)?.borrow())
            .map_err(StreamError::Write)?;
    }
    w.finish().map_err(StreamError::Write)
}

/// Reads records written by [`write_csv`].
pub fn read_csv<R: std::io::Read>(reader: R) -> Result<Vec<CellRecord>, csv::Error> {
    read_csv_stream(reader).collect()
}

/// Reads records written by [`write_csv`] one at a time, as they are parsed.
pub fn read_csv_stream<R: std::io::Read>(
    reader: R,
) -> impl Iterator<Item = Result<CellRecord, csv::Error>> {
    csv::Reader::from_reader(reader).into_deserialize()
}

/// Writes a [`SweepDocument`] as JSON.
pub fn write_json<W: std::io::Write>(
    writer: W,
    doc: &SweepDocument,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(writer, doc)
}

/// Writes the JSON document of a sweep ([`FORMAT_VERSION`], `spec`, then the cells) while
/// `cells` yields them, holding one at a time: the bytes of [`write_json`] for the same
/// document. Stops at the first error of the source (the output is then incomplete).
pub fn write_json_stream<W, E>(
    writer: W,
    spec: &SweepSpec,
    cells: impl IntoIterator<Item = Result<CellRecord, E>>,
) -> Result<(), StreamError<E, serde_json::Error>>
where
    W: std::io::Write,
{
    let cells = StreamedCells {
        source: std::cell::Cell::new(Some(cells.into_iter())),
        failure: std::cell::Cell::new(None),
    };
    let layout = DocumentLayout {
        format_version: FORMAT_VERSION,
        spec,
        cells: &cells,
    };
    let written = serde_json::to_writer(writer, &layout);
    match (cells.failure.take(), written) {
        (Some(e), _) => Err(StreamError::Source(e)),
        (None, Err(e)) => Err(StreamError::Write(e)),
        (None, Ok(())) => Ok(()),
    }
}

/// Reads a [`SweepDocument`] written by [`write_json`].
pub fn read_json<R: std::io::Read>(reader: R) -> Result<SweepDocument, serde_json::Error> {
    serde_json::from_reader(reader)
}
