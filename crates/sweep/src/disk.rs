//! Disk budgets of sweeps into a directory: a lower bound on the bytes a run writes,
//! known from the spec before anything is computed.
//!
//! A run into a directory writes one CSV file per chunk (a header and one row per cell)
//! and, once every chunk is there, `cells.csv` (the same rows under one header) and
//! `cells.json` (the spec, then one object per cell); the chunk files stay. The bound
//! counts every byte of those files that does not depend on the results:
//!
//! - the headers, the JSON document around the cells, the keys, separators and quotes,
//!   written by the crate's own writers for a record of the shortest possible values;
//! - the digits of `index`, `lr_idx` and `start_idx`, summed exactly over the cells;
//! - each learning rate as written (it is known from the spec).
//!
//! Every result value (the start coordinates, the final loss and point, λmax and the step
//! bound) is counted as its shortest possible form, three characters (`0.0`, `NaN`, `inf`,
//! `1e7`; shortest round-trip floats never take fewer), and the outcome as the shortest
//! outcome word. Real rows are therefore never shorter than the bound: on the peers'
//! 800,000-cell benchmark the bound is 284 MB, 52% of the 550 MB the run writes, so a check
//! against free space refuses only runs that cannot fit.

use std::ops::Range;

use symstab_core::Outcome;
use symstab_core::spectrum::StepBound;

use crate::grid::{StartPoint, SweepSpec};
use crate::record::{self, CellRecord};
use crate::runner::chunk_ranges;
use crate::store::Shard;

/// A lower bound on the bytes a run into a directory writes, by file kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputBytes {
    /// The chunk files still to be computed.
    pub chunks: u128,
    /// `cells.csv` and `cells.json`, when the run assembles them (0 otherwise).
    pub final_files: u128,
}

impl OutputBytes {
    /// Both parts together.
    pub fn total(&self) -> u128 {
        self.chunks + self.final_files
    }
}

/// The fixed bytes of one record in each format, and the formatted length of each
/// learning rate.
struct RecordSizes {
    /// A CSV row with every variable field at its shortest, without the index digits and
    /// the learning rate.
    csv_row: u128,
    /// The CSV header line.
    csv_header: u128,
    /// A JSON cell object and its separating comma, likewise.
    json_cell: u128,
    /// The JSON document without any cell.
    json_document: u128,
    /// Per learning rate: its length as written in CSV and in JSON.
    lr_csv: Vec<u128>,
    lr_json: Vec<u128>,
}

/// A record of the shortest values: indices 0, every float `0.0` (or `learning_rate`),
/// the shortest outcome word.
fn shortest_record(spec: &SweepSpec, learning_rate: f64, outcome: Outcome) -> CellRecord {
    let log_alpha = match spec.starts {
        crate::grid::StartSet::Plane { .. } => None,
        crate::grid::StartSet::Orbit { .. } => Some(0.0),
    };
    CellRecord {
        index: 0,
        lr_idx: 0,
        start_idx: 0,
        learning_rate,
        start: StartPoint {
            a: 0.0,
            b: 0.0,
            log_alpha,
        },
        outcome,
        steps: 0,
        final_loss: 0.0,
        final_point: [0.0, 0.0],
        lambda_max_start: 0.0,
        stable_lr_start: StepBound::Bounded(0.0),
    }
}

fn csv_len(records: &[CellRecord]) -> u128 {
    let mut out = Vec::new();
    record::write_csv(&mut out, records).expect("writing CSV into memory");
    out.len() as u128
}

fn json_len(spec: &SweepSpec, records: &[CellRecord]) -> u128 {
    let mut out = Vec::new();
    record::write_json_stream(
        &mut out,
        spec,
        records
            .iter()
            .map(|r| Ok::<_, std::convert::Infallible>(*r)),
    )
    .map_err(|_| ())
    .expect("writing JSON into memory");
    out.len() as u128
}

impl RecordSizes {
    fn new(spec: &SweepSpec) -> Self {
        // The shortest outcome word, as each writer spells it.
        let outcomes = [Outcome::Converged, Outcome::Diverged, Outcome::Unfinished];
        let shortest = |len: &dyn Fn(&CellRecord) -> u128| {
            outcomes
                .iter()
                .map(|&o| len(&shortest_record(spec, 0.0, o)))
                .min()
                .expect("three outcomes")
        };
        let one = |r: &CellRecord| csv_len(std::slice::from_ref(r));
        let two = |r: &CellRecord| csv_len(&[*r, *r]);
        // Rows counted from two records, so the header is counted apart.
        let csv_row_with_zero = shortest(&|r| two(r) - one(r));
        let plain = shortest_record(spec, 0.0, Outcome::Diverged);
        let csv_header = 2 * one(&plain) - two(&plain);
        let json_document = json_len(spec, &[]);
        let json_cell_with_zero = shortest(&|r| json_len(spec, &[*r, *r]) - json_len(spec, &[*r]));
        // The shortest record wrote "0" for each of the three indices and "0.0" for the
        // learning rate; those are counted exactly per cell instead.
        let zero_fields = 3 + 3;
        let lr_len = |len: &dyn Fn(&CellRecord) -> u128, lr: f64| {
            len(&shortest_record(spec, lr, Outcome::Diverged))
                - len(&shortest_record(spec, 0.0, Outcome::Diverged))
                + 3
        };
        let lrs = spec.learning_rates.as_slice();
        RecordSizes {
            csv_row: csv_row_with_zero - zero_fields,
            csv_header,
            json_cell: json_cell_with_zero - zero_fields,
            json_document,
            lr_csv: lrs.iter().map(|&lr| lr_len(&one, lr)).collect(),
            lr_json: lrs
                .iter()
                .map(|&lr| lr_len(&|r| json_len(spec, std::slice::from_ref(r)), lr))
                .collect(),
        }
    }
}

/// Decimal digits of `n` (1 for 0).
fn digits(n: u128) -> u128 {
    let mut d = 1;
    let mut n = n / 10;
    while n > 0 {
        d += 1;
        n /= 10;
    }
    d
}

/// The digits of every number in `0..n`, summed.
fn digit_sum_below(n: u128) -> u128 {
    let mut total = 0;
    let mut low = 0u128; // first number with `d` digits (0 counts as one digit)
    let mut d = 1;
    while low < n {
        let high = if d == 1 { 10 } else { low * 10 };
        total += (high.min(n) - low) * d;
        low = high;
        d += 1;
    }
    total
}

/// The digits of every number in `range`, summed.
fn digit_sum(range: Range<u128>) -> u128 {
    digit_sum_below(range.end) - digit_sum_below(range.start)
}

/// Bytes of the rows of the cells in `range` in CSV and in JSON (without headers,
/// documents and the last JSON cell's missing comma), at least.
fn rows_bytes(sizes: &RecordSizes, n_starts: u128, range: Range<usize>) -> (u128, u128) {
    let (lo, hi) = (range.start as u128, range.end as u128);
    let cells = hi - lo;
    let index_digits = digit_sum(lo..hi);
    let (mut csv, mut json) = (
        cells * sizes.csv_row + index_digits,
        cells * sizes.json_cell + index_digits,
    );
    // Per learning-rate row touched: its digits of lr_idx, its rate, its start indices.
    let mut at = lo;
    while at < hi {
        let row = at / n_starts;
        let row_end = ((row + 1) * n_starts).min(hi);
        let (s0, s1) = (at - row * n_starts, row_end - row * n_starts);
        let n = row_end - at;
        let k = row as usize;
        let shared = n * digits(row) + digit_sum(s0..s1);
        csv += shared + n * sizes.lr_csv[k];
        json += shared + n * sizes.lr_json[k];
        at = row_end;
    }
    (csv, json)
}

/// A lower bound on the bytes that shard `shard` of `spec`, run into a directory with
/// `chunk_cells` cells per chunk, writes: the chunk files it owns for which `finished`
/// is false and, when the shard is the whole sweep, `cells.csv` and `cells.json` (see
/// the module docs for what is counted). The spec must be valid
/// ([`SweepSpec::validate`]) and `chunk_cells` at least 1.
pub fn output_bytes_lower_bound(
    spec: &SweepSpec,
    chunk_cells: usize,
    shard: Shard,
    finished: impl Fn(usize) -> bool,
) -> OutputBytes {
    let sizes = RecordSizes::new(spec);
    let n_starts = spec.starts.count();
    let mut out = OutputBytes::default();
    for (c, range) in chunk_ranges(spec.len(), chunk_cells.max(1))
        .into_iter()
        .enumerate()
    {
        if shard.owns(c) && !finished(c) {
            out.chunks += sizes.csv_header + rows_bytes(&sizes, n_starts, range).0;
        }
    }
    if shard == Shard::ALL {
        let n = spec.len();
        let (csv, json) = rows_bytes(&sizes, n_starts, 0..n);
        // One comma fewer than cells between the JSON objects.
        out.final_files = sizes.csv_header + csv + sizes.json_document + json - 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_sums_match_counting() {
        for n in [0u128, 1, 9, 10, 11, 99, 100, 101, 12345] {
            let direct: u128 = (0..n).map(digits).sum();
            assert_eq!(digit_sum_below(n), direct, "{n}");
        }
        assert_eq!(digit_sum(10..100), 180);
    }
}
