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

/// A file being written under a temporary name (`.NAME.tmp-PID-N`) in the directory of
/// its destination: [`PendingFile::sync`] flushes and fsyncs it, [`PendingFile::commit`]
/// renames it over the destination and fsyncs the directory ([`PendingFile::persist`]
/// does both). Dropped uncommitted, it removes its temporary file; a process killed
/// mid-write leaves it for [`remove_stale_temp_files`]. Writes go through `Write`.
pub struct PendingFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<fs::File>>,
    committed: bool,
}

impl PendingFile {
    /// Starts writing the file that will become `path`.
    pub fn create(path: &Path) -> Result<PendingFile> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent_dir(path).join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // Errors name `path`, the file the caller asked for, not the temporary file.
        let file = fs::File::create(&tmp).map_err(|e| SweepError::io(path, e))?;
        Ok(PendingFile {
            path: path.to_owned(),
            tmp,
            writer: Some(BufWriter::new(file)),
            committed: false,
        })
    }

    fn writer(&mut self) -> &mut BufWriter<fs::File> {
        self.writer.as_mut().expect("written before it is synced")
    }

    /// Flushes the contents and fsyncs the temporary file.
    fn sync(&mut self) -> Result<()> {
        let path = &self.path;
        let mut w = self.writer.take().expect("synced once");
        w.flush().map_err(|e| SweepError::io(path, e))?;
        let file = w
            .into_inner()
            .map_err(|e| SweepError::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| SweepError::io(path, e))
    }

    /// Flushes, fsyncs and renames the file over its destination.
    pub fn persist(mut self) -> Result<()> {
        self.sync()?;
        self.commit()
    }

    /// Renames the synced temporary file over the destination.
    fn commit(mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.path).map_err(|e| SweepError::io(&self.path, e))?;
        self.committed = true;
        if let Ok(d) = fs::File::open(parent_dir(&self.path)) {
            // Persist the rename; some filesystems refuse fsync on a directory, which is fine.
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Write for PendingFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.writer().write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The directory a path lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes a file atomically: `write` fills a temporary file in the same directory, which
/// is fsynced and renamed over `path` (then the directory is fsynced).
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> Result<()>,
) -> Result<()> {
    let mut file = PendingFile::create(path)?;
    write(file.writer())?;
    file.persist()
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

/// Whether the temporary file `path`, named with process id `pid`, may still be written
/// by that process.
///
/// On Linux the process must exist and be alive (`/proc/PID/stat` present and not a
/// zombie: a killed process that its parent has not reaped yet keeps its `/proc` entry),
/// and must have started before the file was last modified (otherwise the id was reused
/// by a later process, e.g. a new container's PID 1, or this very process). Elsewhere
/// only the current process counts as a writer.
fn may_be_in_use(pid: u32, path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some((state, start)) = proc_state_and_start(&stat) else {
            // An unreadable entry: keep the file rather than risk a live writer's.
            return true;
        };
        if matches!(state, 'Z' | 'X' | 'x') {
            return false;
        }
        match (process_start_time(start), modified(path)) {
            // Two seconds of slack: the boot time is known to the second only.
            (Some(started), Some(modified)) => {
                modified + std::time::Duration::from_secs(2) >= started
            }
            _ => true,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        pid == std::process::id()
    }
}

/// The state letter and the start time (clock ticks after boot) in the text of
/// `/proc/PID/stat`: fields 3 and 22, counted after the parenthesised command name.
#[cfg(target_os = "linux")]
fn proc_state_and_start(stat: &str) -> Option<(char, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields 4..=21 come between the state and the start time.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The wall-clock time of `ticks` clock ticks after boot (`btime` of `/proc/stat`).
#[cfg(target_os = "linux")]
fn process_start_time(ticks: u64) -> Option<std::time::SystemTime> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let boot: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).ok().filter(|&t| t > 0)?;
    let after_boot = std::time::Duration::from_millis(ticks.checked_mul(1000)? / per_second);
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(boot) + after_boot)
}

#[cfg(target_os = "linux")]
fn modified(path: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Removes the temporary files [`write_atomic`] left in `dir` when a run was killed
/// before renaming them (those a running process may still be writing are kept: the
/// process of the id in the name exists, is not a zombie, and started before the file
/// was last modified); returns how many were removed. A missing directory holds none.
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
        if !entry.file_type().is_ok_and(|t| t.is_file()) || may_be_in_use(pid, &entry.path()) {
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

    /// The shard's number I (chunks c with c mod N = I).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of shards N.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Fails unless the shard owns at least one of `n_chunks` chunks (shard I owns none
    /// when I ≥ the number of chunks).
    pub fn check_owns_some(&self, n_chunks: usize) -> Result<(), Error> {
        if self.index < n_chunks {
            return Ok(());
        }
        let plural = if n_chunks == 1 { "" } else { "s" };
        Err(Error::invalid_value(
            "shard",
            self,
            &format!(
                "owns no chunk: the sweep has {n_chunks} chunk{plural} and chunk c belongs to \
                 shard c mod {}, so shards {} to {} have none",
                self.count,
                n_chunks,
                self.count - 1
            ),
        ))
    }
}

impl std::fmt::Display for Shard {
    /// `I/N`, as the command line takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The fields in which two specs differ, each as `field: value in a vs value in b`
/// (values as JSON, nested fields joined by dots, e.g. `starts.a.n: 400 vs 401`).
pub fn spec_differences(a: &SweepSpec, b: &SweepSpec) -> Vec<String> {
    let (va, vb) = (
        serde_json::to_value(a).expect("spec serialises"),
        serde_json::to_value(b).expect("spec serialises"),
    );
    let mut out = Vec::new();
    value_differences("", &va, &vb, &mut out);
    out
}

fn value_differences(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (a, b) {
        // Objects of the same kind are compared field by field; a different `kind` of
        // start set is reported whole.
        (Value::Object(x), Value::Object(y)) if x.get("kind") == y.get("kind") => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let null = Value::Null;
                value_differences(
                    &sub,
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
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
                let mut differences = spec_differences(&found.spec, spec);
                if differences.is_empty() {
                    differences.push(format!(
                        "the manifest's spec_hash {:?} does not match its spec",
                        found.spec_hash
                    ));
                }
                return Err(SweepError::SpecMismatch {
                    path: dir.to_owned(),
                    expected: spec.hash64(),
                    found: found_hash,
                    differences,
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
            // A damaged chunk file is recomputed once deleted; say so.
            let damaged = |what: String| {
                SweepError::corrupt(
                    &*path,
                    format!(
                        "the chunk file is damaged ({what}); delete it and run the same \
                         sweep (or shard) again to recompute it"
                    ),
                )
            };
            match rows.next() {
                Some(Ok(r)) if self.next_index < range.end && r.index == self.next_index as u64 => {
                    self.next_index += 1;
                    return Some(Ok((self.chunk, r)));
                }
                Some(Ok(r)) => {
                    return Some(Err(damaged(format!(
                        "cell {} where cell {} of cells {range:?} was expected",
                        r.index, self.next_index
                    ))));
                }
                Some(Err(source)) => {
                    return Some(Err(damaged(format!(
                        "{source}, after {} of its {} cells",
                        self.next_index - range.start,
                        range.len()
                    ))));
                }
                None if self.next_index == range.end => {
                    self.open = None;
                    self.chunk += 1;
                }
                None => {
                    return Some(Err(damaged(format!(
                        "it ends after {} of its {} cells {range:?}",
                        self.next_index - range.start,
                        range.len()
                    ))));
                }
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
/// pass holding one record at a time. Both are written and fsynced under temporary names
/// first and only then renamed into place, `cells.csv` first; an error of `cells` or of a
/// write (a full disk) removes both temporary files, and a failed rename of `cells.json`
/// removes the `cells.csv` just renamed, so the two are never left out of step.
fn write_cells(
    dir: &Path,
    spec: &SweepSpec,
    cells: impl Iterator<Item = Result<CellRecord>>,
) -> Result<()> {
    let csv_path = dir.join(CELLS_CSV);
    let json_path = dir.join(CELLS_JSON);
    let mut csv_file = PendingFile::create(&csv_path)?;
    let mut json_file = PendingFile::create(&json_path)?;
    {
        let csv_error = |source| SweepError::Csv {
            path: csv_path.clone(),
            source,
        };
        let mut csv = record::CsvWriter::new(csv_file.writer());
        // The JSON writer pulls the records; each is written to the CSV on its way.
        let teed = cells.map(|cell| {
            let cell = cell?;
            csv.write(&cell).map_err(csv_error)?;
            Ok(cell)
        });
        record::write_json_stream(json_file.writer(), spec, teed).map_err(|e| match e {
            record::StreamError::Source(e) => e,
            record::StreamError::Write(source) => SweepError::Json {
                path: json_path.clone(),
                source,
            },
        })?;
        csv.finish().map_err(csv_error)?;
    }
    csv_file.sync()?;
    json_file.sync()?;
    csv_file.commit()?;
    json_file.commit().inspect_err(|_| {
        let _ = fs::remove_file(&csv_path);
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
    shard.check_owns_some(spec.len().div_ceil(options.chunk_cells))?;
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

/// The manifest of a merge input, which must be a directory holding one.
fn read_input_manifest(dir: &Path) -> Result<Manifest> {
    let not_a_sweep = |reason: &str| SweepError::NotASweep {
        path: dir.to_path_buf(),
        reason: reason.to_owned(),
    };
    match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_a_sweep("does not exist"));
        }
        Err(e) => return Err(SweepError::io(dir, e)),
        Ok(m) if !m.is_dir() => return Err(not_a_sweep("is not a directory")),
        Ok(_) => {}
    }
    let manifest = read_manifest(dir)?.ok_or_else(|| {
        not_a_sweep("holds no manifest.json (not the output directory of a sweep)")
    })?;
    let hash = manifest.hash(&dir.join(MANIFEST))?;
    if hash != manifest.spec.hash64() {
        return Err(SweepError::corrupt(
            dir.join(MANIFEST),
            format!("spec_hash {:?} does not match its spec", manifest.spec_hash),
        ));
    }
    Ok(manifest)
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
    let manifest = read_input_manifest(first)?;
    for dir in &shard_dirs[1..] {
        let m = read_input_manifest(dir)?;
        let mut differences = spec_differences(&m.spec, &manifest.spec);
        if m.chunk_cells != manifest.chunk_cells {
            differences.push(format!(
                "chunk_cells: {} vs {}",
                m.chunk_cells, manifest.chunk_cells
            ));
        }
        if !differences.is_empty() {
            return Err(SweepError::MergeInputMismatch {
                input: dir.to_path_buf(),
                first: first.to_path_buf(),
                differences,
            });
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
