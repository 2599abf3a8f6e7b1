//! The error type of sweeps: invalid specs (wrapping the core's [`symstab_core::Error`]),
//! I/O and format failures of result files, and resume/shard mismatches.
//!
//! A diverged, NaN or unfinished cell is never an error: it is a recorded outcome.

use std::path::PathBuf;

use thiserror::Error as ThisError;

/// Result alias for fallible sweep routines.
pub type Result<T, E = SweepError> = std::result::Result<T, E>;

/// Why a sweep could not be set up, run, stored or loaded.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum SweepError {
    /// An invalid grid, learning rate, start set or stop rule (names the field and value).
    #[error(transparent)]
    Invalid(#[from] symstab_core::Error),
    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CSV file could not be written or parsed.
    #[error("csv error on {path}: {source}")]
    Csv {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: csv::Error,
    },
    /// A JSON file could not be written or parsed.
    #[error("json error on {path}: {source}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// An output directory holds results of a different spec than the one being run.
    #[error(
        "output directory {path} holds a different sweep (directory vs this run: {}; spec \
         hash {found:016x} vs {expected:016x}); use another directory, or delete this one \
         to start over",
        differences.join("; ")
    )]
    SpecMismatch {
        /// The output directory.
        path: PathBuf,
        /// Hash of the spec being run.
        expected: u64,
        /// Hash found in the directory's manifest.
        found: u64,
        /// Each field that differs, as `field: value in the directory vs value in this run`.
        differences: Vec<String>,
    },
    /// Two input directories of a merge hold different sweeps (or chunkings).
    #[error(
        "merge input {input} holds a different sweep than merge input {first} ({} vs {}: {})",
        input.display(),
        first.display(),
        differences.join("; ")
    )]
    MergeInputMismatch {
        /// The input that differs from the first.
        input: PathBuf,
        /// The first input.
        first: PathBuf,
        /// Each field that differs, as `field: value in input vs value in first`.
        differences: Vec<String>,
    },
    /// An input directory of a merge is missing or holds no sweep.
    #[error("merge input {path} {reason}")]
    NotASweep {
        /// The input directory.
        path: PathBuf,
        /// What is wrong, e.g. `does not exist`.
        reason: String,
    },
    /// Chunks of a sweep are in none of the directories given to a merge.
    #[error(
        "{} of {total} chunks missing from every given shard directory ({}): chunks {}; \
         run the shards that own them (chunk c belongs to shard c mod N) and pass their directories too",
        missing.len(),
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        chunk_list(missing)
    )]
    MissingChunks {
        /// The shard directories searched.
        dirs: Vec<PathBuf>,
        /// The missing chunk numbers, ascending.
        missing: Vec<usize>,
        /// Chunks of the whole sweep.
        total: usize,
    },
    /// A stored result is inconsistent (wrong cell count, missing chunk, bad format version).
    #[error("inconsistent sweep data in {path}: {reason}")]
    Corrupt {
        /// The file or directory involved.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The first chunk numbers of a list, e.g. `1, 3, 5 and 12 more`.
fn chunk_list(chunks: &[usize]) -> String {
    const SHOWN: usize = 10;
    let head: Vec<String> = chunks.iter().take(SHOWN).map(ToString::to_string).collect();
    match chunks.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} and {more} more", head.join(", ")),
        _ => head.join(", "),
    }
}

impl SweepError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SweepError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        SweepError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
