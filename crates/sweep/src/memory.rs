//! Memory budgets of sweeps, checked before anything is allocated or written.
//!
//! A sweep's size is known from its spec, so an oversized grid is rejected up front with
//! the number of bytes it would need instead of aborting on a failed allocation. The cap
//! is [`MEMORY_CAP_BYTES`] for every part that is held in memory at once:
//!
//! - in-memory runs ([`crate::runner::run_toy_sweep`]): the result of every cell plus the
//!   table of start coordinates;
//! - runs into a directory ([`crate::store::run_toy_sweep_in_dir`]): the start table, the
//!   list of chunks (each chunk's cell range and its number in the lists of chunks owned,
//!   to do and computed), and the chunks being computed at once (one per worker thread).
//!   [`crate::store::merge_shards`] is checked the same way with one thread.
//!
//! Assembling `cells.csv`/`cells.json` at the end of a run into a directory (or of a
//! merge) takes no part in the budget: it streams the chunk files in order into both files
//! one record at a time, so it holds one record and the read and write buffers (a few
//! dozen KiB) whatever the number of cells.

use std::mem::size_of;

use symstab_core::Error;

use crate::grid::SweepSpec;
use crate::kernel::ToyCellResult;
use crate::record::CellRecord;

/// Most bytes any one part of a sweep may hold in memory: 4 GiB.
pub const MEMORY_CAP_BYTES: u64 = 4 << 30;

/// Bytes of the start table: the two axes of a plane, or two coordinates per orbit point,
/// and one rate per learning rate.
fn table_bytes(spec: &SweepSpec) -> Option<u64> {
    crate::runner::InputTable::bytes(spec)
}

fn times(count: usize, bytes_each: usize) -> Option<u64> {
    u64::try_from(count)
        .ok()?
        .checked_mul(u64::try_from(bytes_each).ok()?)
}

/// A byte count in GiB, e.g. `74.5 GiB`.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

fn check_part(
    field: &str,
    value: impl std::fmt::Display,
    what: &str,
    bytes: Option<u64>,
) -> Result<(), Error> {
    match bytes {
        Some(b) if b <= MEMORY_CAP_BYTES => Ok(()),
        Some(b) => Err(Error::invalid_value(
            field,
            value,
            &format!(
                "{what} would need {} ({b} bytes), above the cap of {}",
                gib(b),
                gib(MEMORY_CAP_BYTES)
            ),
        )),
        None => Err(Error::invalid_value(
            field,
            value,
            &format!("{what} would need more than 2^64 bytes"),
        )),
    }
}

fn cells(spec: &SweepSpec) -> Result<usize, Error> {
    if u32::try_from(spec.learning_rates.len()).is_err() {
        return Err(Error::invalid_value(
            "learning_rates",
            spec.learning_rates.len(),
            "more learning rates than a u32 index can hold",
        ));
    }
    spec.n_cells().ok_or_else(|| {
        Error::invalid_value(
            "cells",
            format!(
                "{} start points × {} learning rates = {}",
                crate::grid::count_text(Some(spec.starts.count())),
                spec.learning_rates.len(),
                spec.cell_count_text()
            ),
            &format!(
                "the cell count exceeds {}, the most a run can index",
                usize::MAX
            ),
        )
    })
}

/// Checks that an in-memory toy sweep fits [`MEMORY_CAP_BYTES`]: cells × the bytes of one
/// cell result, plus the start table.
pub fn check_in_memory(spec: &SweepSpec) -> Result<(), Error> {
    let n = cells(spec)?;
    let bytes =
        times(n, size_of::<ToyCellResult>()).and_then(|r| r.checked_add(table_bytes(spec)?));
    check_part(
        "cells",
        n,
        &format!(
            "an in-memory sweep ({n} cells × {} bytes per result, plus the start table)",
            size_of::<ToyCellResult>()
        ),
        bytes,
    )
}

/// Checks that a toy sweep into a directory with `chunk_cells` cells per chunk, computed
/// by `threads` workers at once, fits [`MEMORY_CAP_BYTES`] in each part (the start table,
/// the chunk list, the chunks in flight; see the module docs), and that `chunk_cells` is
/// at least 1. The number of cells itself is not limited: the final files are streamed.
pub fn check_in_dir(spec: &SweepSpec, chunk_cells: usize, threads: usize) -> Result<(), Error> {
    if chunk_cells == 0 {
        return Err(Error::invalid_value("chunk_cells", 0, "must be at least 1"));
    }
    let n = cells(spec)?;
    let table = match &spec.starts {
        crate::grid::StartSet::Plane { a, b } => format!(
            "the start table ({} + {} axis values and {} learning rates × 8 bytes)",
            a.len(),
            b.len(),
            spec.learning_rates.len()
        ),
        crate::grid::StartSet::Orbit { log_alpha, .. } => format!(
            "the start table ({} points × 16 bytes and {} learning rates × 8 bytes)",
            log_alpha.len(),
            spec.learning_rates.len()
        ),
    };
    check_part("starts", spec.starts.len(), &table, table_bytes(spec))?;
    let n_chunks = n.div_ceil(chunk_cells);
    // A range per chunk, and its number in the lists of chunks owned, to do and computed.
    let per_chunk = size_of::<std::ops::Range<usize>>() + 3 * size_of::<usize>();
    check_part(
        "chunks",
        n_chunks,
        &format!("the chunk list ({n_chunks} chunks × {per_chunk} bytes)"),
        times(n_chunks, per_chunk),
    )?;
    let per_cell = size_of::<ToyCellResult>() + size_of::<CellRecord>() + 3 * size_of::<f64>();
    let in_flight = chunk_cells.min(n);
    check_part(
        "chunk_cells",
        chunk_cells,
        &format!("{threads} chunks in flight ({in_flight} cells × {per_cell} bytes each)"),
        times(in_flight, per_cell).and_then(|b| b.checked_mul(threads.max(1) as u64)),
    )
}
