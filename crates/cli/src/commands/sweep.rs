//! `symstab sweep` and `symstab merge`: toy sweeps of learning rates × start points, in
//! memory or into a resumable output directory, sharded, with progress on stderr.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use symstab_core::Outcome;
use symstab_sweep::grid::{Axis, LearningRates, Rounding, StartSet, SweepSpec};
use symstab_sweep::record::CellRecord;
use symstab_sweep::runner::{Progress, RunOptions, run_toy_sweep};
use symstab_sweep::store::{self, Shard};

use crate::cli::{MergeArgs, SweepArgs};
use crate::messages::{self, ArgError, SweepSummary};
use crate::output;
use crate::parse::Range;

/// Percentages at which a plain progress line is printed off a terminal.
const PLAIN_MILESTONES: [usize; 4] = [25, 50, 75, 100];

/// Runs `symstab sweep`.
pub fn run(args: &SweepArgs) -> Result<()> {
    if let Some(dir) = &args.out {
        output::check_output_dir("--out", dir)?;
    }
    let spec = spec(args)?;
    let options = RunOptions {
        chunk_cells: args.chunk_cells,
        ..RunOptions::default()
    };
    let shard = match args.shard {
        None => Shard::ALL,
        Some((i, n)) => Shard::new(i, n)
            .map_err(|e| ArgError::new("--shard", format!("{i}/{n}"), e.to_string()))?,
    };
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = args.threads {
        builder = builder.num_threads(t);
    }
    let pool = builder.build().context("starting the worker threads")?;
    check_memory(args, &spec, pool.current_num_threads())?;
    // The chunk size is known to be at least 1 here.
    let n_chunks = spec.len().div_ceil(args.chunk_cells);
    shard.check_owns_some(n_chunks).map_err(|e| {
        let advice = format!(
            "; use at most {n_chunks} shards, or a smaller --chunk-cells than {}",
            args.chunk_cells
        );
        ArgError::new(
            "--shard",
            shard.to_string(),
            crate::problem::core_reason(&e) + &advice,
        )
    })?;
    if let Some(dir) = &args.out {
        check_disk(args, &spec, shard, dir)?;
    }

    let cancel = interrupt::install();
    let options = RunOptions {
        cancel: cancel.clone(),
        ..options
    };
    let started = Instant::now();
    let progress = Reporter::new();
    let mut summary = pool.install(|| match &args.out {
        None => run_in_memory(&spec, &options, &progress),
        Some(dir) => run_in_dir(dir, &spec, &options, shard, &progress),
    })?;
    progress.finish();
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) && !summary.complete {
        report_interrupt(args, &summary, shard, n_chunks);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.steps_per_second = if summary.seconds > 0.0 {
        summary.steps as f64 / summary.seconds
    } else {
        0.0
    };
    output::eprint_line(&summary.to_string());
    if args.json {
        output::print_json(&summary)?;
    }
    Ok(())
}

/// Runs `symstab merge`.
pub fn merge(args: &MergeArgs) -> Result<()> {
    output::check_output_dir("--out", &args.out)?;
    let dirs: Vec<&Path> = args.dirs.iter().map(PathBuf::as_path).collect();
    // The library's errors name the input or output directory they are about.
    let tally = store::merge_shards(&dirs, &args.out)?;
    let mut summary = SweepSummary {
        cells: tally.cells,
        converged: tally.converged,
        diverged: tally.diverged,
        unfinished: tally.unfinished,
        ..SweepSummary::default()
    };
    summary.reused = summary.cells;
    summary.complete = true;
    summary.out = Some(args.out.display().to_string());
    output::eprint_line(&messages::merge_line(dirs.len(), &summary));
    if args.json {
        output::print_json(&summary)?;
    }
    Ok(())
}

/// Rejects a sweep too large for memory before anything is allocated or created, naming
/// the grid arguments, the cell count and the bytes it would need.
fn check_memory(args: &SweepArgs, spec: &SweepSpec, threads: usize) -> Result<()> {
    use symstab_sweep::memory::{check_in_dir, check_in_memory};
    let grid_args = grid_args(args);
    let grid = grid_text(spec);
    if args.out.is_some() {
        if let Err(e) = check_in_dir(spec, args.chunk_cells, threads) {
            let arg = match &e {
                symstab_core::Error::InvalidValue { field, .. } if field == "chunk_cells" => {
                    "--chunk-cells"
                }
                _ => grid_args,
            };
            let value = if arg == "--chunk-cells" {
                args.chunk_cells.to_string()
            } else {
                grid
            };
            return Err(ArgError::new(arg, value, crate::problem::core_reason(&e)).into());
        }
    } else if let Err(e) = check_in_memory(spec) {
        let mut reason = crate::problem::core_reason(&e);
        if check_in_dir(spec, args.chunk_cells, threads).is_ok() {
            reason.push_str("; use --out DIR for a chunked run on disk");
        }
        return Err(ArgError::new(grid_args, grid, reason).into());
    }
    Ok(())
}

/// The sweep spec from the command line (one of the two grids is required).
fn spec(args: &SweepArgs) -> Result<SweepSpec> {
    let axis = |arg: &str, r: Range| {
        Axis::new(r.lo, r.hi, r.n).map_err(|e| {
            ArgError::new(
                arg,
                format!("{}:{}:{}", r.lo, r.hi, r.n),
                crate::problem::core_reason(&e),
            )
        })
    };
    let starts = match (args.a, args.b, args.orbit, args.log_alpha) {
        (Some(a), Some(b), None, None) => StartSet::Plane {
            a: axis("--a", a)?,
            b: axis("--b", b)?,
        },
        (None, None, Some(product), Some(log_alpha)) => {
            // α and 1/α must stay finite at both ends of the orbit.
            for end in [log_alpha.lo, log_alpha.hi] {
                if !(end.exp().is_finite() && (-end).exp().is_finite()) {
                    return Err(ArgError::new(
                        "--log-alpha",
                        format!("{}:{}:{}", log_alpha.lo, log_alpha.hi, log_alpha.n),
                        "exp(±log α) overflows at an end",
                    )
                    .into());
                }
            }
            StartSet::Orbit {
                product,
                log_alpha: axis("--log-alpha", log_alpha)?,
            }
        }
        _ => {
            return Err(ArgError::new(
                "--a/--b, --orbit/--log-alpha",
                "(missing)",
                "give a plane grid (--a lo:hi:n --b lo:hi:n) or an orbit (--orbit c --log-alpha lo:hi:n)",
            )
            .into());
        }
    };
    let lrs = LearningRates::new(args.lrs.0.clone()).map_err(|e| {
        ArgError::new(
            "--lrs",
            crate::problem::join(&args.lrs.0),
            crate::problem::core_reason(&e),
        )
    })?;
    let max_steps =
        u32::try_from(args.steps).map_err(|_| ArgError::new("--steps", args.steps, "too large"))?;
    let mut spec = SweepSpec::new(starts, lrs, max_steps);
    if args.fused {
        spec.rounding = Rounding::Fused;
    }
    spec.validate().map_err(|e| {
        ArgError::new(
            grid_args(args),
            grid_text(&spec),
            crate::problem::core_reason(&e),
        )
    })?;
    Ok(spec)
}

/// The arguments that make the grid, as the user typed them.
fn grid_args(args: &SweepArgs) -> &'static str {
    if args.a.is_some() {
        "--a/--b/--lrs"
    } else {
        "--log-alpha/--lrs"
    }
}

/// The grid's size for messages, counted without overflow, e.g.
/// `1000 × 1000 = 1000000 start points × 5 learning rates = 5000000 cells`.
fn grid_text(spec: &SweepSpec) -> String {
    let starts = match &spec.starts {
        StartSet::Plane { a, b } => format!(
            "{} × {} = {} start points",
            a.len(),
            b.len(),
            spec.starts.count()
        ),
        StartSet::Orbit { log_alpha, .. } => format!("{} start points", log_alpha.len()),
    };
    format!(
        "{starts} × {} learning rates = {} cells",
        spec.learning_rates.len(),
        spec.cell_count_text()
    )
}

/// Refuses, before anything is created, a run into `dir` that cannot fit the free space
/// of its file system: compares a lower bound on the bytes it writes (the shard's chunk
/// files not yet on disk, and `cells.csv`/`cells.json` for a whole sweep) with the space
/// available to this user. Where the free space cannot be determined, nothing is refused.
fn check_disk(args: &SweepArgs, spec: &SweepSpec, shard: Shard, dir: &Path) -> Result<()> {
    let finished: std::collections::HashSet<usize> =
        chunk_files(dir)?.into_iter().map(|(c, _)| c).collect();
    let needed =
        symstab_sweep::disk::output_bytes_lower_bound(spec, args.chunk_cells, shard, |c| {
            finished.contains(&c)
        })
        .total();
    let Some(free) = free_bytes(dir) else {
        return Ok(());
    };
    if needed <= u128::from(free) {
        return Ok(());
    }
    Err(ArgError::new(
        grid_args(args),
        grid_text(spec),
        format!(
            "the run would write at least {needed} bytes ({}) into --out {}, but its file \
             system has {free} bytes ({}) free; use a smaller grid, fewer --lrs, --shard \
             or another --out",
            gib(needed),
            dir.display(),
            gib(u128::from(free))
        ),
    )
    .into())
}

/// A byte count in GiB, e.g. `74.5 GiB`.
fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Bytes available to this user on the file system that holds `dir` (or, when `dir` does
/// not exist yet, its nearest existing ancestor); `None` where that cannot be found.
fn free_bytes(dir: &Path) -> Option<u64> {
    let absolute = std::path::absolute(dir).ok()?;
    let existing = absolute.ancestors().find(|p| p.exists())?;
    fs4::available_space(existing).ok()
}

/// Tells the user that Ctrl-C stopped the run and whether it can be resumed, then exits
/// with status 130 (128 + SIGINT, the shell convention). The finished chunks are on disk:
/// every file is renamed into place whole, and the chunks in flight finished first.
fn report_interrupt(args: &SweepArgs, summary: &SweepSummary, shard: Shard, n_chunks: usize) -> ! {
    let line = match &args.out {
        Some(dir) => {
            let done = chunk_files(dir)
                .map(|files| files.iter().filter(|(c, _)| shard.owns(*c)).count())
                .unwrap_or(0);
            let total = (0..n_chunks).filter(|&c| shard.owns(c)).count();
            format!(
                "interrupted after {done} of {total} chunks; run the same command again to resume"
            )
        }
        None => format!(
            "interrupted after {} of {} cells; nothing was saved (give --out DIR for a \
             resumable run)",
            summary.computed, summary.cells
        ),
    };
    output::eprint_line(&line);
    std::process::exit(130)
}

/// Ctrl-C (SIGINT) during a sweep: the first one asks the run to stop after the chunks in
/// flight, a second one ends the process at once (status 130).
mod interrupt {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Installs the handler (the `ctrlc` crate) and returns the flag it raises, shared
    /// with the runner's `RunOptions::cancel`; `None` where no handler can be installed
    /// (Ctrl-C then ends the process as usual).
    pub fn install() -> Option<Arc<AtomicBool>> {
        let flag = Arc::new(AtomicBool::new(false));
        let raised = flag.clone();
        ctrlc::set_handler(move || {
            if raised.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        })
        .ok()?;
        Some(flag)
    }
}

fn run_in_memory(
    spec: &SweepSpec,
    options: &RunOptions,
    progress: &Reporter,
) -> Result<SweepSummary> {
    let result = run_toy_sweep(spec, options, progress).context("running the sweep")?;
    let mut summary = SweepSummary {
        cells: spec.len(),
        computed: result.cells.len(),
        complete: result.complete,
        ..SweepSummary::default()
    };
    for cell in &result.cells {
        add_outcome(&mut summary, cell.outcome);
        summary.steps += u64::from(cell.steps);
    }
    Ok(summary)
}

fn run_in_dir(
    dir: &Path,
    spec: &SweepSpec,
    options: &RunOptions,
    shard: Shard,
    progress: &Reporter,
) -> Result<SweepSummary> {
    let result = store::run_toy_sweep_in_dir(dir, spec, options, shard, progress)
        .with_context(|| format!("--out {}", dir.display()))?;
    let mut summary = SweepSummary {
        complete: result.shard_complete,
        out: Some(dir.display().to_string()),
        ..SweepSummary::default()
    };
    let ranges = symstab_sweep::runner::chunk_ranges(spec.len(), options.chunk_cells);
    summary.cells = ranges
        .iter()
        .enumerate()
        .filter(|(c, _)| shard.owns(*c))
        .map(|(_, r)| r.len())
        .sum();
    match &result.assembled {
        // A complete sweep returns the counts it tallied while writing cells.csv/cells.json.
        Some(assembled) => {
            let (computed, reused) = (&assembled.computed, &assembled.reused);
            summary.converged = computed.converged + reused.converged;
            summary.diverged = computed.diverged + reused.diverged;
            summary.unfinished = computed.unfinished + reused.unfinished;
            summary.computed = computed.cells;
            summary.steps = computed.steps;
            summary.reused = reused.cells;
        }
        // Interrupted: the caller reports the chunks on disk and exits; tally nothing.
        None if options.cancelled() => {}
        // Otherwise read the shard's chunk files that exist, one at a time.
        None => {
            let mut tally = |chunk: usize, records: &[CellRecord]| {
                let fresh = result.computed_chunks.binary_search(&chunk).is_ok();
                for r in records {
                    add_outcome(&mut summary, r.outcome);
                    if fresh {
                        summary.computed += 1;
                        summary.steps += u64::from(r.steps);
                    } else {
                        summary.reused += 1;
                    }
                }
            };
            for (chunk, path) in chunk_files(dir)? {
                if shard.owns(chunk) {
                    tally(chunk, &store::read_results_csv(&path)?);
                }
            }
        }
    }
    Ok(summary)
}

/// The chunk files of an output directory with their chunk numbers.
fn chunk_files(dir: &Path) -> Result<BTreeSet<(usize, PathBuf)>> {
    let chunks = dir.join("chunks");
    let mut files = BTreeSet::new();
    let entries = match std::fs::read_dir(&chunks) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e).with_context(|| format!("reading {}", chunks.display())),
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", chunks.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(number) = name
            .strip_prefix("chunk-")
            .and_then(|n| n.strip_suffix(".csv"))
            .and_then(|n| n.parse::<usize>().ok())
        {
            files.insert((number, path));
        }
    }
    Ok(files)
}

fn add_outcome(summary: &mut SweepSummary, outcome: Outcome) {
    match outcome {
        Outcome::Converged => summary.converged += 1,
        Outcome::Diverged => summary.diverged += 1,
        Outcome::Unfinished => summary.unfinished += 1,
    }
}

/// Progress on stderr: an indicatif bar on a terminal, a few plain lines otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    done: AtomicUsize,
    next_milestone: Mutex<usize>,
}

impl Reporter {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} sweep [{bar:40}] {pos}/{len} cells, {elapsed} elapsed, eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Reporter {
            bar,
            done: AtomicUsize::new(0),
            next_milestone: Mutex::new(0),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn report(&self, done_cells: usize, total_cells: usize) {
        let done = self
            .done
            .fetch_max(done_cells, Ordering::Relaxed)
            .max(done_cells);
        if let Some(bar) = &self.bar {
            bar.set_length(total_cells as u64);
            bar.set_position(done as u64);
            return;
        }
        let percent = done * 100 / total_cells.max(1);
        let Ok(mut next) = self.next_milestone.lock() else {
            return;
        };
        // Print the highest milestone reached, once; skip the ones jumped over.
        let mut reached = None;
        while *next < PLAIN_MILESTONES.len() && percent >= PLAIN_MILESTONES[*next] {
            reached = Some(PLAIN_MILESTONES[*next]);
            *next += 1;
        }
        if let Some(m) = reached {
            output::eprint_line(&messages::progress_line(m, done, total_cells));
        }
    }
}
