//! Results on disk: atomic writes, resumable sweeps in an output directory, shards for
//! cluster array jobs, and the merge of shard outputs.
//!
//! An output directory holds `manifest.json` (format version, spec, spec hash, chunk size),
//! `chunks/chunk-NNNNNNNN.csv` (the records of each finished chunk) and, once every chunk
//! is there, `cells.csv` and `cells.json`, assembled by streaming the chunk files in order
//! into both at once, one record at a time (memory does not grow with the number of
//! cells). Every file is written to a temporary file in the
//! same directory, fsynced and renamed into place, so a file either is complete or does not
//! exist. Re-running the same spec into the directory skips the finished chunks; a
//! different spec is an error. A run killed mid-write can leave a hidden temporary file
//! (`.NAME.tmp-PID-N`); resuming or merging into the directory removes those of processes
//! no longer running. This module is the crate's only I/O.

use std::fs;
use std::io::{BufReader, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use symstab_core::{Error, Outcome};

use crate::error::{Result, SweepError};
use crate::grid::SweepSpec;
use crate::kernel::{Backend, ToyCellResult};
use crate::record::{self, CellRecord, FORMAT_VERSION, SweepDocument};
use crate::runner::{InputTable, Progress, RunOptions, chunk_ranges, run_toy_range};

/// Name of the manifest file in an output directory.
pub const MANIFEST: &str = "manifest.json";
/// Name of the final CSV file.
pub const CELLS_CSV: &str = "cells.csv";
/// Name of the final JSON file.
pub const CELLS_JSON: &str = "cells.json";
const CHUNK_DIR: &str = "chunks";

/// Writes a file atomically: `write` fills a temporary file in the same directory, which
/// is fsynced and renamed over `path` (then the directory is fsynced).
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> Result<()>,
) -> Result<()> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    // Errors name `path`, the file the caller asked for, not the temporary file.
    let result = (|| {
        let file = fs::File::create(&tmp).map_err(|e| SweepError::io(path, e))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush().map_err(|e| SweepError::io(path, e))?;
        let file = w
            .into_inner()
            .map_err(|e| SweepError::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| SweepError::io(path, e))?;
        fs::rename(&tmp, path).map_err(|e| SweepError::io(path, e))?;
        if let Ok(d) = fs::File::open(dir) {
            // Persist the rename; some filesystems refuse fsync on a directory, which is fine.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The process id in the name of a temporary file of [`write_atomic`]
/// (`.NAME.tmp-PID-N`), or `None` for any other name.
fn temp_file_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, suffix) = rest.rsplit_once(".tmp-")?;
    let (pid, counter) = suffix.split_once('-')?;
    counter.parse::<usize>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` is running (on Linux: `/proc/PID` exists; elsewhere only the
/// current process counts as running).
fn process_running(pid: u32) -> bool {
    pid == std::process::id()
        || (cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists())
}

/// Removes the temporary files [`write_atomic`] left in `dir` when a run was killed
/// before renaming them (those of processes still running are kept); returns how many
/// were removed. A missing directory holds none.
pub fn remove_stale_temp_files(dir: &Path) -> Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(SweepError::io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| SweepError::io(dir, e))?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        if process_running(pid) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SweepError::io(entry.path(), e)),
        }
    }
    Ok(removed)
}

/// Which part of a sweep a job runs: chunk `c` belongs to shard `c mod count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// The whole sweep (shard 0 of 1).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count` (`index < count`, `count ≥ 1`).
    pub fn new(index: usize, count: usize) -> Result<Self, Error> {
        if count == 0 {
            return Err(Error::invalid_value(
                "shard count",
                count,
                "must be at least 1",
            ));
        }
        if index >= count {
            return Err(Error::invalid_value(
                "shard index",
                index,
                &format!("must be < shard count {count}"),
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether chunk `chunk` belongs to this shard.
    pub fn owns(&self, chunk: usize) -> bool {
        chunk % self.count == self.index
    }
}

/// Contents of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    spec_hash: String,
    chunk_cells: usize,
    n_cells: usize,
    spec: SweepSpec,
}

impl Manifest {
    fn new(spec: &SweepSpec, chunk_cells: usize) -> Self {
        Manifest {
            format_version: FORMAT_VERSION,
            spec_hash: format!("{:016x}", spec.hash64()),
            chunk_cells,
            n_cells: spec.len(),
            spec: spec.clone(),
        }
    }

    fn hash(&self, path: &Path) -> Result<u64> {
        u64::from_str_radix(&self.spec_hash, 16)
            .map_err(|_| SweepError::corrupt(path, format!("bad spec_hash {:?}", self.spec_hash)))
    }
}

fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    match fs::File::open(&path) {
        Ok(f) => {
            let m: Manifest =
                serde_json::from_reader(BufReader::new(f)).map_err(|source| SweepError::Json {
                    path: path.clone(),
                    source,
                })?;
            if m.format_version != FORMAT_VERSION {
                return Err(SweepError::corrupt(
                    &path,
                    format!("format_version {}", m.format_version),
                ));
            }
            Ok(Some(m))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SweepError::io(path, e)),
    }
}

/// Creates the manifest, or checks that the existing one is for the same spec and chunking.
fn prepare_dir(dir: &Path, spec: &SweepSpec, chunk_cells: usize) -> Result<()> {
    let chunks = dir.join(CHUNK_DIR);
    fs::create_dir_all(&chunks).map_err(|e| SweepError::io(&chunks, e))?;
    // Temporary files of an interrupted earlier run would otherwise stay forever.
    remove_stale_temp_files(dir)?;
    remove_stale_temp_files(&chunks)?;
    let want = Manifest::new(spec, chunk_cells);
    match read_manifest(dir)? {
        Some(found) => {
            let path = dir.join(MANIFEST);
            let found_hash = found.hash(&path)?;
            if found_hash != spec.hash64() || found.spec != *spec {
                return Err(SweepError::SpecMismatch {
                    path: dir.to_owned(),
                    expected: spec.hash64(),
                    found: found_hash,
                });
            }
            if found.chunk_cells != chunk_cells {
                return Err(SweepError::Invalid(Error::invalid_value(
                    "chunk_cells",
                    chunk_cells,
                    &format!(
                        "the directory was started with chunk_cells = {}",
                        found.chunk_cells
                    ),
                )));
            }
            Ok(())
        }
        None => write_atomic(&dir.join(MANIFEST), |w| {
            serde_json::to_writer_pretty(&mut *w, &want).map_err(|source| SweepError::Json {
                path: dir.join(MANIFEST),
                source,
            })
        }),
    }
}

fn chunk_path(dir: &Path, chunk: usize) -> PathBuf {
    dir.join(CHUNK_DIR).join(format!("chunk-{chunk:08}.csv"))
}

/// The path of chunk `chunk` in the first of `dirs` that holds it.
fn find_chunk(dirs: &[&Path], chunk: usize) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| chunk_path(d, chunk))
        .find(|p| p.is_file())
}

/// Fails with [`SweepError::MissingChunks`] unless each of `n_chunks` chunks is in one of
/// `dirs`.
fn check_chunks_present(dirs: &[&Path], n_chunks: usize) -> Result<()> {
    let missing: Vec<usize> = (0..n_chunks)
        .filter(|&c| find_chunk(dirs, c).is_none())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(SweepError::MissingChunks {
            dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
            missing,
            total: n_chunks,
        })
    }
}

/// The rows of an open chunk file, parsed as they are read.
type ChunkRows = Box<dyn Iterator<Item = csv::Result<CellRecord>>>;

/// The records of every chunk of a sweep in canonical order, each with its chunk number,
/// read one at a time from the chunk files (the first of `dirs` holding each chunk).
/// Checks that each file holds exactly the cells of its range, in order; stops after the
/// first error.
struct ChunkRecords<'a> {
    dirs: &'a [&'a Path],
    ranges: &'a [Range<usize>],
    /// The chunk being read.
    chunk: usize,
    /// The index the next record of the chunk must have.
    next_index: usize,
    /// The open chunk file and its rows.
    open: Option<(PathBuf, ChunkRows)>,
    failed: bool,
}

impl<'a> ChunkRecords<'a> {
    fn new(dirs: &'a [&'a Path], ranges: &'a [Range<usize>]) -> Self {
        ChunkRecords {
            dirs,
            ranges,
            chunk: 0,
            next_index: 0,
            open: None,
            failed: false,
        }
    }

    fn step(&mut self) -> Option<Result<(usize, CellRecord)>> {
        loop {
            let range = self.ranges.get(self.chunk)?.clone();
            let (path, rows) = match &mut self.open {
                Some(open) => open,
                None => {
                    let Some(path) = find_chunk(self.dirs, self.chunk) else {
                        return Some(Err(SweepError::MissingChunks {
                            dirs: self.dirs.iter().map(|d| d.to_path_buf()).collect(),
                            missing: vec![self.chunk],
                            total: self.ranges.len(),
                        }));
                    };
                    let file = match fs::File::open(&path) {
                        Ok(f) => f,
                        Err(e) => return Some(Err(SweepError::io(path, e))),
                    };
                    self.next_index = range.start;
                    let rows = Box::new(record::read_csv_stream(BufReader::new(file)));
                    self.open.insert((path, rows))
                }
            };
            let wrong = || SweepError::corrupt(&*path, format!("expected cells {range:?}"));
            match rows.next() {
                Some(Ok(r)) if self.next_index < range.end && r.index == self.next_index as u64 => {
                    self.next_index += 1;
                    return Some(Ok((self.chunk, r)));
                }
                Some(Ok(_)) => return Some(Err(wrong())),
                Some(Err(source)) => {
                    return Some(Err(SweepError::Csv {
                        path: path.clone(),
                        source,
                    }));
                }
                None if self.next_index == range.end => {
                    self.open = None;
                    self.chunk += 1;
                }
                None => return Some(Err(wrong())),
            }
        }
    }
}

impl Iterator for ChunkRecords<'_> {
    type Item = Result<(usize, CellRecord)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.step();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

fn write_records_csv(path: &Path, records: &[CellRecord]) -> Result<()> {
    write_atomic(path, |w| {
        record::write_csv(&mut *w, records).map_err(|source| SweepError::Csv {
            path: path.to_owned(),
            source,
        })
    })
}

/// Writes `cells.csv` and `cells.json` into `dir` while `cells` yields the records, in one
/// pass holding one record at a time. Each file goes through [`write_atomic`]; `cells.csv`
/// is renamed into place first, then `cells.json`. An error of `cells` (or of a write)
/// removes the temporary files, so neither file is left half-written.
fn write_cells(
    dir: &Path,
    spec: &SweepSpec,
    cells: impl Iterator<Item = Result<CellRecord>>,
) -> Result<()> {
    let csv_path = dir.join(CELLS_CSV);
    let json_path = dir.join(CELLS_JSON);
    write_atomic(&json_path, |json_file| {
        write_atomic(&csv_path, |csv_file| {
            let csv_error = |source| SweepError::Csv {
                path: csv_path.clone(),
                source,
            };
            let mut csv = record::CsvWriter::new(&mut *csv_file);
            // The JSON writer pulls the records; each is written to the CSV on its way.
            let teed = cells.map(|cell| {
                let cell = cell?;
                csv.write(&cell).map_err(csv_error)?;
                Ok(cell)
            });
            record::write_json_stream(&mut *json_file, spec, teed).map_err(|e| match e {
                record::StreamError::Source(e) => e,
                record::StreamError::Write(source) => SweepError::Json {
                    path: json_path.clone(),
                    source,
                },
            })?;
            csv.finish().map_err(csv_error)
        })
    })
}

/// Writes `cells.csv` and `cells.json` for a complete sweep into `dir`.
///
/// The bytes are those the assembly of an output directory writes for the same records.
pub fn write_results(dir: &Path, spec: &SweepSpec, records: &[CellRecord]) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| SweepError::io(dir, e))?;
    write_cells(dir, spec, records.iter().map(|r| Ok(*r)))
}

/// Outcome counts and steps of a set of cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellTally {
    /// Cells counted.
    pub cells: usize,
    /// Cells whose loss fell below the convergence tolerance.
    pub converged: usize,
    /// Cells whose loss became non-finite or exceeded the divergence bound.
    pub diverged: usize,
    /// Cells that spent the step budget.
    pub unfinished: usize,
    /// Gradient-descent updates of the cells, summed.
    pub steps: u64,
}

impl CellTally {
    /// Counts one cell.
    pub fn add(&mut self, record: &CellRecord) {
        self.cells += 1;
        match record.outcome {
            Outcome::Converged => self.converged += 1,
            Outcome::Diverged => self.diverged += 1,
            Outcome::Unfinished => self.unfinished += 1,
        }
        self.steps += u64::from(record.steps);
    }

    /// The tally of the cells of both.
    pub fn merged(&self, other: &CellTally) -> CellTally {
        CellTally {
            cells: self.cells + other.cells,
            converged: self.converged + other.converged,
            diverged: self.diverged + other.diverged,
            unfinished: self.unfinished + other.unfinished,
            steps: self.steps + other.steps,
        }
    }

    /// The tally of a set of records.
    pub fn of(records: &[CellRecord]) -> CellTally {
        let mut tally = CellTally::default();
        for r in records {
            tally.add(r);
        }
        tally
    }
}

/// What went into `cells.csv` and `cells.json`, counted while they were written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Assembled {
    /// The cells of the chunks computed by this run.
    pub computed: CellTally,
    /// The cells of the chunks found finished and reused.
    pub reused: CellTally,
}

impl Assembled {
    /// Every cell of the sweep.
    pub fn total(&self) -> CellTally {
        self.computed.merged(&self.reused)
    }
}

/// Streams the chunk files of a complete sweep (from the first of `dirs` holding each)
/// into `out_dir`'s `cells.csv` and `cells.json`, one record at a time, and tallies the
/// records: those of the chunks for which `computed` is true apart from the others.
fn assemble(
    dirs: &[&Path],
    out_dir: &Path,
    spec: &SweepSpec,
    ranges: &[Range<usize>],
    computed: impl Fn(usize) -> bool,
) -> Result<Assembled> {
    let mut tally = Assembled::default();
    let cells = ChunkRecords::new(dirs, ranges).map(|item| {
        let (chunk, record) = item?;
        if computed(chunk) {
            tally.computed.add(&record);
        } else {
            tally.reused.add(&record);
        }
        Ok(record)
    });
    write_cells(out_dir, spec, cells)?;
    Ok(tally)
}

/// Reads `cells.csv` from a file.
pub fn read_results_csv(path: &Path) -> Result<Vec<CellRecord>> {
    let f = fs::File::open(path).map_err(|e| SweepError::io(path, e))?;
    record::read_csv(BufReader::new(f)).map_err(|source| SweepError::Csv {
        path: path.to_owned(),
        source,
    })
}

/// Reads `cells.json` from a file.
pub fn read_results_json(path: &Path) -> Result<SweepDocument> {
    let f = fs::File::open(path).map_err(|e| SweepError::io(path, e))?;
    let doc = record::read_json(BufReader::new(f)).map_err(|source| SweepError::Json {
        path: path.to_owned(),
        source,
    })?;
    if doc.format_version != FORMAT_VERSION {
        return Err(SweepError::corrupt(
            path,
            format!("format_version {}", doc.format_version),
        ));
    }
    Ok(doc)
}

/// What a run into a directory did.
#[derive(Debug, Clone)]
pub struct DirRunSummary {
    /// Chunks of the whole sweep.
    pub chunks_total: usize,
    /// Chunks belonging to the shard that ran.
    pub chunks_in_shard: usize,
    /// Chunks computed by this run.
    pub chunks_computed: usize,
    /// Indices of the chunks computed by this run, ascending.
    pub computed_chunks: Vec<usize>,
    /// Chunks found finished and skipped.
    pub chunks_reused: usize,
    /// Every chunk of the shard is on disk.
    pub shard_complete: bool,
    /// When the whole sweep is complete: the counts of the cells streamed into
    /// `cells.csv`/`cells.json` (which then exist). Read the files for the records.
    pub assembled: Option<Assembled>,
}

/// Runs (or resumes) shard `shard` of a toy sweep into `dir`, one CSV per chunk.
///
/// When the run covers the whole sweep ([`Shard::ALL`]) and every chunk is finished, it
/// also assembles `cells.csv` and `cells.json`, streaming the chunk files in order one
/// record at a time (so memory does not grow with the number of cells), and returns the
/// outcome counts. Cancellation through
/// [`RunOptions::cancel`] leaves the finished chunks in place for the next run.
pub fn run_toy_sweep_in_dir(
    dir: &Path,
    spec: &SweepSpec,
    options: &RunOptions,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<DirRunSummary> {
    spec.validate()?;
    options.validate()?;
    // Sizes are checked before the directory is created, so a bad size leaves nothing.
    crate::memory::check_in_dir(spec, options.chunk_cells, rayon::current_num_threads())?;
    prepare_dir(dir, spec, options.chunk_cells)?;
    let ranges = chunk_ranges(spec.len(), options.chunk_cells);
    let mine: Vec<usize> = (0..ranges.len()).filter(|&c| shard.owns(c)).collect();
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&c| !chunk_path(dir, c).is_file())
        .collect();
    let total_cells: usize = mine.iter().map(|&c| ranges[c].len()).sum();
    let done = AtomicUsize::new(total_cells - todo.iter().map(|&c| ranges[c].len()).sum::<usize>());
    let table = InputTable::new(spec);
    let backend = options.backend.unwrap_or_else(Backend::detect);
    let computed = Mutex::new(Vec::with_capacity(todo.len()));
    let first_error = Mutex::new(None);
    todo.par_iter().with_max_len(1).for_each(|&c| {
        if options.cancelled() || first_error.lock().expect("lock").is_some() {
            return;
        }
        let range = ranges[c].clone();
        let mut out: Vec<ToyCellResult> = Vec::with_capacity(range.len());
        run_toy_range(
            spec,
            &table,
            backend,
            range.clone(),
            &mut out.spare_capacity_mut()[..range.len()],
        );
        // SAFETY: run_toy_range wrote every element of the range.
        unsafe { out.set_len(range.len()) };
        let records = record::toy_records_from(spec, range.start, &out);
        match write_records_csv(&chunk_path(dir, c), &records) {
            Ok(()) => {
                computed.lock().expect("lock").push(c);
                progress.report(
                    done.fetch_add(range.len(), Ordering::Relaxed) + range.len(),
                    total_cells,
                );
            }
            Err(e) => {
                first_error.lock().expect("lock").get_or_insert(e);
            }
        }
    });
    if let Some(e) = first_error.into_inner().expect("lock") {
        return Err(e);
    }
    let mut computed_chunks = computed.into_inner().expect("lock");
    computed_chunks.sort_unstable();
    let shard_complete = mine.iter().all(|&c| chunk_path(dir, c).is_file());
    let mut summary = DirRunSummary {
        chunks_total: ranges.len(),
        chunks_in_shard: mine.len(),
        chunks_computed: computed_chunks.len(),
        computed_chunks,
        chunks_reused: mine.len() - todo.len(),
        shard_complete,
        assembled: None,
    };
    if shard_complete && shard == Shard::ALL {
        let computed = &summary.computed_chunks;
        let assembled = assemble(&[dir], dir, spec, &ranges, |c| {
            computed.binary_search(&c).is_ok()
        })?;
        summary.assembled = Some(assembled);
    }
    Ok(summary)
}

/// Merges the chunk outputs of shard directories (same spec and chunking) into `out_dir`,
/// writing its manifest, `cells.csv` and `cells.json` (the same bytes as an unsharded
/// run's, streamed from the chunk files one record at a time); returns the outcome counts.
/// Every chunk must be in one of the shard directories ([`SweepError::MissingChunks`]
/// otherwise, before anything is written).
pub fn merge_shards(shard_dirs: &[&Path], out_dir: &Path) -> Result<CellTally> {
    let first = *shard_dirs
        .first()
        .ok_or_else(|| Error::invalid_value("shard_dirs", "[]", "must not be empty"))?;
    let manifest =
        read_manifest(first)?.ok_or_else(|| SweepError::corrupt(first, "no manifest.json"))?;
    let hash = manifest.hash(&first.join(MANIFEST))?;
    for dir in &shard_dirs[1..] {
        let m = read_manifest(dir)?.ok_or_else(|| SweepError::corrupt(*dir, "no manifest.json"))?;
        let found = m.hash(&dir.join(MANIFEST))?;
        if found != hash || m.spec != manifest.spec {
            return Err(SweepError::SpecMismatch {
                path: dir.to_path_buf(),
                expected: hash,
                found,
            });
        }
        if m.chunk_cells != manifest.chunk_cells {
            return Err(SweepError::corrupt(
                *dir,
                format!("chunk_cells {} != {}", m.chunk_cells, manifest.chunk_cells),
            ));
        }
    }
    manifest.spec.validate()?;
    crate::memory::check_in_dir(&manifest.spec, manifest.chunk_cells, 1)?;
    let ranges = chunk_ranges(manifest.n_cells, manifest.chunk_cells);
    check_chunks_present(shard_dirs, ranges.len())?;
    prepare_dir(out_dir, &manifest.spec, manifest.chunk_cells)?;
    let assembled = assemble(shard_dirs, out_dir, &manifest.spec, &ranges, |_| false)?;
    Ok(assembled.total())
}
