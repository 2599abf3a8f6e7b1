//! Parallel, deterministic runners: the toy sweep on the lane kernel, and a generic
//! sweep of any [`Model`] over start points × learning rates.
//!
//! Cells are split into fixed chunks of consecutive canonical indices; rayon runs the
//! chunks on the current thread pool (install a `rayon::ThreadPool` to choose the thread
//! count). Every cell depends only on its own inputs, so the results are the same bits
//! whatever the thread count or chunk size.
//!
//! Cells differ widely in cost (a diverging cell stops after a few steps, a slow one runs
//! the whole budget, and cost follows the learning rate, which is the slowest-varying
//! index), so each chunk is its own rayon job (`with_max_len(1)`). Left to its adaptive
//! splitting, rayon can hand each thread one half of the chunks as a single sequential
//! piece; a thread with the cheap half then idles while the other works through the
//! expensive one (the peers' sweep took 12.3 ms instead of 10 ms on 2 threads).

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;
use symstab_core::descent::{GradientDescent, Recording, Run};
use symstab_core::{Error, Model, Outcome, StopRule};

use crate::grid::{LearningRates, StartSet, SweepSpec};
use crate::kernel::{Backend, ToyCellResult, ToyParams, run_toy_cells_uninit};

/// Receives progress: `report(done_cells, total_cells)`, called from worker threads once
/// per finished chunk. Calls from different threads may arrive out of order; the largest
/// `done_cells` seen is the current count. Implemented for every `Fn(usize, usize) + Sync`.
pub trait Progress: Sync {
    /// `done_cells` of `total_cells` cells are finished.
    fn report(&self, done_cells: usize, total_cells: usize);
}

impl<F: Fn(usize, usize) + Sync> Progress for F {
    fn report(&self, done_cells: usize, total_cells: usize) {
        self(done_cells, total_cells)
    }
}

/// A [`Progress`] that ignores every report.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _: usize, _: usize) {}
}

/// Default number of cells per chunk.
pub const DEFAULT_CHUNK_CELLS: usize = 8192;

/// How to run a sweep (none of this changes the results).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cells per chunk: the unit of parallel work, progress reports and resumption.
    pub chunk_cells: usize,
    /// Kernel backend; `None` picks the widest the CPU supports.
    pub backend: Option<Backend>,
    /// When set to true (by another thread or a progress callback), chunks not yet
    /// started are skipped and the run ends early, reporting itself incomplete.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            chunk_cells: DEFAULT_CHUNK_CELLS,
            backend: None,
            cancel: None,
        }
    }
}

impl RunOptions {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.chunk_cells == 0 {
            return Err(Error::invalid_value("chunk_cells", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// Whether the cancel flag has been raised.
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// The cell ranges of each chunk, in order.
pub fn chunk_ranges(n_cells: usize, chunk_cells: usize) -> Vec<Range<usize>> {
    (0..n_cells.div_ceil(chunk_cells))
        .map(|c| c * chunk_cells..((c + 1) * chunk_cells).min(n_cells))
        .collect()
}

/// Start coordinates and learning rates of a spec, tabulated once so that chunks fill
/// their inputs without per-cell index arithmetic. A plane keeps its two axes (not one
/// entry per start point), so building the table costs next to nothing on the thread
/// that starts a sweep.
pub(crate) struct InputTable {
    starts: StartTable,
    lrs: Vec<f64>,
}

enum StartTable {
    /// Start `s` is `(a[s / b.len()], b[s % b.len()])`.
    Plane { a: Vec<f64>, b: Vec<f64> },
    /// Start `s` is `(a[s], b[s])`.
    Points { a: Vec<f64>, b: Vec<f64> },
}

impl StartTable {
    fn len(&self) -> usize {
        match self {
            StartTable::Plane { a, b } => a.len() * b.len(),
            StartTable::Points { a, .. } => a.len(),
        }
    }

    /// Appends the starts `s..s + take` (all below `len()`).
    fn extend(&self, s: usize, take: usize, a0: &mut Vec<f64>, b0: &mut Vec<f64>) {
        match self {
            StartTable::Points { a, b } => {
                a0.extend_from_slice(&a[s..s + take]);
                b0.extend_from_slice(&b[s..s + take]);
            }
            StartTable::Plane { a, b } => {
                let nb = b.len();
                let (mut i, mut j) = (s / nb, s % nb);
                let mut left = take;
                while left > 0 {
                    let run = (nb - j).min(left);
                    a0.extend(std::iter::repeat_n(a[i], run));
                    b0.extend_from_slice(&b[j..j + run]);
                    left -= run;
                    (i, j) = (i + 1, 0);
                }
            }
        }
    }
}

impl InputTable {
    pub(crate) fn new(spec: &SweepSpec) -> Self {
        let starts = match &spec.starts {
            StartSet::Plane { a, b } => StartTable::Plane {
                a: a.values(),
                b: b.values(),
            },
            StartSet::Orbit { .. } => {
                let n = spec.starts.len();
                let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
                for k in 0..n {
                    let p = spec.starts.point(k);
                    a.push(p.a);
                    b.push(p.b);
                }
                StartTable::Points { a, b }
            }
        };
        InputTable {
            starts,
            lrs: spec.learning_rates.as_slice().to_vec(),
        }
    }

    /// Bytes the table of `spec` holds.
    pub(crate) fn bytes(spec: &SweepSpec) -> Option<u64> {
        let starts = match &spec.starts {
            StartSet::Plane { a, b } => a.len().checked_add(b.len())?,
            StartSet::Orbit { log_alpha, .. } => log_alpha.len().checked_mul(2)?,
        };
        let entries = starts.checked_add(spec.learning_rates.len())?;
        u64::try_from(entries).ok()?.checked_mul(8)
    }

    fn fill(&self, range: Range<usize>, a0: &mut Vec<f64>, b0: &mut Vec<f64>, lr: &mut Vec<f64>) {
        a0.clear();
        b0.clear();
        lr.clear();
        let n = self.starts.len();
        let mut idx = range.start;
        while idx < range.end {
            let (l, s) = (idx / n, idx % n);
            let take = (n - s).min(range.end - idx);
            self.starts.extend(s, take, a0, b0);
            lr.extend(std::iter::repeat_n(self.lrs[l], take));
            idx += take;
        }
    }
}

fn toy_params(spec: &SweepSpec) -> ToyParams {
    ToyParams {
        max_steps: spec.max_steps,
        stop_rule: spec.stop_rule,
        rounding: spec.rounding,
    }
}

/// Runs the cells `range` of a toy spec into `out` (same length as the range), writing
/// every element.
pub(crate) fn run_toy_range(
    spec: &SweepSpec,
    table: &InputTable,
    backend: Backend,
    range: Range<usize>,
    out: &mut [MaybeUninit<ToyCellResult>],
) {
    let (mut a0, mut b0, mut lr) = (Vec::new(), Vec::new(), Vec::new());
    table.fill(range, &mut a0, &mut b0, &mut lr);
    run_toy_cells_uninit(backend, &toy_params(spec), &a0, &b0, &lr, out);
}

/// Asks the kernel to back a large buffer's spare capacity with transparent huge pages:
/// the workers that first touch a sweep's output then take 512 times fewer page faults.
/// Advice only: where it is refused nothing changes but the speed.
fn advise_huge_pages<T>(buffer: &mut Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 1 << 21;
        let start = buffer.as_mut_ptr() as usize;
        let len = buffer.capacity() * std::mem::size_of::<T>();
        let first = start.next_multiple_of(HUGE);
        let last = (start + len) / HUGE * HUGE;
        if last > first {
            // SAFETY: [first, last) lies inside the buffer's allocation, which this Vec
            // owns; madvise with MADV_HUGEPAGE changes no contents and no permissions.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buffer;
}

/// Results of a toy sweep, one per cell in canonical order.
#[derive(Debug, Clone)]
pub struct ToySweepResult {
    /// Per-cell results (`cells[index]`); cells of skipped chunks are absent only when
    /// `complete` is false, in which case the vector is empty.
    pub cells: Vec<ToyCellResult>,
    /// False when the run was cancelled before every chunk ran.
    pub complete: bool,
}

/// Runs every cell of a toy spec in parallel on the current rayon pool.
pub fn run_toy_sweep(
    spec: &SweepSpec,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<ToySweepResult, Error> {
    spec.validate()?;
    options.validate()?;
    crate::memory::check_in_memory(spec)?;
    let total = spec.len();
    let table = InputTable::new(spec);
    let backend = options.backend.unwrap_or_else(Backend::detect);
    // The output is left uninitialised here and first touched by the workers that fill it.
    let mut cells: Vec<ToyCellResult> = Vec::with_capacity(total);
    advise_huge_pages(&mut cells);
    let done = AtomicUsize::new(0);
    let skipped = AtomicBool::new(false);
    cells.spare_capacity_mut()[..total]
        .par_chunks_mut(options.chunk_cells)
        .with_max_len(1)
        .enumerate()
        .for_each(|(c, out)| {
            if options.cancelled() {
                skipped.store(true, Ordering::Relaxed);
                return;
            }
            let start = c * options.chunk_cells;
            run_toy_range(spec, &table, backend, start..start + out.len(), out);
            let now = done.fetch_add(out.len(), Ordering::Relaxed) + out.len();
            progress.report(now, total);
        });
    if skipped.load(Ordering::Relaxed) {
        return Ok(ToySweepResult {
            cells: Vec::new(),
            complete: false,
        });
    }
    // SAFETY: no chunk was skipped, and the kernel writes every element of its chunk.
    unsafe { cells.set_len(total) };
    Ok(ToySweepResult {
        cells,
        complete: true,
    })
}

/// How one run of a generic model ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCellResult {
    /// Converged, diverged or unfinished.
    pub outcome: Outcome,
    /// Number of updates executed.
    pub steps: u32,
    /// Loss at the final parameters.
    pub final_loss: f64,
    /// Final parameter vector.
    pub final_params: Vec<f64>,
}

impl ModelCellResult {
    /// The summary of a core [`Run`].
    pub fn from_run(run: Run) -> Self {
        ModelCellResult {
            outcome: run.outcome,
            steps: u32::try_from(run.steps).unwrap_or(u32::MAX),
            final_loss: run.final_loss,
            final_params: run.final_point,
        }
    }
}

/// The core's plain gradient descent for one cell, recording only its summary.
pub(crate) fn descent_for(
    learning_rate: f64,
    max_steps: u32,
    stop_rule: &StopRule,
) -> Result<GradientDescent, Error> {
    Ok(GradientDescent::new(learning_rate, max_steps as usize)?
        .with_stop(*stop_rule)?
        .with_recording(Recording::None))
}

/// Plain gradient descent θ ← θ − η·∇L(θ) from `start` by the core's [`GradientDescent`]
/// (stop rule checked before each step; see [`symstab_core::descent`]).
///
/// Errors: an invalid learning rate or stop rule, or a start of the wrong length or with a
/// non-finite entry. Divergence is an outcome, not an error.
pub fn descend<M: Model + ?Sized>(
    model: &M,
    start: &[f64],
    learning_rate: f64,
    max_steps: u32,
    stop_rule: &StopRule,
) -> Result<ModelCellResult, Error> {
    let run = descent_for(learning_rate, max_steps, stop_rule)?.run(model, start)?;
    Ok(ModelCellResult::from_run(run))
}

/// Runs gradient descent of `model` from every start × learning rate, in parallel.
/// Cell `index = lr_idx · starts.len() + start_idx`, results in that order.
pub fn run_model_sweep<M: Model>(
    model: &M,
    starts: &[Vec<f64>],
    learning_rates: &LearningRates,
    max_steps: u32,
    stop_rule: &StopRule,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<Vec<ModelCellResult>, Error> {
    options.validate()?;
    if starts.is_empty() {
        return Err(Error::invalid_value("starts", "[]", "must not be empty"));
    }
    for (k, s) in starts.iter().enumerate() {
        model.check_params(&format!("starts[{k}]"), s)?;
    }
    let descents = learning_rates
        .as_slice()
        .iter()
        .map(|&lr| descent_for(lr, max_steps, stop_rule))
        .collect::<Result<Vec<_>, Error>>()?;
    let n_starts = starts.len();
    let total = n_starts * learning_rates.len();
    let done = AtomicUsize::new(0);
    let ranges = chunk_ranges(total, options.chunk_cells);
    let chunks: Vec<Vec<ModelCellResult>> = ranges
        .into_par_iter()
        .with_max_len(1)
        .map(|range| {
            let len = range.len();
            let out = range
                .map(|idx| {
                    let run = descents[idx / n_starts].run(model, &starts[idx % n_starts])?;
                    Ok(ModelCellResult::from_run(run))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            progress.report(done.fetch_add(len, Ordering::Relaxed) + len, total);
            Ok(out)
        })
        .collect::<Result<_, Error>>()?;
    Ok(chunks.into_iter().flatten().collect())
}
